//! Runs the selected checks over a state: decisions first (once per pod), then every check,
//! with missing inputs turned into visible skips.

use serde::Serialize;

use super::{Check, CheckContext, Finding, Severity, Skip, doc};
use crate::engine::Engine;
use crate::state::ClusterState;
use crate::workload::all_subjects;

/// Which checks to run and how.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `None` = all namespaces.
    pub namespace: Option<String>,
    /// `--check ID`: run only these (empty = all).
    pub only: Vec<String>,
    /// `--skip ID`: do not run these.
    pub skip: Vec<String>,
    pub now_unix: i64,
    pub cert_warn_days: u32,
    /// Set by `meshdoctor preflight`: the manifests and the expectations.
    pub preflight: Option<std::sync::Arc<crate::preflight::PreflightInputs>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub check: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub error: usize,
    pub warning: usize,
    pub info: usize,
}

/// The `check -o json` contract (DESIGN.md §4).
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub findings: Vec<Finding>,
    pub skipped: Vec<Skipped>,
    pub summary: Summary,
}

impl CheckReport {
    /// The most severe finding, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Runs `checks` (filtered by `opts`) and collects findings and skips. An unknown id in
/// `--check` / `--skip` is an error naming it.
pub fn run_checks(
    state: &ClusterState,
    engine: &Engine<'_>,
    checks: &[Box<dyn Check>],
    opts: &RunOptions,
) -> Result<CheckReport, String> {
    let docs: Vec<doc::CheckDoc> = checks
        .iter()
        .map(|c| doc::parse(c.doc()).map_err(|e| format!("check page: {e}")))
        .collect::<Result<_, _>>()?;
    for id in opts.only.iter().chain(&opts.skip) {
        if !docs.iter().any(|d| &d.id == id) {
            return Err(format!("unknown check \"{id}\" (see `meshdoctor checks`)"));
        }
    }

    let namespace = opts.namespace.as_deref();
    let mut timings = crate::timings::Timings::from_env();
    let subjects: Vec<_> = all_subjects(state, namespace)
        .into_iter()
        .map(|s| {
            let v = engine.verdict(&s);
            (s, v)
        })
        .collect();
    timings.phase("checks: subjects and verdicts");
    let ctx = CheckContext {
        state,
        engine,
        subjects: &subjects,
        namespace,
        now_unix: opts.now_unix,
        cert_warn_days: opts.cert_warn_days,
        preflight: opts.preflight.as_deref(),
    };

    let mut report = CheckReport {
        findings: Vec::new(),
        skipped: Vec::new(),
        summary: Summary::default(),
    };
    for (check, d) in checks.iter().zip(&docs) {
        if (!opts.only.is_empty() && !opts.only.contains(&d.id)) || opts.skip.contains(&d.id) {
            continue;
        }
        if check.preflight_only() && opts.preflight.is_none() {
            continue;
        }
        let missing: Vec<String> = d
            .inputs
            .iter()
            .filter_map(|k| state.unavailable_reason(*k))
            .collect();
        if !missing.is_empty() {
            report.skipped.push(Skipped {
                check: d.id.clone(),
                reason: missing.join("; "),
            });
            continue;
        }
        let mut found = Vec::new();
        let result = check.run(&ctx, &mut found);
        timings.phase(&format!("check {}", d.id));
        match result {
            Ok(()) => report.findings.extend(found),
            Err(Skip(reason)) => report.skipped.push(Skipped {
                check: d.id.clone(),
                reason,
            }),
        }
    }
    report.findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.check.cmp(&b.check))
            .then_with(|| a.object.cmp(&b.object))
    });
    for f in &report.findings {
        match f.severity {
            Severity::Error => report.summary.error += 1,
            Severity::Warning => report.summary.warning += 1,
            Severity::Info => report.summary.info += 1,
        }
    }
    Ok(report)
}
