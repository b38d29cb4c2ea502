//! Istio's injection objects for the real API server, shaped as Istio 1.24's Helm chart renders
//! them but pointing at the test injector (`clientConfig.url` on 127.0.0.1 with a `caBundle`,
//! since nothing routes to a Service on this cluster), plus the kube-rs plumbing the e2e tests
//! share: a client from the script's kubeconfig, applying objects, dry-run creating pods.

use std::collections::BTreeMap;

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};

use super::ApiServer;

/// The Istio 1.24.6 injector inputs in `../shared/conformance/`, read in place.
const INPUTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/conformance/istio-1.24.6/inputs"
);

/// Where Istio's ConfigMaps live.
pub const ISTIO_NAMESPACE: &str = "istio-system";

fn input(name: &str) -> String {
    let path = format!("{INPUTS}/{name}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An admin client for the scripted API server.
pub async fn client(server: &ApiServer) -> Client {
    let kubeconfig = Kubeconfig::read_from(server.kubeconfig()).expect("the script's kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a usable kubeconfig");
    Client::try_from(config).expect("a kube client")
}

/// `istio-sidecar-injector[-<rev>]` with the conformance template (its `policy` set to
/// `policy`) and values, as the Helm chart writes it.
pub fn injector_configmap(revision: &str, policy: &str) -> ConfigMap {
    let template = input("default.template.gen.yaml");
    let config = template.replacen("policy: enabled", &format!("policy: {policy}"), 1);
    assert!(
        config.contains(&format!("policy: {policy}")),
        "the conformance template sets `policy: enabled`"
    );
    let name = if revision == "default" {
        "istio-sidecar-injector".to_owned()
    } else {
        format!("istio-sidecar-injector-{revision}")
    };
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": ISTIO_NAMESPACE,
            "labels": {"istio.io/rev": revision, "app": "sidecar-injector"},
        },
        "data": {"config": config, "values": input("default.values.gen.yaml")},
    }))
    .expect("a ConfigMap")
}

/// The mesh ConfigMap `istio` (key `mesh`).
pub fn mesh_configmap() -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "istio", "namespace": ISTIO_NAMESPACE},
        "data": {"mesh": input("default.mesh.gen.yaml")},
    }))
    .expect("a ConfigMap")
}

/// How a webhook reaches its injector and what the API server does when it cannot.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    pub ca_pem: String,
    pub failure_policy: &'static str,
    pub timeout_seconds: Option<i32>,
}

fn webhook(name: &str, endpoint: &Endpoint, namespace: Value, object: Value) -> Value {
    let mut w = json!({
        "name": name,
        "clientConfig": {
            "url": endpoint.url,
            "caBundle": base64_of(&endpoint.ca_pem),
        },
        "rules": [{
            "operations": ["CREATE"],
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "resources": ["pods"],
        }],
        "failurePolicy": endpoint.failure_policy,
        "reinvocationPolicy": "Never",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "namespaceSelector": namespace,
        "objectSelector": object,
    });
    if let (Some(t), Some(obj)) = (endpoint.timeout_seconds, w.as_object_mut()) {
        obj.insert("timeoutSeconds".into(), json!(t));
    }
    w
}

fn expr(key: &str, op: &str, values: &[&str]) -> Value {
    if values.is_empty() {
        json!({"key": key, "operator": op})
    } else {
        json!({"key": key, "operator": op, "values": values})
    }
}

fn selector(exprs: Vec<Value>) -> Value {
    json!({"matchExpressions": exprs})
}

/// The chart's MutatingWebhookConfiguration for `revision`: `rev.namespace` and `rev.object`
/// for every revision, plus `namespace` and `object` for the default one (reference
/// `istio-injection.md` §2.3), labelled `istio.io/rev`.
pub fn injector_webhooks(revision: &str, endpoint: &Endpoint) -> MutatingWebhookConfiguration {
    let not_false = || expr("sidecar.istio.io/inject", "NotIn", &["false"]);
    let mut hooks = vec![
        webhook(
            "rev.namespace.sidecar-injector.istio.io",
            endpoint,
            selector(vec![
                expr("istio.io/rev", "In", &[revision]),
                expr("istio-injection", "DoesNotExist", &[]),
            ]),
            selector(vec![not_false()]),
        ),
        webhook(
            "rev.object.sidecar-injector.istio.io",
            endpoint,
            selector(vec![
                expr("istio.io/rev", "DoesNotExist", &[]),
                expr("istio-injection", "DoesNotExist", &[]),
            ]),
            selector(vec![not_false(), expr("istio.io/rev", "In", &[revision])]),
        ),
    ];
    if revision == "default" {
        hooks.push(webhook(
            "namespace.sidecar-injector.istio.io",
            endpoint,
            selector(vec![expr("istio-injection", "In", &["enabled"])]),
            selector(vec![not_false()]),
        ));
        hooks.push(webhook(
            "object.sidecar-injector.istio.io",
            endpoint,
            selector(vec![
                expr("istio-injection", "DoesNotExist", &[]),
                expr("istio.io/rev", "DoesNotExist", &[]),
            ]),
            selector(vec![
                expr("sidecar.istio.io/inject", "In", &["true"]),
                expr("istio.io/rev", "DoesNotExist", &[]),
            ]),
        ));
    }
    let name = if revision == "default" {
        "istio-sidecar-injector".to_owned()
    } else {
        format!("istio-sidecar-injector-{revision}")
    };
    serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {
            "name": name,
            "labels": {"istio.io/rev": revision, "app": "sidecar-injector"},
        },
        "webhooks": hooks,
    }))
    .expect("a MutatingWebhookConfiguration")
}

/// The namespace label that routes a namespace to one fault scenario's webhooks.
pub const SCENARIO_LABEL: &str = "meshdoctor.e2e/scenario";

/// An Istio-named webhook (`namespace.sidecar-injector.istio.io`) selecting only namespaces
/// labelled [`SCENARIO_LABEL`]`=<scenario>`, so fault scenarios sharing one API server never see
/// each other's webhooks (nor the Helm-shaped ones, which need `istio-injection` or
/// `istio.io/rev` on the namespace). With `probe`, a second webhook (to the injector's
/// `/probe`) follows it, so a test can tell when the API server has loaded the configuration.
pub fn scenario_webhook(
    configuration: &str,
    scenario: &str,
    endpoint: &Endpoint,
    probe: Option<&Endpoint>,
) -> MutatingWebhookConfiguration {
    let namespaces = json!({"matchLabels": {SCENARIO_LABEL: scenario}});
    let mut hooks = vec![webhook(
        "namespace.sidecar-injector.istio.io",
        endpoint,
        namespaces.clone(),
        selector(vec![expr("sidecar.istio.io/inject", "NotIn", &["false"])]),
    )];
    if let Some(probe) = probe {
        hooks.push(webhook(
            "probe.e2e.meshdoctor.dev",
            probe,
            namespaces,
            json!({}),
        ));
    }
    serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": configuration},
        "webhooks": hooks,
    }))
    .expect("a MutatingWebhookConfiguration")
}

/// A Deployment (never rolled out: this cluster has no controllers) whose pod template has
/// these labels.
pub fn deployment(
    name: &str,
    namespace: &str,
    template_labels: &BTreeMap<String, String>,
) -> Deployment {
    let mut selector_labels = template_labels.clone();
    selector_labels.insert("app".into(), name.into());
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": selector_labels},
                "spec": {
                    "serviceAccountName": "default",
                    "containers": [{"name": "app", "image": "registry.example/app:1"}],
                },
            },
        },
    }))
    .expect("a Deployment")
}

pub async fn create_deployment(client: &Client, d: &Deployment) -> Deployment {
    let ns = d.metadata.namespace.as_deref().unwrap_or("default");
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    api.create(&PostParams::default(), d)
        .await
        .unwrap_or_else(|e| panic!("create deployment in {ns}: {e}"))
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A namespace name no earlier run on this server used (deleted namespaces stay Terminating).
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() % 1_000_000)
        .unwrap_or(0);
    format!("{prefix}-{t}-{n}")
}

/// Creates a namespace with these labels and returns it as stored.
pub async fn create_namespace(
    client: &Client,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Namespace {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels},
    }))
    .expect("a Namespace");
    api.create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("create namespace {name}: {e}"))
}

/// Creates the namespace unless it exists.
pub async fn ensure_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    if api.get_opt(name).await.ok().flatten().is_some() {
        return;
    }
    let ns: Namespace = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name},
    }))
    .expect("a Namespace");
    // Tests of one binary run at once: another may create it between the get and the create.
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => panic!("create namespace {name}: {e}"),
    }
}

/// Creates or replaces a ConfigMap; returns it as stored.
pub async fn apply_configmap(client: &Client, cm: &ConfigMap) -> ConfigMap {
    let ns = cm.metadata.namespace.as_deref().unwrap_or("default");
    let name = cm.metadata.name.as_deref().unwrap_or("");
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    match api.get_opt(name).await.expect("get configmap") {
        Some(existing) => {
            let mut cm = cm.clone();
            cm.metadata.resource_version = existing.metadata.resource_version;
            api.replace(name, &PostParams::default(), &cm)
                .await
                .unwrap_or_else(|e| panic!("replace configmap {name}: {e}"))
        }
        None => api
            .create(&PostParams::default(), cm)
            .await
            .unwrap_or_else(|e| panic!("create configmap {name}: {e}")),
    }
}

/// Creates (replacing any earlier one) a MutatingWebhookConfiguration; returns it as stored,
/// with the API server's defaults filled in.
pub async fn apply_webhooks(
    client: &Client,
    mwc: &MutatingWebhookConfiguration,
) -> MutatingWebhookConfiguration {
    let api: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let name = mwc.metadata.name.as_deref().unwrap_or("");
    let _ = api.delete(name, &DeleteParams::default()).await;
    api.create(&PostParams::default(), mwc)
        .await
        .unwrap_or_else(|e| panic!("create mutatingwebhookconfiguration {name}: {e}"))
}

/// A one-container pod with these labels and annotations. `serviceAccountName` is set because
/// this cluster runs without the ServiceAccount admission plugin that would set it, and the
/// injected `istio-token` projected volume is refused without one.
pub fn pod(
    name: &str,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": {
            "serviceAccountName": "default",
            "containers": [{"name": "app", "image": "registry.example/app:1"}],
        },
    }))
    .expect("a Pod")
}

/// The result of a `dryRun=All` create.
#[derive(Debug)]
pub enum DryRun {
    Admitted(Box<Pod>),
    Rejected(Box<kube::core::Status>),
}

impl DryRun {
    /// Whether the admitted pod came back with an `istio-proxy` container.
    pub fn has_sidecar(&self) -> Option<bool> {
        match self {
            DryRun::Admitted(p) => Some(has_istio_proxy(p)),
            DryRun::Rejected(_) => None,
        }
    }
}

pub fn has_istio_proxy(pod: &Pod) -> bool {
    pod.spec.iter().any(|s| {
        s.containers
            .iter()
            .chain(s.init_containers.iter().flatten())
            .any(|c| c.name == "istio-proxy")
    })
}

/// Creates `pod` with `dryRun=All`: the API server runs admission (our webhooks included) and
/// stores nothing.
pub async fn dry_run_create(client: &Client, pod: &Pod) -> DryRun {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let params = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    match api.create(&params, pod).await {
        Ok(p) => DryRun::Admitted(Box::new(p)),
        Err(kube::Error::Api(status)) => DryRun::Rejected(status),
        Err(e) => panic!("dry-run create in {ns}: {e}"),
    }
}

/// Waits until the API server uses freshly created webhooks (its webhook informer lags a
/// create by up to a second): dry-run creates `probe` until `ready` says the answer is the
/// configured one.
pub async fn wait_for_webhooks(
    client: &Client,
    probe: &Pod,
    ready: impl Fn(&DryRun) -> bool,
) -> DryRun {
    let mut last = None;
    for _ in 0..100 {
        let outcome = dry_run_create(client, probe).await;
        if ready(&outcome) {
            return outcome;
        }
        last = Some(outcome);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("webhooks not in effect after 20 s; last dry run: {last:?}");
}
