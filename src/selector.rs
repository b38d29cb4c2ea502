//! Label selector evaluation (`matchLabels` / `matchExpressions`) as the Kubernetes API server
//! does it: compile a `metav1.LabelSelector` once, with the API server's validation, then match
//! label sets without allocating.
//!
//! Two conversions exist in Kubernetes and they differ only for a *null* selector:
//!
//! * admission webhooks default a null `namespaceSelector`/`objectSelector` to `{}` before any
//!   matching, so null and `{}` both match everything: [`Selector::compile_optional_webhook`];
//! * `metav1.LabelSelectorAsSelector` (used e.g. by Istio's `neverInjectSelector` and
//!   `alwaysInjectSelector` lists) turns null into `labels.Nothing()` (matches nothing, not
//!   empty) and `{}` into `labels.Everything()`: [`Selector::compile_optional`].
//!
//! Semantics (apimachinery `pkg/labels/selector.go`): every requirement must hold (AND, across
//! `matchLabels` and `matchExpressions`); `In`/`=` need the key present with a listed value;
//! `NotIn` holds when the key is absent; `Exists` counts an empty value as present;
//! `DoesNotExist` needs the key absent. Values are exact, case-sensitive strings.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Longest label value and label-key name part (`validation.LabelValueMaxLength`).
const NAME_MAX_LEN: usize = 63;
/// Longest label-key prefix (`validation.DNS1123SubdomainMaxLength`).
const PREFIX_MAX_LEN: usize = 253;

/// The operator of one requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operator {
    /// A `matchLabels` entry: same semantics as `In` with one value, printed as `k=v`.
    Equals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl Operator {
    /// The spelling used in `matchExpressions[].operator`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::In => "In",
            Operator::NotIn => "NotIn",
            Operator::Exists => "Exists",
            Operator::DoesNotExist => "DoesNotExist",
        }
    }
}

/// One compiled requirement: a key, an operator and a sorted, deduplicated value set.
/// Ordered by key first (then operator and values, so that the order is total).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Requirement {
    key: Box<str>,
    operator: Operator,
    /// Sorted and deduplicated, like Go's `sets.String`, so that `Display` is stable.
    values: Box<[Box<str>]>,
}

impl Requirement {
    /// Builds a requirement after checking the value-count rule of `labels.NewRequirement`.
    /// Key and value syntax are not checked here (see [`Selector::compile`]).
    pub fn new(
        key: impl Into<Box<str>>,
        operator: Operator,
        values: impl IntoIterator<Item = impl Into<Box<str>>>,
    ) -> Result<Self, SelectorErrorKind> {
        let mut values: Vec<Box<str>> = values.into_iter().map(Into::into).collect();
        values.sort_unstable();
        values.dedup();
        match operator {
            Operator::Equals if values.len() != 1 => {
                return Err(SelectorErrorKind::ExactlyOneValue);
            }
            Operator::In | Operator::NotIn if values.is_empty() => {
                return Err(SelectorErrorKind::MissingValues(operator.as_str()));
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                return Err(SelectorErrorKind::ForbiddenValues(operator.as_str()));
            }
            _ => {}
        }
        Ok(Requirement {
            key: key.into(),
            operator,
            values: values.into_boxed_slice(),
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The value set, sorted.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &str> {
        self.values.iter().map(|v| &**v)
    }

    /// Whether the requirement holds for the value of its key (`None`: the key is absent).
    #[inline]
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        match (self.operator, value) {
            (Operator::Equals | Operator::In, Some(v)) => self.has_value(v),
            (Operator::Equals | Operator::In, None) => false,
            (Operator::NotIn, Some(v)) => !self.has_value(v),
            (Operator::NotIn, None) => true,
            (Operator::Exists, v) => v.is_some(),
            (Operator::DoesNotExist, v) => v.is_none(),
        }
    }

    #[inline]
    fn has_value(&self, v: &str) -> bool {
        // Value sets are tiny (1–4 entries in practice): a linear scan beats a binary search.
        self.values
            .iter()
            .any(|x| eq_bytes(x.as_bytes(), v.as_bytes()))
    }

    /// A fragment describing what a label set had for this key: `has no label k` or `has k=v`.
    pub fn describe_value(&self, value: Option<&str>) -> String {
        match value {
            None => format!("has no label {}", self.key),
            Some(v) => format!("has {}={v:?}", self.key),
        }
    }
}

/// kubectl's string form: `k=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let write_set = |f: &mut fmt::Formatter<'_>| -> fmt::Result {
            f.write_str("(")?;
            for (i, v) in self.values.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                f.write_str(v)?;
            }
            f.write_str(")")
        };
        match self.operator {
            Operator::Equals => {
                write!(f, "{}=", self.key)?;
                for v in self.values.iter() {
                    f.write_str(v)?;
                }
                Ok(())
            }
            Operator::In => {
                write!(f, "{} in ", self.key)?;
                write_set(f)
            }
            Operator::NotIn => {
                write!(f, "{} notin ", self.key)?;
                write_set(f)
            }
            Operator::Exists => f.write_str(&self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
        }
    }
}

/// A compiled label selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Selector {
    repr: Repr,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// `labels.Nothing()`: what `LabelSelectorAsSelector` makes of a null selector.
    Nothing,
    /// All must hold; none at all is `labels.Everything()`. Sorted by key, as Go's
    /// `internalSelector.Add` does, so the first failing requirement is the one Go reports.
    Requirements(Box<[Requirement]>),
}

/// Why a selector was rejected, with the field path inside the selector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {kind}")]
pub struct SelectorError {
    /// Path relative to the selector, e.g. `matchExpressions[1].operator`. Callers prefix it
    /// with the selector's own location through [`SelectorError::within`].
    pub field: String,
    pub kind: SelectorErrorKind,
}

impl SelectorError {
    /// Prefixes the field path with the selector's location (`webhooks[0].namespaceSelector`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_owned()
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}

/// The API server's selector validation failures (apimachinery `ValidateLabelSelector`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorErrorKind {
    #[error("unknown operator {0:?}")]
    UnknownOperator(String),
    #[error("values must be specified when operator is {0}")]
    MissingValues(&'static str),
    #[error("values may not be specified when operator is {0}")]
    ForbiddenValues(&'static str),
    #[error("exactly one value is required")]
    ExactlyOneValue,
    #[error("invalid label key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("invalid label value {value:?}: {reason}")]
    InvalidValue { value: String, reason: &'static str },
}

impl Selector {
    /// `labels.Everything()`: matches every label set; what `{}` compiles to.
    pub fn everything() -> Self {
        Selector {
            repr: Repr::Requirements(Box::new([])),
        }
    }

    /// `labels.Nothing()`: matches no label set; what `LabelSelectorAsSelector(nil)` returns.
    pub fn nothing() -> Self {
        Selector {
            repr: Repr::Nothing,
        }
    }

    /// Builds a selector from already-validated requirements (ANDed).
    pub fn from_requirements(requirements: impl IntoIterator<Item = Requirement>) -> Self {
        let mut reqs: Vec<Requirement> = requirements.into_iter().collect();
        // Go sorts by key only; sorting on the whole requirement keeps that order and makes
        // requirements sharing a key deterministic too.
        reqs.sort();
        Selector {
            repr: Repr::Requirements(reqs.into_boxed_slice()),
        }
    }

    /// Compiles a present selector, validating it as the API server does on create.
    /// `{}` (no `matchLabels`, no `matchExpressions`) compiles to [`Selector::everything`].
    pub fn compile(sel: &LabelSelector) -> Result<Selector, SelectorError> {
        let mut reqs = Vec::new();
        if let Some(labels) = &sel.match_labels {
            for (k, v) in labels {
                validate_key(k).map_err(|kind| err("matchLabels", kind))?;
                validate_value(v).map_err(|kind| err("matchLabels", kind))?;
                reqs.push(Requirement {
                    key: k.as_str().into(),
                    operator: Operator::Equals,
                    values: Box::new([v.as_str().into()]),
                });
            }
        }
        for (i, expr) in sel.match_expressions.iter().flatten().enumerate() {
            let at = |field: &str| format!("matchExpressions[{i}].{field}");
            let operator = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError {
                        field: at("operator"),
                        kind: SelectorErrorKind::UnknownOperator(other.to_owned()),
                    });
                }
            };
            validate_key(&expr.key).map_err(|kind| SelectorError {
                field: at("key"),
                kind,
            })?;
            let values = expr.values.as_deref().unwrap_or_default();
            for (j, v) in values.iter().enumerate() {
                validate_value(v).map_err(|kind| SelectorError {
                    field: at(&format!("values[{j}]")),
                    kind,
                })?;
            }
            let req = Requirement::new(
                expr.key.as_str(),
                operator,
                values.iter().map(String::as_str),
            )
            .map_err(|kind| SelectorError {
                field: at("values"),
                kind,
            })?;
            reqs.push(req);
        }
        Ok(Selector::from_requirements(reqs))
    }

    /// Webhook semantics: a null selector is defaulted to `{}`, so null and `{}` match everything.
    pub fn compile_optional_webhook(
        sel: Option<&LabelSelector>,
    ) -> Result<Selector, SelectorError> {
        sel.map_or_else(|| Ok(Selector::everything()), Selector::compile)
    }

    /// `LabelSelectorAsSelector` semantics: null → [`Selector::nothing`], `{}` → everything.
    pub fn compile_optional(sel: Option<&LabelSelector>) -> Result<Selector, SelectorError> {
        sel.map_or_else(|| Ok(Selector::nothing()), Selector::compile)
    }

    /// Go's `Selector.Empty()`: true only for everything (no requirements); false for nothing.
    pub fn is_empty(&self) -> bool {
        matches!(&self.repr, Repr::Requirements(r) if r.is_empty())
    }

    /// Whether this is [`Selector::nothing`].
    pub fn is_nothing(&self) -> bool {
        matches!(self.repr, Repr::Nothing)
    }

    /// The requirements, sorted by key; empty for both everything and nothing.
    pub fn requirements(&self) -> &[Requirement] {
        match &self.repr {
            Repr::Nothing => &[],
            Repr::Requirements(r) => r,
        }
    }

    /// Whether the label set satisfies every requirement. Never allocates.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let reqs = match &self.repr {
            Repr::Nothing => return false,
            Repr::Requirements(r) => r,
        };
        // Requirements and labels are both sorted by key (byte order), so one merge walk finds
        // every key: fewer comparisons than a lookup per requirement, and inline ones (label
        // keys are short, a libc memcmp call per comparison dominated the profile).
        let mut it = labels.iter().peekable();
        for r in reqs.iter() {
            let value = loop {
                match it.peek() {
                    Some((k, v)) => match cmp_bytes(k.as_bytes(), r.key.as_bytes()) {
                        Ordering::Less => {
                            it.next();
                        }
                        // Not consumed: the next requirement may have the same key.
                        Ordering::Equal => break Some(v.as_str()),
                        Ordering::Greater => break None,
                    },
                    None => break None,
                }
            };
            if !r.matches_value(value) {
                return false;
            }
        }
        true
    }

    /// Like [`Selector::matches`], for label sets stored in another shape: `get` returns the
    /// value of a key, `None` when absent.
    #[inline]
    pub fn matches_by<'l>(&self, get: impl Fn(&str) -> Option<&'l str>) -> bool {
        match &self.repr {
            Repr::Nothing => false,
            Repr::Requirements(reqs) => reqs.iter().all(|r| r.matches_value(get(&r.key))),
        }
    }

    /// The first requirement (in Go's evaluation order) the labels fail, with the value the
    /// labels had for its key. `None` when the selector matches, and for [`Selector::nothing`]
    /// (which fails without any requirement; check [`Selector::is_nothing`]).
    pub fn first_failing<'s, 'l>(
        &'s self,
        labels: &'l BTreeMap<String, String>,
    ) -> Option<(&'s Requirement, Option<&'l str>)> {
        self.requirements().iter().find_map(|r| {
            let v = labels.get(&*r.key).map(String::as_str);
            (!r.matches_value(v)).then_some((r, v))
        })
    }

    /// A sentence fragment explaining the result for `subject` (e.g. `namespace "shop"`):
    /// the failing requirement and what the labels had, or the values that satisfied it.
    pub fn explain(&self, subject: &str, labels: &BTreeMap<String, String>) -> String {
        if self.is_nothing() {
            return format!("a null selector matches nothing, whatever {subject} has");
        }
        if self.is_empty() {
            return format!("an empty selector matches every label set, including {subject}'s");
        }
        if let Some((req, value)) = self.first_failing(labels) {
            return format!("{subject} {} (needs {req})", req.describe_value(value));
        }
        let mut out = format!("{subject} has ");
        for (i, r) in self.requirements().iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            match labels.get(&*r.key) {
                Some(v) => out.push_str(&format!("{}={v:?}", r.key)),
                None => out.push_str(&format!("no {}", r.key)),
            }
        }
        out
    }
}

/// kubectl's string form of the requirements, comma-separated; `{}` for everything and `null`
/// for nothing (both print as the empty string in Go, which reads badly in a trace).
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Nothing => f.write_str("null"),
            Repr::Requirements(r) if r.is_empty() => f.write_str("{}"),
            Repr::Requirements(r) => {
                for (i, req) in r.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{req}")?;
                }
                Ok(())
            }
        }
    }
}

/// Byte-wise ordering (that of `str`), inlined for short strings.
#[inline]
fn cmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    match a.iter().zip(b).find(|(x, y)| x != y) {
        Some((x, y)) => x.cmp(y),
        None => a.len().cmp(&b.len()),
    }
}

#[inline]
fn eq_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

fn err(field: &str, kind: SelectorErrorKind) -> SelectorError {
    SelectorError {
        field: field.to_owned(),
        kind,
    }
}

/// A label key is a qualified name: `[prefix/]name`, prefix a DNS-1123 subdomain.
fn validate_key(key: &str) -> Result<(), SelectorErrorKind> {
    let invalid = |reason| {
        Err(SelectorErrorKind::InvalidKey {
            key: key.to_owned(),
            reason,
        })
    };
    let (prefix, name) = match key.split_once('/') {
        Some((_, n)) if n.contains('/') => {
            return invalid(
                "a qualified name must be a name with an optional DNS subdomain prefix and '/'",
            );
        }
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        if p.is_empty() {
            return invalid("prefix part must be non-empty");
        }
        if p.len() > PREFIX_MAX_LEN {
            return invalid("prefix part must be no more than 253 characters");
        }
        if !is_dns1123_subdomain(p) {
            return invalid("prefix part must be a lowercase RFC 1123 subdomain");
        }
    }
    if name.is_empty() {
        return invalid("name part must be non-empty");
    }
    if name.len() > NAME_MAX_LEN {
        return invalid("name part must be no more than 63 characters");
    }
    if !is_label_name(name) {
        return invalid(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        );
    }
    Ok(())
}

fn validate_value(value: &str) -> Result<(), SelectorErrorKind> {
    let invalid = |reason| {
        Err(SelectorErrorKind::InvalidValue {
            value: value.to_owned(),
            reason,
        })
    };
    if value.len() > NAME_MAX_LEN {
        return invalid("must be no more than 63 characters");
    }
    if !value.is_empty() && !is_label_name(value) {
        return invalid(
            "must be empty or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        );
    }
    Ok(())
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, non-empty.
fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Dot-separated DNS-1123 labels: lowercase alphanumerics and `-`, alphanumeric at both ends.
fn is_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(|label| {
        let b = label.as_bytes();
        let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        match (b.first(), b.last()) {
            (Some(f), Some(l)) => alnum(f) && alnum(l) && b.iter().all(|c| alnum(c) || *c == b'-'),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: Option<&[&str]>) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.to_owned(),
            operator: op.to_owned(),
            values: values.map(|v| v.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    fn sel_exprs(exprs: Vec<LabelSelectorRequirement>) -> LabelSelector {
        LabelSelector {
            match_expressions: Some(exprs),
            match_labels: None,
        }
    }

    fn compile(exprs: Vec<LabelSelectorRequirement>) -> Selector {
        match Selector::compile(&sel_exprs(exprs)) {
            Ok(s) => s,
            Err(e) => panic!("test selector must compile: {e}"),
        }
    }

    /// (operator, values, labels, expected) for every operator and every absent-key rule.
    #[test]
    fn operator_table() {
        type Case<'a> = (
            &'a str,
            Option<&'a [&'a str]>,
            &'a [(&'a str, &'a str)],
            bool,
        );
        let cases: &[Case] = &[
            ("In", Some(&["a", "b"]), &[("k", "a")], true),
            ("In", Some(&["a", "b"]), &[("k", "c")], false),
            ("In", Some(&["a"]), &[], false), // absent key: In is false
            ("In", Some(&[""]), &[("k", "")], true),
            ("In", Some(&["A"]), &[("k", "a")], false), // case-sensitive
            ("NotIn", Some(&["a"]), &[("k", "a")], false),
            ("NotIn", Some(&["a"]), &[("k", "b")], true),
            ("NotIn", Some(&["a"]), &[], true), // absent key: NotIn is true
            ("NotIn", Some(&["a"]), &[("other", "a")], true),
            ("Exists", None, &[("k", "")], true), // empty value counts as present
            ("Exists", None, &[("k", "x")], true),
            ("Exists", None, &[], false),
            ("DoesNotExist", None, &[], true),
            ("DoesNotExist", None, &[("k", "")], false),
            ("DoesNotExist", Some(&[]), &[("j", "x")], true), // empty list is not "values"
        ];
        for (op, values, l, want) in cases {
            let s = compile(vec![expr("k", op, *values)]);
            assert_eq!(
                s.matches(&labels(l)),
                *want,
                "k {op} {values:?} against {l:?}"
            );
        }
    }

    #[test]
    fn match_labels_need_presence_and_equality() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("istio-injection", "enabled")])),
            match_expressions: None,
        };
        let s = Selector::compile(&sel).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.matches(&labels(&[("istio-injection", "enabled"), ("x", "y")])));
        assert!(!s.matches(&labels(&[("istio-injection", "disabled")])));
        assert!(!s.matches(&labels(&[])));
        assert_eq!(s.to_string(), "istio-injection=enabled");
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("a", "1")])),
            match_expressions: Some(vec![expr("b", "DoesNotExist", None)]),
        };
        let s = Selector::compile(&sel).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.matches(&labels(&[("a", "1")])));
        assert!(!s.matches(&labels(&[("a", "1"), ("b", "")])));
        assert!(!s.matches(&labels(&[("b", "x")])));
    }

    #[test]
    fn null_empty_and_nothing() {
        let empty = LabelSelector::default();
        let e = Selector::compile(&empty).unwrap_or_else(|e| panic!("{e}"));
        assert!(e.is_empty() && !e.is_nothing());
        assert!(e.matches(&labels(&[])));
        // matchLabels: {} and matchExpressions: [] are also empty.
        let empty2 = LabelSelector {
            match_labels: Some(BTreeMap::new()),
            match_expressions: Some(vec![]),
        };
        assert!(
            Selector::compile(&empty2)
                .unwrap_or_else(|e| panic!("{e}"))
                .is_empty()
        );

        let w = Selector::compile_optional_webhook(None).unwrap_or_else(|e| panic!("{e}"));
        assert!(w.is_empty() && w.matches(&labels(&[("a", "b")])));

        let n = Selector::compile_optional(None).unwrap_or_else(|e| panic!("{e}"));
        assert!(n.is_nothing() && !n.is_empty());
        assert!(!n.matches(&labels(&[])));
        assert!(!n.matches(&labels(&[("a", "b")])));
        assert_eq!(n.first_failing(&labels(&[])), None);
        assert_eq!(n.to_string(), "null");

        let o = Selector::compile_optional(Some(&empty)).unwrap_or_else(|e| panic!("{e}"));
        assert!(o.is_empty() && o.matches(&labels(&[])));
        assert_eq!(o.to_string(), "{}");
    }

    #[test]
    fn validation_errors_name_the_field() {
        let cases: Vec<(LabelSelector, &str)> = vec![
            (
                sel_exprs(vec![
                    expr("a", "In", Some(&["x"])),
                    expr("b", "Inn", Some(&["x"])),
                ]),
                "matchExpressions[1].operator: unknown operator \"Inn\"",
            ),
            (
                sel_exprs(vec![expr("a", "In", Some(&[]))]),
                "matchExpressions[0].values: values must be specified when operator is In",
            ),
            (
                sel_exprs(vec![expr("a", "NotIn", None)]),
                "matchExpressions[0].values: values must be specified when operator is NotIn",
            ),
            (
                sel_exprs(vec![expr("a", "Exists", Some(&["x"]))]),
                "matchExpressions[0].values: values may not be specified when operator is Exists",
            ),
            (
                sel_exprs(vec![expr("a", "DoesNotExist", Some(&["x"]))]),
                "matchExpressions[0].values: values may not be specified when operator is DoesNotExist",
            ),
            (
                sel_exprs(vec![expr("a", "in", Some(&["x"]))]),
                "matchExpressions[0].operator: unknown operator \"in\"",
            ),
            (
                sel_exprs(vec![expr("bad key", "Exists", None)]),
                "matchExpressions[0].key: invalid label key \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            ),
            (
                sel_exprs(vec![expr("Istio.IO/rev", "Exists", None)]),
                "matchExpressions[0].key: invalid label key \"Istio.IO/rev\": prefix part must be a lowercase RFC 1123 subdomain",
            ),
            (
                sel_exprs(vec![expr("a/b/c", "Exists", None)]),
                "matchExpressions[0].key: invalid label key \"a/b/c\": a qualified name must be a name with an optional DNS subdomain prefix and '/'",
            ),
            (
                sel_exprs(vec![expr("/b", "Exists", None)]),
                "matchExpressions[0].key: invalid label key \"/b\": prefix part must be non-empty",
            ),
            (
                sel_exprs(vec![expr("a", "In", Some(&["ok", "-bad"]))]),
                "matchExpressions[0].values[1]: invalid label value \"-bad\": must be empty or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            ),
            (
                LabelSelector {
                    match_labels: Some(labels(&[("k", &"x".repeat(64))])),
                    match_expressions: None,
                },
                "matchLabels: invalid label value \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\": must be no more than 63 characters",
            ),
            (
                LabelSelector {
                    match_labels: Some(labels(&[("", "x")])),
                    match_expressions: None,
                },
                "matchLabels: invalid label key \"\": name part must be non-empty",
            ),
        ];
        for (sel, want) in cases {
            match Selector::compile(&sel) {
                Ok(s) => panic!("expected error {want:?}, compiled {s}"),
                Err(e) => assert_eq!(e.to_string(), want),
            }
        }
        let e = Selector::compile(&sel_exprs(vec![expr("a", "Inn", None)]))
            .err()
            .map(|e| e.within("webhooks[0].namespaceSelector").to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                "webhooks[0].namespaceSelector.matchExpressions[0].operator: unknown operator \"Inn\""
            )
        );
    }

    #[test]
    fn valid_keys_and_values_compile() {
        let ok = [
            "a",
            "kubernetes.io/metadata.name",
            "sidecar.istio.io/inject",
            "A_b-c.D",
            "x1.y-2/Name",
            &"a".repeat(63),
        ];
        for k in ok {
            assert!(
                Selector::compile(&sel_exprs(vec![expr(k, "In", Some(&["", "v_1.A"]))])).is_ok(),
                "{k}"
            );
        }
    }

    #[test]
    fn display_is_kubectl_form_sorted_by_key() {
        let s = compile(vec![
            expr("istio.io/rev", "NotIn", Some(&["x", "a"])),
            expr("istio-injection", "In", Some(&["enabled"])),
            expr("b", "Exists", None),
            expr("c", "DoesNotExist", None),
        ]);
        assert_eq!(
            s.to_string(),
            "b,!c,istio-injection in (enabled),istio.io/rev notin (a,x)"
        );
    }

    #[test]
    fn first_failing_and_explain() {
        let s = compile(vec![
            expr("istio-injection", "In", Some(&["enabled"])),
            expr("sidecar.istio.io/inject", "NotIn", Some(&["false"])),
        ]);
        let l = labels(&[("sidecar.istio.io/inject", "false")]);
        let (r, v) = s.first_failing(&l).unwrap_or_else(|| panic!("must fail"));
        assert_eq!((r.key(), v), ("istio-injection", None));
        assert_eq!(
            s.explain("namespace \"shop\"", &l),
            "namespace \"shop\" has no label istio-injection (needs istio-injection in (enabled))"
        );
        let l2 = labels(&[
            ("istio-injection", "enabled"),
            ("sidecar.istio.io/inject", "false"),
        ]);
        let (r, v) = s.first_failing(&l2).unwrap_or_else(|| panic!("must fail"));
        assert_eq!((r.key(), v), ("sidecar.istio.io/inject", Some("false")));
        let l3 = labels(&[("istio-injection", "enabled")]);
        assert_eq!(s.first_failing(&l3), None);
        assert_eq!(
            s.explain("namespace \"shop\"", &l3),
            "namespace \"shop\" has istio-injection=\"enabled\", no sidecar.istio.io/inject"
        );
    }

    #[test]
    fn requirement_new_checks_value_counts() {
        assert_eq!(
            Requirement::new("k", Operator::Equals, ["a", "b"]).err(),
            Some(SelectorErrorKind::ExactlyOneValue)
        );
        assert!(Requirement::new("k", Operator::Exists, Vec::<String>::new()).is_ok());
        let r =
            Requirement::new("k", Operator::In, ["b", "a", "b"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.values().collect::<Vec<_>>(), ["a", "b"]);
    }

    // ---- properties ----

    fn key() -> impl Strategy<Value = String> {
        // Keys that are prefixes of one another exercise the merge walk's byte ordering.
        prop::sample::select(vec!["a", "ab", "b", "c", "x.io/d", "x.io/d2", "x.io"])
            .prop_map(str::to_owned)
    }
    fn value() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["", "1", "2", "3"]).prop_map(str::to_owned)
    }
    fn label_map() -> impl Strategy<Value = BTreeMap<String, String>> {
        prop::collection::btree_map(key(), value(), 0..6)
    }
    fn requirement() -> impl Strategy<Value = LabelSelectorRequirement> {
        (key(), 0..4usize, prop::collection::vec(value(), 1..3)).prop_map(
            |(k, op, vals)| match op {
                0 => LabelSelectorRequirement {
                    key: k,
                    operator: "In".into(),
                    values: Some(vals),
                },
                1 => LabelSelectorRequirement {
                    key: k,
                    operator: "NotIn".into(),
                    values: Some(vals),
                },
                2 => LabelSelectorRequirement {
                    key: k,
                    operator: "Exists".into(),
                    values: None,
                },
                _ => LabelSelectorRequirement {
                    key: k,
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            },
        )
    }

    proptest! {
        #[test]
        fn match_labels_is_subset(m in label_map(), l in label_map()) {
            let s = Selector::compile(&LabelSelector { match_labels: Some(m.clone()), match_expressions: None })
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let subset = m.iter().all(|(k, v)| l.get(k) == Some(v));
            prop_assert_eq!(s.matches(&l), subset);
        }

        #[test]
        fn in_and_notin_are_complements_on_present_keys(
            k in key(), vals in prop::collection::vec(value(), 1..3), l in label_map()
        ) {
            let in_ = compile(vec![LabelSelectorRequirement { key: k.clone(), operator: "In".into(), values: Some(vals.clone()) }]);
            let not_in = compile(vec![LabelSelectorRequirement { key: k.clone(), operator: "NotIn".into(), values: Some(vals) }]);
            if l.contains_key(&k) {
                prop_assert_ne!(in_.matches(&l), not_in.matches(&l));
            } else {
                prop_assert!(!in_.matches(&l));
                prop_assert!(not_in.matches(&l));
            }
        }

        #[test]
        fn exists_and_does_not_exist_are_complements(k in key(), l in label_map()) {
            let e = compile(vec![expr(&k, "Exists", None)]);
            let d = compile(vec![expr(&k, "DoesNotExist", None)]);
            prop_assert_ne!(e.matches(&l), d.matches(&l));
            prop_assert_eq!(e.matches(&l), l.contains_key(&k));
        }

        #[test]
        fn requirement_order_does_not_matter(
            reqs in prop::collection::vec(requirement(), 0..5), l in label_map()
        ) {
            let forward = compile(reqs.clone());
            let mut rev = reqs.clone();
            rev.reverse();
            let backward = compile(rev);
            prop_assert_eq!(forward.matches(&l), backward.matches(&l));
            prop_assert_eq!(forward.to_string(), backward.to_string());
        }

        #[test]
        fn merge_walk_agrees_with_lookups(
            reqs in prop::collection::vec(requirement(), 0..6), l in label_map()
        ) {
            let s = compile(reqs);
            prop_assert_eq!(s.matches(&l), s.matches_by(|k| l.get(k).map(String::as_str)));
        }

        #[test]
        fn selector_is_conjunction_and_first_failing_agrees(
            reqs in prop::collection::vec(requirement(), 0..5), l in label_map()
        ) {
            let all = compile(reqs.clone());
            let each = reqs.iter().all(|r| compile(vec![r.clone()]).matches(&l));
            prop_assert_eq!(all.matches(&l), each);
            prop_assert_eq!(all.first_failing(&l).is_none(), all.matches(&l));
        }
    }
}
