//! The cluster as the watches last reported it: one [`ClusterState`] changed in place, object
//! by object, and a record of what those changes make stale.
//!
//! A change to a pod (or workload, event, quota...) in an application namespace can only change
//! that namespace's verdicts and findings; a change to the injection machinery (webhook
//! configurations, anything in a control-plane namespace, the mesh ConfigMaps and Secrets) can
//! change every verdict. [`Dirty`] keeps that distinction so that the evaluator re-runs one
//! namespace for the common case and everything only when it must.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, LimitRange, Namespace, Node, Pod, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Resource;

use crate::check::unavailable::UnreadInput;
use crate::origin::Origin;
use crate::state::{ClusterState, Kind, KindAvailability, plural};

/// The control-plane namespaces looked at even before any webhook names them.
pub const DEFAULT_MESH_NAMESPACES: [&str; 2] = ["istio-system", "linkerd"];

/// What the next evaluation has to redo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dirty {
    /// Something every verdict may depend on changed.
    pub everything: bool,
    /// Namespaces whose own objects changed.
    pub namespaces: BTreeSet<String>,
}

impl Dirty {
    pub fn is_empty(&self) -> bool {
        !self.everything && self.namespaces.is_empty()
    }
}

macro_rules! any_object {
    ($($kind:ident => $ty:ty, $field:ident;)*) => {
        /// One object of any kind meshdoctor reads, as a watch delivers it. Not boxed: each
        /// object is moved once, from the watch into the state.
        #[derive(Debug, Clone)]
        #[allow(clippy::large_enum_variant)]
        pub enum AnyObject {
            $($kind($ty),)*
        }

        impl AnyObject {
            pub fn kind(&self) -> Kind {
                match self { $(AnyObject::$kind(_) => Kind::$kind,)* }
            }

            fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                match self { $(AnyObject::$kind(o) => o.meta(),)* }
            }

            fn insert_into(self, state: &mut ClusterState) {
                match self { $(AnyObject::$kind(o) => state.$field.insert(o, Origin::Live),)* }
            }

            fn remove_from(&self, state: &mut ClusterState) {
                let meta = self.meta();
                let (ns, name) = (meta.namespace.as_deref(), meta.name.as_deref().unwrap_or(""));
                match self { $(AnyObject::$kind(_) => { state.$field.remove(ns, name); })* }
            }
        }

        /// Drops every object of `kind` in `namespace` (`None` = all namespaces).
        fn clear_scope(state: &mut ClusterState, kind: Kind, namespace: Option<&str>) {
            match kind {
                $(Kind::$kind => state.$field.retain(|o| {
                    namespace.is_some_and(|ns| o.obj.meta().namespace.as_deref() != Some(ns))
                }),)*
            }
        }

        /// The changes that rebuild `state` from nothing: one relist per kind it read, one
        /// unavailable mark per kind it could not. Tests drive the evaluator with them.
        pub fn changes_for(state: &ClusterState) -> Vec<Change> {
            let mut out = Vec::new();
            $(match state.loaded_kinds.get(&Kind::$kind) {
                Some(KindAvailability::Loaded) => out.push(Change::Relisted {
                    kind: Kind::$kind,
                    namespace: None,
                    objects: state.$field.iter().map(|o| AnyObject::$kind(o.obj.clone())).collect(),
                }),
                Some(KindAvailability::Unavailable(reason)) => out.push(Change::Unavailable {
                    kind: Kind::$kind,
                    namespace: None,
                    reason: reason.clone(),
                    read: state
                        .unread
                        .iter()
                        .find(|u| u.kind == Kind::$kind.name())
                        .cloned()
                        .unwrap_or_else(|| UnreadInput {
                            kind: Kind::$kind.name().to_owned(),
                            namespace: None,
                            request: format!("list {}", plural(Kind::$kind)),
                            status: None,
                            reason: reason.clone(),
                        }),
                }),
                None => {}
            })*
            out
        }

        $(impl From<$ty> for AnyObject {
            fn from(o: $ty) -> Self { AnyObject::$kind(o) }
        })*
    };
}

any_object! {
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

/// What one watch reported.
#[derive(Debug, Clone)]
pub enum Change {
    /// Added or modified.
    Apply(AnyObject),
    Delete(AnyObject),
    /// The watch listed its whole scope (at start, and after a 410 Gone or a lost
    /// connection): these objects replace every object of the kind in it.
    Relisted {
        kind: Kind,
        namespace: Option<String>,
        objects: Vec<AnyObject>,
    },
    /// The watch's list failed (403, a kind the server does not serve, ...).
    Unavailable {
        kind: Kind,
        namespace: Option<String>,
        /// Worded for the checks' skips (`cannot list secrets in istio-system: forbidden`).
        reason: String,
        /// The failed request, for the reports' `unavailable` list.
        read: UnreadInput,
    },
}

/// Why a watch's list failed (worded for the checks' skips), and the request as the reports
/// list it.
type FailedList = (String, UnreadInput);

/// The live cluster state and what changed since the last evaluation.
#[derive(Debug, Default)]
pub struct Mirror {
    pub state: ClusterState,
    /// Namespaces that hold injection machinery: the namespaces of the mesh webhooks'
    /// Services, and the defaults.
    mesh_namespaces: BTreeSet<String>,
    /// Each watch's scope and, when its last list failed, why and what was asked.
    scopes: BTreeMap<(Kind, Option<String>), Option<FailedList>>,
    dirty: Dirty,
}

impl Mirror {
    pub fn new() -> Mirror {
        let mut m = Mirror {
            mesh_namespaces: DEFAULT_MESH_NAMESPACES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            ..Mirror::default()
        };
        m.state.sources.push("live (watch)".to_owned());
        m.dirty.everything = true;
        m
    }

    /// The control-plane namespaces whose ConfigMaps and Secrets to read: those a mesh
    /// webhook's Service names, and the defaults that exist (a Role in a namespace that does
    /// not exist cannot be granted, so watching it would only report a forbidden list).
    pub fn control_planes_to_watch(&self) -> Vec<String> {
        self.mesh_namespaces
            .iter()
            .filter(|ns| {
                !DEFAULT_MESH_NAMESPACES.contains(&ns.as_str())
                    || self.state.namespaces.get(None, ns).is_some()
                    || self.named_by_webhooks(ns)
            })
            .cloned()
            .collect()
    }

    fn named_by_webhooks(&self, ns: &str) -> bool {
        self.webhook_namespaces().iter().any(|n| n == ns)
    }

    /// The namespaces of the mesh injector webhooks' Services.
    fn webhook_namespaces(&self) -> Vec<String> {
        let configs: Vec<MutatingWebhookConfiguration> = self
            .state
            .mutating_webhooks
            .iter()
            .map(|o| o.obj.clone())
            .collect();
        crate::source::live::mesh_namespaces_of(&configs)
    }

    /// Applies one change and records what it makes stale.
    pub fn apply(&mut self, change: Change) {
        match change {
            // Nodes arrive reduced to name and kubelet version; a status heartbeat leaves that
            // unchanged and must not re-evaluate the cluster.
            Change::Apply(AnyObject::Node(n))
                if self
                    .state
                    .nodes
                    .get(None, n.metadata.name.as_deref().unwrap_or(""))
                    .is_some_and(|old| old.obj == n) => {}
            Change::Apply(o) => {
                self.touch(&o);
                o.insert_into(&mut self.state);
            }
            Change::Delete(o) => {
                self.touch(&o);
                o.remove_from(&mut self.state);
            }
            Change::Relisted {
                kind,
                namespace,
                objects,
            } => {
                clear_scope(&mut self.state, kind, namespace.as_deref());
                for o in objects {
                    o.insert_into(&mut self.state);
                }
                self.scopes.insert((kind, namespace), None);
                self.refresh_availability(kind);
                self.dirty.everything = true;
            }
            Change::Unavailable {
                kind,
                namespace,
                reason,
                read,
            } => {
                self.scopes.insert((kind, namespace), Some((reason, read)));
                self.refresh_availability(kind);
            }
        }
        if self.dirty.everything {
            self.refresh_mesh_namespaces();
        }
    }

    /// What the next evaluation has to redo; the record starts empty again.
    pub fn take_dirty(&mut self) -> Dirty {
        std::mem::take(&mut self.dirty)
    }

    pub fn is_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Marks everything stale (a periodic re-evaluation: certificates age without any change).
    pub fn mark_all_dirty(&mut self) {
        self.dirty.everything = true;
    }

    fn touch(&mut self, o: &AnyObject) {
        let meta = o.meta();
        match (o.kind(), meta.namespace.as_deref()) {
            // A namespace's labels decide its own pods' verdicts.
            (Kind::Namespace, _) => {
                if let Some(name) = &meta.name {
                    self.dirty.namespaces.insert(name.clone());
                }
            }
            (Kind::MutatingWebhookConfiguration | Kind::ConfigMap | Kind::Secret, _) => {
                self.dirty.everything = true;
            }
            (_, Some(ns)) if !self.mesh_namespaces.contains(ns) => {
                self.dirty.namespaces.insert(ns.to_owned());
            }
            _ => self.dirty.everything = true,
        }
    }

    /// A kind is available when every watch of it has listed its scope; otherwise the reasons
    /// of those that could not. A kind that changes availability changes which checks run.
    /// The failed reads are kept in `state.unread`, as a one-shot live read keeps them, so
    /// `/findings` lists them like `check -o json` does.
    fn refresh_availability(&mut self, kind: Kind) {
        let failed: Vec<&FailedList> = self
            .scopes
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .filter_map(|(_, why)| why.as_ref())
            .collect();
        let reasons: Vec<&str> = failed.iter().map(|(why, _)| why.as_str()).collect();
        let name = kind.name();
        self.state.unread.retain(|u| u.kind != name);
        self.state
            .unread
            .extend(failed.iter().map(|(_, read)| read.clone()));
        self.state.unread.sort();
        let now = if reasons.is_empty() {
            KindAvailability::Loaded
        } else {
            KindAvailability::Unavailable(reasons.join("; "))
        };
        if self.state.loaded_kinds.get(&kind) != Some(&now) {
            self.state.loaded_kinds.insert(kind, now);
            self.dirty.everything = true;
        }
    }

    /// Whether the watch of `kind` in `namespace` has listed its scope, or failed to.
    pub fn has_listed(&self, kind: Kind, namespace: Option<&str>) -> bool {
        self.scopes
            .contains_key(&(kind, namespace.map(str::to_owned)))
    }

    fn refresh_mesh_namespaces(&mut self) {
        self.mesh_namespaces = DEFAULT_MESH_NAMESPACES
            .iter()
            .map(|s| (*s).to_owned())
            .chain(self.webhook_namespaces())
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(ns: &str, name: &str) -> AnyObject {
        AnyObject::Pod(Pod {
            metadata: ObjectMeta {
                namespace: Some(ns.to_owned()),
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        })
    }

    #[test]
    fn a_pod_change_makes_only_its_namespace_stale() {
        let mut m = Mirror::new();
        m.take_dirty();
        m.apply(Change::Apply(pod("shop", "web-1")));
        let d = m.take_dirty();
        assert!(!d.everything);
        assert_eq!(d.namespaces.into_iter().collect::<Vec<_>>(), ["shop"]);
        assert_eq!(m.state.pods.len(), 1);
    }

    #[test]
    fn a_change_in_a_control_plane_namespace_makes_everything_stale() {
        let mut m = Mirror::new();
        m.take_dirty();
        m.apply(Change::Apply(pod("istio-system", "istiod-1")));
        assert!(m.take_dirty().everything);
    }

    #[test]
    fn delete_and_relist_keep_the_index_right() {
        let mut m = Mirror::new();
        for name in ["a", "b", "c"] {
            m.apply(Change::Apply(pod("shop", name)));
        }
        m.apply(Change::Delete(pod("shop", "a")));
        m.state.sort();
        let names: Vec<_> = m
            .state
            .pods
            .in_namespace(Some("shop"))
            .filter_map(|p| p.obj.metadata.name.clone())
            .collect();
        assert_eq!(names, ["b", "c"]);
        assert!(m.state.pods.get(Some("shop"), "c").is_some());
        m.apply(Change::Relisted {
            kind: Kind::Pod,
            namespace: None,
            objects: vec![pod("other", "z")],
        });
        assert_eq!(m.state.pods.len(), 1);
        assert!(m.state.pods.get(Some("other"), "z").is_some());
        assert!(m.state.pods.get(Some("shop"), "b").is_none());
    }

    #[test]
    fn an_unreadable_kind_is_recorded_once() {
        let mut m = Mirror::new();
        m.take_dirty();
        let lost = || Change::Unavailable {
            kind: Kind::Secret,
            namespace: Some("istio-system".to_owned()),
            reason: "cannot list secrets in istio-system: forbidden".to_owned(),
            read: UnreadInput {
                kind: "Secret".to_owned(),
                namespace: Some("istio-system".to_owned()),
                request: "list secrets in istio-system".to_owned(),
                status: Some(403),
                reason: "secrets is forbidden".to_owned(),
            },
        };
        m.apply(lost());
        assert!(m.take_dirty().everything);
        m.apply(lost());
        assert!(m.take_dirty().is_empty());
        assert!(m.state.unavailable_reason(Kind::Secret).is_some());
        assert_eq!(m.state.unread.len(), 1, "{:?}", m.state.unread);
        assert_eq!(m.state.unread[0].status, Some(403));

        // The list succeeds once the RBAC is fixed: the failed read is gone from the reports.
        m.apply(Change::Relisted {
            kind: Kind::Secret,
            namespace: Some("istio-system".to_owned()),
            objects: Vec::new(),
        });
        assert!(m.state.unread.is_empty());
        assert!(m.state.unavailable_reason(Kind::Secret).is_none());
    }
}
