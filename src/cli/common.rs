//! What every subcommand does the same way: load the state (files, or the cluster), build
//! engine options, decide on colour, print.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};

use super::Failure;
use super::args::{ColorChoice, GlobalArgs, SourceArgs};
use crate::admission::MetadataNameLabel;
use crate::engine::EngineOptions;
use crate::mesh::istio::version::{IstioVersion, NEWEST_KNOWN};
use crate::progress::Progress;
use crate::source::live::{Cluster, ENGINE_KINDS, LiveError, LiveOptions, Plan};
use crate::source::offline::{LoadOptions, load_paths};
use crate::state::{ClusterState, Kind};

/// What a command needs from a live cluster (offline, the files hold whatever they hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wants {
    /// `explain KIND/NAME`: the target, its namespace, owners and the injection machinery.
    Target { kind: Kind, name: String },
    /// These kinds in the namespace (or all namespaces), plus what the engine needs.
    Kinds {
        kinds: BTreeSet<Kind>,
        all_namespaces: bool,
    },
}

/// A loaded state and the namespace commands default to: `-n`, else the kubeconfig context's
/// namespace (live) or `default` (offline).
#[derive(Debug)]
pub struct Loaded {
    pub state: ClusterState,
    pub namespace: String,
    /// Live only: whether the cluster's API server labels namespaces with
    /// kubernetes.io/metadata.name (from `GET /version`; 1.20 does not).
    pub metadata_name_label: Option<MetadataNameLabel>,
}

/// Whether a command may show the progress line (`machine_output`: it prints JSON or YAML).
pub fn progress_allowed(global: &GlobalArgs, machine_output: bool) -> bool {
    crate::progress::Context::detect(global.no_progress, machine_output).allows()
}

/// How much of each object a command keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Every field: the command renders, prints or evaluates whole objects.
    Full,
    /// What the built-in checks and the verdicts read (`source::slim`): `check`.
    ChecksOnly,
}

/// Reads the state from `--from` files, or from the cluster when there are none, with a
/// progress line when `progress` allows one ([`progress_allowed`]).
pub fn load_state(source: &SourceArgs, wants: Wants, progress: bool) -> Result<Loaded, Failure> {
    load_state_with(source, wants, progress, Detail::Full)
}

/// [`load_state`], keeping only the `detail` a command needs.
pub fn load_state_with(
    source: &SourceArgs,
    wants: Wants,
    progress: bool,
    detail: Detail,
) -> Result<Loaded, Failure> {
    let slim = detail == Detail::ChecksOnly;
    if source.from.is_empty() {
        return load_live(source, wants, progress, slim);
    }
    let namespace = source
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let opts = LoadOptions {
        default_namespace: namespace.clone(),
        progress: Progress::new(progress, "loading"),
        slim,
        ..LoadOptions::default()
    };
    let state = load_paths(&source.from, &opts);
    opts.progress.finish();
    Ok(Loaded {
        state: state?,
        namespace,
        metadata_name_label: None,
    })
}

/// The live path. The tokio runtime exists only here: offline commands never start one.
fn load_live(
    source: &SourceArgs,
    wants: Wants,
    progress: bool,
    slim: bool,
) -> Result<Loaded, Failure> {
    let opts = LiveOptions {
        kubeconfig: source.kubeconfig.clone(),
        context: source.context.clone(),
        request_timeout: source.request_timeout.filter(|d| !d.is_zero()),
        progress,
        slim,
        ..LiveOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Unreachable(format!("cannot start the I/O runtime: {e}")))?;
    let result = runtime.block_on(async {
        let cluster = Cluster::connect(opts).await?;
        let namespace = source
            .namespace
            .clone()
            .unwrap_or_else(|| cluster.default_namespace.clone());
        let plan = match wants {
            Wants::Target { kind, name } => Plan::Target {
                kind,
                namespace: namespace.clone(),
                name,
            },
            Wants::Kinds {
                kinds,
                all_namespaces,
            } => Plan::Scan {
                namespace: (!all_namespaces).then(|| namespace.clone()),
                kinds,
            },
        };
        let mut state = cluster.read(&plan).await?;
        // One more read: the server's version decides whether namespaces carry
        // kubernetes.io/metadata.name (1.21+). Unknown versions are assumed recent.
        let metadata_name_label = match cluster.client().apiserver_version().await {
            Ok(info) => {
                state.server_version = Some(info.git_version.clone());
                Some(MetadataNameLabel::for_server_version(
                    &info.major,
                    &info.minor,
                ))
            }
            Err(_) => None,
        };
        Ok::<_, LiveError>(Loaded {
            state,
            namespace,
            metadata_name_label,
        })
    });
    // Idle keep-alive connections must not hold the process open.
    runtime.shutdown_background();
    result.map_err(|e| match e {
        LiveError::Config(m) => Failure::Usage(m),
        e @ (LiveError::Unreachable { .. } | LiveError::Refused(_)) => {
            Failure::Unreachable(e.to_string())
        }
    })
}

/// Notes on stderr for each read that failed, for outputs that have no place for them
/// (`explain`, the plugin's verdict list, `snapshot`): a verdict made without some input says so.
pub fn note_unread(state: &ClusterState) {
    let unread = crate::check::unavailable::of_state(state);
    for note in crate::check::unavailable::stderr_notes(&unread) {
        eprintln!("{note}");
    }
}

/// The kinds the selected checks read (their pages' `inputs`) plus what the engine needs.
pub fn kinds_for_checks(
    checks: &[Box<dyn crate::check::Check>],
    only: &[String],
    skip: &[String],
) -> BTreeSet<Kind> {
    let mut kinds: BTreeSet<Kind> = ENGINE_KINDS.into_iter().collect();
    for check in checks {
        // A page that does not parse is reported by the runner; here it just adds nothing.
        let Ok(d) = crate::check::doc::parse(check.doc()) else {
            continue;
        };
        if (!only.is_empty() && !only.contains(&d.id)) || skip.contains(&d.id) {
            continue;
        }
        kinds.extend(d.inputs);
        kinds.extend(d.reads);
    }
    kinds
}

/// `--istio-version X.Y`: a version whose rules meshdoctor knows, i.e. up to
/// [`NEWEST_KNOWN`] (a newer one would silently get older rules).
fn parse_istio_version(v: &str) -> Result<IstioVersion, Failure> {
    let version = IstioVersion::parse(v).ok_or_else(|| {
        Failure::Usage(format!(
            "--istio-version: \"{v}\" is not a version (expected X.Y, e.g. 1.24)"
        ))
    })?;
    if version > NEWEST_KNOWN {
        return Err(Failure::Usage(format!(
            "--istio-version: {version} is newer than the newest Istio meshdoctor knows ({NEWEST_KNOWN}); use {NEWEST_KNOWN} or older"
        )));
    }
    Ok(version)
}

pub fn engine_options(global: &GlobalArgs) -> Result<EngineOptions, Failure> {
    let istio_version = match &global.istio_version {
        None => None,
        Some(v) => Some(parse_istio_version(v)?),
    };
    Ok(EngineOptions {
        istio_version,
        metadata_name_label: if global.no_metadata_name_label {
            MetadataNameLabel::Absent
        } else {
            MetadataNameLabel::Set
        },
    })
}

/// Whether to colour stdout: `--color`, then `NO_COLOR`, then whether stdout is a terminal.
pub fn use_color(global: &GlobalArgs) -> bool {
    match global.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
}

/// comfy-table pads every cell; trailing spaces are noise in a terminal and in snapshots.
pub fn trim_table(text: &str) -> String {
    text.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Fails on the first webhook configuration the API server would reject (an unknown selector
/// operator, a timeout outside 1–30 s, ...). The engine leaves such a configuration out, as
/// the API server never stores it; a verdict that silently ignored a configuration in the
/// input would not be about the cluster the user described, so it is an input error.
pub fn reject_invalid_webhooks(engine: &crate::engine::Engine<'_>) -> Result<(), Failure> {
    let Some(e) = engine.compile_errors.first() else {
        return Ok(());
    };
    let location = match &e.origin {
        Some(origin) => origin.to_string(),
        None => "input".to_owned(),
    };
    Err(Failure::Input(crate::source::InputError::new(
        location,
        e.to_string(),
    )))
}

/// Engine options for a loaded state: the flags, and for a live cluster older than 1.21 no
/// kubernetes.io/metadata.name label on namespaces (its API server does not add one).
pub fn engine_options_for(global: &GlobalArgs, loaded: &Loaded) -> Result<EngineOptions, Failure> {
    let mut opts = engine_options(global)?;
    if loaded.metadata_name_label == Some(MetadataNameLabel::Absent) {
        opts.metadata_name_label = MetadataNameLabel::Absent;
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn istio_version_flag_accepts_up_to_the_newest_known() {
        assert_eq!(
            parse_istio_version("1.32").ok(),
            Some(IstioVersion::new(1, 32))
        );
        assert_eq!(
            parse_istio_version("1.24.6").ok(),
            Some(IstioVersion::new(1, 24))
        );
        let newer = parse_istio_version("1.33").unwrap_err().to_string();
        assert!(
            newer.contains("newer than the newest Istio meshdoctor knows (1.32)"),
            "{newer}"
        );
        assert!(parse_istio_version("latest").is_err());
    }
}
