//! `explain --show-pod/--show-patch` (and `--server-dry-run`'s prediction) for a pod Linkerd's
//! proxy injector injects: the patch meshdoctor builds the way the injector does, from the
//! captured `linkerd-config`, and the pod with it applied.

use serde_json::Value;

use super::Failure;
use crate::decision::Decision;
use crate::engine::Engine;
use crate::mesh::linkerd::render::cluster::{LinkerdInstall, owner_of};
use crate::mesh::linkerd::render::omitempty::drop_nulls;
use crate::mesh::linkerd::render::{Origin, Workload, apply_patch, webhook_injection_patch};
use crate::workload::PodSubject;

/// The mutated pod and the webhook's JSON patch for `pod` (the pod the API server sends).
pub(crate) fn predict(
    engine: &Engine<'_>,
    subject: &PodSubject<'_>,
    pod: &Value,
    decision: &Decision,
) -> Result<(Value, Value), Failure> {
    let control_ns = engine.linkerd_control_namespace(decision.webhook.as_ref());
    let install = LinkerdInstall::from_state(engine.state, &control_ns).map_err(Failure::Usage)?;
    let (owner_kind, owner_name) = owner_of(engine.state, subject);
    let mut w = Workload::from_object(
        pod,
        &control_ns,
        Some((&owner_kind, &owner_name)),
        Origin::Webhook,
    )
    .ok_or_else(|| Failure::Usage("the pod is not an object Linkerd injects".to_owned()))?;
    if let Some(ns) = engine.state.namespaces.get(None, &subject.namespace) {
        w.namespace_annotations = ns.obj.metadata.annotations.clone().unwrap_or_default();
    }
    let patch = webhook_injection_patch(&install.values, w, &control_ns, &install.injector_version)
        .map_err(|e| Failure::Usage(format!("{}: {e}", install.source)))?;
    let mut mutated = apply_patch(pod, &patch.ops)
        .map_err(|e| Failure::Usage(format!("Linkerd's patch does not apply to the pod: {e}")))?;
    drop_nulls(&mut mutated);
    Ok((mutated, Value::Array(patch.ops)))
}
