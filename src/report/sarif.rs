//! SARIF 2.1.0 for `preflight -o sarif`, shaped for GitHub code scanning: one rule per check
//! (from its page), one result per finding with a repo-relative `uri`, a `region` with line and
//! column, a fingerprint that survives unrelated edits, `suppressions` for silenced findings,
//! `results: []` when clean, and skipped checks as tool notifications.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde_json::json;
use serde_sarif::sarif;
use sha2::{Digest, Sha256};

use crate::check::Severity;
use crate::check::doc::CheckDoc;
use crate::check::unavailable::UnreadInput;
use crate::preflight::{
    LocatedFinding, PreflightReport, SourceLocation, Suppression, SuppressionKind,
};

/// The key of our fingerprint in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "meshdoctorFinding/v1";

/// Renders the report. `base_dir` is what `uri`s are made relative to (the repository root;
/// by default the current directory).
pub fn render(report: &PreflightReport, base_dir: &Path) -> String {
    let rules: Vec<sarif::ReportingDescriptor> = report.rules.iter().map(rule).collect();
    let index: BTreeMap<&str, usize> = report
        .rules
        .iter()
        .enumerate()
        .map(|(i, d)| (d.id.as_str(), i))
        .collect();
    let mut results: Vec<sarif::Result> = Vec::new();
    for f in &report.findings {
        results.push(result(f, None, &index, base_dir));
    }
    for s in &report.suppressed {
        results.push(result(&s.finding, Some(&s.suppression), &index, base_dir));
    }
    let mut notifications: Vec<sarif::Notification> = report
        .skipped
        .iter()
        .map(|s| {
            check_notification(
                &s.check,
                "note",
                format!("{} skipped: {}", s.check, s.reason),
            )
        })
        .collect();
    notifications.extend(
        report.partial.iter().map(|p| {
            check_notification(&p.check, "warning", format!("{} {}", p.check, p.describe()))
        }),
    );
    notifications.extend(report.unavailable.iter().map(unread_notification));
    let invocation = sarif::Invocation::builder()
        .execution_successful(true)
        .tool_execution_notifications(notifications)
        .build();
    let driver = sarif::ToolComponent::builder()
        .name("meshdoctor")
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .rules(rules)
        .build();
    let run = sarif::Run::builder()
        .tool(sarif::Tool::builder().driver(driver).build())
        .invocations(vec![invocation])
        .results(results)
        .build();
    let log = sarif::Sarif::builder()
        .schema("https://json.schemastore.org/sarif-2.1.0.json")
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build();
    super::to_json(&log)
}

/// A notification about one check (skipped, or run on partial inputs).
fn check_notification(check: &str, level: &str, text: String) -> sarif::Notification {
    sarif::Notification::builder()
        .message(sarif::Message::builder().text(text).build())
        .level(json!(level))
        .descriptor(
            sarif::ReportingDescriptorReference::builder()
                .id(check.to_owned())
                .build(),
        )
        .build()
}

/// A failed read: a warning, with the kind, namespace and HTTP status as properties.
fn unread_notification(u: &UnreadInput) -> sarif::Notification {
    let mut props = BTreeMap::new();
    props.insert("kind".to_owned(), json!(u.kind));
    props.insert("namespace".to_owned(), json!(u.namespace));
    props.insert("status".to_owned(), json!(u.status));
    sarif::Notification::builder()
        .message(
            sarif::Message::builder()
                .text(format!("could not read: {}", u.describe()))
                .build(),
        )
        .level(json!("warning"))
        .properties(
            sarif::PropertyBag::builder()
                .tags(vec!["unavailable".to_owned()])
                .additional_properties(props)
                .build(),
        )
        .build()
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// `expected-injection` → `ExpectedInjection`.
fn pascal(id: &str) -> String {
    id.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// The first paragraph of the page's "What it checks", as plain text of at most 1024
/// characters (GitHub's limit for descriptions).
fn full_description(d: &CheckDoc) -> String {
    let mut lines = d
        .body
        .lines()
        .skip_while(|l| l.trim() != "## What it checks");
    lines.next();
    let para: Vec<&str> = lines
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::trim)
        .collect();
    let text = if para.is_empty() {
        d.title.clone()
    } else {
        para.join(" ")
    };
    truncate(&text, 1024)
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn rule(d: &CheckDoc) -> sarif::ReportingDescriptor {
    let mut props = BTreeMap::new();
    props.insert("precision".to_owned(), json!("very-high"));
    props.insert(
        "problem.severity".to_owned(),
        json!(match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "recommendation",
        }),
    );
    sarif::ReportingDescriptor::builder()
        .id(d.id.clone())
        .name(pascal(&d.id))
        .short_description(
            sarif::MultiformatMessageString::builder()
                .text(truncate(&d.title, 1024))
                .build(),
        )
        .full_description(
            sarif::MultiformatMessageString::builder()
                .text(full_description(d))
                .build(),
        )
        .help(
            sarif::MultiformatMessageString::builder()
                .text(d.body.clone())
                .markdown(d.body.clone())
                .build(),
        )
        .default_configuration(
            sarif::ReportingConfiguration::builder()
                .level(json!(level(d.severity)))
                .build(),
        )
        .properties(
            sarif::PropertyBag::builder()
                .tags(vec!["kubernetes".to_owned(), "service-mesh".to_owned()])
                .additional_properties(props)
                .build(),
        )
        .build()
}

/// A stable id for a finding: its check, object and the field it is about — not its line, so
/// that editing other parts of the file does not make it a new alert.
pub fn fingerprint(f: &LocatedFinding) -> String {
    let field = f
        .location
        .as_ref()
        .and_then(|l| l.field.as_deref())
        .unwrap_or("");
    let mut h = Sha256::new();
    h.update(f.finding.check.as_bytes());
    h.update([0]);
    h.update(f.finding.object.to_string().as_bytes());
    h.update([0]);
    h.update(field.as_bytes());
    let digest = h.finalize();
    hex::encode(digest.get(..16).unwrap_or_default())
}

/// The `uri` of a location, relative to `base_dir` with `/` separators. Helm output read
/// from stdin points at the template it came from (`# Source:`).
pub fn artifact_uri(loc: &SourceLocation, base_dir: &Path) -> String {
    if loc.file == "-" {
        return loc.helm_source.clone().unwrap_or_else(|| "-".to_owned());
    }
    let path = PathBuf::from(&loc.file);
    let rel = relative_to(&path, base_dir).unwrap_or(path);
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `path` relative to `base`, both resolved (symlinks too, as GitHub asks).
fn relative_to(path: &Path, base: &Path) -> Option<PathBuf> {
    let path = std::fs::canonicalize(path).ok()?;
    let base = std::fs::canonicalize(base).ok()?;
    if let Ok(rel) = path.strip_prefix(&base) {
        return Some(rel.to_path_buf());
    }
    // Outside the base: walk up with `..`.
    let p: Vec<_> = path.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in p.iter().skip(common) {
        out.push(c);
    }
    Some(out)
}

fn result(
    f: &LocatedFinding,
    suppression: Option<&Suppression>,
    index: &BTreeMap<&str, usize>,
    base_dir: &Path,
) -> sarif::Result {
    let finding = &f.finding;
    let mut locations = Vec::new();
    if let Some(loc) = &f.location {
        // Helm output from stdin has no lines in the template: point at its first line.
        let (line, column) = if loc.file == "-" && loc.helm_source.is_some() {
            (1, 1)
        } else {
            (loc.line, loc.column)
        };
        let region = sarif::Region::builder()
            .start_line(i64::from(line.max(1)))
            .start_column(i64::from(column.max(1)))
            .build();
        let physical = sarif::PhysicalLocation::builder()
            .artifact_location(
                sarif::ArtifactLocation::builder()
                    .uri(artifact_uri(loc, base_dir))
                    .build(),
            )
            .region(region)
            .build();
        let logical = sarif::LogicalLocation::builder()
            .name(finding.object.name.clone())
            .fully_qualified_name(finding.object.to_string())
            .kind("resource")
            .build();
        locations.push(
            sarif::Location::builder()
                .physical_location(physical)
                .logical_locations(vec![logical])
                .build(),
        );
    }
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert(FINGERPRINT_KEY.to_owned(), fingerprint(f));
    let mut props = BTreeMap::new();
    props.insert("object".to_owned(), json!(finding.object));
    props.insert("evidence".to_owned(), json!(finding.evidence));
    props.insert("fix".to_owned(), json!(finding.fix));
    let text = format!("{} Fix: {}", sentence(&finding.message), finding.fix);
    let mut r = sarif::Result::builder()
        .rule_id(finding.check.clone())
        .level(match finding.severity {
            Severity::Error => sarif::ResultLevel::Error,
            Severity::Warning => sarif::ResultLevel::Warning,
            Severity::Info => sarif::ResultLevel::Note,
        })
        .message(sarif::Message::builder().text(text).build())
        .locations(locations)
        .partial_fingerprints(fingerprints)
        .properties(
            sarif::PropertyBag::builder()
                .additional_properties(props)
                .build(),
        )
        .build();
    r.rule_index = index
        .get(finding.check.as_str())
        .and_then(|i| i64::try_from(*i).ok());
    if let Some(s) = suppression {
        r.suppressions = Some(vec![
            sarif::Suppression::builder()
                .kind(json!(match s.kind {
                    SuppressionKind::Annotation => "inSource",
                    SuppressionKind::Flag => "external",
                }))
                .status(json!("accepted"))
                .justification(s.reason.clone())
                .build(),
        ]);
    }
    r
}

/// The message as one sentence ending with a period (GitHub uses the first sentence as the
/// alert's title).
fn sentence(message: &str) -> String {
    let m = message.trim_end();
    if m.ends_with(['.', '!', '?']) {
        m.to_owned()
    } else {
        format!("{m}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_are_pascal_case() {
        assert_eq!(pascal("expected-injection"), "ExpectedInjection");
        assert_eq!(pascal("cabundle-empty"), "CabundleEmpty");
    }

    #[test]
    fn long_text_is_cut_at_1024_characters() {
        let t = truncate(&"x".repeat(2000), 1024);
        assert_eq!(t.chars().count(), 1024);
        assert!(t.ends_with('…'));
    }

    #[test]
    fn stdin_helm_output_points_at_the_template() {
        let loc = SourceLocation {
            file: "-".into(),
            line: 40,
            column: 3,
            field: None,
            helm_source: Some("shop/templates/web.yaml".into()),
        };
        assert_eq!(
            artifact_uri(&loc, Path::new(".")),
            "shop/templates/web.yaml"
        );
    }
}
