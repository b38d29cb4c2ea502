//! The JSON fast path of the offline loader: list items typed straight from their text, in
//! parallel, and inserted in input order.
//!
//! A snapshot of a 50,000-pod cluster is close to a gigabyte of JSON. Going through
//! `serde_json::Value` first (as the general path does, so that YAML and JSON share one set of
//! checks) costs an allocation per field and a second walk; here each item is deserialized
//! once, directly into its `k8s-openapi` type, after a shallow scan of its first keys has
//! told its kind. Items are independent, so the work is split across the machine's cores;
//! insertion stays sequential, so the state is the same as the general path builds.
//!
//! Anything unusual (an item whose head the scan cannot read, a field that does not fit its
//! type, a missing name) is left to the general path, which knows how to say what is wrong and
//! where: the fast path never decides an error message.

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, LimitRange, Namespace, Node, Pod, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::value::RawValue;

use crate::origin::Origin;
use crate::state::{ClusterState, Kind};

macro_rules! typed_objects {
    ($($kind:ident($ty:ty) => $store:ident,)*) => {
        /// One list item, typed. Boxed: a `Pod` is large, and most of a list's items are pods.
        pub(super) enum TypedObject {
            $($kind(Box<$ty>),)*
        }

        impl TypedObject {
            fn parse(kind: Kind, raw: &str) -> Option<TypedObject> {
                match kind {
                    $(Kind::$kind => serde_json::from_str::<$ty>(raw)
                        .ok()
                        .map(|o| TypedObject::$kind(Box::new(o))),)*
                }
            }

            /// The same from a value already read (the YAML fast path's): a `&Value`
            /// deserializes exactly as the owned value the general path types.
            fn from_value(kind: Kind, value: &serde_json::Value) -> Option<TypedObject> {
                use serde::Deserialize;
                match kind {
                    $(Kind::$kind => <$ty>::deserialize(value)
                        .ok()
                        .map(|o| TypedObject::$kind(Box::new(o))),)*
                }
            }

            fn slim(&mut self) {
                use super::slim::Slim;
                match self {
                    $(TypedObject::$kind(o) => o.slim(),)*
                }
            }

            pub(super) fn kind(&self) -> Kind {
                match self {
                    $(TypedObject::$kind(_) => Kind::$kind,)*
                }
            }

            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                use k8s_openapi::Metadata;
                match self {
                    $(TypedObject::$kind(o) => o.metadata_mut(),)*
                }
            }

            pub(super) fn insert_into(self, state: &mut ClusterState, origin: Origin) {
                match self {
                    $(TypedObject::$kind(o) => {
                        state.mark_loaded(Kind::$kind);
                        state.$store.insert(*o, origin);
                    })*
                }
            }
        }
    };
}

typed_objects! {
    Namespace(Namespace) => namespaces,
    Pod(Pod) => pods,
    Deployment(Deployment) => deployments,
    StatefulSet(StatefulSet) => statefulsets,
    DaemonSet(DaemonSet) => daemonsets,
    ReplicaSet(ReplicaSet) => replicasets,
    Job(Job) => jobs,
    CronJob(CronJob) => cronjobs,
    MutatingWebhookConfiguration(MutatingWebhookConfiguration) => mutating_webhooks,
    ConfigMap(ConfigMap) => configmaps,
    Secret(Secret) => secrets,
    Service(Service) => services,
    Endpoints(Endpoints) => endpoints,
    EndpointSlice(EndpointSlice) => endpoint_slices,
    Event(Event) => events,
    NetworkPolicy(NetworkPolicy) => network_policies,
    ResourceQuota(ResourceQuota) => resource_quotas,
    LimitRange(LimitRange) => limit_ranges,
    Node(Node) => nodes,
}

/// How list items are typed: the namespace of objects that name none, and whether to drop
/// what no check reads ([`super::slim`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Typing<'a> {
    pub default_namespace: &'a str,
    pub slim: bool,
}

/// What the fast path made of one item.
pub(super) enum Parsed {
    /// Typed, named, and (for a namespaced kind) given its namespace.
    Typed(TypedObject),
    /// Left to the general path: an unmodelled kind, or something it must explain.
    General,
}

/// Types every item, splitting the work across the machine's cores, and finds the line each
/// starts on in `text` (which the items borrow from). The result is in item order.
pub(super) fn parse_items(
    text: &str,
    items: &[&RawValue],
    typing: Typing<'_>,
) -> Vec<(Parsed, u32)> {
    // Items are typed in chunks, handed out to the cores one at a time; a chunk this small
    // still costs far more to type than to hand out.
    const CHUNK: usize = 256;
    let offset_of = |raw: &RawValue| {
        (raw.get().as_ptr() as usize)
            .saturating_sub(text.as_ptr() as usize)
            .min(text.len())
    };
    // Chunk k covers the text from its first item (the text's start, for the first chunk) to
    // the next chunk's first item (the text's end, for the last), and counts the newlines in it.
    let starts: Vec<usize> = items
        .chunks(CHUNK)
        .enumerate()
        .map(|(k, part)| match part.first() {
            Some(first) if k > 0 => offset_of(first),
            _ => 0,
        })
        .collect();
    let chunks: Vec<(usize, usize, &[&RawValue])> = items
        .chunks(CHUNK)
        .zip(&starts)
        .enumerate()
        .map(|(k, (part, &start))| {
            let end = starts.get(k + 1).copied().unwrap_or(text.len());
            (start, end, part)
        })
        .collect();
    let parts = crate::parallel::map(&chunks, 1, |&(start, end, part)| {
        let (mut newlines, mut counted) = (0usize, start);
        let typed: Vec<(Parsed, u32)> = part
            .iter()
            .map(|raw| {
                let offset = offset_of(raw).max(counted);
                newlines += count_newlines(text.as_bytes().get(counted..offset));
                counted = offset;
                let line = u32::try_from(newlines).unwrap_or(u32::MAX);
                (parse_item(raw.get(), typing), line)
            })
            .collect();
        newlines += count_newlines(text.as_bytes().get(counted..end.max(counted)));
        // The chunk's text is typed: a mapped file's pages go back to the kernel.
        if let Some(chunk_text) = text.as_bytes().get(start..end) {
            super::mapped::release(chunk_text);
        }
        (typed, newlines)
    });
    let mut out = Vec::with_capacity(items.len());
    let mut base = 1u32;
    for (part, newlines) in parts {
        out.extend(
            part.into_iter()
                .map(|(parsed, line)| (parsed, base.saturating_add(line))),
        );
        base = base.saturating_add(u32::try_from(newlines).unwrap_or(u32::MAX));
    }
    out
}

/// The newlines in `bytes` (none for `None`), counted with `memchr`: the loaders count every
/// byte of a multi-GB input once.
pub(super) fn count_newlines(bytes: Option<&[u8]>) -> usize {
    bytes.map_or(0, |b| memchr::memchr_iter(b'\n', b).count())
}

fn parse_item(raw: &str, typing: Typing<'_>) -> Parsed {
    let Some(head) = scan_head(raw) else {
        return Parsed::General;
    };
    let Some(kind) = Kind::from_manifest(head.api_version, head.kind) else {
        return Parsed::General;
    };
    // As the general path does, managedFields are not typed: serde would build a JSON value
    // for every entry's fieldsV1 (nearly half of a kubectl-shaped pod) only for `named` to drop it.
    let stripped = without_managed_fields(raw);
    let text = stripped.as_deref().unwrap_or(raw);
    match TypedObject::parse(kind, text).and_then(|obj| named(obj, kind, typing)) {
        Some(obj) => Parsed::Typed(obj),
        None => Parsed::General,
    }
}

/// Types a list item the YAML fast path has read into a value, as [`parse_item`] types JSON
/// text; `None` leaves it to the general path (which gets the same value).
pub(super) fn type_value(value: &serde_json::Value, typing: Typing<'_>) -> Option<TypedObject> {
    let head = |key: &str| value.get(key).and_then(serde_json::Value::as_str);
    let kind = Kind::from_manifest(head("apiVersion")?, head("kind")?)?;
    named(TypedObject::from_value(kind, value)?, kind, typing)
}

/// A typed object as the general path would insert it: without managed fields (and slimmed,
/// if asked), named, and in the default namespace if it names none; `None` when the general
/// path must decide.
fn named(mut obj: TypedObject, kind: Kind, typing: Typing<'_>) -> Option<TypedObject> {
    if typing.slim {
        obj.slim();
    }
    let meta = obj.metadata_mut();
    // Never read, and the largest part of many objects; live mode drops them too.
    meta.managed_fields = None;
    if meta.name.as_deref().unwrap_or("").is_empty() {
        // The general path knows whether `generateName` excuses it, and how to say so.
        return None;
    }
    if kind.namespaced() && meta.namespace.as_deref().is_none_or(str::is_empty) {
        meta.namespace = Some(typing.default_namespace.to_owned());
    }
    Some(obj)
}

/// An item's `apiVersion` and `kind`, as written.
#[derive(Debug, PartialEq)]
struct Head<'a> {
    api_version: &'a str,
    kind: &'a str,
}

/// Reads the top-level `apiVersion` and `kind` of a JSON object that serde_json has already
/// validated (it came out of a `RawValue`), stopping as soon as both are seen: kubectl writes
/// them first, so this reads a few dozen bytes of a 15 KB pod. `None` (a string with escapes,
/// a key missing, a value not a string) sends the item to the general path.
fn scan_head(raw: &str) -> Option<Head<'_>> {
    let (mut api_version, mut kind) = (None, None);
    for (key, start) in members(raw, 0) {
        let slot = match key {
            "apiVersion" => &mut api_version,
            "kind" => &mut kind,
            _ => continue,
        };
        if raw.as_bytes().get(start) != Some(&b'"') {
            return None;
        }
        *slot = Some(plain_string(raw, start)?.0);
        if let (Some(api_version), Some(kind)) = (api_version, kind) {
            return Some(Head { api_version, kind });
        }
    }
    None
}

/// The item's text with `metadata.managedFields` written as `null` (which types as none),
/// when it has them; `None` when it has none or the scan cannot find them for sure (a key with
/// escapes), and the text is typed as it is.
fn without_managed_fields(raw: &str) -> Option<String> {
    let (_, meta_start) = members(raw, 0).find(|m| m.0 == "metadata")?;
    let (_, start) = members(raw, meta_start).find(|m| m.0 == "managedFields")?;
    let end = skip_value(raw.as_bytes(), start)?;
    let mut out = String::with_capacity(raw.len() - (end - start) + 4);
    out.push_str(raw.get(..start)?);
    out.push_str("null");
    out.push_str(raw.get(end..)?);
    Some(out)
}

/// The members of the (valid) JSON object starting at `at`, as (key, where its value
/// starts), in order; it ends early at a key with escapes, which the scan does not decode. A
/// value is skipped only on the way to the next member, so finding `metadata` does not cross
/// it.
fn members(raw: &str, at: usize) -> Members<'_> {
    let i = skip_ws(raw.as_bytes(), at);
    let is_object = raw.as_bytes().get(i) == Some(&b'{');
    Members {
        raw,
        i: i + 1,
        value: None,
        done: !is_object,
    }
}

struct Members<'a> {
    raw: &'a str,
    /// Where to look for the next key, once `value` (if any) is skipped.
    i: usize,
    value: Option<usize>,
    done: bool,
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, usize);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let found = self.step();
        self.done = found.is_none();
        found
    }
}

impl<'a> Members<'a> {
    fn step(&mut self) -> Option<(&'a str, usize)> {
        let (raw, bytes) = (self.raw, self.raw.as_bytes());
        let mut i = match self.value.take() {
            Some(start) => skip_value(bytes, start)?,
            None => self.i,
        };
        i = skip_ws(bytes, i);
        if bytes.get(i) == Some(&b',') {
            i = skip_ws(bytes, i + 1);
        }
        if bytes.get(i) != Some(&b'"') {
            return None;
        }
        let (key, after_key) = plain_string(raw, i)?;
        i = skip_ws(bytes, after_key);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(bytes, i + 1);
        self.value = Some(start);
        Some((key, start))
    }
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// The string starting at the quote at `start`, when it has no escapes; and the index after it.
fn plain_string(raw: &str, start: usize) -> Option<(&str, usize)> {
    let rest = raw.get(start + 1..)?;
    let end = rest.find(['"', '\\'])?;
    if rest.as_bytes().get(end) != Some(&b'"') {
        return None;
    }
    Some((rest.get(..end)?, start + 1 + end + 1))
}

/// The index just after the (valid) JSON value starting at `i`.
///
/// Per byte, only the five that open or close a value matter; strings are crossed with
/// `memchr` (SIMD) to their closing quote. A managedFields array is thousands of such bytes,
/// so this is what the cut of them costs (measured faster than serde_json's own skipping, and
/// than a loop that looks at every byte).
fn skip_value(bytes: &[u8], mut i: usize) -> Option<usize> {
    match *bytes.get(i)? {
        b'"' => return skip_string(bytes, i),
        b'{' | b'[' => {}
        // A scalar ends at the next delimiter.
        _ => {
            let rest = bytes.get(i..)?;
            let len = rest
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())
                .unwrap_or(rest.len());
            return Some(i + len);
        }
    }
    let mut depth = 0usize;
    loop {
        i += bytes
            .get(i..)?
            .iter()
            .position(|&b| STRUCTURAL[usize::from(b)])?;
        match bytes[i] {
            b'"' => i = skip_string(bytes, i)?,
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            _ => {
                depth = depth.checked_sub(1)?;
                i += 1;
                if depth == 0 {
                    return Some(i);
                }
            }
        }
    }
}

/// The index just after the string whose opening quote is at `i`.
fn skip_string(bytes: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        j += memchr::memchr2(b'"', b'\\', bytes.get(j..)?)?;
        if bytes[j] == b'\\' {
            j += 2;
        } else {
            return Some(j + 1);
        }
    }
}

/// The bytes that open or close a string, object or array.
static STRUCTURAL: [bool; 256] = {
    let mut table = [false; 256];
    table[b'"' as usize] = true;
    table[b'{' as usize] = true;
    table[b'}' as usize] = true;
    table[b'[' as usize] = true;
    table[b']' as usize] = true;
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_is_read_from_the_first_keys() {
        let raw = r#"{ "apiVersion" : "v1", "kind": "Pod", "metadata": {"name": "a"}}"#;
        assert_eq!(
            scan_head(raw),
            Some(Head {
                api_version: "v1",
                kind: "Pod"
            })
        );
    }

    #[test]
    fn head_skips_values_before_the_kind() {
        let raw = r#"{"metadata": {"name": "a\"}", "x": [1, {"y": "]"}]}, "n": -1.5e3, "t": true,
                     "kind": "ConfigMap", "apiVersion": "v1"}"#;
        assert_eq!(
            scan_head(raw),
            Some(Head {
                api_version: "v1",
                kind: "ConfigMap"
            })
        );
    }

    #[test]
    fn escaped_or_missing_heads_go_to_the_general_path() {
        assert_eq!(
            scan_head(r#"{"kind": "P\u006fd", "apiVersion": "v1"}"#),
            None
        );
        assert_eq!(scan_head(r#"{"kind": "Pod"}"#), None);
        assert_eq!(scan_head(r#"{"kind": 3, "apiVersion": "v1"}"#), None);
        assert_eq!(scan_head(r#"[1, 2]"#), None);
        assert_eq!(scan_head(""), None);
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            ".{0,8}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(".{0,6}", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Whatever an object holds before, between and after its `apiVersion` and `kind`
        /// (strings with quotes, brackets and escapes, numbers, nesting), compact or pretty,
        /// the scan finds what serde_json reads, or declines.
        #[test]
        fn head_scan_agrees_with_serde_json(
            before in proptest::collection::btree_map("[a-z\\\\\"{}\\[\\],:]{0,6}", json_value(), 0..4),
            after in proptest::collection::btree_map("[a-z]{0,6}", json_value(), 0..4),
            api_version in ".{0,12}",
            kind in ".{0,12}",
            pretty in proptest::bool::ANY,
        ) {
            let plain = |s: &str| !s.chars().any(|c| c == '"' || c == '\\' || c.is_control());
            let keys_plain = before.keys().all(|k| plain(k));
            let mut map = serde_json::Map::new();
            for (k, v) in before {
                map.insert(k, v);
            }
            map.insert("apiVersion".into(), api_version.clone().into());
            map.insert("kind".into(), kind.clone().into());
            for (k, v) in after {
                map.entry(k).or_insert(v);
            }
            let value = serde_json::Value::Object(map);
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            match scan_head(&text) {
                Some(head) => {
                    proptest::prop_assert_eq!(head.api_version, api_version.as_str());
                    proptest::prop_assert_eq!(head.kind, kind.as_str());
                }
                // Declining is only for escaped strings (serde_json escapes these) in the keys
                // before the head or in the head's values.
                None => proptest::prop_assert!(
                    !(keys_plain && plain(&api_version) && plain(&kind)),
                    "{}",
                    text
                ),
            }
        }
    }

    #[test]
    fn managed_fields_are_cut_before_typing() {
        let raw = r#"{"kind": "Pod", "metadata": {"name": "a", "managedFields": [{"manager": "k",
            "fieldsV1": {"f:metadata": {}}}], "labels": {"x": "}"}}, "spec": {"managedFields": 1}}"#;
        let cut = without_managed_fields(raw).unwrap();
        let v: serde_json::Value = serde_json::from_str(&cut).unwrap();
        assert_eq!(v["metadata"]["managedFields"], serde_json::Value::Null);
        assert_eq!(v["metadata"]["labels"]["x"], "}");
        assert_eq!(v["spec"]["managedFields"], 1);
        assert_eq!(
            without_managed_fields(r#"{"metadata": {"name": "a"}}"#),
            None
        );
        assert_eq!(
            without_managed_fields(r#"{"spec": {"managedFields": []}}"#),
            None
        );
    }

    proptest::proptest! {
        /// Wherever managedFields sit among metadata's other keys, and whatever those hold, the
        /// cut text reads as the object with managedFields null and nothing else changed.
        #[test]
        fn cutting_managed_fields_changes_nothing_else(
            meta in proptest::collection::btree_map("[a-zA-Z]{0,6}", json_value(), 0..5),
            rest in proptest::collection::btree_map("[a-z]{1,6}", json_value(), 0..4),
            managed in json_value(),
            pretty in proptest::bool::ANY,
        ) {
            let mut metadata = serde_json::Map::new();
            for (k, v) in meta {
                metadata.insert(k, v);
            }
            metadata.insert("managedFields".into(), managed);
            let mut object = serde_json::Map::new();
            for (k, v) in rest {
                object.insert(k, v);
            }
            object.insert("metadata".into(), serde_json::Value::Object(metadata));
            let value = serde_json::Value::Object(object);
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            let cut = without_managed_fields(&text);
            proptest::prop_assert!(cut.is_some(), "{}", text);
            let got: serde_json::Value = serde_json::from_str(&cut.unwrap()).unwrap();
            let mut want = value;
            want["metadata"]["managedFields"] = serde_json::Value::Null;
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn items_are_typed_in_order_and_defaulted() {
        let text = r#"[{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}},
                       {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "b-"}},
                       {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "c"}},
                       {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "d"}, "spec": {"hostNetwork": "yes"}},
                       {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "e"}}]"#;
        let items: Vec<&RawValue> = serde_json::from_str(text).unwrap();
        let parsed = parse_items(
            text,
            &items,
            Typing {
                default_namespace: "fallback",
                slim: false,
            },
        );
        let lines: Vec<u32> = parsed.iter().map(|(_, line)| *line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 5]);
        let shapes: Vec<&str> = parsed
            .iter()
            .map(|(p, _)| match p {
                Parsed::Typed(TypedObject::Pod(p)) => {
                    assert_eq!(p.metadata.namespace.as_deref(), Some("fallback"));
                    "pod"
                }
                Parsed::Typed(TypedObject::Namespace(n)) => {
                    assert_eq!(n.metadata.namespace, None);
                    "namespace"
                }
                Parsed::Typed(_) => "other",
                Parsed::General => "general",
            })
            .collect();
        assert_eq!(
            shapes,
            ["pod", "general", "general", "general", "namespace"]
        );
    }

    #[test]
    fn many_items_are_split_across_threads_and_keep_their_order() {
        // Item i starts on line 2 + 2i: one newline before each item, one inside it.
        let text: String = format!(
            "[\n{}]",
            (0..2000)
                .map(|i| format!(
                    r#"{{"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {{"name": "c{i}", "namespace": "n"}}}}"#
                ))
                .collect::<Vec<_>>()
                .join(",\n")
        );
        let items: Vec<&RawValue> = serde_json::from_str(&text).unwrap();
        let got: Vec<(String, u32)> = parse_items(
            &text,
            &items,
            Typing {
                default_namespace: "default",
                slim: false,
            },
        )
        .into_iter()
        .map(|(p, line)| match p {
            Parsed::Typed(TypedObject::ConfigMap(c)) => (c.metadata.name.unwrap_or_default(), line),
            _ => (String::new(), line),
        })
        .collect();
        let expected: Vec<(String, u32)> =
            (0..2000u32).map(|i| (format!("c{i}"), 2 + 2 * i)).collect();
        assert_eq!(got, expected);
    }
}
