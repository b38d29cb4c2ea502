//! `explain --show-pod/--show-patch` (and `--server-dry-run`'s prediction) for a pod Linkerd's
//! proxy injector injects: the patch meshdoctor builds the way the injector does, from the
//! captured `linkerd-config`, and the pod with it applied.

use serde_json::Value;

use super::Failure;
use crate::decision::Decision;
use crate::engine::Engine;
use crate::mesh::linkerd::render::cluster::{LinkerdInstall, owner_of, owner_of_sent_pod};
use crate::mesh::linkerd::render::omitempty::drop_nulls;
use crate::mesh::linkerd::render::{Origin, Workload, apply_patch, webhook_injection_patch};
use crate::workload::PodSubject;

/// Whose owner the webhook's lookup finds (it names the pod's `linkerd.io/proxy-<kind>` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PodOwner {
    /// The pod a workload's controller creates (owned by its ReplicaSet, Job, ...).
    Controller,
    /// The pod exactly as given: `--server-dry-run` sends a workload's template without
    /// owner references, so Linkerd's webhook finds no owner and adds no owner label.
    AsSent,
}

/// The mutated pod and the webhook's JSON patch for `pod` (the pod the API server sends).
pub(crate) fn predict(
    engine: &Engine<'_>,
    subject: &PodSubject<'_>,
    pod: &Value,
    decision: &Decision,
    owner: PodOwner,
) -> Result<(Value, Value), Failure> {
    let control_ns = engine.linkerd_control_namespace(decision.webhook.as_ref());
    let install = LinkerdInstall::from_state(engine.state, &control_ns).map_err(Failure::Usage)?;
    let (owner_kind, owner_name) = match owner {
        PodOwner::Controller => owner_of(engine.state, subject),
        PodOwner::AsSent => owner_of_sent_pod(engine.state, subject, pod),
    };
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
