//! `linkerd uninject`, which `linkerd inject` runs first so that injecting twice replaces the
//! proxy instead of adding a second one: Linkerd's containers and volumes leave the pod spec,
//! and `linkerd.io/*` annotations and labels leave the metadata.

use serde_json::Value as Json;

const REMOVED_INIT: &[&str] = &["linkerd-init", "linkerd-proxy"];
const REMOVED_VOLUMES: &[&str] = &[
    "linkerd-identity-end-entity",
    "linkerd-proxy-init-xtables-lock",
    "linkerd-identity-token",
];

/// Removes Linkerd's injection from `obj` (a workload, Pod, Namespace or Service). `pod_path` is
/// the JSON pointer of the pod template (`""` for a Pod, `None` for a Namespace or Service).
pub fn uninject(obj: &mut Json, pod_path: Option<&str>) {
    if let Some(path) = pod_path {
        if let Some(spec) = obj.pointer_mut(&format!("{path}/spec")) {
            retain_named(spec, "initContainers", |n| !REMOVED_INIT.contains(&n));
            retain_named(spec, "containers", |n| n != "linkerd-proxy");
            retain_named(spec, "volumes", |n| !REMOVED_VOLUMES.contains(&n));
        }
        if !path.is_empty() {
            strip_metadata(obj.get_mut("metadata"));
        }
        strip_metadata(obj.pointer_mut(&format!("{path}/metadata")));
    } else {
        strip_metadata(obj.get_mut("metadata"));
    }
}

fn retain_named(spec: &mut Json, key: &str, keep: impl Fn(&str) -> bool) {
    if let Some(Json::Array(list)) = spec.get_mut(key) {
        list.retain(|c| keep(c.get("name").and_then(Json::as_str).unwrap_or("")));
    }
}

/// Drops `linkerd.io*` annotations (but keeps `linkerd.io/inject: disabled`) and labels, except
/// on control-plane components, which Linkerd uninjects only to re-inject them.
fn strip_metadata(meta: Option<&mut Json>) {
    let Some(Json::Object(meta)) = meta else {
        return;
    };
    let control_plane = meta
        .get("labels")
        .and_then(|l| l.get("linkerd.io/control-plane-component"))
        .is_some();
    if control_plane {
        return;
    }
    if let Some(Json::Object(a)) = meta.get_mut("annotations") {
        a.retain(|k, v| {
            !k.starts_with("linkerd.io")
                || (k == "linkerd.io/inject" && v.as_str() == Some("disabled"))
        });
    }
    if let Some(Json::Object(l)) = meta.get_mut("labels") {
        l.retain(|k, _| !k.starts_with("linkerd.io"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_linkerd_and_keeps_the_rest() {
        let mut d = serde_json::json!({
            "kind": "Deployment",
            "metadata": {"annotations": {"linkerd.io/created-by": "x", "keep": "y"}},
            "spec": {"template": {
                "metadata": {"annotations": {"linkerd.io/inject": "disabled", "linkerd.io/proxy-version": "v"},
                             "labels": {"app": "a", "linkerd.io/workload-ns": "ns"}},
                "spec": {
                    "initContainers": [{"name": "linkerd-init"}, {"name": "setup"}],
                    "containers": [{"name": "app"}, {"name": "linkerd-proxy"}],
                    "volumes": [{"name": "linkerd-identity-end-entity"}, {"name": "data"}],
                }
            }}
        });
        uninject(&mut d, Some("/spec/template"));
        assert_eq!(
            d["metadata"]["annotations"],
            serde_json::json!({"keep": "y"})
        );
        let t = &d["spec"]["template"];
        assert_eq!(
            t["metadata"]["annotations"],
            serde_json::json!({"linkerd.io/inject": "disabled"})
        );
        assert_eq!(t["metadata"]["labels"], serde_json::json!({"app": "a"}));
        assert_eq!(
            t["spec"]["initContainers"],
            serde_json::json!([{"name": "setup"}])
        );
        assert_eq!(
            t["spec"]["containers"],
            serde_json::json!([{"name": "app"}])
        );
        assert_eq!(t["spec"]["volumes"], serde_json::json!([{"name": "data"}]));
    }
}
