//! `meshdoctor preflight -f PATH...`: builds the mesh context (`--from`, then the live
//! cluster, then nothing), hands it with the manifests to [`crate::preflight::evaluate`], prints
//! the report in the chosen format and maps it to the exit code — the same in every format.

use std::path::PathBuf;

use super::Failure;
use super::args::{FailOn, GlobalArgs, PreflightArgs, PreflightFormat, SourceArgs};
use crate::check::Severity;
use crate::preflight::{Expectations, IgnoreRule, PreflightError, PreflightSettings, evaluate};
use crate::report;
use crate::source::offline::{LoadOptions, load_paths};
use crate::state::ClusterState;

pub fn run(global: &GlobalArgs, args: &PreflightArgs) -> Result<(), Failure> {
    let progress = super::common::progress_allowed(global, args.output != PreflightFormat::Table);
    let context = context(args, progress)?;
    let ignores = args
        .ignore
        .iter()
        .map(|i| IgnoreRule::parse(i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::Usage)?;
    let settings = PreflightSettings {
        manifests: args.files.clone(),
        default_namespace: args
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned()),
        expect: Expectations {
            all: args.expect_injected,
            namespaces: args
                .expect_injected_in
                .iter()
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect(),
        },
        ignores,
        only: args.only.clone(),
        skip: args.skip.clone(),
        now_unix: super::check::now_unix(),
        cert_warn_days: args.cert_expiry_days,
        engine: super::common::engine_options(global)?,
    };
    let checks = crate::check::user::catalog(&super::config::check_sources(
        args.checks_dir.as_deref(),
        args.config.as_deref(),
    )?)
    .map_err(|e| Failure::Usage(e.to_string()))?;
    let report = evaluate(context, &settings, &checks).map_err(|e| match e {
        PreflightError::Input(e) => Failure::Input(e),
        PreflightError::Usage(m) => Failure::Usage(m),
    })?;
    let threshold = match args.fail_on {
        FailOn::Error => Some(Severity::Error),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Info => Some(Severity::Info),
        FailOn::Never => None,
    };
    let base_dir = args.base_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let out = match args.output {
        PreflightFormat::Table => {
            report::preflight::table(&report, super::common::use_color(global))
        }
        PreflightFormat::Json => report::to_json(&report),
        PreflightFormat::Yaml => report::to_yaml(&report),
        PreflightFormat::Sarif => report::sarif::render(&report, &base_dir),
        PreflightFormat::Junit => report::junit::render(&report, threshold),
        PreflightFormat::Github => report::preflight::github(&report, &base_dir),
    };
    super::common::print(&out);
    match (threshold, report.worst()) {
        (Some(t), Some(w)) if w >= t => Err(Failure::Findings),
        _ => Ok(()),
    }
}

/// The mesh context the manifests are laid over, in order: `--from` snapshots, the live
/// cluster, or nothing (the manifests alone; checks that lack an input are then skipped).
fn context(args: &PreflightArgs, progress: bool) -> Result<ClusterState, Failure> {
    if !args.from.is_empty() {
        // Cluster state is what the API server already accepted: load it strictly.
        let opts = LoadOptions {
            default_namespace: args
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
            progress: crate::progress::Progress::new(progress, "loading"),
            ..LoadOptions::default()
        };
        let state = load_paths(&args.from, &opts);
        opts.progress.finish();
        return Ok(state?);
    }
    if !args.offline
        && let Some(state) = live_context(args, progress)?
    {
        return Ok(state);
    }
    Ok(ClusterState::default())
}

/// The live context: the kinds preflight's checks need, read from the cluster of the
/// kubeconfig. Without any kubeconfig the manifests are evaluated on their own (a note says
/// so); a configured cluster that cannot be reached is an error (exit 3), since a CI job that
/// meant to use it should not pass silently — `--offline` opts out.
fn live_context(args: &PreflightArgs, progress: bool) -> Result<Option<ClusterState>, Failure> {
    let source = SourceArgs {
        from: Vec::new(),
        namespace: args.namespace.clone(),
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        request_timeout: None,
    };
    let checks = crate::checks::builtin();
    let wants = super::common::Wants::Kinds {
        kinds: super::common::kinds_for_checks(&checks, &[], &[]),
        all_namespaces: true,
    };
    match super::common::load_state(&source, wants, progress) {
        Ok(loaded) => Ok(Some(loaded.state)),
        Err(Failure::Usage(why)) if args.kubeconfig.is_none() && args.context.is_none() => {
            eprintln!(
                "meshdoctor: note: no cluster for the mesh context ({why}); evaluating the manifests on their own (pass --from STATE, or --offline to silence this note)"
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
