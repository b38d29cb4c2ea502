//! Writes a state as one `kind: List` document that the offline source reads back: the
//! snapshot `meshdoctor snapshot` captures from a cluster.
//!
//! Private keys are never written: every Secret goes through
//! [`public_secret`](super::live::public_secret) again here, whatever source it came from.
//! `managedFields` are stripped. The list's metadata records which kinds were read and why
//! others could not be, so that checks skip the same way offline as they did live (an empty
//! kind that was read is not the same as a kind that was never asked for).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::live::{kubelet_only, public_secret};
use crate::check::unavailable::UnreadInput;
use crate::mesh::istio::install::{
    DEFAULT_NAMESPACE as ISTIO_NAMESPACE, is_istio_injector_webhook,
};
use crate::mesh::linkerd::is_linkerd_injector_webhook;
use crate::state::{ClusterState, Kind, KindAvailability};

/// The list annotation naming the kinds that were read completely (comma-separated).
pub const LOADED_KINDS: &str = "meshdoctor.io/loaded-kinds";
/// The list annotation mapping unavailable kinds to the reason (a JSON object).
pub const UNAVAILABLE_KINDS: &str = "meshdoctor.io/unavailable-kinds";
/// The list annotation holding each failed read (request, status, the server's message; a JSON
/// array), so that reports of the snapshot list them as the live run did.
pub const UNREAD: &str = "meshdoctor.io/unread";
/// The list annotation saying where the snapshot was taken.
pub const SOURCE: &str = "meshdoctor.io/source";
/// The list annotation holding the API server's version when the snapshot was taken live.
pub const SERVER_VERSION: &str = "meshdoctor.io/server-version";

/// The snapshot of `state` as a `v1/List`. With `scope`, namespaced objects outside that
/// namespace and the mesh namespaces are left out.
pub fn document(state: &ClusterState, scope: Option<&str>) -> Value {
    let keep_ns: Option<BTreeSet<String>> = scope.map(|ns| {
        let mut set = mesh_namespaces(state);
        set.insert(ns.to_owned());
        set
    });
    let in_scope = |namespace: Option<&str>| match (&keep_ns, namespace) {
        (None, _) | (_, None) => true,
        (Some(set), Some(ns)) => set.contains(ns),
    };
    let mut items: Vec<Value> = Vec::new();
    macro_rules! push {
        ($store:ident) => {
            for o in state.$store.iter() {
                if in_scope(o.obj.metadata.namespace.as_deref()) {
                    items.push(item(&o.obj));
                }
            }
        };
    }
    for o in state.namespaces.iter() {
        if in_scope(o.obj.metadata.name.as_deref()) {
            items.push(item(&o.obj));
        }
    }
    push!(mutating_webhooks);
    push!(configmaps);
    for o in state.secrets.iter() {
        if in_scope(o.obj.metadata.namespace.as_deref()) {
            items.push(item(&public_secret(o.obj.clone())));
        }
    }
    push!(services);
    push!(endpoints);
    push!(endpoint_slices);
    push!(deployments);
    push!(statefulsets);
    push!(daemonsets);
    push!(replicasets);
    push!(jobs);
    push!(cronjobs);
    push!(pods);
    push!(events);
    push!(network_policies);
    push!(resource_quotas);
    push!(limit_ranges);
    for o in state.nodes.iter() {
        items.push(item(&kubelet_only(o.obj.clone())));
    }

    let mut loaded: Vec<&str> = Vec::new();
    let mut unavailable: BTreeMap<&str, &str> = BTreeMap::new();
    for (kind, a) in &state.loaded_kinds {
        match a {
            KindAvailability::Loaded => loaded.push(kind.name()),
            KindAvailability::Unavailable(why) => {
                unavailable.insert(kind.name(), why.as_str());
            }
        }
    }
    let mut annotations = Map::new();
    annotations.insert(SOURCE.to_owned(), Value::String(state.sources.join(", ")));
    annotations.insert(LOADED_KINDS.to_owned(), Value::String(loaded.join(",")));
    if let Some(v) = &state.server_version {
        annotations.insert(SERVER_VERSION.to_owned(), Value::String(v.clone()));
    }
    if !unavailable.is_empty() {
        annotations.insert(
            UNAVAILABLE_KINDS.to_owned(),
            Value::String(serde_json::to_string(&unavailable).unwrap_or_default()),
        );
    }
    if !state.unread.is_empty() {
        annotations.insert(
            UNREAD.to_owned(),
            Value::String(serde_json::to_string(&state.unread).unwrap_or_default()),
        );
    }
    json!({
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": "", "annotations": annotations},
        "items": items,
    })
}

/// Applies a snapshot list's kind record (its metadata) to a state loaded from it.
pub fn apply_kind_record(state: &mut ClusterState, list_metadata: &Value) {
    let annotations = list_metadata.get("annotations");
    let get = |key: &str| annotations.and_then(|a| a.get(key)).and_then(Value::as_str);
    if let Some(loaded) = get(LOADED_KINDS) {
        for name in loaded.split(',').map(str::trim) {
            if let Some(k) = Kind::ALL.into_iter().find(|k| k.name() == name) {
                state.mark_loaded(k);
            }
        }
    }
    if let Some(text) = get(UNAVAILABLE_KINDS)
        && let Ok(map) = serde_json::from_str::<BTreeMap<String, String>>(text)
    {
        for (name, why) in map {
            if let Some(k) = Kind::ALL.into_iter().find(|k| k.name() == name) {
                state
                    .loaded_kinds
                    .insert(k, KindAvailability::Unavailable(why));
            }
        }
    }
    if let Some(v) = get(SERVER_VERSION).filter(|v| !v.is_empty()) {
        state.server_version = Some(v.to_owned());
    }
    if let Some(text) = get(UNREAD)
        && let Ok(list) = serde_json::from_str::<Vec<UnreadInput>>(text)
    {
        state.unread.extend(list);
        state.unread.sort();
        state.unread.dedup();
    }
}

/// One object as written: with apiVersion and kind, without managedFields.
fn item<T: Serialize>(obj: &T) -> Value {
    let mut v = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    v
}

/// `istio-system` and the namespaces of the mesh injector webhooks' services.
pub fn mesh_namespaces(state: &ClusterState) -> BTreeSet<String> {
    let mut out = BTreeSet::from([ISTIO_NAMESPACE.to_owned()]);
    for cfg in state.mutating_webhooks.iter() {
        let cfg_name = cfg.obj.metadata.name.as_deref().unwrap_or("");
        for wh in cfg.obj.webhooks.iter().flatten() {
            if (is_istio_injector_webhook(&wh.name)
                || is_linkerd_injector_webhook(cfg_name, &wh.name))
                && let Some(svc) = &wh.client_config.service
            {
                out.insert(svc.namespace.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::offline::{LoadOptions, load_text};

    const STATE: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: cacerts\n  namespace: istio-system\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: secret\n  managedFields:\n  - manager: kubectl\ndata:\n  ca-key.pem: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUUKLS0tLS1FTkQgUFJJVkFURSBLRVktLS0tLQo=\n  token: c2VjcmV0\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: other\n";

    fn load(text: &str) -> ClusterState {
        let mut s = ClusterState::default();
        load_text(&mut s, "t.yaml", text, &LoadOptions::default()).unwrap();
        s
    }

    #[test]
    fn secrets_lose_keys_tokens_and_last_applied() {
        let doc = document(&load(STATE), None);
        let text = serde_json::to_string(&doc).unwrap();
        assert!(!text.contains("ca-key.pem"), "{text}");
        assert!(!text.contains("c2VjcmV0"), "{text}");
        assert!(!text.contains("last-applied"), "{text}");
        assert!(!text.contains("managedFields"), "{text}");
    }

    #[test]
    fn scope_keeps_the_namespace_and_the_mesh_namespaces() {
        let doc = document(&load(STATE), Some("shop"));
        let names: Vec<&str> = doc["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["shop", "cacerts"]);
    }

    #[test]
    fn kind_record_round_trips() {
        let mut s = load(STATE);
        s.mark_loaded(Kind::Event);
        s.loaded_kinds.insert(
            Kind::ConfigMap,
            KindAvailability::Unavailable(
                "cannot list configmaps in istio-system: forbidden".into(),
            ),
        );
        s.unread.push(UnreadInput {
            kind: "ConfigMap".into(),
            namespace: Some("istio-system".into()),
            request: "list configmaps in istio-system".into(),
            status: Some(403),
            reason: "configmaps is forbidden".into(),
        });
        s.server_version = Some("v1.32.0".into());
        let doc = document(&s, None);
        let text = serde_saphyr::to_string(&doc).unwrap();
        let back = load(&text);
        assert_eq!(back.unread, s.unread);
        assert_eq!(back.unavailable_reason(Kind::Event), None);
        assert_eq!(
            back.unavailable_reason(Kind::ConfigMap).as_deref(),
            Some("cannot list configmaps in istio-system: forbidden")
        );
        assert_eq!(back.pods.len(), 1);
        assert_eq!(back.server_version.as_deref(), Some("v1.32.0"));
        // A state that does not know it records nothing.
        assert_eq!(load(STATE).server_version, None);
    }
}
