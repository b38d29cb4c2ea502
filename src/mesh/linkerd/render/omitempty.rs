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
