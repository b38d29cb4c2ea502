//! The table form of `check`: findings grouped by severity, each with its evidence and fix,
//! then the skipped checks and the summary.

use owo_colors::OwoColorize;

use crate::check::{CheckReport, Severity};

pub fn table(report: &CheckReport, color: bool) -> String {
    let mut out = String::new();
    for severity in [Severity::Error, Severity::Warning, Severity::Info] {
        let group: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.severity == severity)
            .collect();
        if group.is_empty() {
            continue;
        }
        let title = format!("{} ({})", severity.as_str().to_uppercase(), group.len());
        out.push_str(&paint(&title, severity, color));
        out.push('\n');
        for f in group {
            out.push_str(&format!(
                "  {} {}: {}\n",
                paint(&f.check, severity, color),
                f.object,
                f.message
            ));
            for e in &f.evidence {
                out.push_str(&format!(
                    "      {}: {} (expected {}) [{}]\n",
                    e.field, e.observed, e.expected, e.location
                ));
            }
            out.push_str(&format!("      fix: {}\n", f.fix));
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
    let s = &report.summary;
    out.push_str(&format!(
        "{} errors, {} warnings, {} info; {} checks skipped\n",
        s.error,
        s.warning,
        s.info,
        report.skipped.len()
    ));
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
