//! The table form of `check`: findings grouped by severity, each with its evidence and fix,
//! then the skipped checks, the checks that ran on partial inputs, the reads that failed and
//! the summary.

use owo_colors::OwoColorize;

use crate::check::unavailable::{PartialInput, UnreadInput};
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
    out.push_str(&partial_and_unavailable(
        &report.partial,
        &report.unavailable,
    ));
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

/// The checks that ran on partial inputs, then the reads that failed (shared with preflight's
/// table). Empty when every read succeeded.
pub fn partial_and_unavailable(partial: &[PartialInput], unavailable: &[UnreadInput]) -> String {
    let mut out = String::new();
    if !partial.is_empty() {
        out.push_str("PARTIAL INPUTS\n");
        for p in partial {
            out.push_str(&format!("  {}: {}\n", p.check, p.describe()));
        }
        out.push('\n');
    }
    out.push_str(&crate::check::unavailable::table_footer(unavailable));
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
