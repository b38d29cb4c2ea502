//! `meshdoctor inject -f FILE`: the manifests as the mesh's injector would mutate them. Istio:
//! from the files `istioctl kube-inject` takes or from the injector ConfigMaps of a captured
//! cluster. Linkerd: see [`super::linkerd_inject`]. Which mesh: `--mesh`, else the one the
//! flags belong to, else the one the `--from` state has an injector for.

use std::io::Write;

use super::Failure;
use super::args::{GlobalArgs, InjectArgs, InjectMesh};
use crate::mesh::istio::install::IstioInstall;
use crate::render::cluster::injector_for;
use crate::render::{KubeInjectError, KubeInjectOptions, kube_inject, run_kube_inject};
use crate::source::offline::{LoadOptions, load_paths};
use crate::state::ClusterState;

pub fn run(global: &GlobalArgs, args: &InjectArgs) -> Result<(), Failure> {
    let state = if args.from.is_empty() {
        None
    } else {
        Some(load_paths(&args.from, &LoadOptions::default())?)
    };
    match choose_mesh(args, state.as_ref())? {
        InjectMesh::Linkerd => super::linkerd_inject::run(args, state.as_ref()),
        InjectMesh::Istio => run_istio(global, args, state.as_ref()),
    }
}

/// The Istio-only file flags that are set.
fn istio_flags(args: &InjectArgs) -> Vec<&'static str> {
    [
        (args.inject_config_file.is_some(), "--injectConfigFile"),
        (args.values_file.is_some(), "--valuesFile"),
        (args.mesh_config_file.is_some(), "--meshConfigFile"),
        (args.operator_file.is_some(), "--operatorFileName"),
        (args.revision != "default", "--revision"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

/// The Linkerd-only flags that are set.
fn linkerd_flags(args: &InjectArgs) -> Vec<&'static str> {
    [
        (args.linkerd_values.is_some(), "--linkerd-values"),
        (args.linkerd_version.is_some(), "--linkerd-version"),
        (args.linkerd_namespace.is_some(), "--linkerd-namespace"),
        (args.annotate_only, "--annotate-only"),
        (args.enable_debug_sidecar, "--enable-debug-sidecar"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

/// The meshes whose injector the state has: Istio's webhooks or injector ConfigMaps, Linkerd's
/// webhook or `linkerd-config`.
pub(crate) fn meshes_in(state: &ClusterState) -> Vec<InjectMesh> {
    let mut out = Vec::new();
    if !IstioInstall::discover(state, None).revisions.is_empty() {
        out.push(InjectMesh::Istio);
    }
    if super::linkerd_inject::has_linkerd(state) {
        out.push(InjectMesh::Linkerd);
    }
    out
}

fn choose_mesh(args: &InjectArgs, state: Option<&ClusterState>) -> Result<InjectMesh, Failure> {
    let (istio, linkerd) = (istio_flags(args), linkerd_flags(args));
    let mesh = match (args.mesh, istio.is_empty(), linkerd.is_empty()) {
        (Some(m), _, _) => m,
        (None, false, false) => {
            return Err(Failure::Usage(format!(
                "{} are Istio flags and {} are Linkerd flags: use one mesh's (or say which with --mesh)",
                istio.join(", "),
                linkerd.join(", ")
            )));
        }
        (None, false, true) => InjectMesh::Istio,
        (None, true, false) => InjectMesh::Linkerd,
        (None, true, true) => match state.map(meshes_in).as_deref() {
            // No state: Istio's files path, which says what it needs.
            None => InjectMesh::Istio,
            Some([one]) => *one,
            Some(found) => {
                let what = if found.is_empty() {
                    "no Istio or Linkerd injector"
                } else {
                    "both Istio's and Linkerd's injectors"
                };
                return Err(Failure::Usage(format!(
                    "{}: {what}; say which mesh to inject for with --mesh istio|linkerd",
                    args.from
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        },
    };
    let wrong = match mesh {
        InjectMesh::Istio => &linkerd,
        InjectMesh::Linkerd => &istio,
    };
    if !wrong.is_empty() {
        return Err(Failure::Usage(format!(
            "{} do not apply to --mesh {}",
            wrong.join(", "),
            if mesh == InjectMesh::Istio {
                "istio"
            } else {
                "linkerd"
            }
        )));
    }
    Ok(mesh)
}

fn run_istio(
    global: &GlobalArgs,
    args: &InjectArgs,
    state: Option<&ClusterState>,
) -> Result<(), Failure> {
    let output = if let (None, Some(state)) = (&args.inject_config_file, state) {
        let version = super::common::engine_options(global)?.istio_version;
        let install = IstioInstall::discover(state, version);
        let settings = install
            .settings_for_revision(&args.revision)
            .ok_or_else(|| {
                Failure::Usage(format!(
                    "no Istio revision \"{}\" in the state (revisions found: {})",
                    args.revision,
                    install
                        .revisions
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let (injector, ctx) =
            injector_for(state, settings).map_err(|e| Failure::Usage(e.to_string()))?;
        let shown = args.filename.display().to_string();
        let input = std::fs::read_to_string(&args.filename)
            .map_err(|e| Failure::Usage(format!("{shown}: cannot read: {e}")))?;
        kube_inject(&injector, &input, &shown, &ctx).map_err(|e| {
            match (&e, &settings.configmap) {
                (KubeInjectError::Render { .. }, Some(cm)) => Failure::Usage(format!(
                    "{e} (templates from configmap {cm} at {})",
                    settings.origin
                )),
                _ => Failure::Usage(e.to_string()),
            }
        })?
    } else {
        let opts = KubeInjectOptions {
            filename: Some(args.filename.clone()),
            inject_config_file: args.inject_config_file.clone(),
            values_file: args.values_file.clone(),
            mesh_config_file: args.mesh_config_file.clone(),
            operator_file: args.operator_file.clone(),
            revision: args.revision.clone(),
            env: None,
            istio_version: super::common::engine_options(global)?.istio_version,
        };
        run_kube_inject(&opts).map_err(|e| match (&e, &args.inject_config_file) {
            // The manifest and document are named; the template that failed is the config's.
            (KubeInjectError::Render { .. }, Some(config)) => {
                Failure::Usage(format!("{e} (templates from {})", config.display()))
            }
            _ => Failure::Usage(e.to_string()),
        })?
    };
    super::common::print(&output.text);
    if !output.warnings.is_empty() {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err);
        for w in &output.warnings {
            let _ = write!(err, "{w}");
        }
    }
    Ok(())
}
