//! What decoding into the Kubernetes types does to a patched object: a `null` field (Linkerd
//! writes `"resources": null` when no resources are set) is the field's zero value, which the
//! API server then omits.

use serde_json::Value as Json;

/// Removes every `null`-valued object member, recursively (list items are kept).
pub fn drop_nulls(v: &mut Json) {
    match v {
        Json::Object(m) => {
            m.retain(|_, child| !child.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Json::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Struct-valued fields of the Kubernetes types (not pointers): Linkerd encodes objects with a
/// JSON encoder that omits such a field when every member is empty, so `strategy: {}`,
/// `resources: {}`, `status: {}` and an empty `metadata` disappear, while pointer fields such
/// as `emptyDir: {}` or `securityContext: {}` stay.
fn is_value_struct(key: &str) -> bool {
    matches!(
        key,
        "metadata"
            | "spec"
            | "template"
            | "jobTemplate"
            | "strategy"
            | "updateStrategy"
            | "resources"
            | "status"
            | "creationTimestamp"
    )
}

/// What Linkerd's decode into the Kubernetes types and filtered encode does to an object:
/// Go's omitempty (see `crate::render::typed`), then the empty struct-valued fields dropped.
pub fn typed_round_trip(v: &mut Json) {
    stringify_metadata_maps(v);
    crate::render::typed::normalize(v);
    drop_empty_structs(v);
}

fn drop_empty_structs(v: &mut Json) {
    match v {
        Json::Object(m) => {
            for child in m.values_mut() {
                drop_empty_structs(child);
            }
            m.retain(|k, child| {
                !(is_value_struct(k) && child.as_object().is_some_and(|o| o.is_empty()))
            });
        }
        Json::Array(a) => a.iter_mut().for_each(drop_empty_structs),
        _ => {}
    }
}

/// Annotations and labels are `map[string]string`: a YAML `true` or `8080` there decodes as the
/// text it spells.
fn stringify_metadata_maps(v: &mut Json) {
    match v {
        Json::Object(m) => {
            for (k, child) in m.iter_mut() {
                if (k == "annotations" || k == "labels")
                    && let Json::Object(entries) = child
                {
                    for val in entries.values_mut() {
                        if let Json::Bool(_) | Json::Number(_) = val {
                            *val = Json::String(val.to_string());
                        }
                    }
                } else {
                    stringify_metadata_maps(child);
                }
            }
        }
        Json::Array(a) => a.iter_mut().for_each(stringify_metadata_maps),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_go_lists_stay() {
        let mut v = serde_json::json!({"a": null, "b": [{"resources": null, "name": "x"}, null]});
        drop_nulls(&mut v);
        assert_eq!(v, serde_json::json!({"b": [{"name": "x"}, null]}));
    }
}
