//! Reads cluster state from files: multi-document YAML, `kind: List` / `v1/List` as
//! `kubectl get -o yaml` prints them, JSON (`kubectl get -o json`), directories (recursive) and
//! stdin (`-`). Every object remembers the file and line it starts on.
//!
//! JSON takes a fast path (serde_json with raw values, so each list item is typed straight from
//! its text and its line is found from its byte offset); YAML goes through serde-saphyr with
//! spans, with its budgets raised so that real snapshots of large clusters load.
//!
//! Manifests about to be applied (`meshdoctor preflight -f`) load through [`load_manifests`]:
//! each object also gets its position tree (every field's line and column, see
//! [`super::positions`]), and with [`LoadOptions::lenient_string_maps`] a label or annotation
//! value YAML reads as a bool or a number is kept as its text instead of failing the load, so
//! that the `annotation-not-string` check can report it at its line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use super::InputError;
use super::positions::{self, Node, NodeKind};
use super::slim::Slim;
use crate::origin::Origin;
use crate::state::{ClusterState, Kind, UnknownObject};

/// How to load files.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Namespace given to namespaced objects that name none (what `kubectl apply` would use).
    pub default_namespace: String,
    /// Keep a label, annotation, `matchLabels` or `nodeSelector` value that YAML reads as a
    /// bool, number or null (`inject: true` unquoted) as its source text instead of failing.
    /// Off for cluster state (`--from`), which the API server has already typed; on for
    /// manifests, whose such values `annotation-not-string` reports.
    pub lenient_string_maps: bool,
    /// Counts the objects typed, for the progress line of a long load.
    pub progress: crate::progress::Progress,
    /// Drop, as each object is typed, the fields no check or verdict reads
    /// ([`super::slim`]): `check` sets it; commands that render or print objects do not.
    pub slim: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            default_namespace: "default".to_owned(),
            lenient_string_maps: false,
            progress: crate::progress::Progress::default(),
            slim: false,
        }
    }
}

/// One object read from a manifest, with where each of its fields is written.
#[derive(Debug, Clone)]
pub struct ManifestObject {
    pub kind: String,
    pub api_version: String,
    /// After defaulting (what `kubectl apply` would use), for namespaced kinds we model.
    pub namespace: Option<String>,
    pub name: String,
    /// The file and the line the object starts on.
    pub origin: Origin,
    /// The object's position tree (`None` when the text could not be indexed).
    pub positions: Option<Node>,
    /// `# Source: chart/templates/x.yaml` above the document (Helm output).
    pub helm_source: Option<String>,
    /// `metadata.annotations` (string values), for suppressions.
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// The map fields whose values the API server types as strings (`map[string]string`).
pub const STRING_MAP_KEYS: [&str; 4] = ["labels", "annotations", "matchLabels", "nodeSelector"];

/// Loads manifests into `state` (on top of what it holds: a later object replaces an earlier
/// one with the same kind, namespace and name) and returns every object read, located.
pub fn load_manifests(
    state: &mut ClusterState,
    paths: &[PathBuf],
    opts: &LoadOptions,
) -> Result<Vec<ManifestObject>, InputError> {
    let mut sink = Vec::new();
    for path in paths {
        load_path_into(state, path, opts, &mut Some(&mut sink))?;
        state.sources.push(path.display().to_string());
    }
    Ok(sink)
}

/// Loads every path into one state. A directory is read recursively (`.yaml`, `.yml`, `.json`
/// files, in sorted order); `-` reads stdin.
pub fn load_paths(paths: &[PathBuf], opts: &LoadOptions) -> Result<ClusterState, InputError> {
    let mut state = ClusterState {
        slimmed: opts.slim,
        ..ClusterState::default()
    };
    for path in paths {
        load_path(&mut state, path, opts)?;
        state.sources.push(path.display().to_string());
    }
    state.sort();
    Ok(state)
}

/// Loads one path (file, directory or `-`) into `state`.
pub fn load_path(
    state: &mut ClusterState,
    path: &Path,
    opts: &LoadOptions,
) -> Result<(), InputError> {
    load_path_into(state, path, opts, &mut None)
}

type Sink<'a> = Option<&'a mut Vec<ManifestObject>>;

fn load_path_into(
    state: &mut ClusterState,
    path: &Path,
    opts: &LoadOptions,
    sink: &mut Sink<'_>,
) -> Result<(), InputError> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
            .map_err(|e| InputError::new("-", format!("cannot read stdin: {e}")))?;
        return load_bytes(state, "-", &bytes, opts, sink);
    }
    let meta = std::fs::metadata(path)
        .map_err(|e| InputError::new(path.display().to_string(), io_reason(&e)))?;
    if meta.is_dir() {
        for file in manifest_files(path)? {
            load_file(state, &file, opts, sink)?;
        }
        Ok(())
    } else {
        load_file(state, path, opts, sink)
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => format!("cannot read: {e}"),
    }
}

/// The manifest files below a directory, sorted so that loading is deterministic.
fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .map_err(|e| InputError::new(d.display().to_string(), io_reason(&e)))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| InputError::new(d.display().to_string(), io_reason(&e)))?;
            let p = entry.path();
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn load_file(
    state: &mut ClusterState,
    path: &Path,
    opts: &LoadOptions,
    sink: &mut Sink<'_>,
) -> Result<(), InputError> {
    let shown = path.display().to_string();
    let contents = FileContents::open(path).map_err(|e| InputError::new(&shown, io_reason(&e)))?;
    // A mapped file's pages are given back as its items are typed (`source/mapped.rs`).
    let _registered = match &contents {
        FileContents::Mapped(map) => Some(super::mapped::Registered::new(map)),
        FileContents::Read(_) => None,
    };
    opts.progress.note(format!("({shown})"));
    load_bytes(state, &shown, contents.bytes(), opts, sink)
}

/// A file's bytes: read into memory, or mapped when large.
enum FileContents {
    Read(Vec<u8>),
    Mapped(memmap2::Mmap),
}

impl FileContents {
    /// Files at least this large are mapped: a snapshot of a large cluster is hundreds of
    /// megabytes, and copying it into fresh memory costs a zeroed page per 4 KiB on top of the
    /// copy (docs/scale.md).
    const MAP_AT: u64 = 8 << 20;

    fn open(path: &Path) -> std::io::Result<FileContents> {
        let mut file = std::fs::File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_file() && meta.len() >= Self::MAP_AT {
            // SAFETY: a private, read-only map. Were another process to truncate the file
            // while it is read, the read would fault (SIGBUS); rewriting a snapshot during a
            // check is not supported, as with other tools that map their inputs.
            let mapped = unsafe { memmap2::MmapOptions::new().populate().map(&file) };
            if let Ok(map) = mapped {
                return Ok(FileContents::Mapped(map));
            }
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes)?;
        Ok(FileContents::Read(bytes))
    }

    fn bytes(&self) -> &[u8] {
        match self {
            FileContents::Read(bytes) => bytes,
            FileContents::Mapped(map) => map,
        }
    }
}

/// Loads a file's or stdin's bytes: UTF-8, or UTF-16 with a byte order mark.
fn load_bytes(
    state: &mut ClusterState,
    shown: &str,
    bytes: &[u8],
    opts: &LoadOptions,
    sink: &mut Sink<'_>,
) -> Result<(), InputError> {
    if let Some(text) = decode_utf16(bytes) {
        let text = text
            .map_err(|line| InputError::new(format!("{shown}:{line}"), "not valid UTF-16 text"))?;
        return load_text_into(state, shown, &text, opts, sink);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = line_of_offset(bytes.get(..e.valid_up_to()).unwrap_or_default());
        InputError::new(format!("{shown}:{line}"), "not UTF-8 text (a binary file?)")
    })?;
    load_text_into(state, shown, text, opts, sink)
}

/// Decodes a file that starts with a UTF-16 byte order mark, as kubectl does (editors on
/// Windows save such files); `None` for any other file. The error is the line of the first
/// unpaired surrogate.
fn decode_utf16(bytes: &[u8]) -> Option<Result<String, u32>> {
    let big_endian = match bytes {
        [0xFE, 0xFF, ..] => true,
        [0xFF, 0xFE, ..] => false,
        _ => return None,
    };
    let units = bytes.get(2..).unwrap_or_default().chunks(2).map(|c| {
        let pair = [
            c.first().copied().unwrap_or(0),
            c.get(1).copied().unwrap_or(0),
        ];
        if big_endian {
            u16::from_be_bytes(pair)
        } else {
            u16::from_le_bytes(pair)
        }
    });
    let mut text = String::with_capacity(bytes.len() / 2);
    let mut line = 1u32;
    for c in char::decode_utf16(units) {
        match c {
            Ok(c) => {
                if c == '\n' {
                    line = line.saturating_add(1);
                }
                text.push(c);
            }
            Err(_) => return Some(Err(line)),
        }
    }
    Some(Ok(text))
}

/// Loads YAML or JSON text; `name` is how the input is shown in origins and errors.
pub fn load_text(
    state: &mut ClusterState,
    name: &str,
    text: &str,
    opts: &LoadOptions,
) -> Result<(), InputError> {
    load_text_into(state, name, text, opts, &mut None)
}

/// [`load_text`] for manifests: also returns every object read, located.
pub fn load_manifest_text(
    state: &mut ClusterState,
    name: &str,
    text: &str,
    opts: &LoadOptions,
) -> Result<Vec<ManifestObject>, InputError> {
    let mut sink = Vec::new();
    load_text_into(state, name, text, opts, &mut Some(&mut sink))?;
    Ok(sink)
}

fn load_text_into(
    state: &mut ClusterState,
    name: &str,
    text: &str,
    opts: &LoadOptions,
    sink: &mut Sink<'_>,
) -> Result<(), InputError> {
    let path: Arc<str> = Arc::from(name);
    // Positions are only needed when objects are recorded; a text the indexer cannot read is
    // reported by the loader itself (with its line), so an indexing error only loses columns.
    let docs = if sink.is_some() || opts.lenient_string_maps {
        positions::index(text).unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut loader = Loader {
        state,
        path,
        opts,
        sink: sink.as_deref_mut(),
        docs,
        current: None,
        current_doc: None,
    };
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        loader.load_json(text)
    } else {
        loader.load_yaml(text)
    }
}

struct Loader<'a> {
    state: &'a mut ClusterState,
    path: Arc<str>,
    opts: &'a LoadOptions,
    sink: Option<&'a mut Vec<ManifestObject>>,
    /// The position trees of the text's documents, when recording or coercing.
    docs: Vec<positions::DocPositions>,
    /// The position tree of the object being inserted, and its Helm source.
    current: Option<(Node, Option<String>)>,
    /// The index in `docs` of the YAML document being loaded.
    current_doc: Option<usize>,
}

/// The fields of a document needed to route it; `items` keeps raw text for the JSON fast path.
#[derive(Deserialize)]
struct JsonHead<'a> {
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default, borrow)]
    items: Option<Vec<&'a RawValue>>,
    /// Kept raw: only a list's metadata is read (a snapshot's kind record).
    #[serde(default, borrow)]
    metadata: Option<&'a RawValue>,
}

impl Loader<'_> {
    /// Selects the position tree of the next object: document `doc`, at `pointer` in it.
    fn set_current(&mut self, doc: usize, pointer: &str) {
        self.current = self.docs.get(doc).and_then(|d| {
            d.root
                .pointer(pointer)
                .map(|n| (n.clone(), d.helm_source.clone()))
        });
    }

    fn select_in_document(&mut self, pointer: &str) {
        match self.current_doc {
            Some(d) => self.set_current(d, pointer),
            None => self.current = None,
        }
    }

    fn at(&self, line: u32) -> String {
        format!("{}:{line}", self.path)
    }

    /// How the fast paths type list items for this load.
    fn typing(&self) -> super::typed::Typing<'_> {
        super::typed::Typing {
            default_namespace: &self.opts.default_namespace,
            slim: self.opts.slim && self.sink.is_none(),
        }
    }

    fn load_json(&mut self, text: &str) -> Result<(), InputError> {
        let mut timings = crate::timings::Timings::from_env();
        let trimmed = text.trim_start();
        if trimmed.starts_with('[') {
            // A bare JSON array of objects (e.g. `jq -s`).
            let items: Vec<&RawValue> =
                serde_json::from_str(text).map_err(|e| self.json_error(&e))?;
            return self.load_json_items(text, &items, "");
        }
        let head: JsonHead = serde_json::from_str(text).map_err(|e| self.json_error(&e))?;
        timings.phase("load: split items");
        if is_list(head.api_version.as_deref(), head.kind.as_deref())
            || head.items.is_some() && head.kind.as_deref().is_some_and(|k| k.ends_with("List"))
        {
            self.load_json_items(text, head.items.as_deref().unwrap_or_default(), "/items")?;
            if let Some(meta) = head.metadata
                && let Ok(meta) = serde_json::from_str::<Value>(meta.get())
            {
                super::snapshot::apply_kind_record(self.state, &meta);
            }
            Ok(())
        } else {
            let raw: &RawValue = serde_json::from_str(text).map_err(|e| self.json_error(&e))?;
            self.set_current(0, "");
            let line = item_lines(text, &[raw]).first().copied().unwrap_or(1);
            self.load_json_object(raw, line)
        }
    }

    /// Loads the items of a JSON list (or bare array) whose pointer prefix is `prefix`.
    /// Cluster state takes the typed fast path ([`super::typed`]); manifests, which need
    /// position trees and lenient string maps, and any item the fast path declines, take the
    /// general one.
    fn load_json_items(
        &mut self,
        text: &str,
        items: &[&RawValue],
        prefix: &str,
    ) -> Result<(), InputError> {
        let mut timings = crate::timings::Timings::from_env();
        if self.sink.is_some() || self.opts.lenient_string_maps {
            for (i, (item, line)) in items.iter().zip(item_lines(text, items)).enumerate() {
                self.set_current(0, &format!("{prefix}/{i}"));
                self.load_json_object(item, line)?;
            }
            return Ok(());
        }
        let parsed = super::typed::parse_items(text, items, self.typing());
        timings.phase("load: typed items");
        self.reserve(parsed.iter().filter_map(|(p, _)| match p {
            super::typed::Parsed::Typed(obj) => Some(obj.kind()),
            super::typed::Parsed::General => None,
        }));
        for (i, ((parsed, line), item)) in parsed.into_iter().zip(items).enumerate() {
            match parsed {
                super::typed::Parsed::Typed(obj) => {
                    obj.insert_into(self.state, Origin::file(&self.path, line));
                }
                super::typed::Parsed::General => {
                    self.set_current(0, &format!("{prefix}/{i}"));
                    self.load_json_object(item, line)?;
                }
            }
        }
        timings.phase("load: insert");
        Ok(())
    }

    /// Makes room in each store for the typed objects about to be inserted, of these kinds.
    fn reserve(&mut self, kinds: impl Iterator<Item = Kind>) {
        let mut counts = std::collections::BTreeMap::<Kind, usize>::new();
        for kind in kinds {
            *counts.entry(kind).or_default() += 1;
        }
        for (kind, n) in counts {
            self.state.reserve(kind, n);
        }
    }

    fn json_error(&self, e: &serde_json::Error) -> InputError {
        let msg = e.to_string();
        // serde_json appends " at line L column C"; we put the line in front instead.
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
        InputError::new(
            self.at(e.line().max(1) as u32),
            format!("invalid JSON: {msg}"),
        )
    }

    fn load_json_object(&mut self, raw: &RawValue, line: u32) -> Result<(), InputError> {
        if !raw.get().starts_with('{') {
            return Err(InputError::new(
                self.at(line),
                "not an object (expected a Kubernetes object)",
            ));
        }
        let head: JsonHead = serde_json::from_str(raw.get()).map_err(|e| {
            InputError::new(
                self.at(line),
                format!("invalid object: {}", strip_serde_position(&e.to_string())),
            )
        })?;
        let (api_version, kind) = self.route_head(head.api_version, head.kind, line)?;
        // Skipping over an object as a raw value does not check its numbers and escapes;
        // reading it does, and its errors are located from the object's first line.
        let value = || {
            serde_json::from_str::<Value>(raw.get()).map_err(|e| {
                let at = line.saturating_add(u32::try_from(e.line().max(1) - 1).unwrap_or(0));
                InputError::new(
                    self.at(at),
                    format!("invalid JSON: {}", strip_serde_position(&e.to_string())),
                )
            })
        };
        match Kind::from_manifest(&api_version, &kind) {
            Some(k) => {
                let value = value()?;
                self.insert_typed(k, line, || Ok::<_, serde_json::Error>(value), |v| v)
            }
            None => {
                let value = value()?;
                self.insert_unknown(api_version, kind, value, line)
            }
        }
    }

    fn load_yaml(&mut self, text: &str) -> Result<(), InputError> {
        // Cluster state as `kubectl get -o yaml` writes it takes the fast path (manifests need
        // position trees and lenient string maps, which only the general path builds).
        if self.sink.is_none() && !self.opts.lenient_string_maps && self.load_kubectl_yaml(text)? {
            return Ok(());
        }
        let options = yaml_options(text.len());
        let mut timings = crate::timings::Timings::from_env();
        let docs: Vec<serde_saphyr::Spanned<Value>> =
            serde_saphyr::from_multiple_with_options(text, options)
                .map_err(|e| self.yaml_error(&e))?;
        timings.phase("load: YAML parsed");
        for doc in docs {
            let line = u32::try_from(doc.referenced.line().max(1)).unwrap_or(u32::MAX);
            // Documents pair with their position trees by the line their root starts on.
            self.current_doc = self.docs.iter().position(|d| d.root.pos.line == line);
            self.load_yaml_document(doc.value, line, text)?;
        }
        timings.phase("load: YAML objects typed");
        Ok(())
    }

    /// The YAML fast path ([`super::yamllist`]): `Ok(false)` when the text is not a kubectl
    /// List the fast path can read, and the general path must read it.
    fn load_kubectl_yaml(&mut self, text: &str) -> Result<bool, InputError> {
        let mut timings = crate::timings::Timings::from_env();
        let Some(list) = super::yamllist::split(text) else {
            return Ok(false);
        };
        let head = |key: &str| list.head.get(key).and_then(Value::as_str);
        if !is_list(head("apiVersion"), head("kind")) {
            return Ok(false);
        }
        timings.phase("load: split items");
        let Some(parsed) = super::yamllist::parse_items(&list.items, self.typing()) else {
            return Ok(false);
        };
        timings.phase("load: typed items");
        self.reserve(parsed.iter().filter_map(|(p, _)| match p {
            super::yamllist::Parsed::Typed(obj) => Some(obj.kind()),
            super::yamllist::Parsed::Value(_) => None,
        }));
        for (parsed, line) in parsed {
            match parsed {
                super::yamllist::Parsed::Typed(obj) => {
                    obj.insert_into(self.state, Origin::file(&self.path, line));
                }
                super::yamllist::Parsed::Value(value) => self.load_value_object(value, line)?,
            }
        }
        if let Some(meta) = list.head.get("metadata") {
            super::snapshot::apply_kind_record(self.state, meta);
        }
        timings.phase("load: insert");
        Ok(true)
    }

    fn yaml_error(&self, e: &serde_saphyr::Error) -> InputError {
        let line = e.location().map(|l| l.line()).unwrap_or(1).max(1);
        let line = u32::try_from(line).unwrap_or(u32::MAX);
        // The budget error may be wrapped (a source snippet, the alias that led to it).
        let mut inner = e;
        while let serde_saphyr::Error::WithSnippet { error, .. }
        | serde_saphyr::Error::AliasError { error, .. } = inner
        {
            inner = error;
        }
        if let serde_saphyr::Error::Budget { breach, .. } = inner {
            return InputError::new(self.at(line), budget_reason(breach));
        }
        let rendered = e.without_snippet().to_string();
        let first = rendered.lines().next().unwrap_or("").trim();
        InputError::new(
            self.at(line),
            format!("invalid YAML: {}", strip_saphyr_position(first)),
        )
    }

    fn load_yaml_document(
        &mut self,
        value: Value,
        line: u32,
        text: &str,
    ) -> Result<(), InputError> {
        if value.is_null() {
            return Ok(());
        }
        let Value::Object(mut map) = value else {
            return Err(InputError::new(
                self.at(line),
                "document is not a mapping (expected a Kubernetes object)",
            ));
        };
        let api_version = map
            .get("apiVersion")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let kind = map.get("kind").and_then(Value::as_str).map(str::to_owned);
        if is_list(api_version.as_deref(), kind.as_deref()) {
            // Taken, not cloned: a large cluster's list is most of the document.
            let items = match map.remove("items") {
                Some(Value::Array(items)) => items,
                None | Some(Value::Null) => Vec::new(),
                Some(_) => {
                    return Err(InputError::new(
                        self.at(line),
                        "List: items: expected a sequence",
                    ));
                }
            };
            let item_lines = yaml_list_item_lines(text, line, items.len());
            for (i, item) in items.into_iter().enumerate() {
                let item_line = item_lines.get(i).copied().unwrap_or(line);
                self.select_in_document(&format!("/items/{i}"));
                self.load_value_object(item, item_line)?;
            }
            if let Some(meta) = map.get("metadata") {
                super::snapshot::apply_kind_record(self.state, meta);
            }
            return Ok(());
        }
        self.select_in_document("");
        self.load_value_object(Value::Object(map), line)
    }

    fn load_value_object(&mut self, value: Value, line: u32) -> Result<(), InputError> {
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let kind = value.get("kind").and_then(Value::as_str).map(str::to_owned);
        let (api_version, kind) = self.route_head(api_version, kind, line)?;
        match Kind::from_manifest(&api_version, &kind) {
            Some(k) => {
                let mut value = Some(value);
                self.insert_typed(
                    k,
                    line,
                    || Ok::<_, serde_json::Error>(value.take().unwrap_or(Value::Null)),
                    |v| v,
                )
            }
            None => self.insert_unknown(api_version, kind, value, line),
        }
    }

    /// Checks that a document names its kind, and that a kind we model comes with an apiVersion
    /// of its API group.
    fn route_head(
        &self,
        api_version: Option<String>,
        kind: Option<String>,
        line: u32,
    ) -> Result<(String, String), InputError> {
        let kind = match kind {
            Some(k) if !k.is_empty() => k,
            _ => {
                return Err(InputError::new(
                    self.at(line),
                    "kind: missing (every object needs apiVersion and kind)",
                ));
            }
        };
        let api_version = match api_version {
            Some(v) if !v.is_empty() => v,
            _ => {
                return Err(InputError::new(
                    self.at(line),
                    format!("{kind}: apiVersion: missing"),
                ));
            }
        };
        if let Some(known) = Kind::ALL.into_iter().find(|k| k.name() == kind)
            && !known.api_versions().contains(&api_version.as_str())
        {
            let group = api_group(&api_version);
            let same_group = known.api_versions().iter().any(|v| api_group(v) == group);
            let other_known_group = kind == "Event" && group == "events.k8s.io";
            // Another version of a kind we model (a v1beta1 webhook configuration) would
            // otherwise be kept aside as unknown, and its webhooks silently not matched.
            if same_group {
                return Err(InputError::new(
                    self.at(line),
                    format!(
                        "{kind}: apiVersion: \"{api_version}\" is not a version meshdoctor reads (expected {})",
                        known.api_versions().join(" or ")
                    ),
                ));
            }
            if !other_known_group {
                return Err(InputError::new(
                    self.at(line),
                    format!(
                        "{kind}: apiVersion: \"{api_version}\" does not serve kind {kind} (expected {})",
                        known.api_versions().join(" or ")
                    ),
                ));
            }
        }
        Ok((api_version, kind))
    }

    /// Remembers an object for the caller of [`load_manifests`], with its position tree.
    fn record(
        &mut self,
        kind: &str,
        value: &Value,
        namespace: Option<String>,
        name: &str,
        origin: &Origin,
    ) {
        let current = self.current.take();
        let Some(sink) = self.sink.as_deref_mut() else {
            return;
        };
        let (positions, helm_source) = match current {
            Some((n, h)) => (Some(n), h),
            None => (None, None),
        };
        sink.push(ManifestObject {
            kind: kind.to_owned(),
            api_version: value
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            namespace,
            name: name.to_owned(),
            origin: origin.clone(),
            positions,
            helm_source,
            annotations: value
                .pointer("/metadata/annotations")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default(),
        });
    }

    fn insert_typed<E: std::fmt::Display>(
        &mut self,
        kind: Kind,
        line: u32,
        value: impl FnOnce() -> Result<Value, E>,
        _map: impl FnOnce(Value) -> Value,
    ) -> Result<(), InputError> {
        let mut v = value()
            .map_err(|e| InputError::new(self.at(line), strip_serde_position(&e.to_string())))?;
        if self.opts.lenient_string_maps {
            let tree = self.current.as_ref().map(|(n, _)| n);
            coerce_string_maps(&mut v, &mut String::new(), tree, false);
        }
        if self.sink.is_none()
            && let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut)
        {
            // Cluster state: never read, and the largest part of many objects (as live mode).
            meta.remove("managedFields");
        }
        let name = v
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let label = format!("{} \"{}\"", kind.name().to_ascii_lowercase(), name);
        if name.is_empty() && v.pointer("/metadata/generateName").is_none() {
            return Err(InputError::new(
                self.at(line),
                format!("{}: metadata.name: missing", kind.name()),
            ));
        }
        if kind.namespaced()
            && v.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            && let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.insert(
                "namespace".to_owned(),
                Value::String(self.opts.default_namespace.clone()),
            );
        }
        let origin = Origin::file(&self.path, line);
        let namespace = v
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_owned);
        self.record(kind.name(), &v, namespace, &name, &origin);
        let at = self.at(line);
        let typed_err = |e: TypedError| InputError::new(at.clone(), format!("{label}: {e}"));
        self.opts.progress.add(1);
        // Cluster state only: manifests are read for what they say, field by field.
        let slim = self.opts.slim && self.sink.is_none();
        let s = &mut *self.state;
        s.mark_loaded(kind);
        match kind {
            Kind::Namespace => s
                .namespaces
                .insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::Pod => s.pods.insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::Deployment => s
                .deployments
                .insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::StatefulSet => s
                .statefulsets
                .insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::DaemonSet => s
                .daemonsets
                .insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::ReplicaSet => s
                .replicasets
                .insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::Job => s.jobs.insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::CronJob => s
                .cronjobs
                .insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::MutatingWebhookConfiguration => s
                .mutating_webhooks
                .insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::ConfigMap => s
                .configmaps
                .insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::Secret => s.secrets.insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::Service => s
                .services
                .insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::Endpoints => s
                .endpoints
                .insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::EndpointSlice => s
                .endpoint_slices
                .insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::Event => s.events.insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::NetworkPolicy => s
                .network_policies
                .insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::ResourceQuota => s
                .resource_quotas
                .insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::LimitRange => s
                .limit_ranges
                .insert(typed(v, slim).map_err(typed_err)?, origin),
            Kind::Node => s.nodes.insert(typed(v, slim).map_err(typed_err)?, origin),
        }
        Ok(())
    }

    fn insert_unknown(
        &mut self,
        api_version: String,
        kind: String,
        raw: Value,
        line: u32,
    ) -> Result<(), InputError> {
        let name = raw
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let namespace = raw
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let origin = Origin::file(&self.path, line);
        self.record(&kind, &raw, namespace.clone(), &name, &origin);
        self.state.unknown.push(crate::state::Object {
            obj: UnknownObject {
                api_version,
                kind,
                namespace,
                name,
                raw,
            },
            origin: Origin::file(&self.path, line),
        });
        Ok(())
    }
}

/// Replaces bool, number and null values of string maps (labels, annotations, ...) with their
/// source text, as written in the position tree (`0755` stays `0755`, not `755`). `in_map` says
/// whether `value` is such a map's value.
fn coerce_string_maps(value: &mut Value, pointer: &mut String, tree: Option<&Node>, in_map: bool) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                let is_map = STRING_MAP_KEYS.contains(&key.as_str()) && child.is_object();
                if in_map {
                    coerce_scalar(child, pointer, tree);
                } else {
                    coerce_string_maps(child, pointer, tree, is_map);
                }
                pointer.truncate(len);
            }
        }
        Value::Array(items) if !in_map => {
            for (i, child) in items.iter_mut().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                coerce_string_maps(child, pointer, tree, false);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

fn coerce_scalar(value: &mut Value, pointer: &str, tree: Option<&Node>) {
    if !matches!(value, Value::Bool(_) | Value::Number(_) | Value::Null) {
        return;
    }
    let source = tree
        .and_then(|t| t.pointer(pointer))
        .and_then(|n| match &n.kind {
            NodeKind::Scalar { text, .. } => Some(text.clone()),
            _ => None,
        });
    let was_null = value.is_null();
    let fallback = match &*value {
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let text = source.unwrap_or(fallback);
    // The API server stores a null map value as the empty string.
    let text = if was_null && positions::yaml11_non_string(&text) == Some("null") {
        String::new()
    } else {
        text
    };
    *value = Value::String(text);
}

/// Converts to the typed object, naming the field that does not fit (`spec.hostNetwork: ...`).
/// `slim`: drop what no check reads ([`super::slim`]).
fn typed<T: DeserializeOwned + Slim>(v: Value, slim: bool) -> Result<T, TypedError> {
    let mut obj: T = serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        TypedError {
            path,
            inner: e.into_inner(),
        }
    })?;
    if slim {
        obj.slim();
    }
    Ok(obj)
}

struct TypedError {
    path: String,
    inner: serde_json::Error,
}

impl std::fmt::Display for TypedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let msg = strip_serde_position(&self.inner.to_string());
        if self.path.is_empty() || self.path == "." {
            f.write_str(&msg)
        } else {
            write!(f, "{}: {msg}", self.path)
        }
    }
}

/// serde-saphyr's options for a text of `len` bytes. Counts that grow with the text
/// (documents, nodes, events, scalar bytes) may be as large as the text allows, so that real
/// snapshots of large clusters load. Alias expansion is what can grow beyond the text (a
/// "billion laughs"): the events aliases replay and record are capped at `MAX_ALIAS_EVENTS`,
/// and the scalar bytes may exceed the text's own length by at most `ALIAS_SCALAR_SLACK`, so a
/// few aliases of a long string cannot multiply it either.
pub(super) fn yaml_options(len: usize) -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_documents: usize::MAX,
            max_nodes: usize::MAX,
            max_events: usize::MAX,
            max_total_scalar_bytes: len.saturating_add(ALIAS_SCALAR_SLACK),
            max_recorded_anchor_events: MAX_ALIAS_EVENTS,
            max_depth: MAX_YAML_DEPTH,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_ALIAS_EVENTS,
        },
        strict_booleans: true,
    }
}

/// How deep YAML collections may nest. Kubernetes objects nest a few dozen levels at most
/// (a CRD's openAPIV3Schema is among the deepest); the bound keeps a hostile `[[[[...` or
/// `- - - -...` from costing unbounded stack: building the value recurses once per level, at
/// up to ~25 KiB a level in a debug build, so 100 levels stay well inside the main thread's
/// 8 MiB (256 came close to it).
const MAX_YAML_DEPTH: usize = 100;

/// How many events YAML aliases may record and replay in one file. Manifests use anchors for
/// a few shared labels or env lists, and snapshots none; serde-saphyr's default (a million)
/// lets a billion-laughs file spend seconds and hundreds of MB before it is stopped.
const MAX_ALIAS_EVENTS: usize = 100_000;

/// How many scalar bytes YAML alias expansion may add on top of the text's own length.
const ALIAS_SCALAR_SLACK: usize = 64 << 20;

/// A breached parser budget in words a user can act on; serde-saphyr only prints its
/// `Debug` form.
fn budget_reason(breach: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    match breach {
        B::Depth { .. } => {
            format!("invalid YAML: nested deeper than {MAX_YAML_DEPTH} levels")
        }
        B::Aliases { .. }
        | B::Anchors { .. }
        | B::AliasAnchorRatio { .. }
        | B::RecordedAnchorEvents { .. }
        | B::RecordedAnchorBytes { .. }
        | B::MergeKeys { .. } => {
            "invalid YAML: aliases expand too far (an alias bomb?); write the values out".to_owned()
        }
        B::ScalarBytes { .. } => format!(
            "invalid YAML: aliases expand to more than {} MiB of text beyond the file's own (an alias bomb?)",
            ALIAS_SCALAR_SLACK >> 20
        ),
        other => format!("invalid YAML: too large to read ({other:?})"),
    }
}

fn is_list(api_version: Option<&str>, kind: Option<&str>) -> bool {
    matches!(kind, Some("List")) && matches!(api_version, Some("v1") | None)
        || kind.is_some_and(|k| k.ends_with("List") && k != "List")
}

fn api_group(api_version: &str) -> &str {
    match api_version.rsplit_once('/') {
        Some((group, _)) => group,
        None => "",
    }
}

/// 1-based line number of the byte just after `prefix`.
fn line_of_offset(prefix: &[u8]) -> u32 {
    let newlines = super::typed::count_newlines(Some(prefix));
    u32::try_from(newlines + 1).unwrap_or(u32::MAX)
}

/// The 1-based line each raw value (borrowed from `text`, in text order) starts on, counted
/// in one pass over the text rather than from the start for every item.
fn item_lines(text: &str, items: &[&RawValue]) -> Vec<u32> {
    let base = text.as_ptr() as usize;
    let bytes = text.as_bytes();
    let (mut line, mut counted) = (1u32, 0usize);
    items
        .iter()
        .map(|item| {
            let offset = (item.get().as_ptr() as usize)
                .saturating_sub(base)
                .clamp(counted, bytes.len());
            let newlines = super::typed::count_newlines(bytes.get(counted..offset));
            line = line.saturating_add(u32::try_from(newlines).unwrap_or(u32::MAX));
            counted = offset;
            line
        })
        .collect()
}

fn strip_serde_position(msg: &str) -> String {
    msg.split(" at line ").next().unwrap_or(msg).to_owned()
}

fn strip_saphyr_position(msg: &str) -> String {
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    msg.trim_start_matches("error: ").to_owned()
}

/// Finds the start lines of the items of a `kind: List` document by scanning its `items:`
/// sequence: the first `- ` entries at the sequence's indentation after the `items:` key.
/// serde-saphyr gives spans per value only through typed wrappers, and this is both cheap and
/// exact for the block style `kubectl get -o yaml` prints. Flow-style lists fall back to the
/// document line.
fn yaml_list_item_lines(text: &str, doc_line: u32, count: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(count);
    let mut in_items = false;
    let mut item_indent: Option<usize> = None;
    for (i, raw_line) in text
        .lines()
        .enumerate()
        .skip(doc_line.saturating_sub(1) as usize)
    {
        let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let trimmed = raw_line.trim_start();
        let indent = raw_line.len() - trimmed.len();
        if !in_items {
            if indent == 0 && (trimmed.starts_with("items:")) {
                in_items = true;
            }
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed == "---" || trimmed.starts_with("--- ") {
            break;
        }
        if trimmed.starts_with("- ") || trimmed == "-" {
            match item_indent {
                None => {
                    item_indent = Some(indent);
                    out.push(line_no);
                }
                Some(ind) if ind == indent => out.push(line_no),
                _ => {}
            }
        } else if indent == 0 {
            // Next top-level key: the items sequence is over.
            break;
        }
        if out.len() >= count {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<ClusterState, InputError> {
        let mut s = ClusterState::default();
        load_text(&mut s, "t.yaml", text, &LoadOptions::default())?;
        Ok(s)
    }

    #[test]
    fn multi_document_yaml_keeps_lines() {
        let s = load(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n---\n# c\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  containers: []\n",
        )
        .unwrap();
        assert_eq!(s.namespaces.len(), 1);
        let pod = s.pods.get(Some("shop"), "web").unwrap();
        assert_eq!(pod.origin.to_string(), "t.yaml:7");
    }

    #[test]
    fn kubectl_yaml_list_items_are_located() {
        let text = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: a\n    namespace: x\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: b\n    namespace: x\nkind: List\nmetadata:\n  resourceVersion: \"\"\n";
        let s = load(text).unwrap();
        assert_eq!(
            s.pods.get(Some("x"), "a").unwrap().origin.to_string(),
            "t.yaml:3"
        );
        assert_eq!(
            s.pods.get(Some("x"), "b").unwrap().origin.to_string(),
            "t.yaml:8"
        );
    }

    #[test]
    fn json_list_items_are_located() {
        let text = "{\n \"apiVersion\": \"v1\",\n \"kind\": \"List\",\n \"items\": [\n  {\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"a\"}},\n  {\n   \"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"p\", \"namespace\": \"a\"}}\n ]\n}\n";
        let s = load(text).unwrap();
        assert_eq!(
            s.namespaces.get(None, "a").unwrap().origin.to_string(),
            "t.yaml:5"
        );
        assert_eq!(
            s.pods.get(Some("a"), "p").unwrap().origin.to_string(),
            "t.yaml:6"
        );
    }

    #[test]
    fn unknown_kinds_are_kept_aside() {
        let s = load(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: v\n",
        )
        .unwrap();
        assert_eq!(s.unknown.len(), 1);
        assert_eq!(s.unknown[0].obj.kind, "VirtualService");
    }

    #[test]
    fn malformed_yaml_is_located() {
        let e = load("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [a\n").unwrap_err();
        assert!(e.location.starts_with("t.yaml:"), "{e}");
        assert!(!e.to_string().contains('\n'), "{e}");
        eprintln!("MSG {e}");
    }

    #[test]
    fn wrong_field_type_names_the_object() {
        let e = load(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  hostNetwork: sometimes\n",
        )
        .unwrap_err();
        assert_eq!(e.location, "t.yaml:1");
        assert!(e.message.starts_with("pod \"p\": "), "{e}");
        eprintln!("MSG {e}");
    }

    #[test]
    fn wrong_api_version_for_a_known_kind_is_an_error() {
        let e = load("apiVersion: v1\nkind: Deployment\nmetadata:\n  name: d\n").unwrap_err();
        assert!(e.message.contains("expected apps/v1"), "{e}");
    }

    /// Runs `f` with the stack the binary's main thread has (8 MiB), not a test thread's
    /// 2 MiB: nesting limits are sized for the binary.
    fn on_main_thread_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn an_alias_bomb_is_stopped_with_a_located_one_line_error() {
        let mut text =
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\nl0: &l0 [lol, lol]\n"
                .to_owned();
        for i in 1..40 {
            text.push_str(&format!("l{i}: &l{i} [*l{p}, *l{p}]\n", p = i - 1));
        }
        let e = load(&text).unwrap_err();
        assert!(e.location.starts_with("t.yaml:"), "{e}");
        assert!(e.message.contains("alias bomb"), "{e}");
        assert!(!e.to_string().contains('\n'), "{e}");
    }

    #[test]
    fn aliases_of_a_long_string_cannot_multiply_it() {
        let big = "x".repeat(1 << 20);
        let refs = vec!["*big"; 100].join(", ");
        let text = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: lol}}\nbig: &big \"{big}\"\nrefs: [{refs}]\n"
        );
        let e = load(&text).unwrap_err();
        assert!(e.message.contains("alias bomb"), "{e}");
        // Without aliases the same amount of text loads: the bound follows the input's size.
        let long = format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  annotations: {{a: \"{}\"}}\n",
            "y".repeat(70 << 20)
        );
        assert!(load(&long).is_ok());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        on_main_thread_stack(|| {
            let flow = format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: d}}\nx: {}{}\n",
                "[".repeat(10_000),
                "]".repeat(10_000)
            );
            assert!(load(&flow).is_err());
        });
    }

    #[test]
    fn deep_block_nesting_is_an_error_not_a_stack_overflow() {
        on_main_thread_stack(|| {
            let block = format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: d}}\nx:\n  {}leaf\n",
                "- ".repeat(10_000)
            );
            let e = load(&block).unwrap_err();
            assert!(e.message.contains("nested deeper than 100 levels"), "{e}");
            // Just inside the bound loads, on a test thread's 2 MiB stack.
            let ok = format!(
                "apiVersion: example.com/v1\nkind: Deep\nmetadata: {{name: d}}\nx:\n  {}leaf\n",
                "- ".repeat(MAX_YAML_DEPTH - 2)
            );
            assert!(load(&ok).is_ok());
        });
    }

    #[test]
    fn deep_json_nesting_is_an_error_not_a_stack_overflow() {
        on_main_thread_stack(|| {
            let json = format!(
                "{{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {{\"name\": \"d\"}}, \"x\": {}{}}}",
                "[".repeat(10_000),
                "]".repeat(10_000)
            );
            assert!(
                load(&json)
                    .unwrap_err()
                    .message
                    .starts_with("invalid JSON: ")
            );
        });
    }

    #[test]
    fn json_value_errors_are_located_at_their_line() {
        let e = load("{\n \"apiVersion\": \"v1\",\n \"kind\": \"Pod\",\n \"metadata\": {\"name\": \"p\"},\n \"spec\": {\"x\": 1e400}\n}\n").unwrap_err();
        assert_eq!(e.location, "t.yaml:5");
        assert_eq!(e.message, "invalid JSON: number out of range");
        let e = load("[1, 2]").unwrap_err();
        assert_eq!(e.message, "not an object (expected a Kubernetes object)");
        let e =
            load("{\"kind\": \"List\", \"apiVersion\": \"v1\", \"items\": [\n[[1]]]}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.yaml:2: not an object (expected a Kubernetes object)"
        );
    }

    #[test]
    fn utf16_files_with_a_byte_order_mark_are_decoded_as_kubectl_does() {
        let text = "\u{feff}apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let without_bom = text.trim_start_matches('\u{feff}').to_owned();
        assert_eq!(decode_utf16(&le), Some(Ok(without_bom)));
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert!(matches!(decode_utf16(&be), Some(Ok(_))));
        // An unpaired surrogate on line 2.
        let mut bad: Vec<u8> = "\u{feff}a: b\nc: "
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        bad.extend(0xD800u16.to_le_bytes());
        assert_eq!(decode_utf16(&bad), Some(Err(2)));
        assert_eq!(decode_utf16(b"apiVersion: v1\n"), None);
    }

    #[test]
    fn another_version_of_a_modelled_kind_is_an_error_not_an_unknown_object() {
        let e = load("apiVersion: admissionregistration.k8s.io/v1beta1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: w\n").unwrap_err();
        assert!(
            e.message.contains(
                "is not a version meshdoctor reads (expected admissionregistration.k8s.io/v1)"
            ),
            "{e}"
        );
        // events.k8s.io Events are another group: kept aside.
        let s = load("apiVersion: events.k8s.io/v1\nkind: Event\nmetadata:\n  name: e\n").unwrap();
        assert_eq!(s.unknown.len(), 1);
    }

    #[test]
    fn missing_kind_is_an_error() {
        let e = load("apiVersion: v1\nmetadata:\n  name: d\n").unwrap_err();
        assert!(e.message.starts_with("kind: missing"), "{e}");
    }

    #[test]
    fn namespaced_objects_default_to_the_default_namespace() {
        let s = load("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n").unwrap();
        assert!(s.pods.get(Some("default"), "p").is_some());
    }

    const MANIFESTS: &str = "---\n# Source: shop/templates/empty.yaml\n---\n# Source: shop/templates/web.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n    sidecar.istio.io/inject: true\n    mode: 0755\nspec:\n  selector:\n    matchLabels: {app: web, tier: 1}\n  template:\n    metadata:\n      labels:\n        app: web\n        on: yes\n    spec:\n      containers: []\n";

    #[test]
    fn strict_loading_rejects_unquoted_bool_annotations() {
        let e = load(MANIFESTS).unwrap_err();
        assert!(e.message.contains("annotations"), "{e}");
    }

    #[test]
    fn manifests_load_leniently_with_positions() {
        let mut s = ClusterState::default();
        let opts = LoadOptions {
            lenient_string_maps: true,
            ..LoadOptions::default()
        };
        let objs = load_manifest_text(&mut s, "m.yaml", MANIFESTS, &opts).unwrap();
        assert_eq!(objs.len(), 1);
        let o = &objs[0];
        assert_eq!((o.kind.as_str(), o.name.as_str()), ("Deployment", "web"));
        assert_eq!(o.namespace.as_deref(), Some("default"));
        assert_eq!(o.origin.to_string(), "m.yaml:5");
        assert_eq!(o.helm_source.as_deref(), Some("shop/templates/web.yaml"));
        let tree = o.positions.as_ref().unwrap();
        assert_eq!(
            tree.key_position("/metadata/annotations/sidecar.istio.io~1inject"),
            Some(positions::Position {
                line: 10,
                column: 5
            })
        );
        let d = s.deployments.get(Some("default"), "web").unwrap();
        let ann = d.obj.metadata.annotations.as_ref().unwrap();
        assert_eq!(ann["sidecar.istio.io/inject"], "true");
        // The source text, not the number YAML makes of it.
        assert_eq!(ann["mode"], "0755");
        let sel = d.obj.spec.selector.match_labels.as_ref().unwrap();
        assert_eq!(sel["tier"], "1");
        let labels = d
            .obj
            .spec
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap();
        assert_eq!(labels["on"], "yes");
    }

    #[test]
    fn list_items_and_json_objects_get_their_own_positions() {
        let mut s = ClusterState::default();
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: b\n    labels:\n      x: y\n";
        let objs = load_manifest_text(&mut s, "l.yaml", text, &LoadOptions::default()).unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(
            objs[1]
                .positions
                .as_ref()
                .unwrap()
                .key_position("/metadata/labels"),
            Some(positions::Position {
                line: 12,
                column: 5
            })
        );
        let json = "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n {\"apiVersion\": \"v1\", \"kind\": \"Namespace\",\n  \"metadata\": {\"name\": \"c\", \"labels\": {\"on\": true}}}]}\n";
        let opts = LoadOptions {
            lenient_string_maps: true,
            ..LoadOptions::default()
        };
        let objs = load_manifest_text(&mut s, "l.json", json, &opts).unwrap();
        assert_eq!(objs.len(), 1);
        assert_eq!(
            objs[0]
                .positions
                .as_ref()
                .unwrap()
                .key_position("/metadata/labels/on"),
            Some(positions::Position {
                line: 3,
                column: 40
            })
        );
        assert_eq!(s.namespace_labels("c").unwrap()["on"], "true");
    }
}
