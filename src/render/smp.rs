//! Kubernetes strategic merge patch, scoped to Pods, applied client-side.
//!
//! No Rust crate applies SMP (kube sends it to the server), and Istio overlays every rendered
//! template onto the pod with it, so this is a port of the apply half of apimachinery's
//! `strategicpatch` for the Pod schema: merge keys from a static table (containers, volumes,
//! env… by `name`, ports by `containerPort`, mounts by `mountPath`), `$patch:
//! replace|delete|merge`, `$deleteFromPrimitiveList/…`, `$setElementOrder/…`, and the element
//! order of `mergeSlice` → `normalizeElementOrder` → `mergeSortedSlice`.

use serde_json::{Map, Value as Json};

/// Errors a patch can raise.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SmpError {
    /// A `$patch` directive with an unknown value.
    #[error("{path}: unknown patch type {value:?}")]
    UnknownDirective {
        /// Field path.
        path: String,
        /// The directive value.
        value: String,
    },
    /// A list element of a merge list is not an object or lacks the merge key.
    #[error("{path}: list element has no merge key {key:?}")]
    MissingMergeKey {
        /// Field path.
        path: String,
        /// The expected merge key.
        key: String,
    },
}

/// The merge key of a list field of the Pod schema, if the list merges.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "imagePullSecrets"
        | "env"
        | "resourceClaims"
        | "schedulingGates" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "ports" => Some("containerPort"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        "ownerReferences" => Some("uid"),
        _ => None,
    }
}

/// Primitive lists with the merge strategy (set union).
fn merges_primitives(field: &str) -> bool {
    field == "finalizers"
}

/// Applies `patch` to `original` (both JSON objects) as a Pod strategic merge patch.
pub fn strategic_merge(original: &Json, patch: &Json) -> Result<Json, SmpError> {
    match (original, patch) {
        (Json::Object(o), Json::Object(p)) => Ok(Json::Object(merge_map(o.clone(), p, "")?)),
        (_, Json::Object(p)) => Ok(Json::Object(merge_map(Map::new(), p, "")?)),
        (o, _) => Ok(o.clone()),
    }
}

fn strip_directives(v: &Json) -> Json {
    match v {
        Json::Object(m) => Json::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Json::Array(a) => Json::Array(
            a.iter()
                .filter(|i| !matches!(i.get("$patch").and_then(Json::as_str), Some("delete")))
                .map(strip_directives)
                .collect(),
        ),
        other => other.clone(),
    }
}

fn merge_map(
    mut original: Map<String, Json>,
    patch: &Map<String, Json>,
    path: &str,
) -> Result<Map<String, Json>, SmpError> {
    if let Some(d) = patch.get("$patch") {
        match d.as_str() {
            Some("replace") => {
                return Ok(match strip_directives(&Json::Object(patch.clone())) {
                    Json::Object(m) => m,
                    _ => Map::new(),
                });
            }
            Some("delete") => return Ok(Map::new()),
            Some("merge") => {}
            other => {
                return Err(SmpError::UnknownDirective {
                    path: path.to_string(),
                    value: other.map(str::to_string).unwrap_or_default(),
                });
            }
        }
    }
    // `$deleteFromPrimitiveList/<field>`: remove values from a primitive list.
    for (k, v) in patch {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/")
            && let (Some(Json::Array(cur)), Json::Array(del)) = (original.get(field), v)
        {
            let kept: Vec<Json> = cur.iter().filter(|x| !del.contains(x)).cloned().collect();
            original.insert(field.to_string(), Json::Array(kept));
        }
    }
    for (k, pv) in patch {
        if k.starts_with('$') {
            continue;
        }
        let child_path = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        if pv.is_null() {
            original.remove(k);
            continue;
        }
        let Some(ov) = original.get(k) else {
            original.insert(k.clone(), strip_directives(pv));
            continue;
        };
        let merged = match (ov, pv) {
            (Json::Object(om), Json::Object(pm)) => {
                Json::Object(merge_map(om.clone(), pm, &child_path)?)
            }
            (Json::Array(oa), Json::Array(pa)) => {
                if let Some(key) = merge_key(k) {
                    Json::Array(merge_list(oa, pa, key, &child_path)?)
                } else if merges_primitives(k) {
                    let mut out = oa.clone();
                    for x in pa {
                        if !out.contains(x) {
                            out.push(x.clone());
                        }
                    }
                    Json::Array(out)
                } else {
                    strip_directives(pv)
                }
            }
            _ => strip_directives(pv),
        };
        original.insert(k.clone(), merged);
    }
    // `$setElementOrder/<field>`: the patch fixes the final order of a merge list.
    for (k, v) in patch {
        if let Some(field) = k.strip_prefix("$setElementOrder/")
            && let (Some(key), Json::Array(order)) = (merge_key(field), v)
            && let Some(Json::Array(cur)) = original.get(field)
        {
            let mut sorted = cur.clone();
            sorted.sort_by_key(|item| {
                order
                    .iter()
                    .position(|o| o.get(key) == item.get(key))
                    .unwrap_or(usize::MAX)
            });
            original.insert(field.to_string(), Json::Array(sorted));
        }
    }
    Ok(original)
}

fn key_of<'a>(item: &'a Json, key: &str) -> Option<&'a Json> {
    item.get(key)
}

fn merge_list(
    original: &[Json],
    patch: &[Json],
    key: &str,
    path: &str,
) -> Result<Vec<Json>, SmpError> {
    if patch.is_empty() {
        return Ok(original.to_vec());
    }
    // A list of primitives under a merge-key field cannot be keyed: replace.
    if patch.iter().any(|p| !p.is_object()) {
        return Ok(patch.to_vec());
    }
    let mut merged: Vec<Json> = original.to_vec();
    let mut patch_items: Vec<Json> = Vec::new();
    // Special elements first: `$patch: replace` replaces the list, `$patch: delete` removes.
    for p in patch {
        match p.get("$patch").and_then(Json::as_str) {
            Some("replace") => {
                let rest: Vec<Json> = patch
                    .iter()
                    .filter(|x| x.get("$patch").is_none())
                    .map(strip_directives)
                    .collect();
                return Ok(rest);
            }
            Some("delete") => {
                let Some(kv) = key_of(p, key) else {
                    return Err(SmpError::MissingMergeKey {
                        path: path.to_string(),
                        key: key.to_string(),
                    });
                };
                merged.retain(|o| key_of(o, key) != Some(kv));
            }
            Some("merge") | None => patch_items.push(p.clone()),
            Some(other) => {
                return Err(SmpError::UnknownDirective {
                    path: path.to_string(),
                    value: other.to_string(),
                });
            }
        }
    }
    let original_after_delete = merged.clone();
    for p in &patch_items {
        let kv = key_of(p, key);
        let found = kv.and_then(|kv| merged.iter().position(|o| key_of(o, key) == Some(kv)));
        match (found, p) {
            (Some(i), Json::Object(pm)) => {
                let om = match &merged[i] {
                    Json::Object(m) => m.clone(),
                    _ => Map::new(),
                };
                merged[i] = Json::Object(merge_map(om, pm, path)?);
            }
            _ => merged.push(strip_directives(p)),
        }
    }
    // Partition into items named by the patch (in patch order) and server-only items.
    let in_patch = |item: &Json| {
        patch_items
            .iter()
            .any(|p| key_of(p, key).is_some() && key_of(p, key) == key_of(item, key))
    };
    let mut from_patch: Vec<Json> = merged.iter().filter(|i| in_patch(i)).cloned().collect();
    from_patch.sort_by_key(|item| {
        patch_items
            .iter()
            .position(|p| key_of(p, key) == key_of(item, key))
            .unwrap_or(usize::MAX)
    });
    let server_only: Vec<Json> = merged.iter().filter(|i| !in_patch(i)).cloned().collect();
    let index_in_server = |item: &Json| {
        original_after_delete
            .iter()
            .position(|o| key_of(o, key).is_some() && key_of(o, key) == key_of(item, key))
    };
    let mut out = Vec::with_capacity(from_patch.len() + server_only.len());
    let (mut i, mut j) = (0, 0);
    while i < server_only.len() || j < from_patch.len() {
        if i >= server_only.len() {
            out.push(from_patch[j].clone());
            j += 1;
        } else if j >= from_patch.len() {
            out.push(server_only[i].clone());
            i += 1;
        } else {
            let take_left = match (
                index_in_server(&server_only[i]),
                index_in_server(&from_patch[j]),
            ) {
                (Some(li), Some(ri)) => li < ri,
                _ => false,
            };
            if take_left {
                out.push(server_only[i].clone());
                i += 1;
            } else {
                out.push(from_patch[j].clone());
                j += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(o: Json, p: Json) -> Json {
        strategic_merge(&o, &p).unwrap_or(Json::Null)
    }

    #[test]
    fn new_template_items_come_first() {
        let o = json!({"spec": {"containers": [{"name": "hello", "image": "a"}]}});
        let p = json!({"spec": {"containers": [{"name": "istio-proxy", "image": "p"}]}});
        assert_eq!(
            apply(o, p),
            json!({"spec": {"containers": [{"name": "istio-proxy", "image": "p"}, {"name": "hello", "image": "a"}]}})
        );
    }

    #[test]
    fn existing_items_merge_by_key_and_keep_order() {
        let o = json!({"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]},
                                               {"name": "istio-proxy", "image": "user"}]}});
        let p = json!({"spec": {"containers": [{"name": "istio-proxy", "image": "tmpl",
                                                "args": ["x"]}]}});
        assert_eq!(
            apply(o, p),
            json!({"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]},
                                          {"name": "istio-proxy", "image": "tmpl", "args": ["x"]}]}})
        );
    }

    #[test]
    fn directives() {
        let o = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        let p = json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}});
        assert_eq!(apply(o, p), json!({"metadata": {"labels": {"c": "3"}}}));
        let o = json!({"spec": {"volumes": [{"name": "a"}, {"name": "b"}]}});
        let p = json!({"spec": {"volumes": [{"name": "a", "$patch": "delete"}]}});
        assert_eq!(apply(o, p), json!({"spec": {"volumes": [{"name": "b"}]}}));
        let o = json!({"a": {"b": 1, "c": 2}});
        assert_eq!(apply(o, json!({"a": {"b": null}})), json!({"a": {"c": 2}}));
    }

    #[test]
    fn empty_patch_list_keeps_original_and_atomic_lists_replace() {
        let o = json!({"spec": {"initContainers": [{"name": "x"}], "tolerations": [{"key": "a"}]}});
        let p = json!({"spec": {"initContainers": [], "tolerations": [{"key": "b"}]}});
        assert_eq!(
            apply(o, p),
            json!({"spec": {"initContainers": [{"name": "x"}], "tolerations": [{"key": "b"}]}})
        );
    }

    #[test]
    fn unknown_directive_is_an_error() {
        let r = strategic_merge(&json!({"a": {}}), &json!({"a": {"$patch": "bogus"}}));
        assert!(r.is_err());
    }
}
