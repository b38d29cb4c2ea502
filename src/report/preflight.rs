//! The human table and the GitHub Actions workflow commands of `preflight`.

use std::path::Path;

use owo_colors::OwoColorize;

use crate::check::Severity;
use crate::preflight::PreflightReport;

/// GitHub shows at most this many annotations of each level per step.
pub const GITHUB_ANNOTATIONS_PER_LEVEL: usize = 10;

/// Findings grouped by severity, each at `file:line:column`, then suppressed findings, skipped
/// checks, findings about the context only, and the summary.
pub fn table(report: &PreflightReport, color: bool) -> String {
    let mut out = String::new();
    for severity in [Severity::Error, Severity::Warning, Severity::Info] {
        let group: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.finding.severity == severity)
            .collect();
        if group.is_empty() {
            continue;
        }
        let title = format!("{} ({})", severity.as_str().to_uppercase(), group.len());
        out.push_str(&paint(&title, severity, color));
        out.push('\n');
        for f in group {
            let at = f
                .location
                .as_ref()
                .map(|l| l.to_string())
                .unwrap_or_default();
            out.push_str(&format!(
                "  {at}  {} {}\n      {}\n",
                paint(&f.finding.check, severity, color),
                f.finding.object,
                f.finding.message
            ));
            for e in &f.finding.evidence {
                out.push_str(&format!(
                    "      {}: {} (expected {}) [{}]\n",
                    e.field, e.observed, e.expected, e.location
                ));
            }
            out.push_str(&format!("      fix: {}\n", f.finding.fix));
        }
        out.push('\n');
    }
    if !report.suppressed.is_empty() {
        out.push_str(&format!("SUPPRESSED ({})\n", report.suppressed.len()));
        for s in &report.suppressed {
            let at = s
                .finding
                .location
                .as_ref()
                .map(|l| l.to_string())
                .unwrap_or_default();
            out.push_str(&format!(
                "  {at}  {} {}: {}\n",
                s.finding.finding.check, s.finding.finding.object, s.suppression.reason
            ));
        }
        out.push('\n');
    }
    if !report.skipped.is_empty() {
        out.push_str("SKIPPED\n");
        for s in &report.skipped {
            out.push_str(&format!("  {}: {}\n", s.check, s.reason));
        }
        out.push('\n');
    }
    out.push_str(&super::check::partial_and_unavailable(
        &report.partial,
        &report.unavailable,
    ));
    if !report.context_findings.is_empty() {
        out.push_str(&format!(
            "CONTEXT ({}: about objects not in the manifests; not gating, see `meshdoctor check`)\n",
            report.context_findings.len()
        ));
        for f in &report.context_findings {
            out.push_str(&format!(
                "  {} {} {}: {}\n",
                f.severity.as_str(),
                f.check,
                f.object,
                f.message
            ));
        }
        out.push('\n');
    }
    out.push_str(&summary_line(report));
    out.push('\n');
    out
}

pub fn summary_line(report: &PreflightReport) -> String {
    let s = &report.summary;
    format!(
        "{} errors, {} warnings, {} info; {} suppressed; {} checks skipped; {} objects checked",
        s.error,
        s.warning,
        s.info,
        s.suppressed,
        report.skipped.len(),
        report.objects.len()
    )
}

/// Escapes the message of a workflow command.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value of a workflow command (`file=`, `title=`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::error file=…,line=…,col=…,title=…::message` for every finding, errors first, at most
/// [`GITHUB_ANNOTATIONS_PER_LEVEL`] per level (GitHub drops the rest), then a notice that
/// counts what was left out and the summary. Paths are relative to `base_dir` (the
/// repository root), as the annotations need.
pub fn github(report: &PreflightReport, base_dir: &Path) -> String {
    let mut out = String::new();
    let mut left_out = 0usize;
    for severity in [Severity::Error, Severity::Warning, Severity::Info] {
        let command = match severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let group: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.finding.severity == severity)
            .collect();
        left_out += group.len().saturating_sub(GITHUB_ANNOTATIONS_PER_LEVEL);
        for f in group.into_iter().take(GITHUB_ANNOTATIONS_PER_LEVEL) {
            let mut props = Vec::new();
            if let Some(loc) = &f.location {
                let file = super::sarif::artifact_uri(loc, base_dir);
                let (line, col) = if loc.file == "-" && loc.helm_source.is_some() {
                    (1, 1)
                } else {
                    (loc.line, loc.column)
                };
                props.push(format!("file={}", escape_property(&file)));
                props.push(format!("line={line}"));
                props.push(format!("col={col}"));
            }
            let title = format!("meshdoctor {}: {}", f.finding.check, f.finding.object);
            props.push(format!("title={}", escape_property(&title)));
            let message = format!("{}\nFix: {}", f.finding.message, f.finding.fix);
            out.push_str(&format!(
                "::{command} {}::{}\n",
                props.join(","),
                escape_data(&message)
            ));
        }
    }
    // One annotation for every failed read and partial check together, so that it is never
    // among the ones GitHub drops past its per-level limit.
    let mut unread: Vec<String> = report
        .unavailable
        .iter()
        .map(|u| format!("could not read: {}", u.describe()))
        .collect();
    unread.extend(
        report
            .partial
            .iter()
            .map(|p| format!("{}: {}", p.check, p.describe())),
    );
    if !unread.is_empty() {
        out.push_str(&format!(
            "::warning title={}::{}\n",
            escape_property("meshdoctor: inputs not read"),
            escape_data(&unread.join("\n"))
        ));
    }
    if left_out > 0 {
        out.push_str(&format!(
            "::notice title=meshdoctor::{}\n",
            escape_data(&format!(
                "{left_out} more findings are not shown as annotations (GitHub shows {GITHUB_ANNOTATIONS_PER_LEVEL} per level); run with -o table or -o sarif for all"
            ))
        ));
    }
    out.push_str(&summary_line(report));
    out.push('\n');
    out
}

fn paint(text: &str, severity: Severity, color: bool) -> String {
    if !color {
        return text.to_owned();
    }
    match severity {
        Severity::Error => text.red().bold().to_string(),
        Severity::Warning => text.yellow().bold().to_string(),
        Severity::Info => text.cyan().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_command_escaping_follows_github() {
        assert_eq!(escape_data("100% done\r\nnext"), "100%25 done%0D%0Anext");
        assert_eq!(escape_data("a: b, c"), "a: b, c");
        assert_eq!(
            escape_property("meshdoctor x: deployment/shop/web, 50%\n"),
            "meshdoctor x%3A deployment/shop/web%2C 50%25%0A"
        );
        // `%` first, so that escapes are not escaped twice.
        assert_eq!(escape_property("%3A"), "%253A");
    }
}
