//! User-defined checks: YAML definitions loaded from `--checks-dir`, each a CEL expression over
//! the object, its namespace and its injection decision that must be true for the object to
//! pass. They run in the same runner as the built-in checks and get a generated documentation
//! page, so `meshdoctor checks` and every output format treat them alike.
//!
//! A definition that is broken in any way (YAML, unknown field, bad severity or kind, CEL that
//! does not compile, an id that clashes) is an error located at `file:line: field: what`.
//!
//! Variables are bound from raw JSON as in `admission::cel` (kube-cel's Kubernetes functions,
//! no key escaping), so `object.metadata.labels['sidecar.istio.io/inject']` works as users
//! expect.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kube_cel::KubeCelExt;
use kube_cel::cel::{Context, Program, Value};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use serde_saphyr::Spanned;

use super::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::engine::{Engine, Verdict, WebhookRole};
use crate::origin::Origin;
use crate::state::{ClusterState, Kind, KindAvailability};
use crate::workload::PodSubject;

/// The kinds a user check can apply to: the subjects the engine decides, and namespaces.
const APPLICABLE: [Kind; 8] = [
    Kind::Pod,
    Kind::Deployment,
    Kind::StatefulSet,
    Kind::DaemonSet,
    Kind::ReplicaSet,
    Kind::Job,
    Kind::CronJob,
    Kind::Namespace,
];

/// The CEL variables a definition may use.
const VARIABLES: [&str; 3] = ["object", "namespace", "decision"];

/// Why user checks could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum UserCheckError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// `file:line: field: what`.
    #[error("{path}:{line}: {field}: {what}")]
    Invalid {
        path: String,
        line: usize,
        field: String,
        what: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Definition {
    id: Spanned<String>,
    title: Spanned<String>,
    severity: Spanned<String>,
    /// What is wrong; `{kind}`, `{namespace}`, `{name}` are filled in.
    message: Spanned<String>,
    /// One command or patch; the same placeholders.
    fix: Spanned<String>,
    /// Kinds the check applies to.
    kinds: Spanned<Vec<String>>,
    /// CEL; true = the object passes.
    expression: Spanned<String>,
    /// Optional prose for the generated page.
    #[serde(default)]
    description: Option<String>,
}

/// A loaded, validated user-defined check.
pub struct UserCheck {
    id: String,
    severity: Severity,
    message: String,
    fix: String,
    kinds: Vec<Kind>,
    expression: String,
    /// `file:line` of the definition.
    defined_at: String,
    /// The generated page; leaked once per loaded check so that it lives as long as the
    /// built-in pages (`Check::doc` returns `&'static str`).
    page: &'static str,
}

/// The built-in checks plus the user-defined ones found in `sources`: directories (every
/// `*.yaml` / `*.yml` file in them) and single files, in order. An id may be defined once.
pub fn catalog(sources: &[PathBuf]) -> Result<Vec<Box<dyn Check>>, UserCheckError> {
    let mut checks = crate::checks::builtin();
    let mut reserved: Vec<String> = checks
        .iter()
        .filter_map(|c| super::doc::parse(c.doc()).ok().map(|d| d.id))
        .collect();
    for source in sources {
        let loaded = if source.is_dir() {
            load_dir(source, &reserved)?
        } else {
            load_files(std::slice::from_ref(source), &reserved)?
        };
        for c in loaded {
            reserved.push(c.id.clone());
            checks.push(Box::new(c));
        }
    }
    Ok(checks)
}

/// Loads every `*.yaml` / `*.yml` file in `dir` (sorted by name). Each file holds one or more
/// definitions (YAML documents). `reserved` ids (the built-in checks) cannot be reused.
pub fn load_dir(dir: &Path, reserved: &[String]) -> Result<Vec<UserCheck>, UserCheckError> {
    let read_err = |path: &Path, source| UserCheckError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| read_err(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    load_files(&files, reserved)
}

/// Loads definitions from these files, in order.
pub fn load_files(
    files: &[PathBuf],
    reserved: &[String],
) -> Result<Vec<UserCheck>, UserCheckError> {
    let read_err = |path: &Path, source| UserCheckError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut seen: BTreeSet<String> = reserved.iter().cloned().collect();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| read_err(file, e))?;
        for check in parse_definitions(&file.display().to_string(), &text)? {
            if !seen.insert(check.id.clone()) {
                let (path, line) = check
                    .defined_at
                    .rsplit_once(':')
                    .map(|(p, l)| (p.to_owned(), l.parse().unwrap_or(0)))
                    .unwrap_or_default();
                let what = if reserved.contains(&check.id) {
                    format!("\"{}\" is a built-in check id", check.id)
                } else {
                    format!("\"{}\" is defined twice", check.id)
                };
                return Err(UserCheckError::Invalid {
                    path,
                    line,
                    field: "id".to_owned(),
                    what,
                });
            }
            out.push(check);
        }
    }
    Ok(out)
}

/// Parses and validates the definitions in one file's text.
pub fn parse_definitions(path: &str, text: &str) -> Result<Vec<UserCheck>, UserCheckError> {
    let defs: Vec<Definition> = serde_saphyr::from_multiple(text).map_err(|e| {
        let line = e.location().map_or(0, |l| l.line() as usize);
        let msg = e.without_snippet().to_string();
        let first = msg.lines().next().unwrap_or("").to_owned();
        let (field, what) = yaml_error_field(&first);
        UserCheckError::Invalid {
            path: path.to_owned(),
            line,
            field,
            what,
        }
    })?;
    defs.into_iter().map(|d| validate(path, d)).collect()
}

/// Splits serde's `unknown field `x`, expected one of ...` / `missing field `x`` into the
/// field and the rest.
fn yaml_error_field(msg: &str) -> (String, String) {
    for prefix in ["unknown field `", "missing field `"] {
        if let Some(at) = msg.find(prefix) {
            let rest = &msg[at + prefix.len()..];
            if let Some((field, tail)) = rest.split_once('`') {
                let what = format!("{}{}", prefix.trim_end_matches(" `"), tail);
                return (field.to_owned(), what.trim().to_owned());
            }
        }
    }
    ("(definition)".to_owned(), msg.to_owned())
}

fn validate(path: &str, d: Definition) -> Result<UserCheck, UserCheckError> {
    let err = |line: usize, field: &str, what: String| UserCheckError::Invalid {
        path: path.to_owned(),
        line,
        field: field.to_owned(),
        what,
    };
    let line = |s: &serde_saphyr::Location| s.line() as usize;
    let id = &d.id.value;
    if id.is_empty()
        || id.starts_with('-')
        || id.ends_with('-')
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(err(
            line(&d.id.referenced),
            "id",
            format!("\"{id}\" is not a kebab-case slug (a-z, 0-9, -)"),
        ));
    }
    let severity = Severity::parse(&d.severity.value).ok_or_else(|| {
        err(
            line(&d.severity.referenced),
            "severity",
            format!("\"{}\" is not error, warning or info", d.severity.value),
        )
    })?;
    for (field, s) in [
        ("title", &d.title),
        ("message", &d.message),
        ("fix", &d.fix),
    ] {
        if s.value.trim().is_empty() {
            return Err(err(
                line(&s.referenced),
                field,
                "must not be empty".to_owned(),
            ));
        }
    }
    if d.kinds.value.is_empty() {
        return Err(err(
            line(&d.kinds.referenced),
            "kinds",
            "must list at least one kind".to_owned(),
        ));
    }
    let mut kinds = Vec::new();
    for k in &d.kinds.value {
        let kind = Kind::parse_user(k)
            .filter(|k| APPLICABLE.contains(k))
            .ok_or_else(|| {
                err(
                    line(&d.kinds.referenced),
                    "kinds",
                    format!(
                        "\"{k}\" is not one of Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Namespace"
                    ),
                )
            })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    let expr_line = line(&d.expression.referenced);
    let program = Program::compile(&d.expression.value).map_err(|e| {
        let text = e.to_string();
        let (cel_line, what) = cel_error_position(first_line(&text));
        err(
            expr_line + cel_line.saturating_sub(1),
            "expression",
            format!("does not compile: {what}"),
        )
    })?;
    // Comprehension variables (`c` in `all(c, ...)`) are bound by the expression itself; any
    // other free variable is a typo the runtime would only report per object.
    let bound = comprehension_variables(&d.expression.value);
    let refs = program.references();
    let mut unknown: Vec<&str> = refs
        .variables()
        .into_iter()
        .filter(|v| !VARIABLES.contains(v) && !bound.iter().any(|b| b == v))
        .collect();
    unknown.sort_unstable();
    if let Some(v) = unknown.first() {
        return Err(err(
            expr_line,
            "expression",
            format!("unknown variable \"{v}\" (the variables are object, namespace and decision)"),
        ));
    }
    let reads_namespace = refs.has_variable("namespace");
    let defined_at = format!("{path}:{}", line(&d.id.referenced));
    let page = render_page(&d, &kinds, severity, &defined_at, reads_namespace);
    Ok(UserCheck {
        id: d.id.value,
        severity,
        message: d.message.value,
        fix: d.fix.value,
        kinds,
        expression: d.expression.value,
        defined_at,
        page: Box::leak(page.into_boxed_str()),
    })
}

/// The line inside the expression a CEL parse error names (`ERROR: <input>:2:5: msg`), and the
/// message without that prefix.
fn cel_error_position(msg: &str) -> (usize, String) {
    let body = msg.strip_prefix("ERROR: ").unwrap_or(msg);
    if let Some(rest) = body.strip_prefix("<input>:") {
        let mut parts = rest.splitn(3, ':');
        if let (Some(line), Some(col), Some(text)) = (parts.next(), parts.next(), parts.next())
            && let Ok(line) = line.parse::<usize>()
        {
            return (line, format!("column {col}: {}", text.trim()));
        }
    }
    (1, body.to_owned())
}

/// Identifiers introduced by CEL macros: the first argument of `all`, `exists`, `exists_one`,
/// `map`, `filter` (`.all(c, ...)`).
fn comprehension_variables(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for mac in [".all(", ".exists(", ".exists_one(", ".map(", ".filter("] {
        let mut rest = expr;
        while let Some(at) = rest.find(mac) {
            rest = &rest[at + mac.len()..];
            if let Some((var, _)) = rest.split_once(',') {
                let var = var.trim();
                if !var.is_empty() && var.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    out.push(var.to_owned());
                }
            }
        }
    }
    out
}

/// The generated documentation page: front matter from the definition, and the sections every
/// check page has.
fn render_page(
    d: &Definition,
    kinds: &[Kind],
    severity: Severity,
    defined_at: &str,
    reads_namespace: bool,
) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let kind_names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    // Namespaces are a runner-level input only when the expression reads them.
    let inputs = if reads_namespace || kinds.contains(&Kind::Namespace) {
        "[Namespace]"
    } else {
        "[]"
    };
    let description = d
        .description
        .as_deref()
        .map(|t| format!("{}\n\n", t.trim()))
        .unwrap_or_default();
    format!(
        "---\nid: {}\ntitle: {}\nseverity: {}\ninputs: {inputs}\n---\n\n## What it checks\n\n{description}A user-defined check (`{defined_at}`). It applies to: {}. An object passes when this CEL expression is true:\n\n```cel\n{}\n```\n\n## Why it matters\n\nIt encodes a rule of the team that defined it in `{defined_at}`; a finding means an object breaks that rule.\n\n## Example\n\nAn object for which the expression is false is reported as:\n\n```\n{}  {}  <kind>/<namespace>/<name>  {}\n```\n\n## Fix\n\n```sh\n{}\n```\n",
        q(&d.id.value),
        q(&d.title.value),
        severity.as_str(),
        kind_names.join(", "),
        d.expression.value.trim_end(),
        severity.as_str(),
        d.id.value,
        d.message.value.trim(),
        d.fix.value.trim(),
    )
}

impl Check for UserCheck {
    fn doc(&self) -> &'static str {
        self.page
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        // A kind that could not be read is a skip; a kind absent from an offline input has no
        // objects. With none of the kinds in the input there is nothing to evaluate.
        let mut absent = Vec::new();
        for k in &self.kinds {
            match ctx.state.loaded_kinds.get(k) {
                Some(KindAvailability::Loaded) => {}
                Some(KindAvailability::Unavailable(why)) => return Err(Skip(why.clone())),
                None => absent.push(ctx.state.unavailable_reason(*k).unwrap_or_default()),
            }
        }
        if absent.len() == self.kinds.len() {
            return Err(Skip(absent.join("; ")));
        }
        let program = Program::compile(&self.expression)
            .map_err(|e| Skip(format!("expression does not compile: {e}")))?;
        let root = Context::default().with_all();
        for (subject, verdict) in ctx.subjects {
            let Some(kind) = Kind::parse_user(&subject.target.kind) else {
                continue;
            };
            if !self.kinds.contains(&kind) {
                continue;
            }
            let object = subject_json(ctx.state, kind, subject);
            let namespace = namespace_json(ctx.state, &subject.namespace);
            let decision = decision_json(ctx.engine, verdict);
            let result = evaluate(&root, &program, object, namespace, decision);
            let target = ObjectRef::new(
                &subject.target.kind,
                Some(&subject.namespace),
                &subject.target.name,
            );
            self.report(result, target, &subject.origin, Some(verdict), ctx, out);
        }
        if self.kinds.contains(&Kind::Namespace) {
            for ns in ctx.state.namespaces.iter() {
                let Some(name) = ns.obj.metadata.name.as_deref() else {
                    continue;
                };
                if ctx.namespace.is_some_and(|want| want != name) {
                    continue;
                }
                let object = serde_json::to_value(&ns.obj).unwrap_or(Json::Null);
                let result = evaluate(&root, &program, object.clone(), object, Json::Null);
                let target = ObjectRef::new("Namespace", None, name);
                self.report(result, target, &ns.origin, None, ctx, out);
            }
        }
        Ok(())
    }
}

impl UserCheck {
    fn report(
        &self,
        result: Result<bool, String>,
        target: ObjectRef,
        origin: &Origin,
        verdict: Option<&Verdict>,
        ctx: &CheckContext<'_>,
        out: &mut Vec<Finding>,
    ) {
        let fill = |s: &str| {
            s.replace("{kind}", &target.kind.to_ascii_lowercase())
                .replace("{namespace}", target.namespace.as_deref().unwrap_or(""))
                .replace("{name}", &target.name)
        };
        let (message, observed) = match result {
            Ok(true) => return,
            Ok(false) => (fill(&self.message), "false".to_owned()),
            Err(e) => (
                format!(
                    "the expression of {} could not be evaluated on {target}: {e}",
                    self.id
                ),
                format!("error: {e}"),
            ),
        };
        let mut evidence = vec![Evidence::new(
            "expression",
            observed,
            format!(
                "true: {}",
                self.expression
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            origin,
        )];
        if let Some(v) = verdict {
            let decision = decision_json(ctx.engine, v);
            evidence.push(Evidence::new(
                "decision",
                decision.to_string(),
                "(input to the expression)",
                &Origin::Derived,
            ));
        }
        let definition = self
            .defined_at
            .rsplit_once(':')
            .and_then(|(path, line)| Some(Origin::file(&path.into(), line.parse().ok()?)))
            .unwrap_or(Origin::Derived);
        evidence.push(Evidence::new(
            "check definition",
            self.id.clone(),
            "(user-defined)",
            &definition,
        ));
        let fix = fill(&self.fix);
        out.push(Finding {
            check: self.id.clone(),
            severity: self.severity,
            object: target,
            message,
            evidence,
            fix,
        });
    }
}

fn evaluate(
    root: &Context<'_>,
    program: &Program,
    object: Json,
    namespace: Json,
    decision: Json,
) -> Result<bool, String> {
    let conv = |name: &str, v: &Json| {
        kube_cel::cel::to_value(v).map_err(|e| format!("cannot convert {name} to CEL: {e}"))
    };
    let mut ctx = root.new_inner_scope();
    ctx.add_variable_from_value("object", conv("object", &object)?);
    ctx.add_variable_from_value("namespace", conv("namespace", &namespace)?);
    ctx.add_variable_from_value("decision", conv("decision", &decision)?);
    match program.execute(&ctx) {
        Ok(Value::Bool(b)) => Ok(b),
        Ok(_) => Err("the expression returned a non-bool value".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// The subject's own object as JSON: the pod, or the whole workload.
fn subject_json(state: &ClusterState, kind: Kind, s: &PodSubject<'_>) -> Json {
    let ns = Some(s.namespace.as_str());
    let name = &s.target.name;
    let v = match kind {
        Kind::Pod => state
            .pods
            .get(ns, name)
            .map(|o| serde_json::to_value(&o.obj)),
        Kind::Deployment => state
            .deployments
            .get(ns, name)
            .map(|o| serde_json::to_value(&o.obj)),
        Kind::StatefulSet => state
            .statefulsets
            .get(ns, name)
            .map(|o| serde_json::to_value(&o.obj)),
        Kind::DaemonSet => state
            .daemonsets
            .get(ns, name)
            .map(|o| serde_json::to_value(&o.obj)),
        Kind::ReplicaSet => state
            .replicasets
            .get(ns, name)
            .map(|o| serde_json::to_value(&o.obj)),
        Kind::Job => state
            .jobs
            .get(ns, name)
            .map(|o| serde_json::to_value(&o.obj)),
        Kind::CronJob => state
            .cronjobs
            .get(ns, name)
            .map(|o| serde_json::to_value(&o.obj)),
        _ => None,
    };
    let mut v = v.and_then(Result::ok).unwrap_or(Json::Null);
    // k8s-openapi leaves apiVersion/kind out of the struct; CEL rules often test `object.kind`.
    if let Json::Object(m) = &mut v {
        m.insert("kind".into(), json!(kind.name()));
        if let Some(av) = kind.api_versions().first() {
            m.insert("apiVersion".into(), json!(av));
        }
    }
    v
}

fn namespace_json(state: &ClusterState, ns: &str) -> Json {
    state
        .namespaces
        .get(None, ns)
        .and_then(|n| serde_json::to_value(&n.obj).ok())
        .unwrap_or(Json::Null)
}

/// `decision`: `{inject, mesh, webhook: {configuration, name} | null, revision, decisive}`.
fn decision_json(engine: &Engine<'_>, v: &Verdict) -> Json {
    let webhook = v.webhook.and_then(|i| engine.webhook_ref(i)).map_or(
        Json::Null,
        |w| json!({"configuration": w.configuration, "name": w.name}),
    );
    let revision = v
        .webhook
        .and_then(|i| match engine.roles.get(i) {
            Some(WebhookRole::Istio { revision }) => Some(revision.clone()),
            _ => None,
        })
        .map_or(Json::Null, Json::String);
    json!({
        "inject": v.inject,
        "mesh": v.mesh.map(|m| m.as_str()),
        "webhook": webhook,
        "revision": revision,
        "decisive": v.decisive,
    })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "id: prod-injected\ntitle: Prod pods have a sidecar\nseverity: error\nkinds: [Pod, Deployment]\nmessage: \"{kind} {namespace}/{name} has no sidecar\"\nfix: kubectl -n {namespace} rollout restart {kind}/{name}\nexpression: |\n  !(has(namespace.metadata.labels) && 'tier' in namespace.metadata.labels) || decision.inject\n";

    fn error_of(text: &str) -> String {
        match parse_definitions("c.yaml", text) {
            Ok(_) => "no error".to_owned(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn loads_a_definition_with_a_page() {
        let checks = parse_definitions("c.yaml", GOOD).expect("valid");
        assert_eq!(checks.len(), 1);
        let d = super::super::doc::parse(checks[0].doc()).expect("page parses");
        assert_eq!(d.id, "prod-injected");
        assert_eq!(d.severity, Severity::Error);
        assert!(super::super::doc::missing_sections(&d).is_empty());
        assert_eq!(checks[0].kinds, vec![Kind::Pod, Kind::Deployment]);
        assert_eq!(d.inputs, vec![Kind::Namespace]);
        let no_ns = GOOD.replace(
            "!(has(namespace.metadata.labels) && 'tier' in namespace.metadata.labels) || decision.inject",
            "object.metadata.namespace != 'x' || decision.inject",
        );
        let checks = parse_definitions("c.yaml", &no_ns).expect("valid");
        let d = super::super::doc::parse(checks[0].doc()).expect("page parses");
        assert!(d.inputs.is_empty());
    }

    #[test]
    fn broken_definitions_are_located() {
        assert_eq!(
            error_of(&GOOD.replace("severity: error", "severity: fatal")),
            "c.yaml:3: severity: \"fatal\" is not error, warning or info"
        );
        assert_eq!(
            error_of(&format!("{GOOD}colour: red\n")),
            error_of(&format!("{GOOD}colour: red\n"))
        );
        let unknown = error_of(&format!("{GOOD}colour: red\n"));
        assert!(
            unknown.starts_with("c.yaml:9: colour: unknown field"),
            "{unknown}"
        );
        let cel = error_of(&GOOD.replace(
            "expression: |\n  !(has(namespace.metadata.labels) && 'tier' in namespace.metadata.labels) || decision.inject\n",
            "expression: \"decision.inject &&\"\n",
        ));
        assert!(
            cel.starts_with("c.yaml:7: expression: does not compile: column 19: Syntax error"),
            "{cel}"
        );
        let var = error_of(&GOOD.replace("decision.inject", "decison.inject"));
        assert_eq!(
            var,
            "c.yaml:8: expression: unknown variable \"decison\" (the variables are object, namespace and decision)"
        );
        let kind = error_of(&GOOD.replace("[Pod, Deployment]", "[Pod, Service]"));
        assert!(
            kind.starts_with("c.yaml:4: kinds: \"Service\" is not one of"),
            "{kind}"
        );
        let id = error_of(&GOOD.replace("prod-injected", "Prod_Injected"));
        assert!(id.starts_with("c.yaml:1: id: "), "{id}");
        let missing = error_of(&GOOD.replace("title: Prod pods have a sidecar\n", ""));
        assert!(missing.contains(": title: missing field"), "{missing}");
        let yaml = error_of("id: [unclosed\n");
        assert!(yaml.starts_with("c.yaml:"), "{yaml}");
    }

    #[test]
    fn comprehension_variables_are_not_unknown() {
        let text = GOOD.replace(
            "!(has(namespace.metadata.labels) && 'tier' in namespace.metadata.labels) || decision.inject",
            "object.spec.containers.all(c, c.name != 'x')",
        );
        assert!(
            parse_definitions("c.yaml", &text).is_ok(),
            "{}",
            error_of(&text)
        );
    }

    #[test]
    fn several_definitions_per_file() {
        let two = format!("{GOOD}---\n{}", GOOD.replace("prod-injected", "other"));
        let checks = parse_definitions("c.yaml", &two).expect("valid");
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[1].defined_at, "c.yaml:10");
    }
}
