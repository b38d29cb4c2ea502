//! The fields no check and no verdict reads, dropped as objects are typed, for the commands
//! that only check (`check`).
//!
//! A typed pod costs several times its JSON (`docs/scale.md`, "Memory"): a kubectl-shaped pod
//! of 6 KB of JSON is 33 KB of `k8s-openapi` structs and strings, most of them its volumes,
//! environment, probes and status conditions. None of those decides an injection or a finding,
//! so `check` drops them while the loader's workers type each list item, before the next chunk
//! is typed, and the state stays `k8s-openapi` objects, only emptier.
//!
//! What stays is what `engine`, `mesh::*::decide` and `checks/` read: all metadata (labels and
//! annotations are the injection's inputs), the containers' and init containers' names, images,
//! ports, resources, restart policies, security contexts and volume mounts, the pod's host
//! network, node, service account, automount and security context, and its phase and
//! init-container statuses. The `kubectl.kubernetes.io/last-applied-configuration` annotation
//! goes too (checks read annotations by key, never that one). `tests/slim_load.rs` proves every fixture cluster gives the same
//! report slimmed and in full.
//!
//! Not slimmed: anything whose whole object a reader may see. A user check (`--checks-dir`)
//! binds the object to CEL, and so does a webhook's `matchConditions`: `check` loads in full
//! when it runs user checks. Offline, it loads again in full when the state turns out to have a
//! webhook with `matchConditions` (see `cli::check`); live, the webhook configurations are
//! listed first and decide whether the rest is slimmed (`source::live`), so that nothing is
//! listed twice. Deployments keep their containers' environment:
//! istiod's `ENABLE_NATIVE_SIDECARS` is read from it (`mesh::istio::native`).

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Endpoints, Event, LimitRange, Namespace, Node, Pod, PodSpec, PodStatus,
    PodTemplateSpec, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Whether a webhook among `configs` selects with `matchConditions`: CEL over the whole pod,
/// so pods must be read whole for it to be decided.
pub fn needs_whole_pods<'a>(
    configs: impl IntoIterator<Item = &'a MutatingWebhookConfiguration>,
) -> bool {
    configs.into_iter().any(|c| {
        c.webhooks
            .iter()
            .flatten()
            .any(|w| w.match_conditions.as_ref().is_some_and(|m| !m.is_empty()))
    })
}

/// An object that can drop what `check` does not read. Kinds without pods keep everything:
/// they are few, and the checks read most of what they hold.
pub trait Slim {
    fn slim(&mut self) {}
}

macro_rules! kept_whole {
    ($($ty:ty),*) => { $(impl Slim for $ty {})* };
}

kept_whole!(
    Namespace,
    MutatingWebhookConfiguration,
    ConfigMap,
    Secret,
    Service,
    Endpoints,
    EndpointSlice,
    Event,
    NetworkPolicy,
    ResourceQuota,
    LimitRange,
    Node
);

impl Slim for Pod {
    fn slim(&mut self) {
        pod(self);
    }
}

impl Slim for Deployment {
    fn slim(&mut self) {
        metadata(&mut self.metadata);
        template(&mut self.spec.template, Env::Keep);
    }
}

impl Slim for ReplicaSet {
    fn slim(&mut self) {
        metadata(&mut self.metadata);
        if let Some(t) = self.spec.template.as_mut() {
            template(t, Env::Drop);
        }
    }
}

impl Slim for StatefulSet {
    fn slim(&mut self) {
        metadata(&mut self.metadata);
        template(&mut self.spec.template, Env::Drop);
    }
}

impl Slim for DaemonSet {
    fn slim(&mut self) {
        metadata(&mut self.metadata);
        template(&mut self.spec.template, Env::Drop);
    }
}

impl Slim for Job {
    fn slim(&mut self) {
        metadata(&mut self.metadata);
        if let Some(spec) = self.spec.as_mut() {
            template(&mut spec.template, Env::Drop);
        }
    }
}

impl Slim for CronJob {
    fn slim(&mut self) {
        metadata(&mut self.metadata);
        if let Some(t) = self.spec.job_template.spec.as_mut() {
            template(&mut t.template, Env::Drop);
        }
    }
}

/// Whether a pod template keeps its containers' environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Env {
    Keep,
    Drop,
}

/// Written by `kubectl apply` on what it applied: a second copy of the whole object as JSON,
/// often its largest part, and never read by a check (they read annotations by key).
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn metadata(meta: &mut ObjectMeta) {
    if let Some(a) = meta.annotations.as_mut() {
        a.remove(LAST_APPLIED);
    }
}

/// A pod as `check` reads it.
pub fn pod(pod: &mut Pod) {
    metadata(&mut pod.metadata);
    if let Some(spec) = pod.spec.as_mut() {
        pod_spec(spec, Env::Drop);
    }
    if let Some(status) = pod.status.as_mut() {
        pod_status(status);
    }
}

/// A workload's pod template as `check` reads it.
pub fn template(template: &mut PodTemplateSpec, env: Env) {
    if let Some(meta) = template.metadata.as_mut() {
        metadata(meta);
    }
    if let Some(spec) = template.spec.as_mut() {
        pod_spec(spec, env);
    }
}

fn pod_spec(spec: &mut PodSpec, env: Env) {
    // Scheduling, storage and DNS: read by the render engine (explain, inject), not by checks.
    spec.affinity = None;
    spec.dns_config = None;
    spec.ephemeral_containers = None;
    spec.eviction_responders = None;
    spec.host_aliases = None;
    spec.image_pull_secrets = None;
    spec.node_selector = None;
    spec.overhead = None;
    spec.readiness_gates = None;
    spec.resource_claims = None;
    spec.scheduling_gates = None;
    spec.tolerations = None;
    spec.topology_spread_constraints = None;
    spec.volumes = None;
    for c in spec.containers.iter_mut() {
        container(c, env);
    }
    for c in spec.init_containers.iter_mut().flatten() {
        container(c, env);
    }
    // A container is over 2 KB inline, and a deserialized Vec may have room for more.
    spec.containers.shrink_to_fit();
    if let Some(init) = spec.init_containers.as_mut() {
        init.shrink_to_fit();
    }
}

fn container(c: &mut Container, env: Env) {
    if env == Env::Drop {
        c.env = None;
        c.env_from = None;
    }
    c.args = None;
    c.command = None;
    c.lifecycle = None;
    c.liveness_probe = None;
    c.readiness_probe = None;
    c.startup_probe = None;
    c.resize_policy = None;
    c.termination_message_path = None;
    c.termination_message_policy = None;
    c.volume_devices = None;
    c.working_dir = None;
    c.image_pull_policy = None;
}

fn pod_status(status: &mut PodStatus) {
    // `init-container-failing` reads the init containers' statuses; nothing reads the rest.
    status.allocated_resources = None;
    status.conditions = None;
    status.container_statuses = None;
    status.ephemeral_container_statuses = None;
    status.extended_resource_claim_status = None;
    status.host_ips = None;
    status.node_allocatable_resource_claim_statuses = None;
    status.pod_ips = None;
    status.resource_claim_statuses = None;
    status.resources = None;
    status.start_time = None;
    status.volume_health = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fat_pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"},
                         "annotations": {"sidecar.istio.io/inject": "true",
                                             "kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {
                "nodeName": "node-1",
                "hostNetwork": false,
                "volumes": [{"name": "data", "emptyDir": {}}],
                "tolerations": [{"key": "k", "operator": "Exists"}],
                "initContainers": [{"name": "init", "image": "busybox", "restartPolicy": "Always",
                                    "command": ["sh"]}],
                "containers": [{"name": "web", "image": "nginx",
                                "env": [{"name": "A", "value": "1"}],
                                "ports": [{"containerPort": 80}],
                                "resources": {"limits": {"cpu": "1"}},
                                "volumeMounts": [{"name": "data", "mountPath": "/d"}],
                                "livenessProbe": {"httpGet": {"port": 80}}}]
            },
            "status": {"phase": "Running",
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "initContainerStatuses": [{"name": "init", "image": "busybox",
                           "imageID": "", "ready": false, "restartCount": 3}]}
        }))
        .unwrap()
    }

    #[test]
    fn a_pod_keeps_what_checks_read_and_loses_the_rest() {
        let mut p = fat_pod();
        pod(&mut p);
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(spec.node_name.as_deref(), Some("node-1"));
        assert!(spec.volumes.is_none() && spec.tolerations.is_none());
        let web = &spec.containers[0];
        assert_eq!(web.image.as_deref(), Some("nginx"));
        assert!(web.ports.is_some() && web.resources.is_some() && web.volume_mounts.is_some());
        assert!(web.env.is_none() && web.liveness_probe.is_none());
        let init = &spec.init_containers.as_ref().unwrap()[0];
        assert_eq!(init.restart_policy.as_deref(), Some("Always"));
        assert!(init.command.is_none());
        let status = p.status.as_ref().unwrap();
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert!(status.conditions.is_none());
        assert_eq!(
            status.init_container_statuses.as_ref().unwrap()[0].restart_count,
            3
        );
        assert_eq!(p.metadata.labels.as_ref().unwrap()["app"], "web");
        let annotations = p.metadata.annotations.as_ref().unwrap();
        assert_eq!(annotations.len(), 1, "{annotations:?}");
        assert_eq!(annotations["sidecar.istio.io/inject"], "true");
    }

    #[test]
    fn a_deployment_template_keeps_its_environment() {
        let p = fat_pod();
        let mut t = PodTemplateSpec {
            metadata: Some(p.metadata.clone()),
            spec: p.spec.clone(),
        };
        template(&mut t, Env::Keep);
        let spec = t.spec.as_ref().unwrap();
        assert!(spec.containers[0].env.is_some());
        assert!(spec.volumes.is_none());
        template(&mut t, Env::Drop);
        assert!(t.spec.as_ref().unwrap().containers[0].env.is_none());
    }
}
