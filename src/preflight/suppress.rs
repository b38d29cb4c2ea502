//! Suppressions: the `meshdoctor.io/ignore` annotation on the object a finding is about
//! (`"<check-id>: <reason>"`, the reason is required, several entries on separate lines or
//! separated by `;`) and `--ignore <check-id>[=<kind/namespace/name>]`. A suppressed finding is
//! still reported (JSON `suppressed`, SARIF `suppressions`) and counted; it only stops gating.

use serde::Serialize;

use super::PreflightInputs;
use super::locate::{SourceLocation, field_in};
use crate::check::Finding;
use crate::state::Kind;

/// The annotation users put on an object to silence a check for it.
pub const IGNORE_ANNOTATION: &str = "meshdoctor.io/ignore";

/// One entry of the annotation: the checks it names and its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreEntry {
    pub checks: Vec<String>,
    /// `None` when the entry gives none (then it does not apply).
    pub reason: Option<String>,
    /// The entry as written.
    pub text: String,
}

/// Parses the annotation's value: entries separated by new lines or `;`, each
/// `<check-id>[,<check-id>...]: <reason>`.
pub fn parse_annotation(value: &str) -> Vec<IgnoreEntry> {
    value
        .split(['\n', ';'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (ids, reason) = match entry.split_once(':') {
                Some((ids, reason)) => (ids, Some(reason.trim())),
                None => (entry, None),
            };
            IgnoreEntry {
                checks: ids
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                reason: reason.filter(|r| !r.is_empty()).map(str::to_owned),
                text: entry.to_owned(),
            }
        })
        .collect()
}

/// `--ignore <check-id>[=<kind/namespace/name>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreRule {
    pub check: String,
    /// `kind/namespace/name` or `kind/name`; `*` matches any one part.
    pub object: Option<String>,
}

impl IgnoreRule {
    pub fn parse(text: &str) -> Result<IgnoreRule, String> {
        let (check, object) = match text.split_once('=') {
            Some((c, o)) => (c.trim(), Some(o.trim())),
            None => (text.trim(), None),
        };
        if check.is_empty() {
            return Err(format!(
                "--ignore \"{text}\": expected <check-id>[=<kind/namespace/name>]"
            ));
        }
        if let Some(o) = object {
            let parts = o.split('/').count();
            if !(2..=3).contains(&parts) || o.split('/').any(str::is_empty) {
                return Err(format!(
                    "--ignore \"{text}\": the object must be kind/namespace/name or kind/name (e.g. deployment/shop/web)"
                ));
            }
        }
        Ok(IgnoreRule {
            check: check.to_owned(),
            object: object.map(str::to_owned),
        })
    }

    fn matches(&self, finding: &Finding) -> bool {
        if self.check != finding.check {
            return false;
        }
        let Some(pattern) = &self.object else {
            return true;
        };
        let want: Vec<&str> = pattern.split('/').collect();
        let kind = normalize_kind(&finding.object.kind);
        let got: Vec<&str> = match &finding.object.namespace {
            Some(ns) => vec![kind.as_str(), ns, &finding.object.name],
            None => vec![kind.as_str(), &finding.object.name],
        };
        want.len() == got.len()
            && want.iter().zip(&got).enumerate().all(|(i, (w, g))| {
                *w == "*"
                    || if i == 0 {
                        normalize_kind(w) == *g
                    } else {
                        w == g
                    }
            })
    }
}

/// `deploy`, `Deployment` and `deployments` all mean `deployment`.
fn normalize_kind(kind: &str) -> String {
    Kind::parse_user(kind)
        .map(|k| k.name().to_ascii_lowercase())
        .unwrap_or_else(|| kind.to_ascii_lowercase())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SuppressionKind {
    /// `meshdoctor.io/ignore` on the object (SARIF `inSource`).
    Annotation,
    /// `--ignore` (SARIF `external`).
    Flag,
}

/// Why a finding is suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    pub kind: SuppressionKind,
    pub reason: String,
    /// Where the annotation is written (annotation suppressions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<SourceLocation>,
}

/// The suppression that applies to a finding, if any: `--ignore` first, then the annotation
/// on the object in the manifests.
pub fn find(
    inputs: &PreflightInputs,
    rules: &[IgnoreRule],
    finding: &Finding,
) -> Option<Suppression> {
    if let Some(rule) = rules.iter().find(|r| r.matches(finding)) {
        let reason = match &rule.object {
            Some(o) => format!("--ignore {}={o}", rule.check),
            None => format!("--ignore {}", rule.check),
        };
        return Some(Suppression {
            kind: SuppressionKind::Flag,
            reason,
            location: None,
        });
    }
    let m = inputs.manifest_for(&finding.object)?;
    let value = m.annotations.get(IGNORE_ANNOTATION)?;
    let entry = parse_annotation(value)
        .into_iter()
        .find(|e| e.reason.is_some() && e.checks.iter().any(|c| c == &finding.check))?;
    Some(Suppression {
        kind: SuppressionKind::Annotation,
        reason: entry.reason.unwrap_or_default(),
        location: Some(field_in(
            m,
            &format!("metadata.annotations.{IGNORE_ANNOTATION}"),
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{ObjectRef, Severity};

    fn finding(check: &str, kind: &str, ns: Option<&str>, name: &str) -> Finding {
        Finding {
            check: check.into(),
            severity: Severity::Error,
            object: ObjectRef::new(kind, ns, name),
            message: String::new(),
            evidence: Vec::new(),
            fix: String::new(),
        }
    }

    #[test]
    fn annotation_entries_need_a_reason() {
        let e = parse_annotation(
            "host-network: node agent, by design\nexpected-injection\n a, b : shared reason ; c:",
        );
        assert_eq!(e.len(), 4);
        assert_eq!(e[0].checks, ["host-network"]);
        assert_eq!(e[0].reason.as_deref(), Some("node agent, by design"));
        assert_eq!(e[1].reason, None);
        assert_eq!(e[2].checks, ["a", "b"]);
        assert_eq!(e[2].reason.as_deref(), Some("shared reason"));
        assert_eq!(e[3].checks, ["c"]);
        assert_eq!(e[3].reason, None);
    }

    #[test]
    fn ignore_rules_match_checks_and_objects() {
        let f = finding("expected-injection", "Deployment", Some("shop"), "web");
        assert!(IgnoreRule::parse("expected-injection").unwrap().matches(&f));
        assert!(
            IgnoreRule::parse("expected-injection=deploy/shop/web")
                .unwrap()
                .matches(&f)
        );
        assert!(
            IgnoreRule::parse("expected-injection=Deployment/*/web")
                .unwrap()
                .matches(&f)
        );
        assert!(
            !IgnoreRule::parse("expected-injection=deployment/pay/web")
                .unwrap()
                .matches(&f)
        );
        assert!(!IgnoreRule::parse("host-network").unwrap().matches(&f));
        let ns = finding("namespace-not-selected", "Namespace", None, "shop");
        assert!(
            IgnoreRule::parse("namespace-not-selected=ns/shop")
                .unwrap()
                .matches(&ns)
        );
        assert!(IgnoreRule::parse("x=deployment").is_err());
        assert!(IgnoreRule::parse("=a/b").is_err());
        assert!(IgnoreRule::parse("x=a//b").is_err());
    }
}
