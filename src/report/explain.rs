//! The table form of `explain`: the verdict on one line, the ordered trace with the decisive
//! step marked, then the change that would flip the verdict.

use comfy_table::{Cell, ContentArrangement, Table, presets};
use owo_colors::OwoColorize;

use crate::decision::Decision;
use crate::trace::StepResult;

pub fn table(d: &Decision, color: bool) -> String {
    let mut out = String::new();
    let subject = match d.target.kind.as_str() {
        "Pod" => format!(
            "pod {}/{}",
            d.target.namespace.as_deref().unwrap_or(""),
            d.target.name
        ),
        kind => format!(
            "{} {}/{} (pod template)",
            kind.to_ascii_lowercase(),
            d.target.namespace.as_deref().unwrap_or(""),
            d.target.name
        ),
    };
    let verdict = if d.inject {
        let mesh = d.mesh.map(|m| m.as_str()).unwrap_or("?");
        let rev = d
            .revision
            .as_deref()
            .map(|r| format!(", revision {r}"))
            .unwrap_or_default();
        let text = format!("WILL BE INJECTED ({mesh}{rev})");
        if color {
            text.green().bold().to_string()
        } else {
            text
        }
    } else {
        let text = "WILL NOT BE INJECTED".to_owned();
        if color {
            text.red().bold().to_string()
        } else {
            text
        }
    };
    out.push_str(&format!("{subject}: {verdict}\n"));
    if let Some(w) = &d.webhook {
        out.push_str(&format!("webhook: {w}\n"));
    }
    out.push_str(&format!("decided by: {}\n\n", d.decisive));

    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(vec!["", "#", "STEP", "RESULT", "DETAIL"]);
    let decisive_index = d.trace.iter().rposition(|s| s.step == d.decisive);
    for (i, s) in d.trace.iter().enumerate() {
        let marker = if Some(i) == decisive_index { "▶" } else { "" };
        let result = result_word(s.result);
        let result = if color {
            colour_result(s.result, result)
        } else {
            result.to_owned()
        };
        let mut detail = s.detail.clone();
        if let Some(src) = &s.source {
            detail.push_str(&format!(
                " [{} {} @ {}]",
                src.object, src.field, src.location
            ));
        }
        t.add_row(vec![
            Cell::new(marker),
            Cell::new(i + 1),
            Cell::new(&s.step),
            Cell::new(result),
            Cell::new(detail),
        ]);
    }
    out.push_str(&crate::cli::common::trim_table(&t.to_string()));
    out.push('\n');
    match &d.flip {
        Some(f) => out.push_str(&format!("\nto flip: {f}\n")),
        None => out.push_str(
            "\nto flip: no single label, annotation or setting change flips this verdict\n",
        ),
    }
    out
}

fn result_word(r: StepResult) -> &'static str {
    match r {
        StepResult::Pass => "pass",
        StepResult::Fail => "fail",
        StepResult::Skip => "skip",
        StepResult::NotEvaluated => "not evaluated",
        StepResult::Info => "info",
    }
}

fn colour_result(r: StepResult, word: &str) -> String {
    match r {
        StepResult::Pass => word.green().to_string(),
        StepResult::Fail => word.red().to_string(),
        StepResult::NotEvaluated => word.yellow().to_string(),
        StepResult::Skip | StepResult::Info => word.dimmed().to_string(),
    }
}
