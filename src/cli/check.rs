//! `meshdoctor check`: run the catalog over one namespace or all of them.

use super::Failure;
use super::args::{CheckArgs, CheckFormat, FailOn, GlobalArgs};
use super::common::{Detail, load_state_with};
use crate::check::{RunOptions, Severity, run_checks};
use crate::engine::Engine;
use crate::report;

pub fn run(global: &GlobalArgs, args: &CheckArgs) -> Result<(), Failure> {
    // Built-in and user-defined checks; live mode lists the kinds all of them read.
    let sources = super::config::check_sources(args.checks_dir.as_deref(), args.config.as_deref())?;
    let checks =
        crate::check::user::catalog(&sources).map_err(|e| Failure::Usage(e.to_string()))?;
    let wants = super::common::Wants::Kinds {
        kinds: super::common::kinds_for_checks(&checks, &args.only, &args.skip),
        all_namespaces: args.all_namespaces,
    };
    let mut timings = crate::timings::Timings::from_env();
    let progress = super::common::progress_allowed(global, args.output != CheckFormat::Table);
    // The built-in checks read a known part of each object, so the rest is dropped as it is
    // read (`source::slim`); a user check's CEL may read any field, so it gets them all.
    let detail = if sources.is_empty() {
        Detail::ChecksOnly
    } else {
        Detail::Full
    };
    let mut loaded = load_state_with(&args.source, wants.clone(), progress, detail)?;
    if loaded.state.slimmed && has_match_conditions(&loaded.state) {
        // A webhook's matchConditions are CEL over the whole pod: decide on whole pods. Rare
        // (neither mesh installs them), so reading the files twice is cheaper than always
        // reading all. (Live reads decide before listing: they are never slimmed then.)
        loaded = load_state_with(&args.source, wants, progress, Detail::Full)?;
    }
    timings.phase("load");
    let options = super::common::engine_options_for(global, &loaded)?;
    let state = loaded.state;
    let engine = Engine::new(&state, options);
    timings.phase("engine");
    super::common::reject_invalid_webhooks(&engine)?;
    let namespace = (!args.all_namespaces).then_some(loaded.namespace);
    let opts = RunOptions {
        namespace,
        only: args.only.clone(),
        skip: args.skip.clone(),
        now_unix: now_unix(),
        cert_warn_days: args.cert_expiry_days,
        preflight: None,
    };
    let report = run_checks(&state, &engine, &checks, &opts).map_err(Failure::Usage)?;
    timings.phase("checks");
    let out = match args.output {
        CheckFormat::Table => report::check::table(&report, super::common::use_color(global)),
        CheckFormat::Json => report::to_json(&report),
        CheckFormat::Yaml => report::to_yaml(&report),
    };
    super::common::print(&out);
    timings.phase("report");
    // A large cluster's state is millions of allocations and the process is about to exit:
    // let the OS take the memory back at once instead of freeing it piece by piece (about a
    // tenth of the run for 50,000 pods).
    std::mem::forget(engine);
    std::mem::forget(state);
    let threshold = match args.fail_on {
        FailOn::Error => Some(Severity::Error),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Info => Some(Severity::Info),
        FailOn::Never => None,
    };
    match (threshold, report.worst()) {
        (Some(t), Some(w)) if w >= t => Err(Failure::Findings),
        _ => Ok(()),
    }
}

/// Whether any webhook selects with `matchConditions`.
fn has_match_conditions(state: &crate::state::ClusterState) -> bool {
    crate::source::slim::needs_whole_pods(state.mutating_webhooks.iter().map(|c| &c.obj))
}

/// The current time, for certificate expiry. `MESHDOCTOR_NOW` (seconds since the epoch) pins
/// it, so that fixtures with real certificates give the same answer on every day.
pub fn now_unix() -> i64 {
    if let Some(v) =
        std::env::var_os("MESHDOCTOR_NOW").and_then(|v| v.to_str().and_then(|s| s.parse().ok()))
    {
        return v;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
