//! Istio injection templates on gotmpl: parsing once with the sprig and Istio function maps,
//! executing with per-render state, and located errors.
//!
//! gotmpl (pinned 0.6.1) implements Go's text/template faithfully but has no typed maps and
//! no method calls. Two shims close the gap for Istio's templates: `index` is overridden so
//! a missing key of a `map[string]string` (annotations, labels, proxyMetadata) yields `""`
//! like Go instead of `<no value>`, and `.InterceptionMode.String` is rewritten to
//! `.InterceptionMode` (the enum is already its name). Functions that need the render's
//! context (process environment, the proxy config for `protoToJSON`) read it from a
//! thread-local set for the duration of one execution.

use super::RenderError;
use super::data::{StringMaps, map_addr};
use gotmpl::parse::{BranchNode, Expr, ListNode, Node, Parser, PipeNode};
use gotmpl::{Template, TemplateError, Value};
use serde_json::Value as Json;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

/// Per-execution context the template functions may read.
#[derive(Default)]
pub(crate) struct RenderState {
    pub string_maps: Vec<usize>,
    /// `Some`: the `env` function reads only this map; `None`: the process environment.
    pub env: Option<BTreeMap<String, String>>,
    /// The effective ProxyConfig (protojson form) for `protoToJSON .ProxyConfig`.
    pub proxy_config: Arc<Json>,
    /// Address of the `.ProxyConfig` map in the data.
    pub proxy_config_addr: usize,
    /// The injector's configuration-only results, when the caller has them.
    pub shared: Option<Arc<SharedResults>>,
}

/// Function results that depend only on an injector's configuration, computed at most once
/// per injector and shared by all its renders (`toYaml` of a `.Values` subtree and
/// `protoToJSON` of the mesh's default ProxyConfig cost a tenth of a render otherwise).
pub(crate) struct SharedResults {
    /// The mesh's default ProxyConfig (protojson).
    default_proxy_config: Arc<Json>,
    /// `protoToJSON` of `default_proxy_config`.
    default_proxy_json: OnceLock<Arc<str>>,
    /// Addresses of the maps inside the injector's `.Values`: they live as long as the
    /// injector, so an address names one immutable map (no reuse after a free).
    values_maps: HashSet<usize>,
    /// `toYaml` of those maps, by address.
    yaml: Mutex<HashMap<usize, Arc<str>>>,
}

impl SharedResults {
    /// `values` must be owned by the injector for as long as this lives.
    pub(crate) fn new(default_proxy_config: Arc<Json>, values: &Value) -> Self {
        fn walk(v: &Value, out: &mut HashSet<usize>) {
            match v {
                Value::Map(m) => {
                    out.insert(map_addr(m));
                    for child in m.values() {
                        walk(child, out);
                    }
                }
                Value::List(items) => {
                    for child in items.iter() {
                        walk(child, out);
                    }
                }
                _ => {}
            }
        }
        let mut values_maps = HashSet::new();
        walk(values, &mut values_maps);
        Self {
            default_proxy_config,
            default_proxy_json: OnceLock::new(),
            values_maps,
            yaml: Mutex::new(HashMap::new()),
        }
    }

    /// `protoToJSON` of `pc` when it is the default ProxyConfig.
    pub(crate) fn proxy_json(&self, pc: &Arc<Json>) -> Option<Arc<str>> {
        Arc::ptr_eq(pc, &self.default_proxy_config).then(|| {
            Arc::clone(self.default_proxy_json.get_or_init(|| {
                Arc::from(super::config::proto_to_json(&self.default_proxy_config))
            }))
        })
    }

    /// `toYaml` of `v` if it is one of the injector's `.Values` maps, computed with `f` once.
    pub(crate) fn values_yaml(&self, v: &Value, f: impl FnOnce() -> String) -> Option<Arc<str>> {
        let Value::Map(m) = v else { return None };
        let addr = map_addr(m);
        if !self.values_maps.contains(&addr) {
            return None;
        }
        let mut cache = self.yaml.lock().ok()?;
        Some(Arc::clone(
            cache.entry(addr).or_insert_with(|| Arc::from(f())),
        ))
    }
}

thread_local! {
    static STATE: RefCell<Option<RenderState>> = const { RefCell::new(None) };
}

/// Runs `f` with the current render state (if any).
pub(crate) fn with_state<R>(f: impl FnOnce(Option<&RenderState>) -> R) -> R {
    STATE.with(|s| f(s.borrow().as_ref()))
}

struct StateGuard;

impl Drop for StateGuard {
    fn drop(&mut self) {
        STATE.with(|s| *s.borrow_mut() = None);
    }
}

/// Returns true when `v` is one of the data's `map[string]string` values.
pub(crate) fn is_string_map(v: &Value) -> bool {
    let Value::Map(m) = v else { return false };
    let addr = map_addr(m);
    with_state(|s| s.is_some_and(|s| s.string_maps.contains(&addr)))
}

/// One parsed injection template.
pub(crate) struct CompiledTemplate {
    name: String,
    tmpl: Template,
}

/// Source rewrites that stand in for Go method calls gotmpl cannot make, and for a gotmpl
/// 0.6.1 lexer bug: a comment opened with `{{-` also trims the text *after* it (Go trims only
/// before), which breaks Istio's `{{- /* preStop ... */}}` line. Such comments become the
/// equivalent empty action `{{- "" }}`. Padding keeps columns stable for error messages.
fn preprocess(src: &str) -> String {
    let src = src.replace(".InterceptionMode.String", ".InterceptionMode       ");
    let mut out = String::with_capacity(src.len());
    let mut rest = src.as_str();
    while let Some(pos) = rest.find("{{-") {
        let (before, after) = rest.split_at(pos + 3);
        out.push_str(before);
        let body = after.trim_start_matches([' ', '\t', '\r', '\n']);
        let ws_len = after.len() - body.len();
        if body.starts_with("/*")
            && let Some(end) = body.find("*/")
        {
            let tail = &body[end + 2..];
            let tail_trimmed = tail.trim_start_matches([' ', '\t', '\r', '\n']);
            let closes_plain = tail_trimmed.starts_with("}}");
            let closes_trim = tail.len() != tail_trimmed.len() && tail_trimmed.starts_with("-}}");
            if closes_plain && !closes_trim {
                out.push_str(&after[..ws_len]);
                let comment = &body[..end + 2];
                out.push_str("\"\"");
                for c in comment.chars().skip(2) {
                    out.push(if c == '\n' { '\n' } else { ' ' });
                }
                rest = tail;
                continue;
            }
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

impl CompiledTemplate {
    /// Parses `src` as the template `name` with Istio's function map.
    pub(crate) fn parse(name: &str, src: &str) -> Result<Self, RenderError> {
        let t = new_with_funcs(name);
        let source = preprocess(src);
        let tmpl = t.parse(&source).map_err(|e| RenderError::TemplateParse {
            template: name.to_string(),
            message: located(name, &e),
        })?;
        check_functions(name, &source)?;
        Ok(Self {
            name: name.to_string(),
            tmpl,
        })
    }

    /// Executes the template over `data`.
    pub(crate) fn execute(
        &self,
        data: &Value,
        maps: StringMaps,
        env: Option<BTreeMap<String, String>>,
        proxy_config: Arc<Json>,
        shared: Option<Arc<SharedResults>>,
    ) -> Result<String, RenderError> {
        let proxy_config_addr = match data.field("ProxyConfig") {
            Some(Value::Map(m)) => map_addr(m),
            _ => 0,
        };
        STATE.with(|s| {
            *s.borrow_mut() = Some(RenderState {
                string_maps: maps.0,
                env,
                proxy_config,
                proxy_config_addr,
                shared,
            });
        });
        let _guard = StateGuard;
        let mut out = CappedOutput::default();
        match self.tmpl.execute_fmt(&mut out, data) {
            Ok(()) => Ok(out.text),
            Err(_) if out.exceeded => Err(RenderError::TemplateExec {
                template: self.name.clone(),
                message: format!("output exceeds the limit of {MAX_RENDER_OUTPUT} bytes"),
            }),
            Err(e) => Err(RenderError::TemplateExec {
                template: self.name.clone(),
                message: e.to_string(),
            }),
        }
    }
}

/// The largest output one template execution may write. A real injection renders tens of
/// kilobytes; gotmpl bounds loop iterations (10 million) and recursion, but ten million
/// iterations of a large string would still exhaust memory, so the writer stops there.
pub(crate) const MAX_RENDER_OUTPUT: usize = super::funcs_sprig::MAX_STRING;

/// A `String` sink that refuses to grow past [`MAX_RENDER_OUTPUT`].
#[derive(Default)]
struct CappedOutput {
    text: String,
    exceeded: bool,
}

impl std::fmt::Write for CappedOutput {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.text.len().saturating_add(s.len()) > MAX_RENDER_OUTPUT {
            self.exceeded = true;
            return Err(std::fmt::Error);
        }
        self.text.push_str(s);
        Ok(())
    }
}

fn new_with_funcs(name: &str) -> Template {
    let t = Template::new(name);
    let t = super::funcs_sprig::register(t);
    super::funcs_istio::register(t)
}

/// Go rejects a call to an undefined function at parse time (`function "x" not defined`);
/// gotmpl only fails when the call executes, so walk the tree and probe every identifier.
fn check_functions(name: &str, source: &str) -> Result<(), RenderError> {
    let Ok(parser) = Parser::with_name(Some(name), source, "{{", "}}") else {
        return Ok(());
    };
    let Ok((tree, defines)) = parser.parse() else {
        return Ok(());
    };
    let mut idents: Vec<(String, usize, usize)> = Vec::new();
    walk_list(&tree, &mut idents);
    for d in &defines {
        walk_list(&d.body, &mut idents);
    }
    let mut checked: Vec<&str> = Vec::new();
    for (ident, offset, line) in &idents {
        if checked.contains(&ident.as_str()) {
            continue;
        }
        checked.push(ident);
        let probe = new_with_funcs("probe").parse(&format!("{{{{ {ident} }}}}"));
        let undefined = match probe {
            Ok(p) => matches!(
                p.execute_to_string(&Value::Nil),
                Err(TemplateError::UndefinedFunction(_))
            ),
            Err(_) => false,
        };
        if undefined {
            let line_start = source[..(*offset).min(source.len())]
                .rfind('\n')
                .map_or(0, |p| p + 1);
            let col = source[line_start..(*offset).min(source.len())]
                .chars()
                .count();
            return Err(RenderError::TemplateParse {
                template: name.to_string(),
                message: format!("template: {name}:{line}:{col}: function {ident:?} not defined"),
            });
        }
    }
    Ok(())
}

fn walk_list(list: &ListNode, out: &mut Vec<(String, usize, usize)>) {
    for n in &list.nodes {
        match n {
            Node::List(l) => walk_list(l, out),
            Node::Action(a) => walk_pipe(&a.pipe, out),
            Node::If(b) | Node::Range(b) | Node::With(b) => walk_branch(b, out),
            Node::Template(t) => {
                if let Some(p) = &t.pipe {
                    walk_pipe(p, out);
                }
            }
            Node::Define(d) => walk_list(&d.body, out),
            _ => {}
        }
    }
}

fn walk_branch(b: &BranchNode, out: &mut Vec<(String, usize, usize)>) {
    walk_pipe(&b.pipe, out);
    walk_list(&b.body, out);
    if let Some(e) = &b.else_body {
        walk_list(e, out);
    }
}

fn walk_pipe(p: &PipeNode, out: &mut Vec<(String, usize, usize)>) {
    for c in &p.commands {
        for a in &c.args {
            walk_expr(a, out);
        }
    }
}

fn walk_expr(e: &Expr, out: &mut Vec<(String, usize, usize)>) {
    match e {
        Expr::Identifier(pos, name) => out.push((name.to_string(), pos.offset, pos.line)),
        Expr::Pipe(_, p) => walk_pipe(p, out),
        Expr::Chain(_, inner, _) => walk_expr(inner, out),
        _ => {}
    }
}

/// Parse errors already read `template: NAME:LINE:COL: msg`; lexer errors may lack the name.
fn located(name: &str, e: &TemplateError) -> String {
    let text = e.to_string();
    if text.starts_with("template: ") {
        text
    } else {
        format!("template: {name}: {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::data::{StringMaps, k8s_value, plain_value};
    use serde_json::json;

    fn render(src: &str, data: Json) -> String {
        let t = CompiledTemplate::parse("t", src);
        let Ok(t) = t else {
            return format!(
                "parse error: {}",
                t.err().map(|e| e.to_string()).unwrap_or_default()
            );
        };
        let mut reg = StringMaps::default();
        let v = k8s_value(&data, &mut reg);
        t.execute(&v, reg, Some(BTreeMap::new()), Arc::new(Json::Null), None)
            .unwrap_or_else(|e| format!("exec error: {e}"))
    }

    #[test]
    fn huge_counts_are_errors_not_allocations() {
        for src in [
            r#"{{ repeat 99999999999 "x" }}"#,
            r#"{{ repeat 9223372036854775807 "ab" }}"#,
            r#"{{ "a\nb" | indent 9223372036854775807 }}"#,
            r#"{{ "a\nb" | nindent 99999999999 }}"#,
            r#"{{ replace "" (repeat 100000 "x") (repeat 100000 "y") }}"#,
        ] {
            let out = render(src, json!({}));
            assert!(
                out.starts_with("exec error:") && out.contains("exceeds the limit"),
                "{src}: {out}"
            );
        }
    }

    #[test]
    fn output_is_bounded() {
        let out = render(
            r#"{{ range 1000000 }}{{ repeat 1000 "x" }}{{ end }}"#,
            json!({}),
        );
        assert!(
            out.contains("output exceeds the limit"),
            "{}",
            &out[..80.min(out.len())]
        );
        // Under the limit, the same loop renders.
        let out = render(r#"{{ range 10 }}{{ repeat 3 "x" }}{{ end }}"#, json!({}));
        assert_eq!(out, "x".repeat(30));
    }

    #[test]
    fn index_on_string_maps_is_empty_not_no_value() {
        let out = render(
            r#"[{{ index .Metadata.Annotations "x" }}][{{ index .Values "x" }}]"#,
            json!({"metadata": {"annotations": {"a": "b"}}, "values": {"y": 1}}),
        );
        assert_eq!(out, "[][<no value>]");
    }

    #[test]
    fn floats_and_functions() {
        let t = CompiledTemplate::parse(
            "t",
            r#"{{ .v.port }} {{ annotation .m "k" .v.port }} {{ .v.port | quote }} {{ "a-b-" | trimSuffix "-" }} {{ indent 2 "x\ny" }}|{{ nindent 2 "x" }}"#,
        );
        let Ok(t) = t else {
            panic!("parse failed");
        };
        let data = plain_value(
            &json!({"v": {"port": 15020}, "m": {"Annotations": {}}}),
            true,
        );
        let out = t.execute(
            &data,
            StringMaps::default(),
            Some(BTreeMap::new()),
            Arc::new(Json::Null),
            None,
        );
        assert_eq!(
            out.ok().as_deref(),
            Some("15020 15020 \"15020\" a-b x\n  y|\n  x")
        );
    }

    #[test]
    fn left_trimmed_comments_keep_the_following_newline() {
        let t = CompiledTemplate::parse("t", "- x\n  {{- /* c */}}\n  b: 1\n{{- /* d */ -}}\n e");
        let out = t.ok().map(|t| {
            t.execute(
                &Value::Nil,
                StringMaps::default(),
                None,
                Arc::new(Json::Null),
                None,
            )
            .ok()
        });
        assert_eq!(out, Some(Some("- x\n  b: 1e".to_string())));
    }

    #[test]
    fn shared_results_serve_only_the_injectors_own_values_and_default_proxy_config() {
        let values = plain_value(&json!({"a": {"b": 1}}), true);
        let pc = Arc::new(json!({"concurrency": 2}));
        let sh = SharedResults::new(Arc::clone(&pc), &values);
        let inner = values.field("a").cloned().unwrap_or(Value::Nil);
        let first = sh.values_yaml(&inner, || "x".into());
        let second = sh.values_yaml(&inner, || "y".into());
        assert_eq!(
            (first.as_deref(), second.as_deref()),
            (Some("x"), Some("x"))
        );
        let lookalike = plain_value(&json!({"b": 1}), true);
        assert!(sh.values_yaml(&lookalike, || "z".into()).is_none());
        assert!(
            sh.proxy_json(&Arc::new(json!({"concurrency": 2})))
                .is_none()
        );
        assert_eq!(
            sh.proxy_json(&pc).as_deref(),
            Some(crate::render::config::proto_to_json(&pc).as_str())
        );
    }

    #[test]
    fn parse_errors_are_located() {
        let e = CompiledTemplate::parse("sidecar", "a\n{{ if }}").err();
        let text = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("sidecar:2:"), "{text}");
    }

    #[test]
    fn unknown_function_is_a_located_parse_error() {
        let e = CompiledTemplate::parse(
            "sidecar",
            "a: 1\nb: {{ if true }}{{ nosuchfunc 1 }}{{ end }}",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            e.contains("sidecar:2:") && e.contains("function \"nosuchfunc\" not defined"),
            "{e}"
        );
    }
}
