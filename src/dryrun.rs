//! `explain --server-dry-run`: asks the cluster itself. The pod (a workload's from its template)
//! is created with `dryRun=All`, so the API server runs its real mutating webhook chain and
//! stores nothing; what came back is set next to meshdoctor's prediction: whether the verdicts
//! agree, how the predicted mutated pod differs from the actual one, and, when a webhook call
//! failed, which webhook and which check the server's error points to.
//!
//! This is the only request meshdoctor ever sends that is not a read, and only with the flag.
//! Everything else here is reads: the target, its namespace, the webhook configurations and
//! the Istio ConfigMaps and Deployments the prediction needs.

use std::path::PathBuf;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use serde::Serialize;
use serde_json::Value;

use crate::admission::{FailurePolicy, MetadataNameLabel, WebhookTarget};
use crate::check::{Evidence, Finding, ObjectRef, Severity};
use crate::cli::Failure;
use crate::cli::args::{ExplainArgs, ExplainFormat, GlobalArgs};
use crate::decision::{Decision, WebhookRef};
use crate::engine::Engine;
use crate::origin::Origin;
use crate::state::{ClusterState, Kind};
use crate::workload::{TargetError, parse_target, resolve};

/// Why the dry run could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DryRunError {
    /// No usable kubeconfig (exit 2).
    #[error("{0}")]
    Config(String),
    /// The API server could not be reached (exit 3).
    #[error("cannot reach the API server at {server}: {cause}")]
    Unreachable { server: String, cause: String },
    /// The server refused a read the prediction needs, or the create itself (exit 3).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Target(#[from] TargetError),
}

impl From<DryRunError> for Failure {
    fn from(e: DryRunError) -> Failure {
        match e {
            DryRunError::Config(m) => Failure::Usage(m),
            DryRunError::Target(t) => Failure::Target(t),
            e @ (DryRunError::Unreachable { .. } | DryRunError::Refused(_)) => {
                Failure::Unreachable(e.to_string())
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
/// Where the cluster is: `--kubeconfig` (else `KUBECONFIG`, then `~/.kube/config`) and
/// `--context` (else the current context).
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

/// A client and what it is connected to: the live source's cluster connection, so that
/// `--server-dry-run` reads exactly what `explain` reads and reports faults the same way.
pub struct Connection {
    pub cluster: crate::source::live::Cluster,
    pub client: kube::Client,
    pub server: String,
    /// The context's namespace, `default` when it names none.
    pub default_namespace: String,
}

/// Builds a client from kubeconfig. No request is sent.
pub async fn connect(opts: &ConnectOptions) -> Result<Connection, DryRunError> {
    let live_opts = crate::source::live::LiveOptions {
        kubeconfig: opts.kubeconfig.clone(),
        context: opts.context.clone(),
        ..Default::default()
    };
    let cluster = crate::source::live::Cluster::connect(live_opts)
        .await
        .map_err(from_live)?;
    Ok(Connection {
        client: cluster.client().clone(),
        server: cluster.server.clone(),
        default_namespace: cluster.default_namespace.clone(),
        cluster,
    })
}

/// Reads what the prediction needs, as `explain` does: the target, its namespace and owner
/// chain, every MutatingWebhookConfiguration, and the mesh namespaces' injector ConfigMaps and
/// istiod Deployments.
pub async fn read_state(
    conn: &Connection,
    kind: Kind,
    namespace: &str,
    name: &str,
) -> Result<ClusterState, DryRunError> {
    let plan = crate::source::live::Plan::Target {
        kind,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    };
    conn.cluster.read(&plan).await.map_err(from_live)
}

fn from_live(e: crate::source::live::LiveError) -> DryRunError {
    use crate::source::live::LiveError;
    match e {
        LiveError::Config(m) => DryRunError::Config(m),
        LiveError::Unreachable { server, cause } => DryRunError::Unreachable { server, cause },
        LiveError::Refused(m) => DryRunError::Refused(m),
    }
}

/// Whether the server labels namespaces with `kubernetes.io/metadata.name` (1.21 and later),
/// from `GET /version`. Unknown versions are assumed recent.
pub async fn metadata_name_label(conn: &Connection) -> MetadataNameLabel {
    match conn.client.apiserver_version().await {
        Ok(info) => metadata_name_label_for(&info.major, &info.minor),
        Err(_) => MetadataNameLabel::Set,
    }
}

fn metadata_name_label_for(major: &str, minor: &str) -> MetadataNameLabel {
    MetadataNameLabel::for_server_version(major, minor)
}
// ---------------------------------------------------------------------------------------------

/// What the API server did with the dry-run create.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The pod as the webhook chain left it (nothing was stored).
    Admitted(Value),
    /// The server's Status.
    Rejected {
        code: u16,
        reason: String,
        message: String,
    },
}

/// The pod to create: the subject's pod without what the server sets itself (uid,
/// resourceVersion, status, ...). An existing pod's name would collide with itself, so it is
/// sent with `generateName` instead, as a controller would.
pub fn pod_to_send(pod: &Value) -> Value {
    let mut pod = pod.clone();
    if let Some(obj) = pod.as_object_mut() {
        obj.remove("status");
    }
    if let Some(meta) = pod.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "selfLink",
            "generation",
        ] {
            meta.remove(field);
        }
        if let Some(Value::String(name)) = meta.remove("name") {
            meta.insert("generateName".to_owned(), Value::String(format!("{name}-")));
        }
    }
    pod
}

/// Creates `pod` in `namespace` with `dryRun=All`. A webhook failure or any other refusal of the
/// pod is an [`Outcome::Rejected`]; only a refusal of the request itself (403) or an
/// unreachable server is an error.
pub async fn create_dry_run(
    conn: &Connection,
    namespace: &str,
    pod: &Value,
) -> Result<Outcome, DryRunError> {
    let typed: Pod = serde_json::from_value(pod.clone())
        .map_err(|e| DryRunError::Refused(format!("the pod to create is not a Pod: {e}")))?;
    let api: Api<Pod> = Api::namespaced(conn.client.clone(), namespace);
    let params = PostParams {
        dry_run: true,
        field_manager: Some("meshdoctor".to_owned()),
    };
    match api.create(&params, &typed).await {
        Ok(created) => Ok(Outcome::Admitted(
            serde_json::to_value(created).unwrap_or(Value::Null),
        )),
        Err(kube::Error::Api(status)) if status.code == 403 => Err(DryRunError::Refused(format!(
            "the dry-run create was refused: {}",
            status.message
        ))),
        Err(kube::Error::Api(status)) => Ok(Outcome::Rejected {
            code: status.code,
            reason: status.reason.clone(),
            message: status.message.clone(),
        }),
        Err(other) => Err(DryRunError::Unreachable {
            server: conn.server.clone(),
            cause: other.to_string(),
        }),
    }
}

/// The sidecar container in a pod, if any (`istio-proxy`, `linkerd-proxy`), among containers
/// and init containers (native sidecars).
pub fn sidecar_in(pod: &Value) -> Option<&'static str> {
    for name in ["istio-proxy", "linkerd-proxy"] {
        for list in ["containers", "initContainers"] {
            let found = pod
                .pointer(&format!("/spec/{list}"))
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.get("name").and_then(Value::as_str) == Some(name))
                });
            if found {
                return Some(name);
            }
        }
    }
    None
}

/// The containers a mesh injector adds: Istio's proxy and init/validation containers,
/// Linkerd's proxy, its iptables init container or (CNI plugin on) network validator, and its
/// debug sidecar.
const MESH_CONTAINERS: [&str; 7] = [
    "istio-proxy",
    "istio-init",
    "istio-validation",
    "linkerd-proxy",
    "linkerd-init",
    "linkerd-network-validator",
    "linkerd-debug",
];

/// The mesh containers of a pod in the order they run: init containers (native sidecars
/// among them) first, written `init:<name>`, then the regular containers.
pub fn mesh_containers_in(pod: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (list, prefix) in [("initContainers", "init:"), ("containers", "")] {
        let names = pod
            .pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("name").and_then(Value::as_str));
        out.extend(
            names
                .filter(|n| MESH_CONTAINERS.contains(n))
                .map(|n| format!("{prefix}{n}")),
        );
    }
    out
}

/// What a difference in Linkerd's containers says about the install the prediction read.
fn linkerd_container_hint(predicted: &[String], actual: &[String]) -> Option<&'static str> {
    let has = |list: &[String], name: &str| list.iter().any(|c| c == name);
    let validator = "init:linkerd-network-validator";
    let init = "init:linkerd-init";
    if (has(predicted, init) && has(actual, validator))
        || (has(predicted, validator) && has(actual, init))
    {
        return Some(
            "the injector's CNI mode (cniEnabled) is not the one linkerd-config records: linkerd-init runs without the CNI plugin, the network validator with it",
        );
    }
    let proxy_init = "init:linkerd-proxy";
    let proxy = "linkerd-proxy";
    if (has(predicted, proxy_init) && has(actual, proxy))
        || (has(predicted, proxy) && has(actual, proxy_init))
    {
        return Some(
            "the injector runs the proxy as a native sidecar or not (proxy.nativeSidecar / config.beta.linkerd.io/proxy-enable-native-sidecar) differently from the prediction",
        );
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The predicted mutated pod against the actual one.

/// One place where the predicted and the actual mutated pod differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// `/spec/containers[istio-proxy]/image`: list items are named by their `name` (or
    /// `mountPath`) where they have one.
    pub path: String,
    /// `None`: the prediction has nothing here.
    pub predicted: Option<Value>,
    /// `None`: the cluster's pod has nothing here.
    pub actual: Option<Value>,
}

/// How the predicted mutated pod compares with the one the cluster returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodDiff {
    pub matches: bool,
    pub differences: Vec<Difference>,
    /// Fields only the cluster's pod has, inside objects the prediction has too: the API
    /// server's defaults (`terminationMessagePath`, `dnsPolicy`, ...). Not differences.
    pub server_defaulted_fields: usize,
    /// Leaf values compared and found equal.
    pub compared_fields: usize,
}

/// Metadata the server assigns on create; never part of the comparison.
const SERVER_ASSIGNED: [&str; 7] = [
    "/metadata/name",
    "/metadata/generateName",
    "/metadata/uid",
    "/metadata/resourceVersion",
    "/metadata/creationTimestamp",
    "/metadata/managedFields",
    "/metadata/selfLink",
];

/// Compares the predicted mutated pod with the cluster's: every field the prediction has must
/// be in the cluster's pod with the same value (quantities compared by value); list items
/// with a `name` are matched by name. Extra fields in the cluster's objects are the server's
/// defaults; extra named list items (a container the prediction lacks) are differences.
pub fn compare_pods(predicted: &Value, actual: &Value) -> PodDiff {
    let mut diff = PodDiff {
        matches: true,
        differences: Vec::new(),
        server_defaulted_fields: 0,
        compared_fields: 0,
    };
    walk(predicted, actual, "", &mut diff);
    diff.matches = diff.differences.is_empty();
    diff
}

fn walk(p: &Value, a: &Value, path: &str, out: &mut PodDiff) {
    if SERVER_ASSIGNED.contains(&path) {
        return;
    }
    match (p, a) {
        (Value::Object(pm), Value::Object(am)) => {
            for (k, pv) in pm {
                let child = format!("{path}/{k}");
                match am.get(k) {
                    Some(av) => walk(pv, av, &child, out),
                    None if is_empty(pv) || SERVER_ASSIGNED.contains(&child.as_str()) => {}
                    None => out.differences.push(Difference {
                        path: child,
                        predicted: Some(pv.clone()),
                        actual: None,
                    }),
                }
            }
            out.server_defaulted_fields += am
                .keys()
                .filter(|k| {
                    !pm.contains_key(*k)
                        && !SERVER_ASSIGNED.contains(&format!("{path}/{k}").as_str())
                })
                .count();
        }
        (Value::Array(pl), Value::Array(al)) => match (keyed(pl), keyed(al)) {
            (Some(pk), Some(ak)) => {
                for (key, pv) in &pk {
                    let child = format!("{path}[{key}]");
                    match ak.iter().find(|(k, _)| k == key) {
                        Some((_, av)) => walk(pv, av, &child, out),
                        None => out.differences.push(Difference {
                            path: child,
                            predicted: Some((*pv).clone()),
                            actual: None,
                        }),
                    }
                }
                for (key, av) in &ak {
                    if !pk.iter().any(|(k, _)| k == key) {
                        out.differences.push(Difference {
                            path: format!("{path}[{key}]"),
                            predicted: None,
                            actual: Some((*av).clone()),
                        });
                    }
                }
            }
            _ if pl.len() == al.len() => {
                for (i, (pv, av)) in pl.iter().zip(al).enumerate() {
                    walk(pv, av, &format!("{path}/{i}"), out);
                }
            }
            _ => out.differences.push(Difference {
                path: path.to_owned(),
                predicted: Some(p.clone()),
                actual: Some(a.clone()),
            }),
        },
        _ if p == a || same_quantity(p, a) || (is_empty(p) && is_empty(a)) => {
            out.compared_fields += 1;
        }
        _ => out.differences.push(Difference {
            path: path.to_owned(),
            predicted: Some(p.clone()),
            actual: Some(a.clone()),
        }),
    }
}

/// Items keyed by `name` (containers, volumes, env, ports) or `mountPath`, when every item has
/// one and the keys are unique.
fn keyed(items: &[Value]) -> Option<Vec<(String, &Value)>> {
    let mut out: Vec<(String, &Value)> = Vec::with_capacity(items.len());
    for item in items {
        let key = ["name", "mountPath"]
            .iter()
            .find_map(|k| item.get(*k).and_then(Value::as_str))?;
        if out.iter().any(|(k, _)| k == key) {
            return None;
        }
        out.push((key.to_owned(), item));
    }
    (!out.is_empty()).then_some(out)
}

/// `null`, `{}`, `[]` and `""`: what the server drops when it round-trips a pod.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// `2000m` and `2`, `1024Mi` and `1Gi`: the server writes resource quantities canonically.
fn same_quantity(p: &Value, a: &Value) -> bool {
    let as_text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match (
        as_text(p).as_deref().and_then(quantity),
        as_text(a).as_deref().and_then(quantity),
    ) {
        (Some(x), Some(y)) => (x - y).abs() <= f64::EPSILON * x.abs().max(1.0),
        _ => false,
    }
}

/// A Kubernetes quantity's value (`100m`, `1.5Gi`, `2e3`).
fn quantity(text: &str) -> Option<f64> {
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    for (suffix, scale) in SUFFIXES {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * scale);
        }
    }
    text.parse::<f64>().ok()
}

// ---------------------------------------------------------------------------------------------
// Attribution of a failed webhook call.

/// What the server's error says went wrong with a webhook call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    UntrustedCertificate,
    ExpiredCertificate,
    WrongCertificateName,
    Timeout,
    Unreachable,
    NoEndpoints,
    ServiceMissing,
    Denied,
    CallFailed,
}

impl Cause {
    /// Classifies by the innermost error of the Go error chain, the text after the URL.
    pub fn classify(message: &str) -> Cause {
        let m = message;
        if m.contains("certificate signed by unknown authority") {
            Cause::UntrustedCertificate
        } else if m.contains("certificate has expired or is not yet valid") {
            Cause::ExpiredCertificate
        } else if m.contains("x509: certificate is valid for")
            || m.contains("legacy Common Name field")
            || m.contains("doesn't contain any IP SANs")
        {
            Cause::WrongCertificateName
        } else if m.contains("context deadline exceeded")
            || m.contains("i/o timeout")
            || m.contains("Client.Timeout exceeded")
        {
            Cause::Timeout
        } else if m.contains("no endpoints available for service") {
            Cause::NoEndpoints
        } else if m.contains("service \"") && m.contains("\" not found") {
            Cause::ServiceMissing
        } else if m.contains("connection refused") || m.contains("no route to host") {
            Cause::Unreachable
        } else if m.contains("denied the request") {
            Cause::Denied
        } else {
            Cause::CallFailed
        }
    }

    /// The catalog check that looks at this cause, and what it means in a sentence.
    fn explain(self, service_webhook: bool) -> (Option<&'static str>, &'static str) {
        match self {
            Cause::UntrustedCertificate => (
                Some("cabundle-mismatch"),
                "the API server does not trust the injector's serving certificate: the webhook's caBundle is not the CA that signed it",
            ),
            Cause::ExpiredCertificate => (
                Some("cert-expiry"),
                "the injector's serving certificate (or its CA) has expired",
            ),
            Cause::WrongCertificateName => (
                Some("cert-chain"),
                "the injector's serving certificate does not name the host the API server called",
            ),
            Cause::Timeout => (
                Some("webhook-timeout"),
                "the injector did not answer within the webhook's timeoutSeconds",
            ),
            Cause::Unreachable => (
                service_webhook.then_some("webhook-endpoints-not-ready"),
                "nothing accepted the API server's connection: the injector is down or not listening there",
            ),
            Cause::NoEndpoints => (
                Some("webhook-endpoints-not-ready"),
                "the injector's Service has no ready endpoint",
            ),
            Cause::ServiceMissing => (
                Some("webhook-service-missing"),
                "the Service the webhook points at does not exist",
            ),
            Cause::Denied => (
                None,
                "the injector was reached and refused the pod (fatal whatever the failurePolicy)",
            ),
            Cause::CallFailed => (None, "the API server could not call the webhook"),
        }
    }
}

/// The webhook a server message names: `failed calling webhook "X"` or
/// `admission webhook "X" denied the request`.
pub fn webhook_named_in(message: &str) -> Option<&str> {
    for marker in ["failed calling webhook \"", "admission webhook \""] {
        if let Some(start) = message.find(marker) {
            let rest = message.get(start + marker.len()..)?;
            return rest.split_once('"').map(|(name, _)| name);
        }
    }
    None
}

/// The URL the API server posted to (`Post "https://…?timeout=10s": …`), without its query.
pub fn url_in(message: &str) -> Option<&str> {
    let start = message.find("Post \"")? + "Post \"".len();
    let rest = message.get(start..)?;
    let (url, _) = rest.split_once('"')?;
    Some(url.split('?').next().unwrap_or(url))
}

/// Turns a rejection that names a webhook into a finding: the webhook (found by name, and by
/// the URL or service host the message carries, since revisions reuse names), the cause, the
/// check that covers it, and the server's message as evidence.
pub fn attribute_rejection(engine: &Engine<'_>, message: &str) -> Option<Finding> {
    let name = webhook_named_in(message)?;
    let cause = Cause::classify(message);
    let url = url_in(message);
    let named: Vec<usize> = engine
        .webhooks
        .iter()
        .enumerate()
        .filter(|(_, w)| w.name.as_ref() == name)
        .map(|(i, _)| i)
        .collect();
    let found = named
        .iter()
        .copied()
        .find(|&i| {
            engine
                .webhooks
                .get(i)
                .is_some_and(|w| match &w.client_config.target {
                    WebhookTarget::Url(u) => {
                        url.is_some_and(|m| m == u.split('?').next().unwrap_or(u))
                    }
                    WebhookTarget::Service {
                        namespace, name, ..
                    } => message.contains(&format!("{name}.{namespace}.svc")),
                })
        })
        .or_else(|| named.first().copied());
    let wh = found.and_then(|i| engine.webhooks.get(i));
    let service_webhook =
        wh.is_some_and(|w| matches!(w.client_config.target, WebhookTarget::Service { .. }));
    let (check, meaning) = cause.explain(service_webhook);
    let reference = found.and_then(|i| engine.webhook_ref(i));
    let (object, target, failure_policy, origin) = match wh {
        Some(w) => (
            ObjectRef::new("MutatingWebhookConfiguration", None, &w.configuration),
            match &w.client_config.target {
                WebhookTarget::Url(u) => u.clone(),
                WebhookTarget::Service {
                    namespace,
                    name,
                    port,
                    path,
                } => format!(
                    "service {namespace}/{name}:{port}{}",
                    path.as_deref().unwrap_or("")
                ),
            },
            if w.failure_policy == FailurePolicy::Ignore {
                "Ignore"
            } else {
                "Fail"
            },
            w.origin.clone().unwrap_or(Origin::Live),
        ),
        None => (
            ObjectRef::new("MutatingWebhookConfiguration", None, ""),
            url.unwrap_or("").to_owned(),
            "Fail",
            Origin::Live,
        ),
    };
    let who = match &reference {
        Some(r) => format!(
            "webhook \"{}\" of mutatingwebhookconfiguration \"{}\" ({target})",
            r.name, r.configuration
        ),
        None => format!("webhook \"{name}\" (not among the configurations read)"),
    };
    let innermost = innermost_error(message);
    let policy = if cause == Cause::Denied {
        String::new()
    } else {
        format!("; failurePolicy {failure_policy} made the failure fatal")
    };
    let message_text = format!(
        "the API server rejected the dry-run create: {who} failed with \"{innermost}\": {meaning}{policy}"
    );
    let index = wh.map(|w| w.index).unwrap_or(0);
    let fix = fix_for(cause, &object.name, index, &target);
    Some(Finding {
        check: check.unwrap_or("webhook-call-failed").to_owned(),
        severity: Severity::Error,
        object,
        message: message_text,
        evidence: vec![Evidence::new(
            "server dry-run: status.message",
            message,
            "the pod admitted by the webhook chain",
            &origin,
        )],
        fix,
    })
}

/// The text after the quoted URL (`Post "…": <cause>`), or the denial's reason.
fn innermost_error(message: &str) -> &str {
    if let Some((_, reason)) = message.split_once("denied the request: ") {
        return reason.trim();
    }
    match message.rfind("\": ") {
        Some(i) => message.get(i + 3..).unwrap_or(message).trim(),
        None => message.trim(),
    }
}

fn fix_for(cause: Cause, configuration: &str, index: usize, target: &str) -> String {
    match cause {
        Cause::UntrustedCertificate => format!(
            "kubectl patch mutatingwebhookconfiguration {configuration} --type=json -p '[{{\"op\":\"replace\",\"path\":\"/webhooks/{index}/clientConfig/caBundle\",\"value\":\"'\"$(base64 -w0 < injector-ca.pem)\"'\"}}]'  # the CA that signed the injector's certificate; for istiod: kubectl -n istio-system rollout restart deployment istiod"
        ),
        Cause::Timeout => format!(
            "kubectl patch mutatingwebhookconfiguration {configuration} --type=json -p '[{{\"op\":\"replace\",\"path\":\"/webhooks/{index}/timeoutSeconds\",\"value\":10}}]'  # and find why the injector at {target} is slow"
        ),
        Cause::Unreachable | Cause::NoEndpoints | Cause::ServiceMissing => {
            format!(
                "start the injector behind {target} (or point webhooks[{index}].clientConfig of {configuration} at the running one)"
            )
        }
        Cause::ExpiredCertificate | Cause::WrongCertificateName => format!(
            "reissue the injector's serving certificate for the host in {target}, signed by the CA in webhooks[{index}].clientConfig.caBundle of {configuration}"
        ),
        Cause::Denied | Cause::CallFailed => {
            format!("read the injector's log for the request to {target}")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The report.

/// The server's refusal, as it said it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub code: u16,
    pub reason: String,
    pub message: String,
}

/// `explain --server-dry-run`'s answer, set next to the prediction (`server_dry_run` in JSON).
#[derive(Debug, Clone, Serialize)]
pub struct ServerDryRun {
    pub namespace: String,
    pub admitted: bool,
    /// Whether the returned pod has a sidecar; `None` when the create was rejected.
    pub actual_inject: Option<bool>,
    pub sidecar: Option<&'static str>,
    pub predicted_inject: bool,
    /// The prediction says what the cluster did.
    pub agree: bool,
    pub rejection: Option<Rejection>,
    /// Predicted vs actual mutated pod, when both exist.
    pub pod_diff: Option<PodDiff>,
    /// Why the prediction could not be rendered for the comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_diff_skipped: Option<String>,
    /// The mesh containers of the predicted and of the returned pod (`init:` = an init
    /// container), and what a difference between them points to.
    pub predicted_mesh_containers: Vec<String>,
    pub actual_mesh_containers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesh_containers_hint: Option<&'static str>,
    /// What the cluster's behaviour points to: the failed webhook's cause, or the fail-open
    /// webhook that let the pod through without a sidecar.
    pub findings: Vec<Finding>,
    /// The pod the cluster returned (admitted only; for `--show-pod`).
    #[serde(skip)]
    pub actual_pod: Option<Value>,
}

/// Compares the cluster's outcome with the decision and attributes what differs.
pub fn assess(
    engine: &Engine<'_>,
    decision: &Decision,
    namespace: &str,
    predicted_pod: Result<Value, String>,
    outcome: Outcome,
) -> ServerDryRun {
    let mut report = ServerDryRun {
        namespace: namespace.to_owned(),
        admitted: false,
        actual_inject: None,
        sidecar: None,
        predicted_inject: decision.inject,
        agree: false,
        rejection: None,
        pod_diff: None,
        pod_diff_skipped: None,
        predicted_mesh_containers: predicted_pod
            .as_ref()
            .map(mesh_containers_in)
            .unwrap_or_default(),
        actual_mesh_containers: Vec::new(),
        mesh_containers_hint: None,
        findings: Vec::new(),
        actual_pod: None,
    };
    match outcome {
        Outcome::Admitted(actual) => {
            report.admitted = true;
            report.sidecar = sidecar_in(&actual);
            report.actual_mesh_containers = mesh_containers_in(&actual);
            report.mesh_containers_hint = linkerd_container_hint(
                &report.predicted_mesh_containers,
                &report.actual_mesh_containers,
            );
            let inject = report.sidecar.is_some();
            report.actual_inject = Some(inject);
            report.agree = inject == decision.inject;
            match &predicted_pod {
                Ok(predicted) => report.pod_diff = Some(compare_pods(predicted, &actual)),
                Err(why) => report.pod_diff_skipped = Some(why.clone()),
            }
            if decision.inject
                && !inject
                && let Some(f) = fail_open_finding(engine, decision.webhook.as_ref())
            {
                report.findings.push(f);
            }
            report.actual_pod = Some(actual);
        }
        Outcome::Rejected {
            code,
            reason,
            message,
        } => {
            if let Some(f) = attribute_rejection(engine, &message) {
                report.findings.push(f);
            }
            report.rejection = Some(Rejection {
                code,
                reason,
                message,
            });
        }
    }
    report
}

/// Predicted injection, a pod admitted without a sidecar, and the deciding webhook fails open:
/// the call failed and the API server skipped it silently. The `webhook-fail-open` check's
/// finding for that configuration, introduced by what the cluster did.
fn fail_open_finding(engine: &Engine<'_>, webhook: Option<&WebhookRef>) -> Option<Finding> {
    let webhook = webhook?;
    let compiled = engine.webhooks.iter().find(|w| {
        w.configuration.as_ref() == webhook.configuration && w.name.as_ref() == webhook.name
    })?;
    if compiled.failure_policy != FailurePolicy::Ignore {
        return None;
    }
    let opts = crate::check::runner::RunOptions {
        only: vec!["webhook-fail-open".to_owned()],
        ..Default::default()
    };
    let report =
        crate::check::runner::run_checks(engine.state, engine, &crate::checks::builtin(), &opts)
            .ok()?;
    let mut finding = report
        .findings
        .into_iter()
        .find(|f| f.check == "webhook-fail-open" && f.object.name == webhook.configuration)?;
    finding.message = format!(
        "the prediction is that webhook \"{}\" of {} injects this pod, but the API server admitted it without a sidecar: the call failed (unreachable, untrusted certificate or timeout) and failurePolicy Ignore skipped it silently. {}",
        webhook.name, webhook.configuration, finding.message
    );
    Some(finding)
}

/// The table form, printed after `explain`'s own table.
pub fn table(report: &ServerDryRun) -> String {
    let mut out = format!(
        "\nserver dry-run (POST pods?dryRun=All in namespace {}; the API server ran its webhooks and stored nothing):\n",
        report.namespace
    );
    let predicted = if report.predicted_inject {
        "will be injected"
    } else {
        "will not be injected"
    };
    match (&report.rejection, report.sidecar) {
        (Some(r), _) => out.push_str(&format!(
            "  cluster:     REJECTED (HTTP {} {}): {}\n",
            r.code, r.reason, r.message
        )),
        (None, Some(sidecar)) => out.push_str(&format!(
            "  cluster:     admitted, sidecar injected ({sidecar})\n"
        )),
        (None, None) => out.push_str("  cluster:     admitted, no sidecar\n"),
    }
    out.push_str(&format!(
        "  prediction:  {predicted}: {}\n",
        if report.agree {
            "AGREES with the cluster"
        } else {
            "DISAGREES with the cluster"
        }
    ));
    if let Some(d) = &report.pod_diff {
        if d.matches {
            out.push_str(&format!(
                "  mutated pod: predicted and actual agree ({} values compared; {} fields the API server defaulted are not compared)\n",
                d.compared_fields, d.server_defaulted_fields
            ));
        } else {
            out.push_str(&format!(
                "  mutated pod: {} difference(s) between predicted and actual ({} values agree):\n",
                d.differences.len(),
                d.compared_fields
            ));
            for diff in &d.differences {
                let show = |v: &Option<Value>| match v {
                    Some(v) => short_json(v),
                    None => "(absent)".to_owned(),
                };
                out.push_str(&format!(
                    "    {}: predicted {}, actual {}\n",
                    diff.path,
                    show(&diff.predicted),
                    show(&diff.actual)
                ));
            }
        }
    }
    if report.admitted && report.predicted_mesh_containers != report.actual_mesh_containers {
        let list = |l: &[String]| {
            if l.is_empty() {
                "none".to_owned()
            } else {
                l.join(", ")
            }
        };
        out.push_str(&format!(
            "  mesh containers: predicted {}; actual {}\n",
            list(&report.predicted_mesh_containers),
            list(&report.actual_mesh_containers)
        ));
        if let Some(hint) = report.mesh_containers_hint {
            out.push_str(&format!("  hint:        {hint}\n"));
        }
    }
    if let Some(why) = &report.pod_diff_skipped {
        out.push_str(&format!("  mutated pod: not compared: {why}\n"));
    }
    for f in &report.findings {
        out.push_str(&format!(
            "  cause:       [{}] {} — {}\n",
            f.check, f.object, f.message
        ));
        for e in &f.evidence {
            out.push_str(&format!("  evidence:    {}: {}\n", e.field, e.observed));
        }
        out.push_str(&format!("  fix:         {}\n", f.fix));
    }
    out
}

fn short_json(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 120 {
        let cut: String = text.chars().take(117).collect();
        format!("{cut}...")
    } else {
        text
    }
}

// ---------------------------------------------------------------------------------------------
// The CLI path.

/// `meshdoctor explain <target> --server-dry-run`.
pub fn run_explain(global: &GlobalArgs, args: &ExplainArgs) -> Result<(), Failure> {
    let (kind, name) = parse_target(&args.target)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Unreachable(format!("starting the async runtime: {e}")))?;
    runtime.block_on(async {
        let conn = connect(&ConnectOptions {
            kubeconfig: args.source.kubeconfig.clone(),
            context: args.source.context.clone(),
        })
        .await?;
        let namespace = args
            .source
            .namespace
            .clone()
            .unwrap_or_else(|| conn.default_namespace.clone());
        let mut options = crate::cli::common::engine_options(global)?;
        if !global.no_metadata_name_label {
            options.metadata_name_label = metadata_name_label(&conn).await;
        }
        let state = read_state(&conn, kind, &namespace, &name).await?;
        let engine = Engine::new(&state, options);
        let subject = resolve(&state, kind, &namespace, &name)?;
        let decision = engine.explain(&subject);
        let pod = pod_to_send(&crate::cli::explain::subject_pod(&subject));
        let predicted = crate::cli::explain::render_prediction(&engine, &subject, &pod, &decision)
            .map_err(|e| e.to_string());
        let outcome = create_dry_run(&conn, &subject.namespace, &pod).await?;
        let report = assess(&engine, &decision, &subject.namespace, predicted, outcome);
        let out = match args.output {
            ExplainFormat::Table => {
                let mut text =
                    crate::report::explain::table(&decision, crate::cli::common::use_color(global));
                text.push_str(&table(&report));
                if args.show_pod
                    && let Some(actual) = &report.actual_pod
                {
                    text.push_str("\nmutated pod (as the cluster returned it):\n");
                    text.push_str(&crate::render::to_go_yaml(actual));
                }
                text
            }
            ExplainFormat::Json | ExplainFormat::Yaml => {
                let mut v = serde_json::to_value(&decision).unwrap_or(Value::Null);
                if let Some(obj) = v.as_object_mut() {
                    obj.insert(
                        "server_dry_run".to_owned(),
                        serde_json::to_value(&report).unwrap_or(Value::Null),
                    );
                    if args.show_pod
                        && let Some(actual) = &report.actual_pod
                    {
                        obj.insert("mutated_pod".to_owned(), actual.clone());
                    }
                }
                if args.output == ExplainFormat::Json {
                    crate::report::to_json(&v)
                } else {
                    crate::report::to_yaml(&v)
                }
            }
        };
        crate::cli::common::print(&out);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_messages_name_the_webhook_url_and_cause() {
        let m = "Internal error occurred: failed calling webhook \"namespace.sidecar-injector.istio.io\": Post \"https://127.0.0.1:28443/inject?timeout=10s\": x509: certificate signed by unknown authority";
        assert_eq!(
            webhook_named_in(m),
            Some("namespace.sidecar-injector.istio.io")
        );
        assert_eq!(url_in(m), Some("https://127.0.0.1:28443/inject"));
        assert_eq!(Cause::classify(m), Cause::UntrustedCertificate);
        assert_eq!(
            innermost_error(m),
            "x509: certificate signed by unknown authority"
        );
        let timeout = "failed calling webhook \"a\": Post \"https://x/inject?timeout=1s\": context deadline exceeded";
        assert_eq!(Cause::classify(timeout), Cause::Timeout);
        let refused = "failed calling webhook \"a\": Post \"https://127.0.0.1:1/inject?timeout=10s\": dial tcp 127.0.0.1:1: connect: connection refused";
        assert_eq!(Cause::classify(refused), Cause::Unreachable);
        assert_eq!(
            innermost_error(refused),
            "dial tcp 127.0.0.1:1: connect: connection refused"
        );
        assert_eq!(webhook_named_in("pods \"x\" is forbidden"), None);
    }

    #[test]
    fn api_server_versions_before_1_21_do_not_label_namespaces() {
        assert_eq!(
            metadata_name_label_for("1", "20"),
            MetadataNameLabel::Absent
        );
        assert_eq!(
            metadata_name_label_for("1", "20+"),
            MetadataNameLabel::Absent
        );
        assert_eq!(metadata_name_label_for("1", "21"), MetadataNameLabel::Set);
        assert_eq!(metadata_name_label_for("", ""), MetadataNameLabel::Set);
    }

    #[test]
    fn an_existing_pod_is_sent_with_generate_name_and_without_server_fields() {
        let pod = json!({
            "metadata": {"name": "web-1", "uid": "u", "resourceVersion": "5", "labels": {"a": "b"}},
            "spec": {"containers": [{"name": "app"}]},
            "status": {"phase": "Running"},
        });
        let sent = pod_to_send(&pod);
        assert_eq!(
            sent,
            json!({
                "metadata": {"labels": {"a": "b"}, "generateName": "web-1-"},
                "spec": {"containers": [{"name": "app"}]},
            })
        );
    }

    #[test]
    fn server_defaults_are_not_differences_but_changed_and_missing_values_are() {
        let predicted = json!({
            "metadata": {"generateName": "web-", "annotations": {"a": "1"}},
            "spec": {"containers": [
                {"name": "app", "image": "app:1"},
                {"name": "istio-proxy", "image": "proxy:1", "resources": {"limits": {"cpu": "2000m", "memory": "1Gi"}}},
            ]},
        });
        let actual = json!({
            "metadata": {"name": "web-x1", "uid": "u", "annotations": {"a": "1"}},
            "spec": {
                "dnsPolicy": "ClusterFirst",
                "containers": [
                    {"name": "istio-proxy", "image": "proxy:1", "terminationMessagePath": "/dev/termination-log", "resources": {"limits": {"cpu": "2", "memory": "1024Mi"}}},
                    {"name": "app", "image": "app:1"},
                ],
            },
        });
        let d = compare_pods(&predicted, &actual);
        assert!(d.matches, "{:?}", d.differences);
        assert_eq!(d.server_defaulted_fields, 2);

        let mut changed = actual.clone();
        changed["spec"]["containers"][0]["image"] = json!("proxy:2");
        changed["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "other-sidecar"}));
        if let Some(a) = changed["metadata"]["annotations"].as_object_mut() {
            a.remove("a");
        }
        let d = compare_pods(&predicted, &changed);
        let paths: Vec<&str> = d.differences.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/metadata/annotations/a",
                "/spec/containers[istio-proxy]/image",
                "/spec/containers[other-sidecar]"
            ]
        );
        assert!(!d.matches);
    }

    #[test]
    fn sidecars_are_found_in_containers_and_init_containers() {
        assert_eq!(
            sidecar_in(&json!({"spec": {"containers": [{"name": "istio-proxy"}]}})),
            Some("istio-proxy")
        );
        assert_eq!(
            sidecar_in(
                &json!({"spec": {"initContainers": [{"name": "istio-proxy"}], "containers": []}})
            ),
            Some("istio-proxy")
        );
        assert_eq!(
            sidecar_in(&json!({"spec": {"containers": [{"name": "app"}]}})),
            None
        );
    }

    fn state_with_two_injectors() -> ClusterState {
        let hook = |config: &str, client: &str| {
            format!(
                "apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {{name: {config}}}
webhooks:
- name: namespace.sidecar-injector.istio.io
  clientConfig: {client}
  sideEffects: None
  admissionReviewVersions: [v1]
  failurePolicy: Fail
  rules: [{{operations: [CREATE], apiGroups: [\"\"], apiVersions: [v1], resources: [pods]}}]
---
"
            )
        };
        let text = format!(
            "{}{}",
            hook("a", "{url: \"https://127.0.0.1:1111/inject\"}"),
            hook(
                "b",
                "{service: {name: istiod-b, namespace: istio-system, path: /inject}}"
            )
        );
        let mut state = ClusterState::default();
        crate::source::offline::load_text(
            &mut state,
            "t.yaml",
            &text,
            &crate::source::offline::LoadOptions::default(),
        )
        .unwrap();
        state
    }

    #[test]
    fn rejections_are_attributed_to_the_webhook_the_message_points_at() {
        let state = state_with_two_injectors();
        let engine = Engine::new(&state, crate::engine::EngineOptions::default());

        let by_url = "Internal error occurred: failed calling webhook \"namespace.sidecar-injector.istio.io\": Post \"https://127.0.0.1:1111/inject?timeout=10s\": dial tcp 127.0.0.1:1111: connect: connection refused";
        let f = attribute_rejection(&engine, by_url).unwrap();
        assert_eq!(f.object.name, "a");
        assert_eq!(
            f.check, "webhook-call-failed",
            "a URL webhook has no endpoints to check"
        );
        assert!(
            f.message.contains("https://127.0.0.1:1111/inject"),
            "{}",
            f.message
        );
        assert_eq!(f.evidence[0].observed, by_url);

        let by_service = "Internal error occurred: failed calling webhook \"namespace.sidecar-injector.istio.io\": Post \"https://istiod-b.istio-system.svc:443/inject?timeout=10s\": dial tcp 10.96.0.7:443: connect: connection refused";
        let f = attribute_rejection(&engine, by_service).unwrap();
        assert_eq!(f.object.name, "b");
        assert_eq!(f.check, "webhook-endpoints-not-ready");

        let untrusted = by_url.replace(
            "dial tcp 127.0.0.1:1111: connect: connection refused",
            "x509: certificate signed by unknown authority",
        );
        let f = attribute_rejection(&engine, &untrusted).unwrap();
        assert_eq!(
            (f.check.as_str(), f.object.name.as_str()),
            ("cabundle-mismatch", "a")
        );
        assert!(
            f.fix.contains("/webhooks/0/clientConfig/caBundle"),
            "{}",
            f.fix
        );

        assert!(attribute_rejection(&engine, "pods \"x\" is forbidden").is_none());
    }

    #[test]
    fn linkerd_containers_are_listed_in_run_order() {
        let pod = json!({"spec": {
            "initContainers": [{"name": "linkerd-init"}, {"name": "linkerd-proxy"}, {"name": "setup"}],
            "containers": [{"name": "app"}, {"name": "linkerd-debug"}],
        }});
        assert_eq!(
            mesh_containers_in(&pod),
            ["init:linkerd-init", "init:linkerd-proxy", "linkerd-debug"]
        );
        assert_eq!(sidecar_in(&pod), Some("linkerd-proxy"));
    }

    #[test]
    fn linkerd_container_differences_name_the_setting() {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cni = linkerd_container_hint(
            &v(&["init:linkerd-init", "init:linkerd-proxy"]),
            &v(&["init:linkerd-network-validator", "init:linkerd-proxy"]),
        );
        assert!(cni.unwrap().contains("cniEnabled"));
        let native = linkerd_container_hint(
            &v(&["init:linkerd-init", "init:linkerd-proxy"]),
            &v(&["init:linkerd-init", "linkerd-proxy"]),
        );
        assert!(native.unwrap().contains("nativeSidecar"));
        let same = v(&["init:linkerd-init", "init:linkerd-proxy"]);
        assert_eq!(linkerd_container_hint(&same, &same), None);
    }

    /// A Linkerd pod as meshdoctor predicts it and as an API server returns it (its defaults
    /// added, quantities rewritten canonically): no difference.
    #[test]
    fn a_predicted_linkerd_pod_matches_the_servers_defaulted_copy() {
        use crate::mesh::linkerd::render::{Origin, Values, Workload, apply_patch, pod_patch};
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": "web-", "namespace": "shop"},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]}});
        let mut values = Values::chart_defaults();
        values.linkerd_version = "edge-26.8.3".into();
        values.identity_trust_anchors_pem =
            "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n".into();
        values.proxy.resources.cpu.limit = "1000m".into();
        let w =
            Workload::from_object(&pod, "linkerd", Some(("pod", "web")), Origin::Webhook).unwrap();
        let patch = pod_patch(&values, &w, "linkerd", true).unwrap();
        let mut predicted = apply_patch(&pod, &patch.ops).unwrap();
        crate::mesh::linkerd::render::omitempty::drop_nulls(&mut predicted);
        let mut actual = predicted.clone();
        for list in ["initContainers", "containers"] {
            for c in actual["spec"][list].as_array_mut().unwrap() {
                // The server defaults only what is absent.
                let c_obj = c.as_object_mut().unwrap();
                c_obj
                    .entry("terminationMessagePath")
                    .or_insert(json!("/dev/termination-log"));
                c_obj
                    .entry("terminationMessagePolicy")
                    .or_insert(json!("File"));
                if c["name"] == "linkerd-proxy" {
                    c["resources"]["limits"]["cpu"] = json!("1");
                }
            }
        }
        actual["metadata"]["name"] = json!("web-x7k2p");
        actual["spec"]["dnsPolicy"] = json!("ClusterFirst");
        let diff = compare_pods(&predicted, &actual);
        assert!(diff.matches, "{:?}", diff.differences);
        assert_eq!(
            mesh_containers_in(&predicted),
            ["init:linkerd-init", "init:linkerd-proxy"]
        );
        // The network validator in the cluster's pod is a difference, with its cause.
        let mut cni = actual.clone();
        cni["spec"]["initContainers"][0]["name"] = json!("linkerd-network-validator");
        assert!(!compare_pods(&predicted, &cni).matches);
        assert!(
            linkerd_container_hint(&mesh_containers_in(&predicted), &mesh_containers_in(&cni))
                .is_some()
        );
    }

    #[test]
    fn quantities_compare_by_value() {
        assert!(same_quantity(&json!("2000m"), &json!("2")));
        assert!(same_quantity(&json!("1Gi"), &json!("1024Mi")));
        assert!(!same_quantity(&json!("100m"), &json!("1")));
        assert!(!same_quantity(&json!("abc"), &json!("abc")));
    }
}
