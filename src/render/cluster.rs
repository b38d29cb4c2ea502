//! Builds the injector a cluster actually runs from its state: the revision's
//! `istio-sidecar-injector[-<rev>]` ConfigMap (`config`, `values`) and the mesh ConfigMap
//! `istio[-<rev>]` (`mesh`) in the same namespace, as istiod reads them.

use super::{InjectContext, Injector};
use crate::mesh::istio::config::InjectorSettings;
use crate::state::ClusterState;

/// Why the cluster's injector cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ClusterInjectorError {
    #[error(
        "no injector ConfigMap for Istio revision \"{0}\" in the input (istio-sidecar-injector[-<rev>] with data.config and data.values)"
    )]
    NoConfigMap(String),
    #[error("injector ConfigMap {configmap}: {source}")]
    Render {
        configmap: String,
        #[source]
        source: super::RenderError,
    },
}

/// The injector of one revision, and the context its webhook renders with.
pub fn injector_for(
    state: &ClusterState,
    settings: &InjectorSettings,
) -> Result<(Injector, InjectContext), ClusterInjectorError> {
    let (Some(cm), Some(config), Some(values)) = (
        &settings.configmap,
        &settings.config_text,
        &settings.values_text,
    ) else {
        return Err(ClusterInjectorError::NoConfigMap(settings.revision.clone()));
    };
    let namespace = cm.split('/').next().unwrap_or("istio-system");
    let mesh_name = if settings.revision == "default" {
        "istio".to_owned()
    } else {
        format!("istio-{}", settings.revision)
    };
    let mesh = state
        .configmaps
        .get(Some(namespace), &mesh_name)
        .or_else(|| state.configmaps.get(Some(namespace), "istio"))
        .and_then(|m| m.obj.data.as_ref()?.get("mesh").cloned());
    let injector =
        Injector::from_configmaps(config, values, mesh.as_deref()).map_err(|source| {
            ClusterInjectorError::Render {
                configmap: cm.clone(),
                source,
            }
        })?;
    let ctx = InjectContext {
        revision: if settings.revision == "default" {
            String::new()
        } else {
            settings.revision.clone()
        },
        // The detected (or `--istio-version`) istiod version picks the version-dependent code paths.
        istio_version: settings.version.version,
        ..InjectContext::default()
    };
    Ok((injector, ctx))
}
