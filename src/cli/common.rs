//! What every subcommand does the same way: load the state, build engine options, decide on
//! colour, print.

use std::io::{IsTerminal, Write};

use super::Failure;
use super::args::{ColorChoice, GlobalArgs, SourceArgs};
use crate::admission::MetadataNameLabel;
use crate::engine::EngineOptions;
use crate::mesh::istio::version::IstioVersion;
use crate::source::offline::{LoadOptions, load_paths};
use crate::state::ClusterState;

pub fn load_state(source: &SourceArgs) -> Result<ClusterState, Failure> {
    if source.from.is_empty() {
        return Err(Failure::Usage(
            "no --from given: reading a live cluster is not available in this build yet; capture the state with `kubectl get ns,pods,deploy,mutatingwebhookconfigurations,cm -A -o yaml` and pass it with --from".to_owned(),
        ));
    }
    let opts = LoadOptions {
        default_namespace: source
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned()),
        ..LoadOptions::default()
    };
    Ok(load_paths(&source.from, &opts)?)
}

pub fn engine_options(global: &GlobalArgs) -> Result<EngineOptions, Failure> {
    let istio_version = match &global.istio_version {
        None => None,
        Some(v) => Some(IstioVersion::parse(v).ok_or_else(|| {
            Failure::Usage(format!(
                "--istio-version: \"{v}\" is not a version (expected X.Y, e.g. 1.24)"
            ))
        })?),
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
