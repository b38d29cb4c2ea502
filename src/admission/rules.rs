//! One webhook rule (`RuleWithOperations`): validation as the API server does it on create and
//! matching as `predicates/rules/rules.go` does it (scope, operation, group, version, resource).

use std::fmt;

use k8s_openapi::api::admissionregistration::v1::RuleWithOperations;

use super::request::{AdmissionRequest, Operation};
use super::webhook::CompileErrorKind;

/// `rules[].scope`; absent means `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    All,
    Namespaced,
    Cluster,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::All => "*",
            Scope::Namespaced => "Namespaced",
            Scope::Cluster => "Cluster",
        }
    }
}

/// A list of names where `*` alone means any (validation forbids mixing `*` with others).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Names {
    Any,
    List(Box<[Box<str>]>),
}

impl Names {
    #[inline]
    fn matches(&self, s: &str) -> bool {
        match self {
            Names::Any => true,
            Names::List(l) => l.iter().any(|x| eq(x, s)),
        }
    }
}

/// A compiled, validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Bit `1 << op as u8` per operation; all bits for `*`.
    operations: u8,
    api_groups: Names,
    api_versions: Names,
    /// Each entry split on its first `/`: (`pods`, ``), (`pods`, `*`), (`*`, `scale`).
    resources: Box<[(Box<str>, Box<str>)]>,
    pub scope: Scope,
    /// The rule as written, for traces.
    raw: RuleWithOperations,
}

const ALL_OPERATIONS: u8 = 0b1111;

fn op_bit(op: Operation) -> u8 {
    match op {
        Operation::Create => 1,
        Operation::Update => 2,
        Operation::Delete => 4,
        Operation::Connect => 8,
    }
}

/// String equality without a libc `memcmp` call: these strings are a few bytes long and the
/// call dominated the matching profile.
#[inline]
fn eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// A rule field failed validation: the field name relative to the rule and what is wrong.
pub(crate) type RuleError = (String, CompileErrorKind);

impl Rule {
    /// Validates (`ValidateRuleWithOperations`) and compiles one rule.
    pub(crate) fn compile(r: &RuleWithOperations) -> Result<Rule, RuleError> {
        let invalid =
            |field: &str, msg: String| Err((field.to_owned(), CompileErrorKind::Invalid(msg)));

        let ops = r.operations.as_deref().unwrap_or_default();
        if ops.is_empty() {
            return invalid("operations", "must specify at least one operation".into());
        }
        let mut operations = 0u8;
        for (i, op) in ops.iter().enumerate() {
            if op == "*" {
                if ops.len() > 1 {
                    return invalid(
                        "operations",
                        "if '*' is present, must not specify other operations".into(),
                    );
                }
                operations = ALL_OPERATIONS;
            } else if let Some(o) = Operation::parse(op) {
                operations |= op_bit(o);
            } else {
                return invalid(
                    &format!("operations[{i}]"),
                    format!(
                        "unsupported value {op:?}: supported values are \"*\", \"CONNECT\", \"CREATE\", \"DELETE\", \"UPDATE\""
                    ),
                );
            }
        }

        let api_groups = names(r.api_groups.as_deref(), "apiGroups", "API groups", false)?;
        let api_versions = names(
            r.api_versions.as_deref(),
            "apiVersions",
            "API versions",
            true,
        )?;

        let res = r.resources.as_deref().unwrap_or_default();
        if res.is_empty() {
            return invalid("resources", "must specify at least one resource".into());
        }
        let mut resources = Vec::with_capacity(res.len());
        for (i, entry) in res.iter().enumerate() {
            if entry.is_empty() {
                return invalid(&format!("resources[{i}]"), "must not be empty".into());
            }
            let (main, sub) = entry.split_once('/').unwrap_or((entry.as_str(), ""));
            resources.push((Box::<str>::from(main), Box::<str>::from(sub)));
        }
        if let Some(msg) = validate_resource_overlap(&resources) {
            return invalid("resources", msg);
        }

        let scope = match r.scope.as_deref() {
            None | Some("*") => Scope::All,
            Some("Namespaced") => Scope::Namespaced,
            Some("Cluster") => Scope::Cluster,
            Some(other) => {
                return invalid(
                    "scope",
                    format!(
                        "unsupported value {other:?}: supported values are \"*\", \"Cluster\", \"Namespaced\""
                    ),
                );
            }
        };

        Ok(Rule {
            operations,
            api_groups,
            api_versions,
            resources: resources.into_boxed_slice(),
            scope,
            raw: r.clone(),
        })
    }

    /// `rules.Matcher.Matches`: scope, operation, group, version and resource all match.
    #[inline]
    pub fn matches(&self, req: &AdmissionRequest<'_>) -> bool {
        self.scope_matches(req)
            && self.operations & op_bit(req.operation) != 0
            && self.api_groups.matches(req.resource.group)
            && self.api_versions.matches(req.resource.version)
            && self.resources.iter().any(|(res, sub)| {
                (&**res == "*" || eq(res, req.resource.resource))
                    && (&**sub == "*" || eq(sub, req.subresource))
            })
    }

    fn scope_matches(&self, req: &AdmissionRequest<'_>) -> bool {
        // Namespace objects count as cluster-scoped although their requests carry a namespace
        // (the namespace's own name); subresources follow their parent.
        match self.scope {
            Scope::All => true,
            Scope::Namespaced => !req.is_namespace_resource() && !req.namespace.is_empty(),
            Scope::Cluster => req.is_namespace_resource() || req.namespace.is_empty(),
        }
    }

    /// The rule as written.
    pub fn raw(&self) -> &RuleWithOperations {
        &self.raw
    }
}

fn names(
    list: Option<&[String]>,
    field: &str,
    plural: &str,
    non_empty_items: bool,
) -> Result<Names, RuleError> {
    let invalid = |field: String, msg: String| Err((field, CompileErrorKind::Invalid(msg)));
    let list = list.unwrap_or_default();
    if list.is_empty() {
        return invalid(
            field.to_owned(),
            format!("must specify at least one of {plural}"),
        );
    }
    if list.iter().any(|s| s == "*") {
        if list.len() > 1 {
            return invalid(
                field.to_owned(),
                format!("if '*' is present, must not specify other {plural}"),
            );
        }
        return Ok(Names::Any);
    }
    if non_empty_items && let Some(i) = list.iter().position(String::is_empty) {
        return invalid(format!("{field}[{i}]"), "must not be empty".into());
    }
    Ok(Names::List(
        list.iter().map(|s| Box::<str>::from(s.as_str())).collect(),
    ))
}

/// The overlap rules of `validateResources`; the message of the first violation.
fn validate_resource_overlap(resources: &[(Box<str>, Box<str>)]) -> Option<String> {
    let has = |r: &str, s: &str| resources.iter().any(|(a, b)| &**a == r && &**b == s);
    if has("*", "*") && resources.len() > 1 {
        return Some("if '*/*' is present, must not specify other resources".into());
    }
    if has("*", "") && resources.iter().any(|(a, b)| b.is_empty() && &**a != "*") {
        return Some(
            "if '*' is present, must not specify other resources without subresources".into(),
        );
    }
    for (res, sub) in resources {
        if sub.is_empty() || &**sub == "*" {
            continue;
        }
        if has(res, "*") {
            return Some(format!(
                "if '{res}/*' is present, must not specify {res}/{sub}"
            ));
        }
        if &**res != "*" && has("*", sub) {
            return Some(format!(
                "if '*/{sub}' is present, must not specify {res}/{sub}"
            ));
        }
    }
    None
}

/// `CREATE,UPDATE pods,pods/status (apiGroups "", apiVersions v1, scope *)`.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |l: &Option<Vec<String>>, quote: bool| -> String {
            l.iter()
                .flatten()
                .map(|s| if quote { format!("{s:?}") } else { s.clone() })
                .collect::<Vec<_>>()
                .join(",")
        };
        write!(
            f,
            "{} {} (apiGroups {}, apiVersions {}, scope {})",
            join(&self.raw.operations, false),
            join(&self.raw.resources, false),
            join(&self.raw.api_groups, true),
            join(&self.raw.api_versions, false),
            self.scope.as_str()
        )
    }
}
