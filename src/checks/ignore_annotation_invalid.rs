//! `ignore-annotation-invalid` (preflight): a `meshdoctor.io/ignore` entry that gives no reason
//! (it is then not applied) or names a check that does not exist (a typo that silences
//! nothing). Suppressions must say why, so that a reviewer can judge them.

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::preflight::suppress::{IGNORE_ANNOTATION, parse_annotation};

pub struct IgnoreAnnotationInvalid;

impl Check for IgnoreAnnotationInvalid {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/ignore-annotation-invalid.md")
    }

    fn preflight_only(&self) -> bool {
        true
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let Some(pf) = ctx.preflight else {
            return Err(Skip("runs only in `meshdoctor preflight`".to_owned()));
        };
        for m in &pf.manifests {
            let Some(value) = m.annotations.get(IGNORE_ANNOTATION) else {
                continue;
            };
            let who = match &m.namespace {
                Some(ns) => format!("{} {ns}/{}", m.kind.to_ascii_lowercase(), m.name),
                None => format!("{} {}", m.kind.to_ascii_lowercase(), m.name),
            };
            for entry in parse_annotation(value) {
                let unknown: Vec<&str> = entry
                    .checks
                    .iter()
                    .filter(|c| !pf.known_checks.contains(c))
                    .map(String::as_str)
                    .collect();
                let problem = if entry.checks.is_empty() {
                    "names no check".to_owned()
                } else if entry.reason.is_none() {
                    "gives no reason, so it is not applied".to_owned()
                } else if !unknown.is_empty() {
                    format!(
                        "names {} that meshdoctor does not have ({}), so it silences nothing",
                        if unknown.len() == 1 {
                            "a check"
                        } else {
                            "checks"
                        },
                        unknown.join(", ")
                    )
                } else {
                    continue;
                };
                let example = match entry.checks.first() {
                    Some(c) if !unknown.contains(&c.as_str()) => c.clone(),
                    _ => "<check-id>".to_owned(),
                };
                out.push(Finding {
                    check: "ignore-annotation-invalid".to_owned(),
                    severity: Severity::Warning,
                    object: ObjectRef::new(&m.kind, m.namespace.as_deref(), &m.name),
                    message: format!(
                        "the {IGNORE_ANNOTATION} entry \"{}\" on {who} {problem}",
                        entry.text
                    ),
                    evidence: vec![Evidence::new(
                        format!("metadata.annotations.{IGNORE_ANNOTATION}"),
                        entry.text.clone(),
                        "<check-id>: <reason> (see `meshdoctor checks` for the ids)",
                        &m.origin,
                    )],
                    fix: format!(
                        "write the entry as `{IGNORE_ANNOTATION}: \"{example}: <why this finding is accepted>\"`"
                    ),
                });
            }
        }
        Ok(())
    }
}
