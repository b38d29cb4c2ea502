//! An in-process Kubernetes API test server: serves a fixture state with the REST semantics
//! clients rely on (discovery, get and list for every kind meshdoctor reads, namespaced,
//! cluster-scoped and all-namespaces paths, `labelSelector` / `fieldSelector`, `limit` /
//! `continue` pagination, `resourceVersion`, `Status` error bodies) and injects faults
//! (latency, 403 per resource and namespace, unserved group versions, expired continue tokens,
//! 429 / 500 bursts). Every request is logged, so tests can assert that clients only read.
//!
//! It is the fast, deterministic tier of the live tests; the real `kubectl` is used as an
//! oracle of its fidelity (tests/live.rs). Shared by tests/live.rs and
//! examples/fake_apiserver.rs (the benchmark's server) through `#[path]`.
// Each including crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

/// One served resource type.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
}

impl Resource {
    pub fn group_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

const fn res(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
) -> Resource {
    Resource {
        group,
        version,
        kind,
        plural,
        namespaced,
        short_names,
    }
}

/// Everything the server serves (the kinds meshdoctor reads).
pub const RESOURCES: [Resource; 19] = [
    res("", "v1", "Namespace", "namespaces", false, &["ns"]),
    res("", "v1", "Pod", "pods", true, &["po"]),
    res("", "v1", "ConfigMap", "configmaps", true, &["cm"]),
    res("", "v1", "Secret", "secrets", true, &[]),
    res("", "v1", "Service", "services", true, &["svc"]),
    res("", "v1", "Endpoints", "endpoints", true, &["ep"]),
    res("", "v1", "Event", "events", true, &["ev"]),
    res(
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        true,
        &["quota"],
    ),
    res("", "v1", "LimitRange", "limitranges", true, &["limits"]),
    res("", "v1", "Node", "nodes", false, &["no"]),
    res("apps", "v1", "Deployment", "deployments", true, &["deploy"]),
    res("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"]),
    res("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"]),
    res("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"]),
    res("batch", "v1", "Job", "jobs", true, &[]),
    res("batch", "v1", "CronJob", "cronjobs", true, &["cj"]),
    res(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
        &[],
    ),
    res(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        true,
        &[],
    ),
    res(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        &["netpol"],
    ),
];

/// Faults to inject. Counters are consumed by the requests they hit.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added to every request before it is answered.
    pub latency: Duration,
    /// `(plural, namespace)`: 403 for list/get of that resource there (`None` = everywhere,
    /// including cluster-wide lists).
    pub forbidden: Vec<(String, Option<String>)>,
    /// Group versions (`discovery.k8s.io/v1`) that are not served: 404 and absent from discovery.
    pub unserved: Vec<String>,
    /// The next N requests that carry a `continue` token get 410 Expired.
    pub expire_continue: u32,
    /// The next N resource requests (get/list, not discovery) get 500.
    pub server_errors: u32,
    /// Resources (plurals) whose every request gets 500.
    pub broken: Vec<String>,
    /// The next N resource requests get 429 with `Retry-After: 1`.
    pub throttle: u32,
    /// Every response to a resource request waits this long (to test client timeouts).
    pub stall: Option<Duration>,
    /// Resources (plurals) whose requests are never answered in a test's lifetime.
    pub hang: Vec<String>,
}

/// One logged request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: String,
}

#[derive(Default)]
struct Inner {
    /// Objects per plural, in the order they were given.
    objects: BTreeMap<&'static str, Vec<Value>>,
    resource_version: u64,
    faults: Faults,
    log: Vec<Logged>,
}

/// Shared state of a running server.
#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<Inner>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread must not poison the server for the other tests.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A server running on its own thread and runtime, on 127.0.0.1 and a free port.
pub struct FakeApiServer {
    pub addr: SocketAddr,
    shared: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeApiServer {
    /// Starts serving `objects` (Kubernetes objects with apiVersion and kind).
    pub fn start(objects: Vec<Value>) -> FakeApiServer {
        Self::start_on(objects, 0)
    }

    pub fn start_on(objects: Vec<Value>, port: u16) -> FakeApiServer {
        let shared = Shared::default();
        {
            let mut inner = shared.lock();
            // Served in the fixture's order (a real API server orders by namespace and name):
            // offline reads keep file order, and some check messages name the first object, so
            // live and offline answers only compare equal on the same order.
            for o in objects {
                insert(&mut inner, o);
            }
        }
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let served = shared.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("test server runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .expect("bind the test server");
                addr_tx
                    .send(listener.local_addr().expect("local addr"))
                    .expect("report the address");
                let app = axum::Router::new().fallback(handle).with_state(served);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .expect("serve");
            });
        });
        let addr = addr_rx.recv().expect("test server address");
        FakeApiServer {
            addr,
            shared,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().faults = faults;
    }

    pub fn faults(&self) -> Faults {
        self.shared.lock().faults.clone()
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.shared.lock().log.clone()
    }

    pub fn clear_log(&self) {
        self.shared.lock().log.clear();
    }

    /// A kubeconfig with one context (`fake`, namespace `ns`) pointing at this server.
    pub fn kubeconfig(&self, namespace: &str) -> String {
        kubeconfig_for(&self.url(), namespace)
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A kubeconfig with a context `fake` (and a second context `other` with namespace `other`).
pub fn kubeconfig_for(server: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters:\n- name: fake\n  cluster:\n    server: {server}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\n    namespace: {namespace}\n- name: other\n  context:\n    cluster: fake\n    user: tester\n    namespace: other\nusers:\n- name: tester\n  user:\n    token: test-token\n"
    )
}

fn insert(inner: &mut Inner, mut obj: Value) {
    let kind = obj["kind"].as_str().unwrap_or("").to_owned();
    let api_version = obj["apiVersion"].as_str().unwrap_or("").to_owned();
    let Some(r) = RESOURCES
        .iter()
        .find(|r| r.kind == kind && r.group_version() == api_version)
    else {
        return;
    };
    inner.resource_version += 1;
    let rv = inner.resource_version.to_string();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.entry("resourceVersion")
            .or_insert_with(|| Value::String(rv));
        meta.entry("uid").or_insert_with(|| {
            Value::String(format!(
                "00000000-0000-0000-0000-{:012}",
                inner.resource_version
            ))
        });
        meta.entry("creationTimestamp")
            .or_insert_with(|| Value::String("2025-01-01T00:00:00Z".to_owned()));
        if r.namespaced && !meta.contains_key("namespace") {
            meta.insert("namespace".to_owned(), Value::String("default".to_owned()));
        }
    }
    inner.objects.entry(r.plural).or_default().push(obj);
}

/// Reads fixture files (YAML, multi-document, `kind: List`) or directories of them.
pub fn load_objects(paths: &[PathBuf]) -> Vec<Value> {
    let mut out = Vec::new();
    for p in paths {
        load_path(p, &mut out);
    }
    out
}

fn load_path(path: &Path, out: &mut Vec<Value>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .expect("read fixture dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir()
                || matches!(
                    e.extension().and_then(|x| x.to_str()),
                    Some("yaml" | "yml" | "json")
                )
            {
                load_path(&e, out);
            }
        }
        return;
    }
    let text = std::fs::read_to_string(path).expect("read fixture");
    let options = serde_saphyr::options! { strict_booleans: true };
    let docs: Vec<Value> =
        serde_saphyr::from_multiple_with_options(&text, options).expect("parse fixture YAML");
    for d in docs {
        flatten(d, out);
    }
}

fn flatten(doc: Value, out: &mut Vec<Value>) {
    if doc.is_null() {
        return;
    }
    if doc["kind"].as_str().is_some_and(|k| k.ends_with("List")) {
        if let Some(items) = doc.get("items").and_then(Value::as_array) {
            for i in items {
                flatten(i.clone(), out);
            }
        }
        return;
    }
    out.push(doc);
}

// ---- HTTP ----

fn json_response(code: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap_or_default()))
        .unwrap_or_default()
}

fn status(code: u16, reason: &str, message: &str, details: Value) -> Response {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    });
    let mut resp = json_response(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &body,
    );
    if code == 429 {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    resp
}

async fn handle(State(shared): State<Shared>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let (latency, stall) = {
        let mut inner = shared.lock();
        inner.log.push(Logged {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
        });
        let hangs = inner
            .faults
            .hang
            .iter()
            .any(|plural| path.split('/').any(|seg| seg == plural));
        let stall = if hangs {
            Some(Duration::from_secs(3600))
        } else {
            inner.faults.stall
        };
        (inner.faults.latency, stall)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if path.starts_with("/_fake/") {
        return control(&shared, &path);
    }
    if method != Method::GET {
        return status(
            405,
            "MethodNotAllowed",
            &format!("the test server only reads; {method} is not allowed"),
            json!({}),
        );
    }
    let params = parse_query(&query);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let port = {
        // Discovery answers name the address clients reached.
        req.headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1")
            .to_owned()
    };
    let is_resource_request =
        segments.len() >= 3 && (segments.first() == Some(&"api") || segments.len() >= 4);
    if is_resource_request && let Some(stall) = stall {
        tokio::time::sleep(stall).await;
    }
    let mut inner = shared.lock();
    route(&mut inner, &segments, &params, &port)
}

/// Test control endpoints (not Kubernetes): `/_fake/log` and `/_fake/clear-log`.
fn control(shared: &Shared, path: &str) -> Response {
    let mut inner = shared.lock();
    match path {
        "/_fake/log" => {
            let log: Vec<Value> = inner
                .log
                .iter()
                .filter(|l| !l.path.starts_with("/_fake/"))
                .map(|l| json!({"method": l.method, "path": l.path, "query": l.query}))
                .collect();
            json_response(StatusCode::OK, &json!(log))
        }
        "/_fake/clear-log" => {
            inner.log.clear();
            json_response(StatusCode::OK, &json!({}))
        }
        _ => status(404, "NotFound", "no such control endpoint", json!({})),
    }
}

fn parse_query(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn route(
    inner: &mut Inner,
    seg: &[&str],
    params: &BTreeMap<String, String>,
    host: &str,
) -> Response {
    match seg {
        ["version"] => json_response(
            StatusCode::OK,
            &json!({
                "major": "1", "minor": "32", "gitVersion": "v1.32.0-meshdoctor-test",
                "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
                "platform": "linux/amd64"
            }),
        ),
        ["api"] => json_response(
            StatusCode::OK,
            &json!({
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]
            }),
        ),
        ["apis"] => json_response(StatusCode::OK, &group_list(&inner.faults)),
        ["apis", group] => match group_json(group, &inner.faults) {
            Some(g) => json_response(StatusCode::OK, &g),
            None => not_found_path(),
        },
        ["api", "v1"] => json_response(StatusCode::OK, &resource_list("", "v1")),
        ["apis", group, version] => {
            if served(group, version, &inner.faults) {
                json_response(StatusCode::OK, &resource_list(group, version))
            } else {
                not_found_path()
            }
        }
        ["api", "v1", rest @ ..] => resource_request(inner, "", "v1", rest, params),
        ["apis", group, version, rest @ ..] => {
            resource_request(inner, group, version, rest, params)
        }
        _ => not_found_path(),
    }
}

fn not_found_path() -> Response {
    status(
        404,
        "NotFound",
        "the server could not find the requested resource",
        json!({}),
    )
}

fn served(group: &str, version: &str, faults: &Faults) -> bool {
    let gv = format!("{group}/{version}");
    RESOURCES
        .iter()
        .any(|r| r.group == group && r.version == version)
        && !faults.unserved.contains(&gv)
}

fn groups(faults: &Faults) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = RESOURCES
        .iter()
        .filter(|r| !r.group.is_empty() && served(r.group, r.version, faults))
        .map(|r| r.group)
        .collect();
    out.dedup();
    out.sort();
    out.dedup();
    out
}

fn group_json(group: &str, faults: &Faults) -> Option<Value> {
    let g = groups(faults).into_iter().find(|g| *g == group)?;
    let gv = format!("{g}/v1");
    Some(json!({
        "kind": "APIGroup", "apiVersion": "v1", "name": g,
        "versions": [{"groupVersion": gv, "version": "v1"}],
        "preferredVersion": {"groupVersion": gv, "version": "v1"}
    }))
}

fn group_list(faults: &Faults) -> Value {
    let groups: Vec<Value> = groups(faults)
        .into_iter()
        .filter_map(|g| {
            let mut v = group_json(g, faults)?;
            if let Some(m) = v.as_object_mut() {
                m.remove("kind");
                m.remove("apiVersion");
            }
            Some(v)
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resource_list(group: &str, version: &str) -> Value {
    let gv = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    let resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .map(|r| {
            json!({
                "name": r.plural,
                "singularName": r.kind.to_ascii_lowercase(),
                "namespaced": r.namespaced,
                "kind": r.kind,
                // Only read verbs: the server is read-only.
                "verbs": ["get", "list"],
                "shortNames": r.short_names,
            })
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

fn resource_request(
    inner: &mut Inner,
    group: &str,
    version: &str,
    rest: &[&str],
    params: &BTreeMap<String, String>,
) -> Response {
    if !served(group, version, &inner.faults) {
        return not_found_path();
    }
    let find = |plural: &str| {
        RESOURCES
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
            .copied()
    };
    // (resource, namespace, name)
    let (r, namespace, name) = match rest {
        [plural] => match find(plural) {
            Some(r) => (r, None, None),
            None => return not_found_path(),
        },
        ["namespaces", ns, plural] => match find(plural) {
            Some(r) if r.namespaced => (r, Some(*ns), None),
            _ => return not_found_path(),
        },
        ["namespaces", ns, plural, name] => match find(plural) {
            Some(r) if r.namespaced => (r, Some(*ns), Some(*name)),
            _ => return not_found_path(),
        },
        [plural, name] => match find(plural) {
            Some(r) if !r.namespaced => (r, None, Some(*name)),
            _ => return not_found_path(),
        },
        _ => return not_found_path(),
    };
    if params.get("watch").is_some_and(|w| w == "true" || w == "1") {
        return status(
            405,
            "MethodNotAllowed",
            "the test server does not support watch",
            json!({}),
        );
    }
    let verb = if name.is_some() { "get" } else { "list" };
    let faults = &mut inner.faults;
    if faults.throttle > 0 {
        faults.throttle -= 1;
        return status(
            429,
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
            json!({"retryAfterSeconds": 1}),
        );
    }
    let broken = faults.broken.iter().any(|p| p == r.plural);
    if faults.server_errors > 0 || broken {
        faults.server_errors = faults.server_errors.saturating_sub(u32::from(!broken));
        return status(
            500,
            "InternalError",
            "an error on the server (\"injected\") has prevented the request from succeeding",
            json!({}),
        );
    }
    let denied = faults.forbidden.iter().any(|(p, ns)| {
        p == r.plural
            && match ns {
                None => true,
                Some(ns) => namespace == Some(ns.as_str()),
            }
    });
    if denied {
        let group_text = if r.group.is_empty() { "" } else { r.group };
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_owned(),
        };
        return status(
            403,
            "Forbidden",
            &format!(
                "{} is forbidden: User \"tester\" cannot {verb} resource \"{}\" in API group \"{group_text}\" {scope}",
                r.plural, r.plural
            ),
            json!({"kind": r.plural}),
        );
    }
    let token = params.get("continue").filter(|c| !c.is_empty());
    if token.is_some() && faults.expire_continue > 0 {
        faults.expire_continue -= 1;
        return status(
            410,
            "Expired",
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
            json!({}),
        );
    }
    let objects = inner
        .objects
        .get(r.plural)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let ns_of = |o: &Value| o["metadata"]["namespace"].as_str().map(str::to_owned);
    if let Some(name) = name {
        let found = objects.iter().find(|o| {
            o["metadata"]["name"].as_str() == Some(name)
                && (namespace.is_none() || ns_of(o).as_deref() == namespace)
        });
        return match found {
            Some(o) => json_response(StatusCode::OK, o),
            None => status(
                404,
                "NotFound",
                &format!("{} \"{name}\" not found", r.plural),
                json!({"name": name, "kind": r.plural}),
            ),
        };
    }
    let label_sel = match params.get("labelSelector").map(|s| parse_selector(s)) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            return status(
                400,
                "BadRequest",
                &format!("unable to parse requirement: {e}"),
                json!({}),
            );
        }
        None => None,
    };
    let field_sel = params.get("fieldSelector").map(|s| parse_fields(s));
    let matching: Vec<&Value> = objects
        .iter()
        .filter(|o| namespace.is_none() || ns_of(o).as_deref() == namespace)
        .filter(|o| label_sel.as_ref().is_none_or(|s| labels_match(s, o)))
        .filter(|o| field_sel.as_ref().is_none_or(|s| fields_match(s, o)))
        .collect();
    let start: usize = match token {
        None => 0,
        Some(t) => match t.strip_prefix("c1.").and_then(|t| t.split_once('.')) {
            Some((_, offset)) => match offset.parse() {
                Ok(o) => o,
                Err(_) => return status(400, "BadRequest", "invalid continue token", json!({})),
            },
            None => return status(400, "BadRequest", "invalid continue token", json!({})),
        },
    };
    let limit: usize = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|&l: &usize| l > 0)
        .unwrap_or(usize::MAX);
    let end = start.saturating_add(limit).min(matching.len());
    let page: Vec<Value> = matching
        .get(start.min(end)..end)
        .unwrap_or(&[])
        .iter()
        .map(|o| {
            // The API server leaves apiVersion and kind out of list items.
            let mut o = (*o).clone();
            if let Some(m) = o.as_object_mut() {
                m.remove("apiVersion");
                m.remove("kind");
            }
            o
        })
        .collect();
    let rv = inner.resource_version.to_string();
    let mut meta = Map::new();
    meta.insert("resourceVersion".to_owned(), Value::String(rv.clone()));
    if end < matching.len() {
        meta.insert(
            "continue".to_owned(),
            Value::String(format!("c1.{rv}.{end}")),
        );
        meta.insert("remainingItemCount".to_owned(), json!(matching.len() - end));
    }
    json_response(
        StatusCode::OK,
        &json!({
            "kind": format!("{}List", r.kind),
            "apiVersion": r.group_version(),
            "metadata": meta,
            "items": page,
        }),
    )
}

/// One requirement of a label selector as the API server's query syntax writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
pub fn parse_selector(s: &str) -> Result<Vec<Requirement>, String> {
    let mut terms = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    terms.push(cur);
    let mut out = Vec::new();
    for t in terms.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let set = |rest: &str| -> Result<Vec<String>, String> {
            let inner = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| format!("{t}: expected (values)"))?;
            Ok(inner.split(',').map(|v| v.trim().to_owned()).collect())
        };
        if let Some(k) = t.strip_prefix('!') {
            out.push(Requirement::NotExists(k.trim().to_owned()));
        } else if let Some((k, rest)) = t.split_once(" notin ") {
            out.push(Requirement::NotIn(k.trim().to_owned(), set(rest)?));
        } else if let Some((k, rest)) = t.split_once(" in ") {
            out.push(Requirement::In(k.trim().to_owned(), set(rest)?));
        } else if let Some((k, v)) = t.split_once("!=") {
            out.push(Requirement::NotEq(k.trim().to_owned(), v.trim().to_owned()));
        } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
            out.push(Requirement::Eq(k.trim().to_owned(), v.trim().to_owned()));
        } else if t.contains(' ') {
            return Err(format!("{t}: unknown operator"));
        } else {
            out.push(Requirement::Exists(t.to_owned()));
        }
    }
    Ok(out)
}

fn labels_match(sel: &[Requirement], obj: &Value) -> bool {
    let labels = &obj["metadata"]["labels"];
    let get = |k: &str| labels.get(k).and_then(Value::as_str);
    sel.iter().all(|r| match r {
        Requirement::Eq(k, v) => get(k) == Some(v.as_str()),
        Requirement::NotEq(k, v) => get(k) != Some(v.as_str()),
        Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
        Requirement::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
        Requirement::Exists(k) => get(k).is_some(),
        Requirement::NotExists(k) => get(k).is_none(),
    })
}

/// `metadata.name=x,metadata.namespace!=y` (the field selectors every kind supports).
fn parse_fields(s: &str) -> Vec<(String, bool, String)> {
    s.split(',')
        .filter_map(|t| {
            if let Some((k, v)) = t.split_once("!=") {
                Some((k.to_owned(), false, v.to_owned()))
            } else {
                let (k, v) = t.split_once("==").or_else(|| t.split_once('='))?;
                Some((k.to_owned(), true, v.to_owned()))
            }
        })
        .collect()
}

fn fields_match(sel: &[(String, bool, String)], obj: &Value) -> bool {
    sel.iter().all(|(path, eq, want)| {
        let pointer = format!("/{}", path.replace('.', "/"));
        let got = obj.pointer(&pointer).and_then(Value::as_str).unwrap_or("");
        (got == want) == *eq
    })
}

/// A synthetic cluster for the benchmark: the clean Istio install of `fixtures/check-namespace-selected`
/// plus `namespaces` namespaces (every other one labelled for injection) holding `pods` pods
/// spread evenly, each pod owned by a ReplicaSet owned by a Deployment (one per namespace).
pub fn synthetic(base: Vec<Value>, namespaces: usize, pods: usize) -> Vec<Value> {
    let mut out = base;
    let per_ns = pods.div_ceil(namespaces.max(1));
    let mut made = 0;
    for n in 0..namespaces {
        let ns = format!("team-{n:03}");
        let labels = if n % 2 == 0 {
            json!({"istio-injection": "enabled", "kubernetes.io/metadata.name": ns})
        } else {
            json!({"kubernetes.io/metadata.name": ns})
        };
        out.push(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": labels}}));
        let template = json!({
            "metadata": {"labels": {"app": "api"}},
            "spec": {"containers": [{"name": "api", "image": "registry.example/api:1.4.2",
                "ports": [{"containerPort": 8080, "name": "http"}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}
        });
        out.push(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "namespace": ns, "labels": {"app": "api"}},
            "spec": {"replicas": per_ns, "selector": {"matchLabels": {"app": "api"}}, "template": template}}));
        out.push(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "api-7d9f8", "namespace": ns, "labels": {"app": "api"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "api",
                    "uid": "d", "controller": true}]},
            "spec": {"replicas": per_ns, "selector": {"matchLabels": {"app": "api"}}, "template": template}}));
        for p in 0..per_ns {
            if made == pods {
                break;
            }
            made += 1;
            out.push(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("api-7d9f8-{p:05}"), "namespace": ns,
                    "labels": {"app": "api", "pod-template-hash": "7d9f8"},
                    "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-7d9f8",
                        "uid": "r", "controller": true, "blockOwnerDeletion": true}]},
                "spec": {"containers": [{"name": "api", "image": "registry.example/api:1.4.2",
                    "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                    "terminationMessagePath": "/dev/termination-log", "imagePullPolicy": "IfNotPresent",
                    "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}]}],
                    "serviceAccountName": "default", "nodeName": format!("node-{}", p % 20),
                    "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
                    "volumes": [{"name": "kube-api-access", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}]}}]},
                "status": {"phase": "Running", "podIP": format!("10.0.{}.{}", n % 250, p % 250),
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [{"name": "api", "ready": true, "restartCount": 0,
                        "image": "registry.example/api:1.4.2", "imageID": "", "started": true,
                        "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}}]}}));
        }
    }
    out
}
