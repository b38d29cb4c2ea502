//! `meshdoctor inject -f FILE --mesh linkerd`: the manifests as `linkerd inject --manual` writes
//! them (every document uninjected, then the proxy added; Namespaces annotated), rendered by
//! meshdoctor's own builder of Linkerd's patch from the install values of a captured cluster
//! (`--from`) or of a values file (`--linkerd-values`), for the version the cluster runs or
//! `--linkerd-version` names. The per-document outcome goes to stderr, as Linkerd reports it.

use std::io::Write;

use super::Failure;
use super::args::InjectArgs;
use crate::mesh::linkerd::render::cluster::{LinkerdInstall, control_namespace_in};
use crate::mesh::linkerd::render::manifest::{CliOptions, DocReport, inject_manifest};
use crate::mesh::linkerd::render::{Annotations, Values, version};
use crate::state::ClusterState;

pub(crate) use crate::mesh::linkerd::render::cluster::has_linkerd;

/// The chart's placeholder for `linkerdVersion`, replaced when Linkerd builds the chart: a
/// values file that still has it names no version.
const VERSION_PLACEHOLDER: &str = "linkerdVersionValue";

pub fn run(args: &InjectArgs, state: Option<&ClusterState>) -> Result<(), Failure> {
    let (mut values, control_ns, source, doc) = install_values(args, state)?;
    if let Some(v) = &args.linkerd_version {
        values.linkerd_version = v.clone();
    }
    if values.linkerd_version.is_empty() || values.linkerd_version == VERSION_PLACEHOLDER {
        return Err(Failure::Usage(format!(
            "{source}: no Linkerd version (linkerdVersion is {:?}, no injector image tag); pass --linkerd-version",
            values.linkerd_version
        )));
    }
    let rules = version::apply_defaults(&mut values, &doc);
    let shown = args.filename.display().to_string();
    let input = std::fs::read_to_string(&args.filename)
        .map_err(|e| Failure::Usage(format!("{shown}: cannot read: {e}")))?;
    let opts = CliOptions {
        created_by: format!("linkerd/cli {}", values.linkerd_version),
        values,
        override_annotations: Annotations::new(),
        inject_proxy: !args.annotate_only,
        enable_debug_sidecar: args.enable_debug_sidecar,
        control_namespace: control_ns,
        uninject_first: true,
        annotate_namespaces: true,
    };
    let out =
        inject_manifest(&input, &opts).map_err(|e| Failure::Usage(format!("{shown}: {e}")))?;
    super::common::print(&out.text);
    let mut err = std::io::stderr().lock();
    if let Some(note) = &rules.note {
        let _ = writeln!(err, "note: {note}");
    }
    for r in &out.reports {
        let _ = writeln!(err, "{}", report_line(r));
        if r.udp {
            let _ = writeln!(
                err,
                "warning: {} \"{}\" uses \"protocol: UDP\": the Linkerd proxy does not proxy UDP",
                r.kind, r.name
            );
        }
        for w in &r.warnings {
            let _ = writeln!(err, "warning: {} \"{}\": {w}", r.kind, r.name);
        }
    }
    Ok(())
}

/// One document's outcome, with Linkerd's reasons when it is skipped.
fn report_line(r: &DocReport) -> String {
    let mut line = r.outcome_line();
    if !r.kind.is_empty() && !r.injectable && !r.annotated && !r.skipped.is_empty() {
        line.push_str(&format!(" ({})", r.skipped.join("; ")));
    }
    line
}

/// The install values, the control plane's namespace and where the values were read, from
/// the values file or the state.
fn install_values(
    args: &InjectArgs,
    state: Option<&ClusterState>,
) -> Result<(Values, String, String, serde_json::Value), Failure> {
    if let Some(path) = &args.linkerd_values {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::Usage(format!("{shown}: cannot read: {e}")))?;
        let doc: serde_json::Value = serde_saphyr::from_str(&text)
            .map_err(|e| Failure::Usage(format!("{shown}: invalid YAML: {e}")))?;
        let values =
            Values::from_document(&doc).map_err(|e| Failure::Usage(format!("{shown}: {e}")))?;
        let ns = args
            .linkerd_namespace
            .clone()
            .unwrap_or_else(|| "linkerd".to_owned());
        return Ok((values, ns, shown, doc));
    }
    let Some(state) = state else {
        return Err(Failure::Usage(
            "Linkerd's injection needs the install values: pass --from (a captured cluster) or --linkerd-values FILE".to_owned(),
        ));
    };
    let ns = args
        .linkerd_namespace
        .clone()
        .or_else(|| control_namespace_in(state))
        .unwrap_or_else(|| "linkerd".to_owned());
    let install = LinkerdInstall::from_state(state, &ns).map_err(Failure::Usage)?;
    Ok((install.values, ns, install.source, install.values_doc))
}
