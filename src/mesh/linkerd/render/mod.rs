//! Linkerd's mutated pod, built by meshdoctor itself.
//!
//! Linkerd's proxy injector does not read templates from the cluster (unlike Istio's injector
//! ConfigMap): its chart partials are compiled into the injector. So this module rebuilds the
//! patch in Rust from the same inputs the injector uses: the install values of the
//! `linkerd-config` ConfigMap ([`values`]), the `config.linkerd.io/*` annotations of the pod and
//! its namespace ([`overrides`]), and the pod itself ([`workload`]). [`containers`] builds the
//! proxy, linkerd-init, network validator and debug containers; [`patch`] orders them into the
//! RFC 6902 patch the webhook returns. Modelled on edge-26.8.3; see docs/linkerd-render.md.

pub mod cluster;
pub mod containers;
pub mod manifest;
pub mod omitempty;
pub mod overrides;
pub mod patch;
pub mod uninject;
pub mod values;
pub mod version;
pub mod workload;

use serde_json::Value as Json;

pub use containers::ContainerError;
pub use overrides::Annotations;
pub use patch::{PodPatch, opaque_ports_patch, pod_patch};
pub use values::{Values, ValuesError};
pub use workload::{Origin, Workload};

/// The Linkerd release whose proxy injector the render and the decision are modelled on (its
/// chart defaults are [`Values::chart_defaults`]).
pub const MODELLED_VERSION: &str = "edge-26.8.3";

/// What the webhook returns for a pod it injects: it first adds `linkerd.io/created-by`, the
/// namespace's proxy configuration keys the pod lacks, and (unless set) the default opaque
/// ports the pod exposes, then builds the patch with those as overrides.
pub fn webhook_injection_patch(
    values: &Values,
    mut w: Workload,
    control_ns: &str,
    injector_version: &str,
) -> Result<PodPatch, ContainerError> {
    w.annotations.insert(
        "linkerd.io/created-by".to_owned(),
        format!("linkerd/proxy-injector {injector_version}"),
    );
    let pod_ann = w.pod_annotations();
    let ns_ann = w.namespace_annotations.clone();
    overrides::inherit_namespace_annotations(&mut w.annotations, &ns_ann, &pod_ann);
    if !pod_ann.contains_key(overrides::OPAQUE_PORTS)
        && !w.annotations.contains_key(overrides::OPAQUE_PORTS)
    {
        let exposed = w.exposed_opaque_ports(&values.proxy.opaque_ports);
        if !exposed.is_empty() {
            w.annotations
                .insert(overrides::OPAQUE_PORTS.to_owned(), exposed.join(","));
        }
    }
    pod_patch(values, &w, control_ns, true)
}

/// Applies `ops` to `obj` (the patch is built for exactly this object, so it applies).
pub fn apply_patch(obj: &Json, ops: &[Json]) -> Result<Json, String> {
    let patch: json_patch::Patch =
        serde_json::from_value(Json::Array(ops.to_vec())).map_err(|e| e.to_string())?;
    let mut out = obj.clone();
    json_patch::patch(&mut out, &patch).map_err(|e| e.to_string())?;
    Ok(out)
}
