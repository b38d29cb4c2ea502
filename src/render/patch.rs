//! RFC 6902 JSON patch between the original and the mutated pod (what the webhook returns),
//! via the json-patch crate.

/// The JSON patch that turns `original` into `mutated`.
pub fn json_patch(original: &serde_json::Value, mutated: &serde_json::Value) -> serde_json::Value {
    let patch = json_patch::diff(original, mutated);
    serde_json::to_value(&patch).unwrap_or(serde_json::Value::Array(Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_round_trips() {
        let a = json!({"spec": {"containers": [{"name": "a"}]}});
        let b = json!({"spec": {"containers": [{"name": "istio-proxy"}, {"name": "a"}]}, "x": 1});
        let p = json_patch(&a, &b);
        let Ok(p) = serde_json::from_value::<::json_patch::Patch>(p) else {
            panic!("patch");
        };
        let mut doc = a.clone();
        assert!(::json_patch::patch(&mut doc, &p).is_ok());
        assert_eq!(doc, b);
    }
}
