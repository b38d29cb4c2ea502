//! The object the injector patches, reduced to what the patch depends on: its kind, the pod
//! (template) metadata and spec, and the labels and annotations Linkerd adds to it.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::overrides::Annotations;

/// Where the input comes from: the webhook also applies the annotations it adds itself
/// (`linkerd.io/created-by`, inherited namespace keys) as overrides; `linkerd inject` writes
/// them to the output but renders with the input's own annotations only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Webhook,
    Cli,
}

/// One injectable object.
#[derive(Debug, Clone)]
pub struct Workload {
    /// `kind`, lower-cased (`pod`, `deployment`, `cronjob`, ...).
    pub kind: String,
    /// The object's namespace (`linkerd.io/workload-ns`).
    pub namespace: String,
    /// The pod (template) metadata and spec, as JSON; `Null` when absent.
    pub pod_meta: Json,
    pub pod_spec: Json,
    /// The labels the patch adds (`linkerd.io/control-plane-ns`, `linkerd.io/proxy-<kind>`, ...).
    pub labels: Annotations,
    /// The annotations the patch adds besides the version and trust-root ones.
    pub annotations: Annotations,
    /// The namespace's annotations.
    pub namespace_annotations: Annotations,
    pub origin: Origin,
}

/// The label naming a pod's owner, per owner kind.
pub fn owner_label(kind: &str) -> Option<&'static str> {
    Some(match kind.to_ascii_lowercase().as_str() {
        "deployment" => "linkerd.io/proxy-deployment",
        "replicationcontroller" => "linkerd.io/proxy-replicationcontroller",
        "replicaset" => "linkerd.io/proxy-replicaset",
        "job" => "linkerd.io/proxy-job",
        "daemonset" => "linkerd.io/proxy-daemonset",
        "statefulset" => "linkerd.io/proxy-statefulset",
        "cronjob" => "linkerd.io/proxy-cronjob",
        _ => return None,
    })
}

/// The kinds `linkerd inject` and the webhook patch (Linkerd's list of injectable kinds).
pub fn is_injectable_kind(kind: &str) -> bool {
    matches!(
        kind.to_ascii_lowercase().as_str(),
        "deployment"
            | "replicationcontroller"
            | "replicaset"
            | "job"
            | "daemonset"
            | "statefulset"
            | "cronjob"
            | "pod"
    )
}

/// Reads a metadata map (`labels`, `annotations`) as strings. Go's YAML decoder turns a bare
/// `true` or `8080` into the string it spells, so the same is done here.
pub fn string_map(meta: &Json, key: &str) -> Annotations {
    let mut out = BTreeMap::new();
    if let Some(Json::Object(m)) = meta.get(key) {
        for (k, v) in m {
            let s = match v {
                Json::String(s) => s.clone(),
                Json::Null => String::new(),
                other => other.to_string(),
            };
            out.insert(k.clone(), s);
        }
    }
    out
}

impl Workload {
    /// Builds the workload from an object (`Pod`, `Deployment`, ...). `owner` is a pod's
    /// controller (kind, name), which the webhook looks up in the cluster. `None` for a kind
    /// Linkerd does not inject.
    pub fn from_object(
        obj: &Json,
        control_ns: &str,
        owner: Option<(&str, &str)>,
        origin: Origin,
    ) -> Option<Workload> {
        let kind = obj.get("kind")?.as_str()?.to_ascii_lowercase();
        if !is_injectable_kind(&kind) {
            return None;
        }
        let meta = obj.get("metadata").cloned().unwrap_or(Json::Null);
        let name = meta.get("name").and_then(Json::as_str).unwrap_or("");
        let namespace = meta
            .get("namespace")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_owned();
        let mut labels = BTreeMap::from([(
            "linkerd.io/control-plane-ns".to_owned(),
            control_ns.to_owned(),
        )]);
        let template = match kind.as_str() {
            "pod" => {
                if let Some((k, n)) = owner
                    && let Some(label) = owner_label(k)
                {
                    labels.insert(label.to_owned(), n.to_owned());
                }
                obj.clone()
            }
            "cronjob" => obj
                .pointer("/spec/jobTemplate/spec/template")
                .cloned()
                .unwrap_or(Json::Null),
            _ => obj.pointer("/spec/template").cloned().unwrap_or(Json::Null),
        };
        if kind != "pod"
            && let Some(label) = owner_label(&kind)
        {
            labels.insert(label.to_owned(), name.to_owned());
        }
        labels.insert("linkerd.io/workload-ns".to_owned(), namespace.clone());
        Some(Workload {
            kind,
            namespace,
            pod_meta: template.get("metadata").cloned().unwrap_or(Json::Null),
            pod_spec: template.get("spec").cloned().unwrap_or(Json::Null),
            labels,
            annotations: Annotations::new(),
            namespace_annotations: Annotations::new(),
            origin,
        })
    }

    /// The pod (template) annotations as the input has them.
    pub fn pod_annotations(&self) -> Annotations {
        string_map(&self.pod_meta, "annotations")
    }

    pub fn pod_labels(&self) -> Annotations {
        string_map(&self.pod_meta, "labels")
    }

    /// The annotations that override the values: the pod's own, plus (for the webhook) those
    /// the webhook adds.
    pub fn override_annotations(&self) -> Annotations {
        let mut out = self.pod_annotations();
        if self.origin == Origin::Webhook {
            out.extend(self.annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    }

    /// Init containers then containers, as JSON.
    pub fn all_containers(&self) -> impl Iterator<Item = &Json> {
        ["initContainers", "containers"]
            .into_iter()
            .filter_map(|k| self.pod_spec.get(k).and_then(Json::as_array))
            .flatten()
    }

    /// Every `ports[]` entry of one container.
    fn ports_of(c: &Json) -> impl Iterator<Item = &Json> {
        c.get("ports")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
    }

    /// `(name, containerPort)` of every container port, init containers first.
    fn container_ports(&self) -> impl Iterator<Item = (Option<&str>, i64)> {
        self.all_containers()
            .flat_map(Self::ports_of)
            .filter_map(|p| {
                let port = p.get("containerPort").and_then(Json::as_i64)?;
                let name = p
                    .get("name")
                    .and_then(Json::as_str)
                    .filter(|n| !n.is_empty());
                Some((name, port))
            })
    }

    /// `name → containerPort` of every named port (later containers win, as in Linkerd).
    pub fn named_ports(&self) -> BTreeMap<String, i64> {
        self.container_ports()
            .filter_map(|(name, port)| Some((name?.to_owned(), port)))
            .collect()
    }

    /// `LINKERD2_PROXY_INBOUND_PORTS`: every container port and numeric HTTP probe port, sorted
    /// as strings (Linkerd sorts the decimal texts).
    pub fn inbound_ports(&self) -> String {
        let mut ports: std::collections::BTreeSet<String> =
            self.container_ports().map(|(_, p)| p.to_string()).collect();
        for c in self.all_containers() {
            for probe in ["readinessProbe", "livenessProbe"] {
                if let Some(n) = c
                    .get(probe)
                    .and_then(|p| p.get("httpGet"))
                    .and_then(|h| h.get("port"))
                    .and_then(Json::as_i64)
                {
                    ports.insert(n.to_string());
                }
            }
        }
        ports.into_iter().collect::<Vec<_>>().join(",")
    }

    /// The opaque ports of `default_ports` the pod exposes as container ports, in container
    /// order (the webhook's default `config.linkerd.io/opaque-ports`).
    pub fn exposed_opaque_ports(&self, default_ports: &str) -> Vec<String> {
        let defaults: Vec<&str> = default_ports.split(',').collect();
        self.container_ports()
            .map(|(_, p)| p.to_string())
            .filter(|p| defaults.contains(&p.as_str()))
            .collect()
    }

    /// The first container, whose security capabilities and service-account mount the proxy
    /// copies.
    pub fn first_container(&self) -> Option<&Json> {
        self.pod_spec
            .get("containers")
            .and_then(Json::as_array)
            .and_then(|c| c.first())
    }

    fn spec_list_len(&self, key: &str) -> usize {
        self.pod_spec
            .get(key)
            .and_then(Json::as_array)
            .map_or(0, Vec::len)
    }

    pub fn has_volumes(&self) -> bool {
        self.spec_list_len("volumes") > 0
    }

    pub fn has_init_containers(&self) -> bool {
        self.spec_list_len("initContainers") > 0
    }

    /// The JSON-pointer prefix of the pod template inside the object.
    pub fn path_prefix(&self) -> &'static str {
        match self.kind.as_str() {
            "pod" => "",
            "cronjob" => "/spec/jobTemplate/spec/template",
            _ => "/spec/template",
        }
    }
}
