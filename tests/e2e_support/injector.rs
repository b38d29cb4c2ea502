//! A test sidecar injector in the real API server's loop: an HTTPS AdmissionReview v1 server
//! on 127.0.0.1 with its own generated CA, which decides with meshdoctor's `injectRequired`
//! (under the revision's injector ConfigMap, as istiod would) and mutates with meshdoctor's
//! render engine, answering with a JSONPatch.
//!
//! It runs on its own thread and runtime, so a test that blocks (running the CLI with
//! `assert_cmd`) does not stall the webhook the API server is waiting for. Paths:
//! `/inject/<revision>` answers at once; `/slow/<seconds>/<revision>` answers after a delay (to
//! exceed a webhook's `timeoutSeconds`); `/probe` only adds the annotation [`PROBE_ANNOTATION`],
//! so a test can see that the API server has loaded a configuration.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::post;
use base64::Engine as _;
use k8s_openapi::api::core::v1::ConfigMap;
use meshdoctor::mesh::istio::config::InjectorSettings;
use meshdoctor::mesh::istio::decide::{PodFacts, inject_required};
use meshdoctor::mesh::istio::version::{IstioVersion, VersionInfo};
use meshdoctor::origin::Origin;
use meshdoctor::render::cluster::injector_for;
use meshdoctor::render::{InjectContext, Injector, json_patch};
use meshdoctor::state::ClusterState;
use meshdoctor::trace::NoTrace;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

#[path = "../common/pki.rs"]
pub mod pki;

/// The Istio version whose rules the test injector applies (the conformance inputs' version).
pub const ISTIO_VERSION: IstioVersion = IstioVersion {
    major: 1,
    minor: 24,
};

/// What `/probe` adds to every pod it sees.
pub const PROBE_ANNOTATION: &str = "meshdoctor.e2e/probed";

/// One revision as the injector serves it: the decision settings and the render engine built
/// from the same ConfigMaps.
struct Revision {
    settings: InjectorSettings,
    injector: Injector,
    ctx: InjectContext,
}

/// What one AdmissionReview asked and what the injector answered.
#[derive(Debug, Clone)]
pub struct Call {
    pub path_revision: String,
    pub namespace: String,
    pub pod: String,
    pub dry_run: bool,
    /// `Some(true)` injected, `Some(false)` declined, `None` the revision is unknown or failed.
    pub injected: Option<bool>,
}

#[derive(Default)]
struct Shared {
    revisions: RwLock<BTreeMap<String, Arc<Revision>>>,
    calls: Mutex<Vec<Call>>,
    handshake_failures: AtomicUsize,
}

/// A running test injector.
pub struct TestInjector {
    addr: SocketAddr,
    ca_pem: String,
    shared: Arc<Shared>,
}

impl TestInjector {
    /// Generates a CA and a serving certificate for `IP:127.0.0.1`, binds a free loopback port
    /// and serves on a background thread until the test process exits.
    pub fn start() -> TestInjector {
        let ca = pki::ca("meshdoctor-e2e-injector-ca");
        let (cert_pem, key_pem) = pki::serving(
            &ca,
            &["127.0.0.1", "localhost"],
            pki::NOW - 10 * pki::DAY,
            pki::NOW + 3650 * pki::DAY,
        );
        let acceptor = tls_acceptor(&cert_pem, &key_pem);
        let shared = Arc::new(Shared::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let for_thread = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("e2e-injector".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("injector runtime");
                runtime.block_on(async move {
                    let tcp = TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("bind the injector on loopback");
                    let addr = tcp.local_addr().expect("the injector's address");
                    let _ = tx.send(addr);
                    let app = Router::new()
                        .route("/inject/{revision}", post(inject))
                        .route("/slow/{seconds}/{revision}", post(slow_inject))
                        .route("/probe", post(probe))
                        .with_state(Arc::clone(&for_thread));
                    let listener = TlsListener {
                        tcp,
                        acceptor,
                        shared: for_thread,
                    };
                    let _ = axum::serve(listener, app).await;
                });
            })
            .expect("spawn the injector thread");
        let addr = rx.recv().expect("the injector bound a port");
        TestInjector {
            addr,
            ca_pem: ca.cert_pem,
            shared,
        }
    }

    /// `https://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// The PEM of the CA that signed the serving certificate: the right `caBundle`.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Serves `revision` with the decision settings and templates of these ConfigMaps, as istiod
    /// reads them: the injector ConfigMap (`config`, `values`) and the mesh ConfigMap (`mesh`).
    pub fn set_revision(
        &self,
        revision: &str,
        injector_cm: &ConfigMap,
        mesh_cm: Option<&ConfigMap>,
    ) {
        let settings = InjectorSettings::from_configmap(
            revision,
            injector_cm,
            Origin::Live,
            VersionInfo {
                version: Some(ISTIO_VERSION),
                source: "the e2e test injector".into(),
            },
        );
        assert!(
            settings.problems.is_empty(),
            "injector ConfigMap for {revision}: {:?}",
            settings.problems
        );
        let mut state = ClusterState::default();
        state.configmaps.insert(injector_cm.clone(), Origin::Live);
        if let Some(mesh) = mesh_cm {
            state.configmaps.insert(mesh.clone(), Origin::Live);
        }
        let (injector, ctx) =
            injector_for(&state, &settings).unwrap_or_else(|e| panic!("revision {revision}: {e}"));
        self.shared
            .revisions
            .write()
            .expect("revisions lock")
            .insert(
                revision.to_owned(),
                Arc::new(Revision {
                    settings,
                    injector,
                    ctx,
                }),
            );
    }

    /// Every review answered so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().expect("calls lock").clone()
    }

    /// TLS handshakes that failed (a client that does not trust the certificate ends here).
    pub fn handshake_failures(&self) -> usize {
        self.shared.handshake_failures.load(Ordering::Relaxed)
    }
}

/// A CA's certificate that signed nothing the injector serves: a wrong `caBundle`.
pub fn other_ca_pem() -> String {
    pki::ca("meshdoctor-e2e-other-ca").cert_pem
}

/// A loopback port nothing listens on: bound, read, released.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    listener.local_addr().expect("probe port").port()
}

fn tls_acceptor(cert_pem: &str, key_pem: &str) -> TlsAcceptor {
    let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("serving cert PEM");
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("serving key PEM");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("serving certificate and key");
    TlsAcceptor::from(Arc::new(config))
}

/// Accepts TCP connections and completes the TLS handshake before handing them to axum; a
/// failed handshake (an API server that does not trust us) is counted and skipped.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (tcp, addr) = match self.tcp.accept().await {
                Ok(accepted) => accepted,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            match tokio::time::timeout(Duration::from_secs(5), self.acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => return (tls, addr),
                _ => {
                    self.shared
                        .handshake_failures
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

async fn inject(
    State(shared): State<Arc<Shared>>,
    Path(revision): Path<String>,
    body: Bytes,
) -> axum::Json<Value> {
    axum::Json(review(&shared, &revision, &body))
}

async fn slow_inject(
    State(shared): State<Arc<Shared>>,
    Path((seconds, revision)): Path<(u64, String)>,
    body: Bytes,
) -> axum::Json<Value> {
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    axum::Json(review(&shared, &revision, &body))
}

/// Marks the pod with [`PROBE_ANNOTATION`] and nothing else.
async fn probe(body: Bytes) -> axum::Json<Value> {
    let review: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let uid = review
        .pointer("/request/uid")
        .cloned()
        .unwrap_or(Value::Null);
    let has_annotations = review
        .pointer("/request/object/metadata/annotations")
        .is_some_and(Value::is_object);
    let patch = if has_annotations {
        json!([{"op": "add", "path": format!("/metadata/annotations/{}", PROBE_ANNOTATION.replace('/', "~1")), "value": "true"}])
    } else {
        json!([{"op": "add", "path": "/metadata/annotations", "value": {PROBE_ANNOTATION: "true"}}])
    };
    axum::Json(json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {
            "uid": uid,
            "allowed": true,
            "patchType": "JSONPatch",
            "patch": base64::engine::general_purpose::STANDARD.encode(patch.to_string()),
        },
    }))
}

/// Answers one AdmissionReview v1 as istiod's webhook does: `injectRequired` first, then the
/// render and a JSONPatch from the pod as received to the mutated pod.
fn review(shared: &Shared, revision: &str, body: &[u8]) -> Value {
    let review: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let request = review.get("request").cloned().unwrap_or(Value::Null);
    let uid = request.get("uid").cloned().unwrap_or(Value::Null);
    let namespace = request
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let pod = request.get("object").cloned().unwrap_or(Value::Null);
    let meta = pod.get("metadata");
    let pod_name = meta
        .and_then(|m| m.get("name").or_else(|| m.get("generateName")))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let dry_run = request
        .get("dryRun")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    let found = shared
        .revisions
        .read()
        .expect("revisions lock")
        .get(revision)
        .cloned();
    let (injected, response) = match found {
        None => (None, json!({"uid": uid, "allowed": true})),
        Some(rev) => match decide_and_render(&rev, &namespace, &pod) {
            Ok(None) => (Some(false), json!({"uid": uid, "allowed": true})),
            Ok(Some(patch)) => (
                Some(true),
                json!({
                    "uid": uid,
                    "allowed": true,
                    "patchType": "JSONPatch",
                    "patch": base64::engine::general_purpose::STANDARD.encode(patch.to_string()),
                }),
            ),
            // istiod answers a render failure with allowed: false and the error's text.
            Err(message) => (
                None,
                json!({"uid": uid, "allowed": false, "status": {"message": message, "code": 500}}),
            ),
        },
    };
    shared.calls.lock().expect("calls lock").push(Call {
        path_revision: revision.to_owned(),
        namespace,
        pod: pod_name,
        dry_run,
        injected,
    });
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    })
}

/// `None` when istiod's decision says no; the patch when it injects.
fn decide_and_render(
    rev: &Revision,
    namespace: &str,
    pod: &Value,
) -> Result<Option<Value>, String> {
    let string_map = |field: &str| -> BTreeMap<String, String> {
        pod.pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let labels = string_map("labels");
    let annotations = string_map("annotations");
    let facts = PodFacts {
        namespace,
        labels: &labels,
        annotations: &annotations,
        host_network: pod
            .pointer("/spec/hostNetwork")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    if !inject_required(&facts, &rev.settings, &mut NoTrace).inject {
        return Ok(None);
    }
    let mut ctx = rev.ctx.clone();
    ctx.request_namespace = namespace.to_owned();
    let mutated = rev
        .injector
        .inject_pod(pod, &ctx)
        .map_err(|e| e.to_string())?;
    Ok(Some(json_patch(pod, &mutated)))
}
