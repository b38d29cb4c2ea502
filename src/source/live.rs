//! Reads cluster state from the API server through kube-rs, read-only, and only the kinds the
//! command needs.
//!
//! The request budget is the point of this module: every kind is read with one paginated LIST
//! (`limit` + `continue`) per namespace it is needed in, never one request per pod, and the
//! LISTs run concurrently. `explain` GETs its target, the target's namespace and its owner chain
//! instead of listing. The mesh namespaces (where the injector webhooks' services live, plus
//! `istio-system`) are only known once the webhook configurations are read, so their LISTs
//! (ConfigMaps, Secrets, istiod's Deployment) start as soon as that one LIST returns, while the
//! others are still paging.
//!
//! Faults degrade per kind: a 403, a kind the server does not serve, a continue token that
//! expired twice, a server error that outlives the retries or a request that outlasts
//! `--request-timeout` make that kind [`KindAvailability::Unavailable`] with a reason, and the
//! checks that need it are skipped with that reason. Only what makes the whole answer
//! meaningless is fatal: the server cannot be reached, TLS fails, the credentials are rejected,
//! `explain`'s own inputs cannot be read, or no kind could be read at all.
//!
//! Secrets are reduced to their public certificates as each page arrives; private keys are never
//! kept beyond the page that carried them, and `managedFields` are dropped from every object.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, LimitRange, Namespace, Node, Pod, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use kube::Resource;
use kube::api::{GetParams, ListParams};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::slim::Slim;
use crate::check::unavailable::UnreadInput;
use crate::mesh::istio::install::{
    DEFAULT_NAMESPACE as ISTIO_NAMESPACE, is_istio_injector_webhook,
};
use crate::mesh::linkerd::is_linkerd_injector_webhook;
use crate::origin::Origin;
use crate::progress::Progress;
use crate::state::{ClusterState, Kind, KindAvailability, plural};

/// The annotation `kubectl apply` leaves on objects: on a Secret it holds the private key.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// How to reach the cluster and how patient to be.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// `--kubeconfig`; otherwise `KUBECONFIG` (colon-separated files are merged), then
    /// `~/.kube/config`, then the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`; otherwise the kubeconfig's current context.
    pub context: Option<String>,
    /// `--request-timeout`: the longest one request (connect, send, whole body) may take.
    pub request_timeout: Option<Duration>,
    /// Show a progress line on stderr (the CLI decides with [`crate::progress::Context`]).
    pub progress: bool,
    /// Items per LIST page (kubectl uses 500).
    pub page_size: u32,
    /// Retries after a 429 or 5xx answer, with exponential back-off from `backoff`.
    pub retries: u32,
    pub backoff: Duration,
    /// Drop from each listed object, as its page arrives, the fields no check or verdict reads
    /// ([`super::slim`]); `check` sets it.
    pub slim: bool,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            kubeconfig: None,
            context: None,
            request_timeout: None,
            progress: false,
            page_size: 500,
            retries: 4,
            backoff: Duration::from_millis(200),
            slim: false,
        }
    }
}

/// Why the cluster could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    /// No usable kubeconfig or in-cluster configuration (a usage problem, exit 2).
    #[error("{0}")]
    Config(String),
    /// The API server could not be reached, TLS failed or a request timed out (exit 3).
    #[error("cannot reach the API server at {server}: {cause}")]
    Unreachable { server: String, cause: String },
    /// The server answered, but nothing meaningful can be read (credentials rejected, the
    /// target itself forbidden) (exit 3).
    #[error("{0}")]
    Refused(String),
}

/// What a command needs from the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// `explain KIND/NAME`: the object, its namespace, its owner chain, the webhook
    /// configurations and the mesh namespaces' injector ConfigMaps and istiod Deployments.
    Target {
        kind: Kind,
        namespace: String,
        name: String,
    },
    /// `check`, `snapshot`: these kinds in one namespace (`Some`) or all (`None`), plus what the
    /// engine needs from the mesh namespaces.
    Scan {
        namespace: Option<String>,
        kinds: BTreeSet<Kind>,
    },
}

/// The kinds the engine reads for any decision: namespaces (labels), webhook configurations,
/// injector ConfigMaps, pods and their workloads, istiod's Deployment (its version and its
/// `ENABLE_NATIVE_SIDECARS`) and the Nodes (their kubelet versions decide native sidecars).
pub const ENGINE_KINDS: [Kind; 11] = [
    Kind::Namespace,
    Kind::MutatingWebhookConfiguration,
    Kind::ConfigMap,
    Kind::Pod,
    Kind::Deployment,
    Kind::StatefulSet,
    Kind::DaemonSet,
    Kind::ReplicaSet,
    Kind::Job,
    Kind::CronJob,
    Kind::Node,
];

/// Kinds read only in the mesh namespaces, never cluster-wide: a cluster's Secrets are none of
/// meshdoctor's business beyond the mesh's certificates, and only the mesh's ConfigMaps matter.
const MESH_ONLY_KINDS: [Kind; 2] = [Kind::Secret, Kind::ConfigMap];

/// Kinds also read in the mesh namespaces when the scan covers one namespace: istiod's
/// Deployment and pods (its version), the injector's Service and endpoints.
const MESH_TOO_KINDS: [Kind; 5] = [
    Kind::Deployment,
    Kind::Pod,
    Kind::Service,
    Kind::Endpoints,
    Kind::EndpointSlice,
];

/// A connected client and what it is connected to.
#[derive(Clone)]
pub struct Cluster {
    client: kube::Client,
    /// The API server URL, for messages.
    pub server: String,
    /// The kubeconfig context (`None` in-cluster).
    pub context: Option<String>,
    /// The context's namespace (or the service account's in-cluster), `default` otherwise.
    pub default_namespace: String,
    opts: LiveOptions,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("server", &self.server)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// The client, for the one non-read request meshdoctor sends (`--server-dry-run`).
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// Builds the client from kubeconfig (or in-cluster). No request is sent yet.
    pub async fn connect(opts: LiveOptions) -> Result<Cluster, LiveError> {
        let kube_opts = kube::config::KubeConfigOptions {
            context: opts.context.clone(),
            ..Default::default()
        };
        let (mut config, context) = match &opts.kubeconfig {
            Some(path) => {
                let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                    LiveError::Config(format!("--kubeconfig {}: {}", path.display(), cause(&e)))
                })?;
                let context = opts.context.clone().or_else(|| kc.current_context.clone());
                let config = kube::Config::from_custom_kubeconfig(kc, &kube_opts)
                    .await
                    .map_err(|e| {
                        LiveError::Config(format!("--kubeconfig {}: {}", path.display(), cause(&e)))
                    })?;
                (config, context)
            }
            None => match kube::config::Kubeconfig::read() {
                Ok(kc) => {
                    let context = opts.context.clone().or_else(|| kc.current_context.clone());
                    let config = kube::Config::from_custom_kubeconfig(kc, &kube_opts)
                        .await
                        .map_err(|e| {
                            LiveError::Config(format!("{}: {}", kubeconfig_label(), cause(&e)))
                        })?;
                    (config, context)
                }
                Err(kc_err) => {
                    // A KUBECONFIG that names files which do not read is the user's mistake
                    // (kubectl stops there too), not a cue to try the in-cluster account.
                    if std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty()) {
                        return Err(LiveError::Config(format!(
                            "{}: {}",
                            kubeconfig_label(),
                            cause(&kc_err)
                        )));
                    }
                    if opts.context.is_some() {
                        return Err(LiveError::Config(format!(
                            "--context given but no kubeconfig could be read: {}",
                            cause(&kc_err)
                        )));
                    }
                    match kube::Config::incluster() {
                        Ok(config) => (config, None),
                        Err(_) => {
                            return Err(LiveError::Config(format!(
                                "no cluster to read: no kubeconfig ({}) and not running in a cluster; pass --kubeconfig, set KUBECONFIG, or read a captured state with --from",
                                cause(&kc_err)
                            )));
                        }
                    }
                }
            },
        };
        // Retries are ours (they cover 500 too, and are counted and bounded here).
        config.default_retry = false;
        // The whole request (connect, send, body) is bounded in `call`; only the connect
        // timeout is also kube's, so that a dead address fails as fast as the limit says.
        if let Some(t) = opts.request_timeout {
            config.connect_timeout = Some(t);
        }
        let server = config.cluster_url.to_string();
        let server = server.trim_end_matches('/').to_owned();
        let default_namespace = config.default_namespace.clone();
        let client = kube::Client::try_from(config).map_err(|e| LiveError::Unreachable {
            server: server.clone(),
            cause: cause(&e),
        })?;
        Ok(Cluster {
            client,
            server,
            context,
            default_namespace,
            opts,
        })
    }

    /// A description for `ClusterState::sources` and messages.
    pub fn describe(&self) -> String {
        match &self.context {
            Some(c) => format!("live: {} (context {c})", self.server),
            None => format!("live: {} (in-cluster)", self.server),
        }
    }

    /// Reads what `plan` needs into a new state.
    pub async fn read(&self, plan: &Plan) -> Result<ClusterState, LiveError> {
        let progress = Progress::new(self.opts.progress, "reading the cluster");
        let mut reader = Reader {
            cluster: self,
            tasks: tokio::task::JoinSet::new(),
            state: ClusterState::default(),
            availability: BTreeMap::new(),
            unread: Vec::new(),
            progress,
            slim: self.opts.slim,
        };
        let out = reader.run(plan).await;
        reader.progress.finish();
        out
    }

    /// Sends one request with the retry policy and the request timeout.
    async fn call<T, F, Fut>(&self, what: &Request, make: F) -> Result<T, Fault>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut attempt = 0u32;
        loop {
            let result = match self.opts.request_timeout {
                Some(t) => match tokio::time::timeout(t, make()).await {
                    Ok(r) => r,
                    Err(_) => return Err(Fault::Timeout(t)),
                },
                None => make().await,
            };
            let fault = match result {
                Ok(v) => return Ok(v),
                Err(e) => classify(e),
            };
            match fault {
                Fault::Server { .. } if attempt < self.opts.retries => {
                    let factor = 1u32 << attempt.min(6);
                    tokio::time::sleep(self.opts.backoff.saturating_mul(factor)).await;
                    attempt += 1;
                }
                Fault::Server { code, message } => {
                    return Err(Fault::Server {
                        code,
                        message: format!(
                            "{message} ({} attempts for {})",
                            attempt + 1,
                            what.describe()
                        ),
                    });
                }
                other => return Err(other),
            }
        }
    }

    /// One LIST, paged; restarts once from the beginning when the continue token expires.
    async fn list<T>(&self, req: &Request, progress: &Progress) -> Result<Vec<T>, Fault>
    where
        T: Resource<DynamicType = ()> + DeserializeOwned + Reduce + Slim + Send + 'static,
    {
        let path = T::url_path(&(), req.namespace.as_deref());
        let slim = self.opts.slim;
        let mut restarted = false;
        'restart: loop {
            let mut items: Vec<T> = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let mut lp = ListParams::default().limit(self.opts.page_size);
                if let Some(t) = &token {
                    lp = lp.continue_token(t);
                }
                if let Some(l) = &req.labels {
                    lp = lp.labels(l);
                }
                let page: Result<Page<T>, Fault> = self
                    .call(req, || {
                        let built = kube::core::Request::new(path.as_str()).list(&lp);
                        let client = self.client.clone();
                        async move {
                            client
                                .request::<Page<T>>(built.map_err(kube::Error::BuildRequest)?)
                                .await
                        }
                    })
                    .await;
                match page {
                    Ok(page) => {
                        progress.add(page.items.len());
                        // Reduced page by page: a Secret's private key does not outlive the
                        // page that carried it.
                        items.extend(page.items.into_iter().map(|o| {
                            let mut o = o.reduce();
                            if slim {
                                o.slim();
                            }
                            o
                        }));
                        match page.metadata.continue_ {
                            Some(c) if !c.is_empty() => token = Some(c),
                            _ => return Ok(items),
                        }
                    }
                    Err(Fault::Gone(_)) if token.is_some() && !restarted => {
                        restarted = true;
                        continue 'restart;
                    }
                    Err(Fault::Gone(m)) if token.is_some() => {
                        return Err(Fault::Gone(format!(
                            "the continue token expired again after a restart ({m})"
                        )));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// One GET; `None` when the object does not exist.
    async fn get<T>(&self, req: &Request, name: &str) -> Result<Option<T>, Fault>
    where
        T: Resource<DynamicType = ()> + DeserializeOwned + Reduce + Send + 'static,
    {
        let path = T::url_path(&(), req.namespace.as_deref());
        let got = self
            .call(req, || {
                let built =
                    kube::core::Request::new(path.as_str()).get(name, &GetParams::default());
                let client = self.client.clone();
                async move {
                    client
                        .request::<T>(built.map_err(kube::Error::BuildRequest)?)
                        .await
                }
            })
            .await;
        match got {
            Ok(v) => Ok(Some(Reduce::reduce(v))),
            Err(Fault::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// One page of a LIST answer. kube's `ObjectList` flattens its type fields, which makes serde
/// buffer the whole page before typing it; this reads the items straight into their types.
#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct Page<T> {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default = "Vec::new", deserialize_with = "null_as_empty")]
    items: Vec<T>,
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// What went wrong with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fault {
    Forbidden(String),
    NotFound(String),
    Gone(String),
    Unauthorized(String),
    /// 429 or 5xx: retried, then reported.
    Server {
        code: u16,
        message: String,
    },
    /// Any other answer the server gave (`code` is `None` when the answer did not decode).
    Other {
        code: Option<u16>,
        message: String,
    },
    Timeout(Duration),
    /// Connection, DNS or TLS failure.
    Transport(String),
}

fn classify(e: kube::Error) -> Fault {
    match e {
        kube::Error::Api(status) => {
            let message = if status.message.is_empty() {
                status.reason.clone()
            } else {
                status.message.clone()
            };
            match status.code {
                401 => Fault::Unauthorized(message),
                403 => Fault::Forbidden(message),
                404 => Fault::NotFound(message),
                410 => Fault::Gone(message),
                429 | 500..=599 => Fault::Server {
                    code: status.code,
                    message,
                },
                code => Fault::Other {
                    code: Some(code),
                    message,
                },
            }
        }
        kube::Error::SerdeError(e) => Fault::Other {
            code: None,
            message: format!("cannot decode the answer: {e}"),
        },
        other => Fault::Transport(cause(&other)),
    }
}

/// How the kubeconfig kube reads by default is named in errors: the KUBECONFIG files, or
/// the file in the home directory.
fn kubeconfig_label() -> String {
    match std::env::var("KUBECONFIG") {
        Ok(v) if !v.is_empty() => format!("kubeconfig {v}"),
        _ => "kubeconfig ~/.kube/config".to_owned(),
    }
}

/// An error and its causes as one line, each cause once (kube's and hyper's messages repeat
/// their sources).
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        // Errors are one line (a YAML parser's error also draws the source below it).
        let text = err.to_string();
        let text = text.lines().next().unwrap_or("").trim_end().to_owned();
        let text = text
            .trim_start_matches("ServiceError: ")
            .trim_start_matches("HyperError: ")
            .to_owned();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.retain(|p| !text.contains(p.as_str()));
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// What one request is for, to word messages (`cannot list secrets in istio-system`).
#[derive(Debug, Clone)]
struct Request {
    kind: Kind,
    verb: &'static str,
    namespace: Option<String>,
    labels: Option<String>,
    name: Option<String>,
}

impl Request {
    fn list(kind: Kind, namespace: Option<&str>) -> Request {
        Request {
            kind,
            verb: "list",
            namespace: namespace.map(str::to_owned),
            labels: None,
            name: None,
        }
    }

    fn get(kind: Kind, namespace: Option<&str>, name: &str) -> Request {
        Request {
            kind,
            verb: "get",
            namespace: namespace.map(str::to_owned),
            labels: None,
            name: Some(name.to_owned()),
        }
    }

    fn with_labels(mut self, labels: &str) -> Request {
        self.labels = Some(labels.to_owned());
        self
    }

    /// `list secrets in istio-system`, `get pods/web-1 in shop`, `list pods in all namespaces`.
    fn describe(&self) -> String {
        let what = match &self.name {
            Some(n) => format!("{}/{n}", plural(self.kind)),
            None => plural(self.kind),
        };
        match (&self.namespace, self.kind.namespaced()) {
            (Some(ns), _) => format!("{} {what} in {ns}", self.verb),
            (None, true) => format!("{} {what} in all namespaces", self.verb),
            (None, false) => format!("{} {what}", self.verb),
        }
    }

    /// The failed read for the reports' `unavailable` list, when `fault` leaves the kind out
    /// rather than ending the run.
    fn unread(&self, fault: &Fault) -> Option<UnreadInput> {
        let (status, reason) = match fault {
            Fault::Forbidden(m) => (Some(403), m.clone()),
            Fault::NotFound(m) => (Some(404), m.clone()),
            Fault::Gone(m) => (Some(410), m.clone()),
            Fault::Server { code, message } => (Some(*code), message.clone()),
            Fault::Other { code, message } => (*code, message.clone()),
            Fault::Timeout(t) => (None, timeout_reason(*t)),
            Fault::Unauthorized(_) | Fault::Transport(_) => return None,
        };
        Some(UnreadInput {
            kind: self.kind.name().to_owned(),
            namespace: self.namespace.clone(),
            request: self.describe(),
            status,
            reason,
        })
    }

    /// The reason a kind is unavailable after `fault`, or the fatal error.
    fn outcome(&self, fault: Fault, server: &str) -> Result<String, LiveError> {
        let what = self.describe();
        match fault {
            Fault::Forbidden(_) => Ok(format!("cannot {what}: forbidden")),
            Fault::NotFound(_) => Ok(format!(
                "cannot {what}: the API server does not serve {} ({} not found)",
                plural(self.kind),
                self.kind.api_versions().first().copied().unwrap_or("")
            )),
            Fault::Gone(m) => Ok(format!("cannot {what}: {m}")),
            Fault::Server { code, message } => Ok(format!(
                "cannot {what}: the API server answered {code}: {message}"
            )),
            Fault::Other {
                code: Some(code),
                message,
            } => Ok(format!("cannot {what}: {code} {message}")),
            Fault::Other {
                code: None,
                message,
            } => Ok(format!("cannot {what}: {message}")),
            Fault::Unauthorized(m) => Err(LiveError::Refused(format!(
                "the API server at {server} rejected the credentials (401 Unauthorized) to {what}: {m}"
            ))),
            // One slow kind (a huge LIST) leaves that kind out; a server that answers nothing
            // ends up with every kind out, which the reader turns into exit 3.
            Fault::Timeout(t) => Ok(format!(
                "cannot {what}: the API server at {server} gave {}",
                timeout_reason(t)
            )),
            Fault::Transport(m) => Err(LiveError::Unreachable {
                server: server.to_owned(),
                cause: transport_message(&m, &what),
            }),
        }
    }
}

fn timeout_reason(t: Duration) -> String {
    format!(
        "no answer within {} (--request-timeout)",
        format_duration(t)
    )
}

/// Says "TLS" or "timed out" up front: the raw chains bury it.
fn transport_message(m: &str, what: &str) -> String {
    let lower = m.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        format!("TLS failed: {m}")
    } else if lower.contains("timed out") || lower.contains("elapsed") {
        format!("no answer to {what} in time (--request-timeout): {m}")
    } else {
        m.to_owned()
    }
}

fn format_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The typed objects of one answer, whatever their kind.
macro_rules! kinds {
    ($($kind:ident => $ty:ty, $field:ident;)*) => {
        enum Items {
            $($kind(Vec<$ty>),)*
        }

        impl Items {
            fn len(&self) -> usize {
                match self { $(Items::$kind(v) => v.len(),)* }
            }

            /// Owner references (controller only) of the objects, for the explain chain.
            fn controllers(&self) -> Vec<(String, String)> {
                match self {
                    $(Items::$kind(v) => v.iter().flat_map(|o| controller_of(o.meta())).collect(),)*
                }
            }

            /// The services of mesh injector webhooks, when these are webhook configurations.
            fn mesh_namespaces(&self) -> Vec<String> {
                match self {
                    Items::MutatingWebhookConfiguration(v) => mesh_namespaces_of(v),
                    _ => Vec::new(),
                }
            }

            fn insert_into(self, state: &mut ClusterState) {
                match self {
                    $(Items::$kind(v) => {
                        for o in v {
                            state.$field.insert(o, Origin::Live);
                        }
                    })*
                }
            }
        }

        async fn list_any(c: &Cluster, req: &Request, p: &Progress) -> Result<Items, Fault> {
            match req.kind {
                $(Kind::$kind => Ok(Items::$kind(c.list::<$ty>(req, p).await?)),)*
            }
        }

        async fn get_any(c: &Cluster, req: &Request, name: &str) -> Result<Items, Fault> {
            match req.kind {
                $(Kind::$kind => Ok(Items::$kind(c.get::<$ty>(req, name).await?.into_iter().collect())),)*
            }
        }
    };
}

kinds! {
    Namespace => Namespace, namespaces;
    Pod => Pod, pods;
    Deployment => Deployment, deployments;
    StatefulSet => StatefulSet, statefulsets;
    DaemonSet => DaemonSet, daemonsets;
    ReplicaSet => ReplicaSet, replicasets;
    Job => Job, jobs;
    CronJob => CronJob, cronjobs;
    MutatingWebhookConfiguration => MutatingWebhookConfiguration, mutating_webhooks;
    ConfigMap => ConfigMap, configmaps;
    Secret => Secret, secrets;
    Service => Service, services;
    Endpoints => Endpoints, endpoints;
    EndpointSlice => EndpointSlice, endpoint_slices;
    Event => Event, events;
    NetworkPolicy => NetworkPolicy, network_policies;
    ResourceQuota => ResourceQuota, resource_quotas;
    LimitRange => LimitRange, limit_ranges;
    Node => Node, nodes;
}

/// What is dropped from each object as its page arrives: `managedFields` (never needed, often
/// the bulk of an object) and, from Secrets, everything but public certificates.
pub(crate) trait Reduce: Resource + Sized {
    fn reduce(mut self) -> Self {
        self.meta_mut().managed_fields = None;
        self
    }
}

macro_rules! keep_as_is {
    ($($ty:ty),*) => { $(impl Reduce for $ty {})* };
}

keep_as_is!(
    Namespace,
    Pod,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Job,
    CronJob,
    MutatingWebhookConfiguration,
    ConfigMap,
    Service,
    Endpoints,
    EndpointSlice,
    Event,
    NetworkPolicy,
    ResourceQuota,
    LimitRange
);

impl Reduce for Node {
    fn reduce(self) -> Self {
        kubelet_only(self)
    }
}

/// A Node with only its name and `status.nodeInfo.kubeletVersion`: all that Istio's
/// native-sidecar detection reads. The rest (addresses, images, conditions, labels) is large,
/// changes with every heartbeat and is none of meshdoctor's business.
pub fn kubelet_only(n: Node) -> Node {
    use k8s_openapi::api::core::v1::{NodeStatus, NodeSystemInfo};
    let kubelet_version = n
        .status
        .and_then(|s| s.node_info)
        .map(|i| i.kubelet_version)
        .unwrap_or_default();
    Node {
        metadata: ObjectMeta {
            name: n.metadata.name,
            ..ObjectMeta::default()
        },
        spec: None,
        status: Some(NodeStatus {
            node_info: Some(NodeSystemInfo {
                kubelet_version,
                ..NodeSystemInfo::default()
            }),
            ..NodeStatus::default()
        }),
    }
}

impl Reduce for Secret {
    fn reduce(mut self) -> Self {
        self.metadata.managed_fields = None;
        public_secret(self)
    }
}

/// A Secret with only public certificates: each data value that holds PEM keeps its
/// `CERTIFICATE` blocks, every other value (private keys, tokens, passwords) is dropped, and
/// so are `stringData` and the last-applied annotation (which repeats the data).
pub fn public_secret(mut s: Secret) -> Secret {
    s.string_data = None;
    if let Some(data) = s.data.take() {
        let kept: BTreeMap<String, ByteString> = data
            .into_iter()
            .filter_map(|(k, v)| {
                let text = std::str::from_utf8(&v.0).ok()?;
                let certs = crate::pki::public_certs_only(text);
                (!certs.is_empty()).then(|| (k, ByteString(certs.into_bytes())))
            })
            .collect();
        s.data = Some(kept);
    }
    if let Some(a) = s.metadata.annotations.as_mut() {
        a.remove(LAST_APPLIED);
    }
    s
}

/// The controller owner of an object, when it is a kind meshdoctor models.
fn controller_of(meta: &ObjectMeta) -> Option<(String, String)> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
        .map(|r| (r.kind.clone(), r.name.clone()))
}

/// Namespaces of the services behind mesh injector webhooks.
pub(crate) fn mesh_namespaces_of(configs: &[MutatingWebhookConfiguration]) -> Vec<String> {
    let mut out = Vec::new();
    for cfg in configs {
        let cfg_name = cfg.metadata.name.as_deref().unwrap_or("");
        for wh in cfg.webhooks.iter().flatten() {
            if (is_istio_injector_webhook(&wh.name)
                || is_linkerd_injector_webhook(cfg_name, &wh.name))
                && let Some(svc) = &wh.client_config.service
            {
                out.push(svc.namespace.clone());
            }
        }
    }
    out
}

/// What a task was asked and what it got.
struct Done {
    req: Request,
    result: Result<Items, Fault>,
}

/// One `read`: the tasks in flight and what they have gathered.
struct Reader<'c> {
    cluster: &'c Cluster,
    tasks: tokio::task::JoinSet<Done>,
    state: ClusterState,
    /// Per kind: `None` while fine, the reasons it could not be read otherwise.
    availability: BTreeMap<Kind, Vec<String>>,
    /// The failed reads that left a kind out, for the reports.
    unread: Vec<UnreadInput>,
    progress: Progress,
    /// Whether the lists slim their objects: asked for (`LiveOptions::slim`) and no webhook
    /// needs whole pods.
    slim: bool,
}

impl Reader<'_> {
    fn spawn_list(&mut self, req: Request) {
        let mut c = self.cluster.clone();
        c.opts.slim = self.slim;
        let p = self.progress.clone();
        self.tasks.spawn(async move {
            let result = list_any(&c, &req, &p).await;
            Done { req, result }
        });
    }

    fn spawn_get(&mut self, req: Request) {
        let c = self.cluster.clone();
        self.tasks.spawn(async move {
            let name = req.name.clone().unwrap_or_default();
            let result = get_any(&c, &req, &name).await;
            Done { req, result }
        });
    }

    async fn run(&mut self, plan: &Plan) -> Result<ClusterState, LiveError> {
        // A slimmed read lists the webhook configurations before anything else: a webhook
        // with matchConditions needs whole pods (`slim::needs_whole_pods`), and deciding first
        // costs one small request where reading again would list every pod twice.
        let webhooks_first = if self.slim {
            let req = Request::list(Kind::MutatingWebhookConfiguration, None);
            let result = list_any(self.cluster, &req, &self.progress).await;
            if let Ok(Items::MutatingWebhookConfiguration(configs)) = &result
                && super::slim::needs_whole_pods(configs)
            {
                self.slim = false;
            }
            Some(Done { req, result })
        } else {
            None
        };
        self.state.slimmed = self.slim;
        let mut mesh_kinds: BTreeSet<Kind> = BTreeSet::new();
        let scope: Option<String>;
        match plan {
            Plan::Target {
                kind,
                namespace,
                name,
            } => {
                scope = Some(namespace.clone());
                self.spawn_get(Request::get(*kind, Some(namespace), name));
                self.spawn_get(Request::get(Kind::Namespace, None, namespace));
                mesh_kinds.extend([Kind::ConfigMap, Kind::Deployment, Kind::Pod]);
                for k in [Kind::Namespace, *kind, Kind::ConfigMap] {
                    self.availability.entry(k).or_default();
                }
                // Nodes are optional: without them the native-sidecar layout is assumed, and
                // the trace says so.
                self.availability.entry(Kind::Node).or_default();
                self.spawn_list(Request::list(Kind::Node, None));
            }
            Plan::Scan { namespace, kinds } => {
                scope = namespace.clone();
                for &k in kinds {
                    self.availability.entry(k).or_default();
                    if k == Kind::MutatingWebhookConfiguration || MESH_ONLY_KINDS.contains(&k) {
                        continue;
                    }
                    match (k, namespace) {
                        (Kind::Namespace, Some(ns)) => {
                            self.spawn_get(Request::get(Kind::Namespace, None, ns));
                        }
                        (k, ns) => self
                            .spawn_list(Request::list(k, ns.as_deref().filter(|_| k.namespaced()))),
                    }
                }
                for &k in MESH_ONLY_KINDS.iter().chain(MESH_TOO_KINDS.iter()) {
                    if kinds.contains(&k) {
                        mesh_kinds.insert(k);
                    }
                }
            }
        }
        self.availability
            .entry(Kind::MutatingWebhookConfiguration)
            .or_default();
        match webhooks_first {
            Some(done) => drop(self.tasks.spawn(async move { done })),
            None => self.spawn_list(Request::list(Kind::MutatingWebhookConfiguration, None)),
        }

        let mut fetched_owners: BTreeSet<(String, String)> = BTreeSet::new();
        let mut first_error: Option<LiveError> = None;
        while let Some(joined) = self.tasks.join_next().await {
            let Ok(done) = joined else {
                // A task panicked or was cancelled: nothing sensible can be reported from it.
                continue;
            };
            let Done { req, result } = done;
            match result {
                Ok(items) => {
                    self.progress
                        .note(format!("({} {} read)", items.len(), plural(req.kind)));
                    if req.kind == Kind::MutatingWebhookConfiguration {
                        self.spawn_mesh(
                            &items.mesh_namespaces(),
                            &mesh_kinds,
                            scope.as_deref(),
                            plan,
                        );
                    }
                    if let Plan::Target { namespace, .. } = plan
                        && req.verb == "get"
                        && req.kind != Kind::Namespace
                    {
                        for (owner_kind, owner_name) in items.controllers() {
                            if let Some(k) = Kind::parse_user(&owner_kind)
                                && fetched_owners.insert((owner_kind.clone(), owner_name.clone()))
                                && fetched_owners.len() <= 8
                            {
                                self.availability.entry(k).or_default();
                                self.spawn_get(Request::get(k, Some(namespace), &owner_name));
                            }
                        }
                    }
                    items.insert_into(&mut self.state);
                }
                Err(fault) => {
                    if req.kind == Kind::MutatingWebhookConfiguration {
                        // Without the webhooks, the mesh namespaces are Istio's and Linkerd's
                        // defaults.
                        self.spawn_mesh(
                            &[ISTIO_NAMESPACE.to_owned(), "linkerd".to_owned()],
                            &mesh_kinds,
                            scope.as_deref(),
                            plan,
                        );
                    }
                    // explain cannot say anything without its target, the target's namespace
                    // (its labels) or the webhook configurations: those are not optional.
                    let is_target = matches!(plan, Plan::Target { kind, name, namespace }
                        if (*kind == req.kind && req.name.as_deref() == Some(name.as_str()))
                            || (req.kind == Kind::Namespace
                                && req.name.as_deref() == Some(namespace.as_str()))
                            || req.kind == Kind::MutatingWebhookConfiguration);
                    let unread = req.unread(&fault);
                    match req.outcome(fault, &self.cluster.server) {
                        Ok(reason) if is_target => {
                            first_error.get_or_insert(LiveError::Refused(reason));
                            self.tasks.abort_all();
                        }
                        Ok(reason) => {
                            self.availability.entry(req.kind).or_default().push(reason);
                            self.unread.extend(unread);
                        }
                        Err(fatal) => {
                            first_error.get_or_insert(fatal);
                            self.tasks.abort_all();
                        }
                    }
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        // Nothing at all could be read: there is nothing to evaluate (exit 3), not a report
        // made only of skips.
        if !self.availability.is_empty() && self.availability.values().all(|r| !r.is_empty()) {
            let first = self
                .availability
                .values()
                .flatten()
                .next()
                .cloned()
                .unwrap_or_default();
            return Err(LiveError::Refused(format!(
                "nothing could be read from the API server at {}: {first}",
                self.cluster.server
            )));
        }
        let mut state = std::mem::take(&mut self.state);
        for (kind, reasons) in std::mem::take(&mut self.availability) {
            let a = if reasons.is_empty() {
                KindAvailability::Loaded
            } else {
                KindAvailability::Unavailable(reasons.join("; "))
            };
            state.loaded_kinds.insert(kind, a);
        }
        state.unread = std::mem::take(&mut self.unread);
        state.unread.sort();
        state.sources.push(self.cluster.describe());
        // LISTs finish in any order; sort so that results never depend on timing.
        state.sort();
        Ok(state)
    }

    /// Starts the LISTs in the mesh namespaces, once the webhook configurations are known.
    fn spawn_mesh(
        &mut self,
        found: &[String],
        mesh_kinds: &BTreeSet<Kind>,
        scope: Option<&str>,
        plan: &Plan,
    ) {
        let mut namespaces: BTreeSet<String> = found.iter().cloned().collect();
        namespaces.insert(ISTIO_NAMESPACE.to_owned());
        for ns in &namespaces {
            for &k in mesh_kinds {
                // A scan already lists these kinds in its scope.
                let listed_in_scope = matches!(plan, Plan::Scan { .. })
                    && MESH_TOO_KINDS.contains(&k)
                    && (scope.is_none() || scope == Some(ns.as_str()));
                if listed_in_scope {
                    continue;
                }
                self.availability.entry(k).or_default();
                let mut req = Request::list(k, Some(ns));
                if matches!(plan, Plan::Target { .. }) && k == Kind::Pod {
                    // explain only needs istiod's pods (its version when no Deployment says it).
                    req = req.with_labels("app=istiod");
                }
                self.spawn_list(req);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_keep_only_name_and_kubelet_version() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "n1", "labels": {"zone": "a"}, "managedFields": [{}]},
            "spec": {"podCIDR": "10.0.0.0/24"},
            "status": {"nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "linux",
                "architecture": "amd64", "bootID": "b", "containerRuntimeVersion": "c",
                "kernelVersion": "k", "kubeProxyVersion": "", "machineID": "m",
                "operatingSystem": "linux", "systemUUID": "u"},
                "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}
        }))
        .unwrap();
        let v = serde_json::to_value(node.reduce()).unwrap();
        assert_eq!(v["metadata"], serde_json::json!({"name": "n1"}));
        assert!(v.get("spec").is_none());
        assert_eq!(v["status"]["nodeInfo"]["kubeletVersion"], "v1.33.1");
        assert_eq!(v["status"]["nodeInfo"]["osImage"], "");
        assert!(v["status"].get("addresses").is_none());
    }

    fn pem_secret() -> Secret {
        let cert =
            "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUYQ==\n-----END CERTIFICATE-----\n";
        let key =
            "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgE=\n-----END PRIVATE KEY-----\n";
        Secret {
            metadata: ObjectMeta {
                name: Some("cacerts".into()),
                namespace: Some("istio-system".into()),
                annotations: Some(BTreeMap::from([(
                    LAST_APPLIED.to_owned(),
                    "{\"data\":{}}".to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([
                ("ca-cert.pem".to_owned(), ByteString(cert.into())),
                ("ca-key.pem".to_owned(), ByteString(key.into())),
                (
                    "bundle.pem".to_owned(),
                    ByteString(format!("{key}{cert}").into()),
                ),
                ("token".to_owned(), ByteString(b"abc".to_vec())),
            ])),
            string_data: Some(BTreeMap::from([("x".to_owned(), "y".to_owned())])),
            ..Secret::default()
        }
    }

    #[test]
    fn secrets_keep_only_certificates() {
        let s = public_secret(pem_secret());
        let data = s.data.unwrap();
        let keys: Vec<&str> = data.keys().map(String::as_str).collect();
        assert_eq!(keys, ["bundle.pem", "ca-cert.pem"]);
        for v in data.values() {
            let text = std::str::from_utf8(&v.0).unwrap();
            assert!(text.contains("BEGIN CERTIFICATE"), "{text}");
            assert!(!text.contains("PRIVATE KEY"), "{text}");
        }
        assert!(s.string_data.is_none());
        assert!(s.metadata.annotations.unwrap().is_empty());
    }

    #[test]
    fn requests_are_described_as_rbac_speaks() {
        assert_eq!(
            Request::list(Kind::Secret, Some("istio-system")).describe(),
            "list secrets in istio-system"
        );
        assert_eq!(
            Request::list(Kind::Pod, None).describe(),
            "list pods in all namespaces"
        );
        assert_eq!(
            Request::list(Kind::MutatingWebhookConfiguration, None).describe(),
            "list mutatingwebhookconfigurations"
        );
        assert_eq!(
            Request::get(Kind::Deployment, Some("shop"), "web").describe(),
            "get deployments/web in shop"
        );
    }

    #[test]
    fn faults_become_reasons_or_fatal_errors() {
        let req = Request::list(Kind::Secret, Some("istio-system"));
        let server = "https://10.0.0.1:6443";
        assert_eq!(
            req.outcome(Fault::Forbidden("x".into()), server),
            Ok("cannot list secrets in istio-system: forbidden".to_owned())
        );
        let nf = req.outcome(Fault::NotFound("x".into()), server).unwrap();
        assert!(nf.contains("does not serve secrets (v1 not found)"), "{nf}");
        assert!(matches!(
            req.outcome(Fault::Unauthorized("bad token".into()), server),
            Err(LiveError::Refused(m)) if m.contains("401")
        ));
        assert_eq!(
            req.outcome(Fault::Timeout(Duration::from_millis(1500)), server),
            Ok("cannot list secrets in istio-system: the API server at https://10.0.0.1:6443 gave no answer within 1500ms (--request-timeout)".to_owned())
        );
        let tls = req
            .outcome(
                Fault::Transport("invalid peer certificate: UnknownIssuer".into()),
                server,
            )
            .unwrap_err();
        assert!(
            tls.to_string()
                .contains("TLS failed: invalid peer certificate"),
            "{tls}"
        );
    }

    #[test]
    fn failed_reads_keep_the_status_and_the_servers_words() {
        let req = Request::list(Kind::Secret, Some("istio-system"));
        let u = req
            .unread(&Fault::Forbidden("secrets is forbidden".into()))
            .unwrap();
        assert_eq!(u.kind, "Secret");
        assert_eq!(u.namespace.as_deref(), Some("istio-system"));
        assert_eq!(u.request, "list secrets in istio-system");
        assert_eq!(
            (u.status, u.reason.as_str()),
            (Some(403), "secrets is forbidden")
        );
        let crd = Request::list(Kind::EndpointSlice, None)
            .unread(&Fault::NotFound("not found".into()))
            .unwrap();
        assert_eq!((crd.namespace, crd.status), (None, Some(404)));
        let slow = req.unread(&Fault::Timeout(Duration::from_secs(1))).unwrap();
        assert_eq!(
            (slow.status, slow.reason.as_str()),
            (None, "no answer within 1s (--request-timeout)")
        );
        // What ends the run is an error, not an entry.
        assert_eq!(req.unread(&Fault::Unauthorized("x".into())), None);
    }

    #[test]
    fn api_statuses_are_classified() {
        let status = |code: u16| {
            kube::Error::Api(
                kube::core::Status::failure("m", "R")
                    .with_code(code)
                    .boxed(),
            )
        };
        assert_eq!(classify(status(403)), Fault::Forbidden("m".into()));
        assert_eq!(classify(status(410)), Fault::Gone("m".into()));
        assert!(matches!(
            classify(status(429)),
            Fault::Server { code: 429, .. }
        ));
        assert!(matches!(
            classify(status(503)),
            Fault::Server { code: 503, .. }
        ));
        assert_eq!(
            classify(status(422)),
            Fault::Other {
                code: Some(422),
                message: "m".into()
            }
        );
    }

    #[test]
    fn causes_are_joined_once() {
        #[derive(Debug)]
        struct E(&'static str, Option<Box<E>>);
        impl std::fmt::Display for E {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for E {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|e| e as _)
            }
        }
        let e = E(
            "ServiceError: client error (Connect): refused",
            Some(Box::new(E("refused", None))),
        );
        assert_eq!(cause(&e), "client error (Connect): refused");
    }
}
