//! The admission request as webhook matching sees it (`admission.Attributes`), borrowed from the
//! caller, plus the namespace label the API server adds by itself.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

/// The label every namespace carries on API servers ≥ 1.21 (`LabelMetadataName`).
pub const METADATA_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The admission operation (`admission.Operation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

impl Operation {
    /// The spelling used in `rules[].operations` and in `request.operation`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }

    /// The inverse of [`Operation::as_str`]; `None` for anything else (including `*`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "CREATE" => Some(Operation::Create),
            "UPDATE" => Some(Operation::Update),
            "DELETE" => Some(Operation::Delete),
            "CONNECT" => Some(Operation::Connect),
            _ => None,
        }
    }
}

/// A group/version/resource, as in `request.resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gvr<'a> {
    pub group: &'a str,
    pub version: &'a str,
    pub resource: &'a str,
}

/// A group/version/kind, as in `request.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gvk<'a> {
    pub group: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
}

/// The requesting user (`authentication/v1 UserInfo`), for CEL `request.userInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

/// An object of the request, as the caller holds it. Only CEL `matchConditions` read it, and
/// they convert it then, so passing a typed object costs nothing on the hot path.
#[derive(Debug, Clone, Copy)]
pub enum ObjectRef<'a> {
    Json(&'a serde_json::Value),
    Pod(&'a Pod),
}

impl<'a> From<&'a serde_json::Value> for ObjectRef<'a> {
    fn from(v: &'a serde_json::Value) -> Self {
        ObjectRef::Json(v)
    }
}

impl<'a> From<&'a Pod> for ObjectRef<'a> {
    fn from(p: &'a Pod) -> Self {
        ObjectRef::Pod(p)
    }
}

/// What webhook matching reads from one admission request. Everything is borrowed.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionRequest<'a> {
    pub operation: Operation,
    /// The requested resource; pods are `{"", "v1", "pods"}`.
    pub resource: Gvr<'a>,
    /// `""` for the main resource, `status`, `exec`, `binding`, ...
    pub subresource: &'a str,
    pub kind: Gvk<'a>,
    /// The request's namespace; `""` for cluster-scoped objects. For a Namespace object this is
    /// the namespace's own name, as in the API server.
    pub namespace: &'a str,
    /// The object's name; may be `""` (e.g. `generateName` pods at CREATE).
    pub name: &'a str,
    /// The incoming object (`null` for DELETE).
    pub object: Option<ObjectRef<'a>>,
    /// Labels of [`AdmissionRequest::object`]; `None` when there is no object or it has no
    /// metadata. An object without labels is `Some(empty)`.
    pub object_labels: Option<&'a BTreeMap<String, String>>,
    /// The existing object (`null` for CREATE).
    pub old_object: Option<ObjectRef<'a>>,
    pub old_object_labels: Option<&'a BTreeMap<String, String>>,
    /// Labels of the namespace `namespace` as the API server's informer has them; pass them
    /// through [`effective_namespace_labels`]. `None` means the namespace is unknown: a
    /// matching webhook then fails the request (`namespaces "x" not found`).
    pub namespace_labels: Option<&'a BTreeMap<String, String>>,
    /// For CEL `request.userInfo`; `None` when unknown offline.
    pub user_info: Option<&'a UserInfo>,
    pub dry_run: bool,
}

/// Labels of a pod without labels, so that callers can borrow an empty map.
pub(crate) static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

impl<'a> AdmissionRequest<'a> {
    /// A pod CREATE in `namespace`: `{"", "v1", "pods"}`, kind `v1/Pod`, no subresource and no
    /// old object. `pod` is the pod JSON or a typed [`Pod`]; `pod_labels` its `metadata.labels`
    /// (`None` when it has none, which selectors see as an empty label set).
    pub fn pod_create(
        namespace: &'a str,
        name: &'a str,
        pod: impl Into<ObjectRef<'a>>,
        pod_labels: Option<&'a BTreeMap<String, String>>,
        namespace_labels: Option<&'a BTreeMap<String, String>>,
    ) -> Self {
        AdmissionRequest {
            operation: Operation::Create,
            resource: Gvr {
                group: "",
                version: "v1",
                resource: "pods",
            },
            subresource: "",
            kind: Gvk {
                group: "",
                version: "v1",
                kind: "Pod",
            },
            namespace,
            name,
            object: Some(pod.into()),
            object_labels: Some(pod_labels.unwrap_or(&NO_LABELS)),
            old_object: None,
            old_object_labels: None,
            namespace_labels,
            user_info: None,
            dry_run: false,
        }
    }

    pub fn with_user_info(mut self, user: &'a UserInfo) -> Self {
        self.user_info = Some(user);
        self
    }

    pub fn with_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// `pod "web-1"`, `pod (no name yet)`, `namespace "shop"`: how traces name the object.
    pub(crate) fn describe_object(&self) -> String {
        let kind = self.kind.kind.to_ascii_lowercase();
        if self.name.is_empty() {
            format!("{kind} (no name yet)")
        } else {
            format!("{kind} {:?}", self.name)
        }
    }

    /// Whether this is a request on core/v1 `namespaces` itself (scope and selector rules
    /// treat Namespace objects as cluster-scoped).
    pub(crate) fn is_namespace_resource(&self) -> bool {
        self.resource
            == Gvr {
                group: "",
                version: "v1",
                resource: "namespaces",
            }
    }
}

/// Whether the API server adds `kubernetes.io/metadata.name` to every namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetadataNameLabel {
    /// API server ≥ 1.21: the label is always set to the namespace's name.
    #[default]
    Set,
    /// API server 1.20 (or 1.21 with `NamespaceDefaultLabelName` off): labels as stored.
    Absent,
}

impl MetadataNameLabel {
    /// What an API server of this version (`GET /version` major and minor, e.g. "1", "20+")
    /// does: 1.21 and later set the label; unknown versions are assumed recent.
    pub fn for_server_version(major: &str, minor: &str) -> MetadataNameLabel {
        let number = |s: &str| -> Option<u32> {
            let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        };
        match (number(major), number(minor)) {
            (Some(1), Some(minor)) if minor < 21 => MetadataNameLabel::Absent,
            _ => MetadataNameLabel::Set,
        }
    }
}

/// The labels the API server matches a namespaceSelector against for namespace `ns_name`:
/// with [`MetadataNameLabel::Set`], `kubernetes.io/metadata.name=<ns_name>` is added, and a
/// different user-supplied value is overwritten (defaulting runs on every read). Borrowed
/// when nothing changes; compute it once per namespace, not per pod.
pub fn effective_namespace_labels<'l>(
    ns_name: &str,
    labels: &'l BTreeMap<String, String>,
    mode: MetadataNameLabel,
) -> Cow<'l, BTreeMap<String, String>> {
    // An unnamed (generateName) namespace has no name to copy yet.
    if mode == MetadataNameLabel::Absent || ns_name.is_empty() {
        return Cow::Borrowed(labels);
    }
    if labels.get(METADATA_NAME_LABEL).map(String::as_str) == Some(ns_name) {
        return Cow::Borrowed(labels);
    }
    let mut owned = labels.clone();
    owned.insert(METADATA_NAME_LABEL.to_owned(), ns_name.to_owned());
    Cow::Owned(owned)
}
