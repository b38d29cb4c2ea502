//! Runs the selected checks over a state: decisions first (once per pod), then every check,
//! with missing inputs turned into visible skips.

use serde::Serialize;

use super::unavailable::{self, PartialInput, UnreadInput};
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
    /// Checks that ran without a kind they read, which could not be read.
    pub partial: Vec<PartialInput>,
    /// Every read of the cluster that failed, whether or not a check needed it.
    pub unavailable: Vec<UnreadInput>,
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
    let subjects: Vec<_> = crate::parallel::map(&all_subjects(state, namespace), 512, |s| {
        (s.clone(), engine.verdict(s))
    });
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
        partial: Vec::new(),
        unavailable: unavailable::of_state(state),
        summary: Summary::default(),
    };
    // Decide what runs, in catalog order; run those on all cores; report in catalog order.
    let mut plan: Vec<Result<(&dyn Check, &doc::CheckDoc), Skipped>> = Vec::new();
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
        if missing.is_empty() {
            plan.push(Ok((check.as_ref(), d)));
        } else {
            plan.push(Err(Skipped {
                check: d.id.clone(),
                reason: missing.join("; "),
            }));
        }
    }
    let show_timings = timings.enabled();
    let outcomes = crate::parallel::map(&plan, 1, |planned| {
        let &Ok((check, d)) = planned else {
            return None;
        };
        let id = d.id.as_str();
        let started = std::time::Instant::now();
        let mut found = Vec::new();
        let result = check.run(&ctx, &mut found).map(|()| found);
        if show_timings {
            eprintln!(
                "meshdoctor: timing: check {id}: {:.3} s",
                started.elapsed().as_secs_f64()
            );
        }
        Some(result)
    });
    for (planned, outcome) in plan.into_iter().zip(outcomes) {
        match (planned, outcome) {
            (Err(skipped), _) => report.skipped.push(skipped),
            (Ok((_, d)), Some(Ok(found))) => {
                report.findings.extend(found);
                report.partial.extend(unavailable::partial_inputs(state, d));
            }
            (Ok((_, d)), Some(Err(Skip(reason)))) => report.skipped.push(Skipped {
                check: d.id.clone(),
                reason,
            }),
            (Ok(_), None) => {}
        }
    }
    timings.phase("checks: run");
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
