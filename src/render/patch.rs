//! RFC 6902 JSON patch between the original and the mutated pod (what the webhook returns).
//!
//! The operations are exactly those of the json-patch crate's `diff` (same walk, same order,
//! same paths), written straight into a `serde_json::Value`: building the crate's typed
//! `Patch` and serialising it again cost as much as the diff itself. A test checks the two
//! agree.

use serde_json::{Map, Value as Json};

/// The JSON patch that turns `original` into `mutated`.
pub fn json_patch(original: &Json, mutated: &Json) -> Json {
    let mut ops = Vec::new();
    let mut pointer = String::new();
    diff(original, mutated, &mut pointer, &mut ops);
    Json::Array(ops)
}

fn op(kind: &str, path: &str, value: Option<&Json>) -> Json {
    let mut m = Map::new();
    m.insert("op".into(), Json::String(kind.into()));
    m.insert("path".into(), Json::String(path.into()));
    if let Some(v) = value {
        m.insert("value".into(), v.clone());
    }
    Json::Object(m)
}

/// Appends one JSON-pointer token (`~` → `~0`, `/` → `~1`).
fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

fn diff(left: &Json, right: &Json, pointer: &mut String, ops: &mut Vec<Json>) {
    match (left, right) {
        (Json::Object(l), Json::Object(r)) => {
            for (key, rv) in r {
                let len = pointer.len();
                push_token(pointer, key);
                match l.get(key) {
                    Some(lv) => diff(lv, rv, pointer, ops),
                    None => ops.push(op("add", pointer, Some(rv))),
                }
                pointer.truncate(len);
            }
            for key in l.keys() {
                if !r.contains_key(key) {
                    let len = pointer.len();
                    push_token(pointer, key);
                    ops.push(op("remove", pointer, None));
                    pointer.truncate(len);
                }
            }
        }
        (Json::Array(l), Json::Array(r)) => {
            let mut shift = 0usize;
            for idx in 0..l.len().max(r.len()) {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&(idx - shift).to_string());
                match (l.get(idx), r.get(idx)) {
                    (Some(lv), Some(rv)) => diff(lv, rv, pointer, ops),
                    (Some(_), None) => {
                        shift += 1;
                        ops.push(op("remove", pointer, None));
                    }
                    (None, Some(rv)) => ops.push(op("add", pointer, Some(rv))),
                    (None, None) => {}
                }
                pointer.truncate(len);
            }
        }
        (l, r) if l == r => {}
        (_, r) => ops.push(op("replace", pointer, Some(r))),
    }
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

    #[test]
    fn same_operations_as_the_json_patch_crate() {
        let a = json!({"metadata": {"labels": {"a/b": "1", "c~d": "2", "gone": "x"}},
            "spec": {"containers": [{"name": "a", "args": ["x", "y", "z"]}, {"name": "b"}],
                     "volumes": [{"name": "v"}]}});
        let b = json!({"metadata": {"labels": {"a/b": "2", "c~d": "2"}, "annotations": {"k": "v"}},
            "spec": {"containers": [{"name": "istio-proxy", "args": ["p"]}, {"name": "a"},
                                    {"name": "b"}], "volumes": []}, "status": null});
        for (x, y) in [(&a, &b), (&b, &a), (&a, &a), (&json!(1), &json!([1]))] {
            let ours = json_patch(x, y);
            let theirs = serde_json::to_value(::json_patch::diff(x, y)).unwrap_or(Json::Null);
            assert_eq!(ours, theirs);
        }
    }
}
