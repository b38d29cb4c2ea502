//! `meshdoctor inject -f FILE`: the manifests as Istio's injector would mutate them, from the
//! files `istioctl kube-inject` takes or from the injector ConfigMaps of a captured cluster.

use std::io::Write;

use super::Failure;
use super::args::{GlobalArgs, InjectArgs};
use crate::mesh::istio::install::IstioInstall;
use crate::render::cluster::injector_for;
use crate::render::{KubeInjectError, KubeInjectOptions, kube_inject, run_kube_inject};
use crate::source::offline::{LoadOptions, load_paths};

pub fn run(global: &GlobalArgs, args: &InjectArgs) -> Result<(), Failure> {
    let output = if args.inject_config_file.is_some() || args.from.is_empty() {
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
    } else {
        let state = load_paths(&args.from, &LoadOptions::default())?;
        let version = super::common::engine_options(global)?.istio_version;
        let install = IstioInstall::discover(&state, version);
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
            injector_for(&state, settings).map_err(|e| Failure::Usage(e.to_string()))?;
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
