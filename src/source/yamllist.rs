//! The YAML fast path of the offline loader: a `kind: List` as `kubectl get -o yaml` writes it
//! (block style, go-yaml v2 quoting, no anchors, items at column 0 under `items:`), split into
//! its items' texts, each read and typed on all cores.
//!
//! serde-saphyr reads about 11 MB/s on one core and builds the whole document as one value
//! before any item is typed; a 50,000-pod snapshot took tens of seconds that way. kubectl's
//! YAML is narrow and regular: every item starts with `- ` at column 0, so the items can be
//! cut apart by looking at line starts alone, and each is read by the reader of Go-emitted
//! YAML the render engine already has (`render::fastyaml`, with serde-saphyr's
//! `strict_booleans`, as the general path reads files). That reader answers only for text
//! whose value it knows to be serde-saphyr's, and resolves number-like scalars with
//! serde-saphyr itself, so the scalar rules are the general path's by construction.
//!
//! An item the reader declines (a folded long string, a tag) is read by serde-saphyr alone,
//! nested as deep as it sits in the List; anything that could make one item depend on
//! another (an anchor or alias character anywhere in it) or that serde-saphyr refuses sends
//! the whole file back to the general path, which then reports the error exactly as it always
//! has. The values are then typed like the general path types them, and whatever does not type
//! cleanly is handed to the general path's per-object code with its value: the same objects,
//! lines and errors either way (`tests/yaml_fast_path.rs`).

use serde_json::Value;

use super::typed::TypedObject;

/// One item of the List: its text (from its `- ` to the next item) and the line it starts on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ItemText<'a> {
    pub text: &'a str,
    pub line: u32,
}

/// A List cut apart: everything but `items` (read), and the items' texts.
#[derive(Debug)]
pub(super) struct SplitList<'a> {
    pub head: serde_json::Map<String, Value>,
    pub items: Vec<ItemText<'a>>,
}

/// Cuts a kubectl-shaped List into its head and items; `None` for any other text (which the
/// general path reads): no `items:` key at column 0 followed by `- ` entries at column 0,
/// several documents, a head the fast reader declines, a byte order mark.
pub(super) fn split(text: &str) -> Option<SplitList<'_>> {
    if text.starts_with('\u{feff}') {
        return None;
    }
    // (offset, line) of each item's `- `; the `items:` line's offset; where the block ends.
    let mut starts: Vec<(usize, u32)> = Vec::new();
    let (mut items_key, mut items_end) = (None, None);
    let mut offset = 0usize;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let content = line.trim_end_matches('\n');
        if items_key.is_none() {
            if content.trim_end_matches(' ') == "items:" {
                items_key = Some(start);
            }
        } else if items_end.is_none() {
            if content.starts_with("- ") || content == "-" {
                starts.push((start, u32::try_from(index + 1).ok()?));
            } else if content.starts_with(' ') || content.is_empty() {
                // Indented content before the first `- `: not kubectl's layout.
                if starts.is_empty() && !content.trim_start_matches(' ').is_empty() {
                    return None;
                }
            } else {
                items_end = Some(start);
            }
        }
    }
    let items_key = items_key?;
    let items_end = items_end.unwrap_or(text.len());
    if starts.is_empty() {
        return None;
    }
    let items = starts
        .iter()
        .enumerate()
        .map(|(k, &(start, line))| {
            let end = starts.get(k + 1).map_or(items_end, |&(next, _)| next);
            Some(ItemText {
                text: text.get(start..end)?,
                line,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let head_text = [text.get(..items_key)?, text.get(items_end..)?].concat();
    let Value::Object(head) = crate::render::fastyaml::parse_with(&head_text, STRICT)? else {
        return None;
    };
    if head.contains_key("items") {
        return None;
    }
    Some(SplitList { head, items })
}

const STRICT: crate::render::fastyaml::Booleans = crate::render::fastyaml::Booleans::Strict;

/// What the fast path made of one item.
pub(super) enum Parsed {
    /// Read and typed, as the general path would have typed it.
    Typed(TypedObject),
    /// Read; the general path's per-object code decides what it is (an unmodelled kind, or
    /// an error it must word).
    Value(Value),
}

/// Reads and types every item, on all cores; `None` sends the whole file to the general path.
/// The result is in item order, each with its line.
pub(super) fn parse_items(
    items: &[ItemText<'_>],
    typing: super::typed::Typing<'_>,
) -> Option<Vec<(Parsed, u32)>> {
    // Chunks, as in `typed::parse_items`: one item is far more work than handing one out.
    const CHUNK: usize = 64;
    let chunks: Vec<&[ItemText<'_>]> = items.chunks(CHUNK).collect();
    let parts = crate::parallel::map(&chunks, 1, |chunk| {
        let read: Vec<_> = chunk
            .iter()
            .map(|item| {
                let read = crate::render::fastyaml::parse_with(item.text, STRICT)
                    .and_then(only_item)
                    .map(|v| typed(v, typing));
                (read, item)
            })
            .collect();
        // The chunk's text is read: a mapped file's pages go back to the kernel (a declined
        // item is read again below, from the file).
        if let (Some(first), Some(last)) = (chunk.first(), chunk.last()) {
            super::mapped::release_span(first.text.as_bytes(), last.text.as_bytes());
        }
        read
    });
    let mut out = Vec::with_capacity(items.len());
    for (read, item) in parts.into_iter().flatten() {
        let parsed = match read {
            Some(p) => p,
            // On this thread: serde-saphyr recurses once per level of nesting, and the main
            // thread's stack is the one the general path is known to fit in.
            None => typed(read_alone(item.text)?, typing),
        };
        out.push((parsed, item.line));
    }
    Some(out)
}

/// The object of a one-entry sequence (an item's text read alone).
fn only_item(v: Value) -> Option<Value> {
    match v {
        Value::Array(mut a) if a.len() == 1 => a.pop(),
        _ => None,
    }
}

fn typed(mut value: Value, typing: super::typed::Typing<'_>) -> Parsed {
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        // As the general path does before typing: never read, and most of many objects.
        meta.remove("managedFields");
    }
    match super::typed::type_value(&value, typing) {
        Some(obj) => Parsed::Typed(obj),
        None => Parsed::Value(value),
    }
}

/// One item read by serde-saphyr, with the general path's options, under an `items:` key as
/// in the List so that it nests exactly as deep; `None` when it uses anchors or aliases
/// (which may reach across items) or does not read.
fn read_alone(text: &str) -> Option<Value> {
    if text.contains(['&', '*']) {
        return None;
    }
    let doc = format!("items:\n{text}");
    let options = super::offline::yaml_options(doc.len());
    let value: Value = serde_saphyr::from_str_with_options(&doc, options).ok()?;
    match value {
        Value::Object(mut m) if m.len() == 1 => only_item(m.remove("items")?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saphyr(text: &str) -> Option<Value> {
        serde_saphyr::from_str_with_options(text, super::super::offline::yaml_options(text.len()))
            .ok()
    }

    const LIST: &str = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: a\n    labels:\n      v: \"000000008\"\n\n- apiVersion: v1\n  kind: ConfigMap\n  data:\n    x: |\n      one\n\n      two\n  metadata:\n    name: b\nkind: List\nmetadata:\n  resourceVersion: \"\"\n";

    #[test]
    fn a_kubectl_list_is_cut_at_its_items() {
        let split = split(LIST).expect("kubectl's shape");
        let lines: Vec<u32> = split.items.iter().map(|i| i.line).collect();
        assert_eq!(lines, [3, 10]);
        assert!(
            split.items[0]
                .text
                .starts_with("- apiVersion: v1\n  kind: Pod")
        );
        assert!(split.items[1].text.ends_with("    name: b\n"));
        assert_eq!(split.head.get("kind"), Some(&Value::from("List")));
        assert_eq!(
            split.head.keys().collect::<Vec<_>>(),
            ["apiVersion", "kind", "metadata"]
        );
        // Each item reads as it does inside the whole List.
        let whole = saphyr(LIST).unwrap();
        for (k, item) in split.items.iter().enumerate() {
            let alone = crate::render::fastyaml::parse_with(item.text, STRICT).and_then(only_item);
            assert_eq!(alone.as_ref(), whole.pointer(&format!("/items/{k}")));
            assert_eq!(
                read_alone(item.text).as_ref(),
                whole.pointer(&format!("/items/{k}"))
            );
        }
    }

    #[test]
    fn other_shapes_are_left_to_the_general_path() {
        for text in [
            "",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n",
            // Indented entries (serde-saphyr's own style), an empty list, a flow list.
            "apiVersion: v1\nitems:\n  - kind: Pod\nkind: List\n",
            "apiVersion: v1\nitems: []\nkind: List\n",
            "apiVersion: v1\nitems: [{kind: Pod}]\nkind: List\n",
            // Two documents; a comment between items; a second `items`.
            "apiVersion: v1\nitems:\n- kind: Pod\nkind: List\n---\nkind: Pod\n",
            "apiVersion: v1\nitems:\n- kind: Pod\n# c\n- kind: Pod\nkind: List\n",
            "apiVersion: v1\nitems:\n- kind: Pod\nitems:\n- kind: Pod\nkind: List\n",
            "\u{feff}apiVersion: v1\nitems:\n- kind: Pod\nkind: List\n",
        ] {
            assert!(split(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn items_with_anchors_send_the_file_to_the_general_path() {
        let text = "apiVersion: v1\nitems:\n- &a {kind: Pod}\n- *a\nkind: List\n";
        let split = split(text).expect("cut apart");
        assert!(
            parse_items(
                &split.items,
                super::super::typed::Typing {
                    default_namespace: "default",
                    slim: false
                }
            )
            .is_none()
        );
    }

    /// A plain scalar typed on the fast path as serde-saphyr types it with the loader's
    /// options, whatever its text (the reader either agrees or declines, and a declined item
    /// is read by serde-saphyr).
    fn scalar_agrees(scalar: &str) -> Result<(), String> {
        let item = format!("- k: {scalar}\n");
        let doc = format!("items:\n{item}");
        let reference = saphyr(&doc).and_then(|v| v.pointer("/items/0/k").cloned());
        let fast = crate::render::fastyaml::parse_with(&item, STRICT)
            .and_then(only_item)
            .and_then(|v| v.get("k").cloned());
        match (&fast, &reference) {
            (Some(f), Some(r)) if f != r => Err(format!("{scalar:?}: fast {f:?}, saphyr {r:?}")),
            (Some(_), None) => Err(format!("{scalar:?}: fast read what saphyr refuses")),
            _ => Ok(()),
        }
    }

    #[test]
    fn scalar_rules_are_the_general_paths() {
        for s in [
            "000000008",
            "0755",
            "0x1F",
            "0o17",
            "1e3",
            "1.5",
            "-1",
            "+1",
            ".inf",
            "-.inf",
            ".nan",
            "true",
            "True",
            "TRUE",
            "tRUE",
            "yes",
            "on",
            "off",
            "n",
            "y",
            "null",
            "Null",
            "NULL",
            "~",
            "1_000",
            "12:30",
            "2026-01-01",
            "2026-01-01T00:00:00Z",
            "100m",
            "128Mi",
            "10.0.0.1",
            "v1.2.3",
            "-",
            "foo bar",
            "a:b",
            "1.",
            "0.",
            "-0",
            "0b101",
            "+.5",
            "18446744073709551616",
            "-9223372036854775809",
            "1e400",
            "Infinity",
            "nan",
        ] {
            scalar_agrees(s).unwrap();
        }
        // The label that the general path refuses (a number, not a string) is a number here too.
        let v = crate::render::fastyaml::parse_with("- v: 000000008\n", STRICT).unwrap();
        assert!(v.pointer("/0/v").is_some_and(Value::is_number), "{v:?}");
    }

    proptest::proptest! {
        #[test]
        fn any_plain_scalar_types_like_serde_saphyr(
            s in "[-+.~0-9a-zA-Z_:eExXoObB ]{1,12}"
        ) {
            let s = s.trim();
            proptest::prop_assume!(!s.is_empty());
            proptest::prop_assert!(scalar_agrees(s).is_ok(), "{}", scalar_agrees(s).unwrap_err());
        }
    }
}
