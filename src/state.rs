//! `ClusterState`: the typed Kubernetes objects meshdoctor reasons about, indexed by namespace and
//! name, each remembering where it came from. Sources (files, the live cluster) fill it; the
//! engine and the checks only read it.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, LimitRange, Namespace, Node, Pod, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::origin::Origin;

/// One object and where it came from.
#[derive(Debug, Clone)]
pub struct Object<T> {
    pub obj: T,
    pub origin: Origin,
}

/// An object of a kind meshdoctor does not model; kept so it can be reported, never fatal.
#[derive(Debug, Clone)]
pub struct UnknownObject {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub raw: Value,
}

/// Objects of one kind, in input order, with an index by (namespace, name).
#[derive(Debug, Clone)]
pub struct Store<T> {
    items: Vec<Object<T>>,
    /// Namespace → name → position in `items`; nested so that a lookup borrows its key.
    index: HashMap<String, HashMap<String, usize>>,
    /// Whether `items` is in (namespace, name) order, so a namespace is a contiguous range.
    sorted: bool,
}

impl<T> Default for Store<T> {
    fn default() -> Self {
        Store {
            items: Vec::new(),
            index: HashMap::new(),
            sorted: true,
        }
    }
}

impl<T: k8s_openapi::Metadata<Ty = ObjectMeta>> Store<T> {
    /// Adds an object; a later object with the same namespace and name replaces the earlier one
    /// (as a later `kubectl apply` would), keeping the first one's position.
    pub fn insert(&mut self, obj: T, origin: Origin) {
        let (namespace, name) = key_of(obj.metadata());
        let slot = self
            .index
            .entry(namespace)
            .or_default()
            .entry(name)
            .or_insert(self.items.len());
        match self.items.get_mut(*slot) {
            Some(existing) => *existing = Object { obj, origin },
            None => {
                self.sorted = false;
                self.items.push(Object { obj, origin });
            }
        }
    }

    pub fn get(&self, namespace: Option<&str>, name: &str) -> Option<&Object<T>> {
        let i = *self.index.get(namespace.unwrap_or(""))?.get(name)?;
        self.items.get(i)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Object<T>> {
        self.items.iter()
    }

    /// Objects in one namespace (`None` = all namespaces). Once sorted, a namespace is found by
    /// binary search rather than a scan: checks ask per namespace, and a large cluster has
    /// hundreds of namespaces.
    pub fn in_namespace<'a>(
        &'a self,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Object<T>> + 'a {
        let range = match namespace {
            Some(ns) if self.sorted => {
                let start = self.items.partition_point(|o| namespace_of(o) < ns);
                let end = self.items.partition_point(|o| namespace_of(o) <= ns);
                start..end
            }
            _ => 0..self.items.len(),
        };
        self.items
            .get(range)
            .unwrap_or_default()
            .iter()
            .filter(move |o| match namespace {
                None => true,
                Some(ns) => o.obj.metadata().namespace.as_deref() == Some(ns),
            })
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Removes an object (a watch's delete). The last object takes its place, so the store is
    /// out of order until the next [`Store::sort`]: a delete costs O(1), not a shift of every
    /// later object.
    pub fn remove(&mut self, namespace: Option<&str>, name: &str) -> Option<Object<T>> {
        let ns = namespace.unwrap_or("");
        let names = self.index.get_mut(ns)?;
        let i = names.remove(name)?;
        if names.is_empty() {
            self.index.remove(ns);
        }
        let removed = self.items.swap_remove(i);
        if let Some(moved) = self.items.get(i) {
            let meta = moved.obj.metadata();
            if let Some(slot) = self
                .index
                .get_mut(meta.namespace.as_deref().unwrap_or(""))
                .and_then(|names| names.get_mut(meta.name.as_deref().unwrap_or("")))
            {
                *slot = i;
            }
            self.sorted = false;
        }
        Some(removed)
    }

    /// Keeps only the objects `keep` accepts (a watch that relisted replaces its scope).
    pub fn retain(&mut self, mut keep: impl FnMut(&Object<T>) -> bool) {
        let before = self.items.len();
        self.items.retain(|o| keep(o));
        if self.items.len() == before {
            return;
        }
        self.index.clear();
        for (i, o) in self.items.iter().enumerate() {
            let (namespace, name) = key_of(o.obj.metadata());
            self.index.entry(namespace).or_default().insert(name, i);
        }
    }

    /// Orders the objects by namespace and name, as the API server lists them, so that what a
    /// check reports first does not depend on file order or on which LIST finished first.
    pub fn sort(&mut self) {
        // Sort a permutation by borrowed keys, then move each object once: objects are large
        // (a typed pod is kilobytes), and a 50,000-pod snapshot must not pay for a key clone
        // per comparison or a merge sort's moves.
        if self.sorted {
            return;
        }
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        if order.is_sorted_by(|&a, &b| self.sort_key(a) <= self.sort_key(b)) {
            self.sorted = true;
            return;
        }
        order.sort_by(|&a, &b| self.sort_key(a).cmp(&self.sort_key(b)));
        self.sorted = true;
        let mut slots: Vec<Option<Object<T>>> = self.items.drain(..).map(Some).collect();
        self.items.extend(
            order
                .iter()
                .filter_map(|&i| slots.get_mut(i).and_then(Option::take)),
        );
        for (i, o) in self.items.iter().enumerate() {
            let meta = o.obj.metadata();
            if let Some(slot) = self
                .index
                .get_mut(meta.namespace.as_deref().unwrap_or(""))
                .and_then(|names| names.get_mut(meta.name.as_deref().unwrap_or("")))
            {
                *slot = i;
            }
        }
    }

    fn sort_key(&self, i: usize) -> (&str, &str) {
        self.items.get(i).map_or(("", ""), |o| {
            let meta = o.obj.metadata();
            (
                meta.namespace.as_deref().unwrap_or(""),
                meta.name.as_deref().unwrap_or(""),
            )
        })
    }

    /// Makes room for `additional` more objects (a loader that knows how many are coming).
    pub fn reserve(&mut self, additional: usize) {
        self.items.reserve(additional);
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

fn namespace_of<T: k8s_openapi::Metadata<Ty = ObjectMeta>>(o: &Object<T>) -> &str {
    o.obj.metadata().namespace.as_deref().unwrap_or("")
}

fn key_of(meta: &ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// The kinds meshdoctor reads. The set of kinds is the contract between sources and checks:
/// live mode lists only the kinds the chosen command needs, offline mode keeps whatever it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
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
    Secret,
    Service,
    Endpoints,
    EndpointSlice,
    Event,
    NetworkPolicy,
    ResourceQuota,
    LimitRange,
    /// Nodes, reduced to name and kubelet version: Istio's native-sidecar `auto` mode reads them.
    Node,
}

impl Kind {
    pub const ALL: [Kind; 19] = [
        Kind::Namespace,
        Kind::Pod,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::ReplicaSet,
        Kind::Job,
        Kind::CronJob,
        Kind::MutatingWebhookConfiguration,
        Kind::ConfigMap,
        Kind::Secret,
        Kind::Service,
        Kind::Endpoints,
        Kind::EndpointSlice,
        Kind::Event,
        Kind::NetworkPolicy,
        Kind::ResourceQuota,
        Kind::LimitRange,
        Kind::Node,
    ];

    /// The Kubernetes `kind` string.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::Pod => "Pod",
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::Job => "Job",
            Kind::CronJob => "CronJob",
            Kind::MutatingWebhookConfiguration => "MutatingWebhookConfiguration",
            Kind::ConfigMap => "ConfigMap",
            Kind::Secret => "Secret",
            Kind::Service => "Service",
            Kind::Endpoints => "Endpoints",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::Event => "Event",
            Kind::NetworkPolicy => "NetworkPolicy",
            Kind::ResourceQuota => "ResourceQuota",
            Kind::LimitRange => "LimitRange",
            Kind::Node => "Node",
        }
    }

    /// The `apiVersion` values accepted for this kind (group/version as served).
    pub fn api_versions(self) -> &'static [&'static str] {
        match self {
            Kind::Namespace
            | Kind::Pod
            | Kind::ConfigMap
            | Kind::Secret
            | Kind::Service
            | Kind::Endpoints
            | Kind::Event
            | Kind::ResourceQuota
            | Kind::LimitRange
            | Kind::Node => &["v1"],
            Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet | Kind::ReplicaSet => {
                &["apps/v1"]
            }
            Kind::Job | Kind::CronJob => &["batch/v1"],
            Kind::MutatingWebhookConfiguration => &["admissionregistration.k8s.io/v1"],
            Kind::EndpointSlice => &["discovery.k8s.io/v1"],
            Kind::NetworkPolicy => &["networking.k8s.io/v1"],
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(self) -> bool {
        !matches!(
            self,
            Kind::Namespace | Kind::MutatingWebhookConfiguration | Kind::Node
        )
    }

    /// Parses a kind as users type it (`pod`, `pods`, `po`, `deploy`, `Deployment`, ...).
    pub fn parse_user(s: &str) -> Option<Kind> {
        let k = s.to_ascii_lowercase();
        let k = k.split('.').next().unwrap_or("");
        Some(match k {
            "namespace" | "namespaces" | "ns" => Kind::Namespace,
            "pod" | "pods" | "po" => Kind::Pod,
            "deployment" | "deployments" | "deploy" => Kind::Deployment,
            "statefulset" | "statefulsets" | "sts" => Kind::StatefulSet,
            "daemonset" | "daemonsets" | "ds" => Kind::DaemonSet,
            "replicaset" | "replicasets" | "rs" => Kind::ReplicaSet,
            "job" | "jobs" => Kind::Job,
            "cronjob" | "cronjobs" | "cj" => Kind::CronJob,
            "mutatingwebhookconfiguration" | "mutatingwebhookconfigurations" => {
                Kind::MutatingWebhookConfiguration
            }
            "configmap" | "configmaps" | "cm" => Kind::ConfigMap,
            "secret" | "secrets" => Kind::Secret,
            "service" | "services" | "svc" => Kind::Service,
            "endpoints" | "ep" => Kind::Endpoints,
            "endpointslice" | "endpointslices" => Kind::EndpointSlice,
            "event" | "events" | "ev" => Kind::Event,
            "networkpolicy" | "networkpolicies" | "netpol" => Kind::NetworkPolicy,
            "resourcequota" | "resourcequotas" | "quota" => Kind::ResourceQuota,
            "limitrange" | "limitranges" | "limits" => Kind::LimitRange,
            "node" | "nodes" | "no" => Kind::Node,
            _ => return None,
        })
    }

    /// Finds the kind for an `apiVersion`/`kind` pair from a manifest.
    pub fn from_manifest(api_version: &str, kind: &str) -> Option<Kind> {
        let found = Kind::ALL.into_iter().find(|k| k.name() == kind)?;
        // events.k8s.io/v1 Events have a different shape; only core/v1 Events are modelled.
        found.api_versions().contains(&api_version).then_some(found)
    }
}

/// Everything meshdoctor knows about a cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterState {
    pub namespaces: Store<Namespace>,
    pub pods: Store<Pod>,
    pub deployments: Store<Deployment>,
    pub statefulsets: Store<StatefulSet>,
    pub daemonsets: Store<DaemonSet>,
    pub replicasets: Store<ReplicaSet>,
    pub jobs: Store<Job>,
    pub cronjobs: Store<CronJob>,
    pub mutating_webhooks: Store<MutatingWebhookConfiguration>,
    pub configmaps: Store<ConfigMap>,
    pub secrets: Store<Secret>,
    pub services: Store<Service>,
    pub endpoints: Store<Endpoints>,
    pub endpoint_slices: Store<EndpointSlice>,
    pub events: Store<Event>,
    pub network_policies: Store<NetworkPolicy>,
    pub resource_quotas: Store<ResourceQuota>,
    pub limit_ranges: Store<LimitRange>,
    pub nodes: Store<Node>,
    /// Objects of kinds meshdoctor does not model, kept aside.
    pub unknown: Vec<Object<UnknownObject>>,
    /// Kinds that were read (offline: kinds present or loaded from a complete snapshot; live: kinds
    /// listed successfully). A check that needs a kind not in here is skipped, not passed.
    pub loaded_kinds: BTreeMap<Kind, KindAvailability>,
    /// Live: each read that failed (request, status, the server's message), for the reports'
    /// `unavailable` list. `loaded_kinds` says which kinds this leaves out.
    pub unread: Vec<crate::check::unavailable::UnreadInput>,
    /// Where the state came from, for messages (`fixtures/demo/`, `live (context kind-dev)`).
    pub sources: Vec<String>,
    /// The API server's `gitVersion` (`v1.32.0`): live from `GET /version`, offline from a
    /// snapshot that recorded it; `None` when unknown.
    pub server_version: Option<String>,
    /// Whether pods and workloads were slimmed as they were read (`source::slim`): they hold
    /// what the built-in checks and the verdicts read, not every field.
    pub slimmed: bool,
}

/// Whether a kind could be read, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KindAvailability {
    Loaded,
    /// Could not be read (e.g. `cannot list secrets in istio-system: forbidden`).
    Unavailable(String),
}

impl ClusterState {
    /// Orders every store as the API server lists objects (by namespace, then name).
    pub fn sort(&mut self) {
        self.namespaces.sort();
        self.pods.sort();
        self.deployments.sort();
        self.statefulsets.sort();
        self.daemonsets.sort();
        self.replicasets.sort();
        self.jobs.sort();
        self.cronjobs.sort();
        self.mutating_webhooks.sort();
        self.configmaps.sort();
        self.secrets.sort();
        self.services.sort();
        self.endpoints.sort();
        self.endpoint_slices.sort();
        self.events.sort();
        self.network_policies.sort();
        self.resource_quotas.sort();
        self.limit_ranges.sort();
        self.nodes.sort();
    }

    /// Marks a kind as read (offline: the input was meant to contain it).
    /// Makes room for `additional` more objects of `kind` (a loader that knows what is coming).
    pub fn reserve(&mut self, kind: Kind, additional: usize) {
        match kind {
            Kind::Namespace => self.namespaces.reserve(additional),
            Kind::Pod => self.pods.reserve(additional),
            Kind::Deployment => self.deployments.reserve(additional),
            Kind::StatefulSet => self.statefulsets.reserve(additional),
            Kind::DaemonSet => self.daemonsets.reserve(additional),
            Kind::ReplicaSet => self.replicasets.reserve(additional),
            Kind::Job => self.jobs.reserve(additional),
            Kind::CronJob => self.cronjobs.reserve(additional),
            Kind::MutatingWebhookConfiguration => self.mutating_webhooks.reserve(additional),
            Kind::ConfigMap => self.configmaps.reserve(additional),
            Kind::Secret => self.secrets.reserve(additional),
            Kind::Service => self.services.reserve(additional),
            Kind::Endpoints => self.endpoints.reserve(additional),
            Kind::EndpointSlice => self.endpoint_slices.reserve(additional),
            Kind::Event => self.events.reserve(additional),
            Kind::NetworkPolicy => self.network_policies.reserve(additional),
            Kind::ResourceQuota => self.resource_quotas.reserve(additional),
            Kind::LimitRange => self.limit_ranges.reserve(additional),
            Kind::Node => self.nodes.reserve(additional),
        }
    }

    pub fn mark_loaded(&mut self, kind: Kind) {
        self.loaded_kinds
            .entry(kind)
            .or_insert(KindAvailability::Loaded);
    }

    /// Why a kind is not available, or `None` when it was read.
    pub fn unavailable_reason(&self, kind: Kind) -> Option<String> {
        match self.loaded_kinds.get(&kind) {
            Some(KindAvailability::Loaded) => None,
            Some(KindAvailability::Unavailable(why)) => Some(why.clone()),
            None => Some(format!("no {} in the input", plural(kind))),
        }
    }

    /// The labels of a namespace, if the namespace is known.
    pub fn namespace_labels(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.namespaces
            .get(None, name)
            .map(|ns| ns.obj.metadata.labels.as_ref().unwrap_or(&EMPTY))
    }

    /// Every namespace name mentioned by any namespaced object or by a Namespace object.
    pub fn namespace_names(&self) -> Vec<String> {
        let mut names: std::collections::BTreeSet<String> = self
            .namespaces
            .iter()
            .filter_map(|n| n.obj.metadata.name.clone())
            .collect();
        for p in self.pods.iter() {
            if let Some(ns) = &p.obj.metadata.namespace {
                names.insert(ns.clone());
            }
        }
        names.into_iter().collect()
    }
}

/// The lowercase plural kubectl uses for a kind (`pods`, `mutatingwebhookconfigurations`).
pub fn plural(kind: Kind) -> String {
    match kind {
        Kind::Endpoints => "endpoints".to_owned(),
        Kind::NetworkPolicy => "networkpolicies".to_owned(),
        k => format!("{}s", k.name().to_ascii_lowercase()),
    }
}
