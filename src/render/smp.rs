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
    strategic_merge_owned(original.clone(), patch.clone())
}

/// [`strategic_merge`] consuming both sides, so that nothing is copied: the injector merges
/// every rendered template into the pod, and cloning both trees cost more than the merge.
pub(crate) fn strategic_merge_owned(original: Json, patch: Json) -> Result<Json, SmpError> {
    match (original, patch) {
        (Json::Object(o), Json::Object(p)) => Ok(Json::Object(merge_map(o, p, None)?)),
        (_, Json::Object(p)) => Ok(Json::Object(merge_map(Map::new(), p, None)?)),
        (o, _) => Ok(o),
    }
}

/// A field path built only when an error needs it (`spec.containers`).
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    key: &'a str,
}

fn render_path(path: Option<&Path<'_>>) -> String {
    let mut keys = Vec::new();
    let mut cur = path;
    while let Some(p) = cur {
        keys.push(p.key);
        cur = p.parent;
    }
    keys.reverse();
    keys.join(".")
}

/// Drops `$` directives (and list items marked `$patch: delete`) from a patch value that is
/// inserted as-is.
fn strip_directives(v: Json) -> Json {
    match v {
        Json::Object(mut m) => {
            m.retain(|k, _| !k.starts_with('$'));
            for child in m.values_mut() {
                *child = strip_directives(std::mem::take(child));
            }
            Json::Object(m)
        }
        Json::Array(mut a) => {
            a.retain(|i| !matches!(i.get("$patch").and_then(Json::as_str), Some("delete")));
            Json::Array(a.into_iter().map(strip_directives).collect())
        }
        other => other,
    }
}

fn merge_map(
    mut original: Map<String, Json>,
    patch: Map<String, Json>,
    path: Option<&Path<'_>>,
) -> Result<Map<String, Json>, SmpError> {
    if let Some(d) = patch.get("$patch") {
        match d.as_str() {
            Some("replace") => {
                return Ok(match strip_directives(Json::Object(patch)) {
                    Json::Object(m) => m,
                    _ => Map::new(),
                });
            }
            Some("delete") => return Ok(Map::new()),
            Some("merge") => {}
            other => {
                return Err(SmpError::UnknownDirective {
                    path: render_path(path),
                    value: other.map(str::to_string).unwrap_or_default(),
                });
            }
        }
    }
    // `$deleteFromPrimitiveList/<field>`: remove values from a primitive list.
    for (k, v) in &patch {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/")
            && let (Some(Json::Array(cur)), Json::Array(del)) = (original.get_mut(field), v)
        {
            cur.retain(|x| !del.contains(x));
        }
    }
    let mut set_order: Vec<(String, Json)> = Vec::new();
    for (k, pv) in patch {
        if k.starts_with('$') {
            if k.starts_with("$setElementOrder/") {
                set_order.push((k, pv));
            }
            continue;
        }
        if pv.is_null() {
            original.remove(&k);
            continue;
        }
        let Some(ov) = original.get_mut(&k) else {
            original.insert(k, strip_directives(pv));
            continue;
        };
        let child_path = Path {
            parent: path,
            key: &k,
        };
        let merged = match (std::mem::take(ov), pv) {
            (Json::Object(om), Json::Object(pm)) => {
                Json::Object(merge_map(om, pm, Some(&child_path))?)
            }
            (Json::Array(oa), Json::Array(pa)) => {
                if let Some(key) = merge_key(&k) {
                    Json::Array(merge_list(oa, pa, key, &child_path)?)
                } else if merges_primitives(&k) {
                    let mut out = oa;
                    for x in pa {
                        if !out.contains(&x) {
                            out.push(x);
                        }
                    }
                    Json::Array(out)
                } else {
                    strip_directives(Json::Array(pa))
                }
            }
            (_, pv) => strip_directives(pv),
        };
        *ov = merged;
    }
    // `$setElementOrder/<field>`: the patch fixes the final order of a merge list.
    for (k, v) in set_order {
        if let Some(field) = k.strip_prefix("$setElementOrder/")
            && let (Some(key), Json::Array(order)) = (merge_key(field), v)
            && let Some(Json::Array(cur)) = original.get_mut(field)
        {
            cur.sort_by_key(|item| {
                order
                    .iter()
                    .position(|o| o.get(key) == item.get(key))
                    .unwrap_or(usize::MAX)
            });
        }
    }
    Ok(original)
}

fn key_of<'a>(item: &'a Json, key: &str) -> Option<&'a Json> {
    item.get(key)
}

/// One element of a merged list with what its final placement depends on.
struct Placed {
    item: Json,
    /// Index of the first element with the same merge key in the list before the merge.
    server_index: Option<usize>,
    /// Index of the first patch element with the same merge key.
    patch_index: Option<usize>,
}

fn merge_list(
    original: Vec<Json>,
    patch: Vec<Json>,
    key: &str,
    path: &Path<'_>,
) -> Result<Vec<Json>, SmpError> {
    if patch.is_empty() {
        return Ok(original);
    }
    // A list of primitives under a merge-key field cannot be keyed: replace.
    if patch.iter().any(|p| !p.is_object()) {
        return Ok(patch);
    }
    // Special elements first: `$patch: replace` replaces the list, `$patch: delete` removes;
    // the first replace or error in patch order decides.
    for p in &patch {
        match p.get("$patch").and_then(Json::as_str) {
            Some("replace") => {
                return Ok(patch
                    .into_iter()
                    .filter(|x| x.get("$patch").is_none())
                    .map(strip_directives)
                    .collect());
            }
            Some("delete") if key_of(p, key).is_none() => {
                return Err(SmpError::MissingMergeKey {
                    path: render_path(Some(path)),
                    key: key.to_string(),
                });
            }
            Some("delete" | "merge") | None => {}
            Some(other) => {
                return Err(SmpError::UnknownDirective {
                    path: render_path(Some(path)),
                    value: other.to_string(),
                });
            }
        }
    }
    let mut merged = original;
    let mut patch_items: Vec<Json> = Vec::with_capacity(patch.len());
    for p in patch {
        if matches!(p.get("$patch").and_then(Json::as_str), Some("delete")) {
            let kv = key_of(&p, key);
            merged.retain(|o| key_of(o, key) != kv);
        } else {
            patch_items.push(p);
        }
    }
    let server_len = merged.len();
    let mut server_index: Vec<Option<usize>> = (0..server_len)
        .map(|i| {
            key_of(&merged[i], key)
                .and_then(|kv| merged.iter().position(|o| key_of(o, key) == Some(kv)))
        })
        .collect();
    let patch_keys: Vec<Option<Json>> = patch_items
        .iter()
        .map(|p| key_of(p, key).cloned())
        .collect();
    for p in patch_items {
        let kv = key_of(&p, key);
        let found = kv.and_then(|kv| merged.iter().position(|o| key_of(o, key) == Some(kv)));
        match (found, p) {
            (Some(i), Json::Object(pm)) => {
                let om = match std::mem::take(&mut merged[i]) {
                    Json::Object(m) => m,
                    _ => Map::new(),
                };
                merged[i] = Json::Object(merge_map(om, pm, Some(path))?);
            }
            (_, p) => {
                merged.push(strip_directives(p));
                // A new element's key is not in the list before the merge.
                server_index.push(None);
            }
        }
    }
    // Partition into items named by the patch (in patch order) and server-only items, then
    // interleave them as `mergeSortedSlice` does.
    let mut from_patch: Vec<Placed> = Vec::new();
    let mut server_only: Vec<Placed> = Vec::new();
    for (item, server_index) in merged.into_iter().zip(server_index) {
        let kv = key_of(&item, key);
        let patch_index =
            kv.and_then(|kv| patch_keys.iter().position(|pk| pk.as_ref() == Some(kv)));
        let placed = Placed {
            item,
            server_index,
            patch_index,
        };
        if patch_index.is_some() {
            from_patch.push(placed);
        } else {
            server_only.push(placed);
        }
    }
    from_patch.sort_by_key(|p| p.patch_index.unwrap_or(usize::MAX));
    let mut out = Vec::with_capacity(from_patch.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = from_patch.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => match (l.server_index, r.server_index) {
                (Some(li), Some(ri)) => li < ri,
                _ => false,
            },
        };
        let next = if take_left { left.next() } else { right.next() };
        if let Some(p) = next {
            out.push(p.item);
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
