//! `meshdoctor serve` against the real kube-apiserver, scraped by a real Prometheus: the
//! series move when the cluster changes (a namespace labelled, the injector's endpoints
//! deleted, a caBundle replaced by one about to expire), asserted through Prometheus's own
//! HTTP API. meshdoctor runs as the ServiceAccount of `deploy/` (impersonated), so the test
//! also proves that the shipped read-only RBAC is enough.
//!
//! Nothing here makes the API server call a webhook: every pod is created before the webhook
//! configuration exists, so no request leaves the loopback interface.

mod e2e_support;

use e2e_support::injector::pki as pki_gen;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e_support::istio::{
    ISTIO_NAMESPACE, apply_configmap, client, create_namespace, ensure_namespace,
    injector_configmap, mesh_configmap, pod,
};
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Pod, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const WEBHOOKS: &str = "istio-sidecar-injector";
const DAY: i64 = 86_400;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}

fn base64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Creates every object of a manifest file of `deploy/` (the kinds the RBAC files hold).
async fn apply_deploy_file(c: &Client, file: &str) {
    let text = std::fs::read_to_string(repo(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    for doc in text.split("\n---\n") {
        let v: Value = serde_saphyr::from_str(doc).unwrap_or_else(|e| panic!("{file}: {e}"));
        if v.is_null() {
            continue;
        }
        let ns = v["metadata"]["namespace"].as_str().map(str::to_owned);
        let pp = PostParams::default();
        let created = match v["kind"].as_str() {
            Some("Namespace") => Api::<Namespace>::all(c.clone())
                .create(&pp, &serde_json::from_value(v.clone()).unwrap())
                .await
                .map(drop),
            Some("ServiceAccount") => {
                Api::<ServiceAccount>::namespaced(c.clone(), ns.as_deref().unwrap())
                    .create(&pp, &serde_json::from_value(v.clone()).unwrap())
                    .await
                    .map(drop)
            }
            Some("ClusterRole") => Api::<ClusterRole>::all(c.clone())
                .create(&pp, &serde_json::from_value(v.clone()).unwrap())
                .await
                .map(drop),
            Some("ClusterRoleBinding") => Api::<ClusterRoleBinding>::all(c.clone())
                .create(&pp, &serde_json::from_value(v.clone()).unwrap())
                .await
                .map(drop),
            Some("Role") => Api::<Role>::namespaced(c.clone(), ns.as_deref().unwrap())
                .create(&pp, &serde_json::from_value(v.clone()).unwrap())
                .await
                .map(drop),
            Some("RoleBinding") => {
                Api::<RoleBinding>::namespaced(c.clone(), ns.as_deref().unwrap())
                    .create(&pp, &serde_json::from_value(v.clone()).unwrap())
                    .await
                    .map(drop)
            }
            other => panic!("{file}: unexpected kind {other:?}"),
        };
        match created {
            Ok(()) | Err(kube::Error::Api(_)) => {}
            Err(e) => panic!("{file}: {e}"),
        }
    }
}

/// The script's kubeconfig, acting as ServiceAccount `meshdoctor/<account>`.
fn impersonating_kubeconfig(server: &e2e_support::ApiServer, dir: &Path, account: &str) -> PathBuf {
    let text = std::fs::read_to_string(server.kubeconfig()).expect("kubeconfig");
    let mut v: Value = serde_saphyr::from_str(&text).expect("kubeconfig YAML");
    for u in v["users"].as_array_mut().expect("users") {
        u["user"]["as"] = json!(format!("system:serviceaccount:meshdoctor:{account}"));
    }
    let path = dir.join(format!("kubeconfig-{account}.json"));
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    path
}

fn webhooks(ca_pem: &str) -> MutatingWebhookConfiguration {
    serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": WEBHOOKS, "labels": {"istio.io/rev": "default"}},
        "webhooks": [{
            "name": "namespace.sidecar-injector.istio.io",
            "clientConfig": {
                "service": {"name": "istiod", "namespace": ISTIO_NAMESPACE, "path": "/inject", "port": 443},
                "caBundle": base64(ca_pem),
            },
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
            "failurePolicy": "Ignore",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}},
            "objectSelector": {"matchExpressions": [{"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}]},
        }],
    }))
    .expect("webhooks")
}

/// One GET on loopback; the body.
fn http_get(addr: &str, path_and_query: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path_and_query} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

fn encode_query(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The values of an instant query through Prometheus's HTTP API.
fn query(prometheus: &str, q: &str) -> Vec<f64> {
    let body = http_get(
        prometheus,
        &format!("/api/v1/query?query={}", encode_query(q)),
    );
    // Until its storage is open Prometheus answers `503 Service Unavailable` in plain text:
    // no values yet, and the caller's wait goes on (it fails with Prometheus's log if it never
    // gets ready).
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return Vec::new();
    };
    v["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["value"][1].as_str()?.parse().ok())
        .collect()
}

/// Waits until `q` has a value and `ok` accepts it; the seconds it took.
fn wait_for(prometheus: &str, q: &str, ok: impl Fn(f64) -> bool, log: &dyn Fn() -> String) -> f64 {
    let start = Instant::now();
    loop {
        let values = query(prometheus, q);
        if values.first().is_some_and(|v| ok(*v)) {
            return start.elapsed().as_secs_f64();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{q}: {values:?} after 60 s\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn prometheus_binary() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("prometheus"))
            .find(|p| p.is_file())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_metrics_follow_the_cluster_through_prometheus() {
    let Some(server) = e2e_support::shared_or_skip("serve_metrics_follow_the_cluster") else {
        return;
    };
    let Some(prometheus_bin) = prometheus_binary() else {
        assert!(
            !e2e_support::required(),
            "MESHDOCTOR_E2E is set but there is no prometheus on PATH (.ci/run installs Debian's)"
        );
        eprintln!("skipped: no prometheus on PATH (apt-get install prometheus)");
        return;
    };
    let c = client(server).await;

    // deploy/'s namespace and read-only RBAC, as `kubectl apply -k deploy/` creates them.
    ensure_namespace(&c, ISTIO_NAMESPACE).await;
    apply_deploy_file(&c, "deploy/namespace.yaml").await;
    apply_deploy_file(&c, "deploy/rbac.yaml").await;

    // Istio's ConfigMaps, the injector Service and one ready endpoint (a documentation
    // address: nothing ever connects to it).
    apply_configmap(&c, &injector_configmap("default", "enabled")).await;
    apply_configmap(&c, &mesh_configmap()).await;
    let svc: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "istiod", "namespace": ISTIO_NAMESPACE},
        "spec": {"clusterIP": "None", "selector": {"app": "istiod"},
                 "ports": [{"name": "https-webhook", "port": 443, "targetPort": 15017}]},
    }))
    .unwrap();
    let _ = Api::<Service>::namespaced(c.clone(), ISTIO_NAMESPACE)
        .create(&PostParams::default(), &svc)
        .await;
    let ep: Endpoints = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "istiod", "namespace": ISTIO_NAMESPACE},
        "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"name": "https-webhook", "port": 15017}]}],
    }))
    .unwrap();
    let endpoints = Api::<Endpoints>::namespaced(c.clone(), ISTIO_NAMESPACE);
    let _ = endpoints.create(&PostParams::default(), &ep).await;

    // Pods first, webhook after: the API server never calls the injector.
    let labelled = BTreeMap::from([("istio-injection".to_owned(), "enabled".to_owned())]);
    create_namespace(&c, "serve-shop", &labelled).await;
    create_namespace(&c, "serve-later", &BTreeMap::new()).await;
    for (ns, name) in [
        ("serve-shop", "web-1"),
        ("serve-shop", "web-2"),
        ("serve-later", "api-1"),
    ] {
        Api::<Pod>::namespaced(c.clone(), ns)
            .create(
                &PostParams::default(),
                &pod(name, ns, &BTreeMap::new(), &BTreeMap::new()),
            )
            .await
            .unwrap_or_else(|e| panic!("create pod {ns}/{name}: {e}"));
    }
    let ca = pki_gen::ca_valid("serve-e2e-root", now() - DAY, now() + 365 * DAY);
    let mwcs = Api::<MutatingWebhookConfiguration>::all(c.clone());
    let _ = mwcs.delete(WEBHOOKS, &DeleteParams::default()).await;
    mwcs.create(&PostParams::default(), &webhooks(&ca.cert_pem))
        .await
        .expect("create the webhooks");

    // meshdoctor serve, as the ServiceAccount.
    let dir = tempdir();
    let kubeconfig = impersonating_kubeconfig(server, &dir, "meshdoctor");
    let (serve, metrics_addr, rx) = start_serve(&kubeconfig);

    // A real Prometheus scraping it every second.
    let prometheus_addr = format!("127.0.0.1:{}", free_port());
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: meshdoctor\n    static_configs:\n      - targets: ['{metrics_addr}']\n"
        ),
    )
    .unwrap();
    let prom_log = dir.join("prometheus.log");
    let _prometheus = Running(
        Command::new(prometheus_bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={prometheus_addr}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&prom_log).unwrap())
            .spawn()
            .expect("start prometheus"),
    );
    let log = || {
        let tail: Vec<String> = rx.try_iter().collect();
        format!(
            "meshdoctor serve stderr: {tail:?}\n/readyz: {}\nprometheus log: {}",
            http_get(&metrics_addr, "/readyz"),
            std::fs::read_to_string(&prom_log)
                .unwrap_or_default()
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        )
    };
    // Prometheus answers once it has started.
    let started = Instant::now();
    while TcpStream::connect(&prometheus_addr).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "{}", log());
        std::thread::sleep(Duration::from_millis(100));
    }

    let synced = wait_for(&prometheus_addr, "meshdoctor_ready", |v| v == 1.0, &log);
    let svc_q = "meshdoctor_webhook_ready_endpoints{service=\"istio-system/istiod\"}";
    wait_for(&prometheus_addr, svc_q, |v| v == 1.0, &log);
    wait_for(
        &prometheus_addr,
        "meshdoctor_namespace_pods_missing_sidecar{namespace=\"serve-shop\"}",
        |v| v == 2.0,
        &log,
    );
    let ca_q =
        format!("meshdoctor_certificate_expiry_seconds{{source=\"caBundle of {WEBHOOKS}\"}}");
    wait_for(&prometheus_addr, &ca_q, |v| v > 300.0 * 86_400.0, &log);
    // Every kind the checks read is readable with deploy/'s RBAC, except those this 1.20 API
    // server does not serve (discovery.k8s.io/v1 EndpointSlices, batch/v1 CronJobs).
    let unreadable = http_get(&metrics_addr, "/readyz");
    for line in unreadable.lines().filter(|l| l.starts_with("unavailable:")) {
        assert!(
            line.contains("does not serve endpointslices")
                || line.contains("does not serve cronjobs"),
            "{line}"
        );
        assert!(!line.contains("forbidden"), "{line}");
    }
    let findings: Value = serde_json::from_str(&http_get(&metrics_addr, "/findings")).unwrap();
    assert!(
        findings["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "pod-missing-sidecar"),
        "{findings}"
    );

    // 1. A namespace gets labelled: its pod now runs without the sidecar it would get.
    Api::<Namespace>::all(c.clone())
        .patch(
            "serve-later",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"istio-injection": "enabled"}}})),
        )
        .await
        .expect("label namespace");
    let labelled_after = wait_for(
        &prometheus_addr,
        "meshdoctor_namespace_pods_missing_sidecar{namespace=\"serve-later\"}",
        |v| v == 1.0,
        &log,
    );

    // 2. The injector loses its endpoints.
    endpoints
        .delete("istiod", &DeleteParams::default())
        .await
        .expect("delete endpoints");
    let endpoints_after = wait_for(&prometheus_addr, svc_q, |v| v == 0.0, &log);

    // 3. The caBundle is replaced by a certificate that expires in three days.
    let soon = pki_gen::ca_valid("serve-e2e-short", now() - DAY, now() + 3 * DAY);
    mwcs.patch(
        WEBHOOKS,
        &PatchParams::default(),
        &Patch::Json::<()>(
            serde_json::from_value(json!([{
                "op": "replace",
                "path": "/webhooks/0/clientConfig/caBundle",
                "value": base64(&soon.cert_pem),
            }]))
            .unwrap(),
        ),
    )
    .await
    .expect("replace the caBundle");
    let cert_after = wait_for(
        &prometheus_addr,
        &ca_q,
        |v| v > 0.0 && v < 7.0 * 86_400.0,
        &log,
    );
    println!(
        "serve e2e: ready {synced:.1} s after start; through Prometheus (1 s scrapes): namespace label {labelled_after:.1} s, endpoints deleted {endpoints_after:.1} s, caBundle replaced {cert_after:.1} s"
    );
    drop(serve);
}

/// Starts `meshdoctor serve` on a free loopback port; the process, its address and its stderr.
fn start_serve(kubeconfig: &Path) -> (Running, String, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshdoctor"))
        .args([
            "serve",
            "--metrics-addr",
            "127.0.0.1:0",
            "--debounce",
            "200ms",
        ])
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start meshdoctor serve");
    let stderr = child.stderr.take().expect("stderr");
    let serve = Running(child);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let banner = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("serve prints where it listens");
    let addr = banner
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no address in {banner:?}"))
        .to_owned();
    (serve, addr, rx)
}

/// A ServiceAccount with the ClusterRole but none of the control-plane Roles: its lists of
/// ConfigMaps and Secrets in istio-system are forbidden. serve keeps running, says so in
/// /readyz and in `meshdoctor_input_available`, and skips the checks that need them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_kind_is_reported_unavailable_not_fatal() {
    let Some(server) = e2e_support::shared_or_skip("a_forbidden_kind_is_unavailable") else {
        return;
    };
    let c = client(server).await;
    ensure_namespace(&c, ISTIO_NAMESPACE).await;
    apply_deploy_file(&c, "deploy/namespace.yaml").await;
    apply_deploy_file(&c, "deploy/rbac.yaml").await;
    let sa: ServiceAccount = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "partial", "namespace": "meshdoctor"},
    }))
    .unwrap();
    let _ = Api::<ServiceAccount>::namespaced(c.clone(), "meshdoctor")
        .create(&PostParams::default(), &sa)
        .await;
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "meshdoctor-partial"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "meshdoctor-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "partial", "namespace": "meshdoctor"}],
    }))
    .unwrap();
    let _ = Api::<ClusterRoleBinding>::all(c.clone())
        .create(&PostParams::default(), &binding)
        .await;

    let dir = tempdir();
    let (serve, addr, _stderr) = start_serve(&impersonating_kubeconfig(server, &dir, "partial"));
    let started = Instant::now();
    let readyz = loop {
        let body = http_get(&addr, "/readyz");
        if body.starts_with("ok") {
            break body;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{body}");
        std::thread::sleep(Duration::from_millis(200));
    };
    for kind in ["configmaps", "secrets"] {
        assert!(
            readyz.contains(&format!(
                "unavailable: cannot list {kind} in istio-system: forbidden"
            )),
            "{readyz}"
        );
    }
    let metrics = http_get(&addr, "/metrics");
    assert!(
        metrics.contains("meshdoctor_input_available{kind=\"secrets\"} 0"),
        "{metrics}"
    );
    assert!(metrics.contains("meshdoctor_input_available{kind=\"pods\"} 1"));
    let findings: Value = serde_json::from_str(&http_get(&addr, "/findings")).unwrap();
    // Checks that need the mesh ConfigMaps are skipped with the reason, webhooks or not (the
    // other test of this binary may not have created its webhook configuration yet).
    let skipped = findings["skipped"].to_string();
    assert!(
        skipped.contains("cannot list configmaps in istio-system: forbidden"),
        "{skipped}"
    );
    // The failed reads themselves are listed, as `check -o json` lists them.
    let unavailable = findings["unavailable"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for kind in ["ConfigMap", "Secret"] {
        let read = unavailable
            .iter()
            .find(|u| u["kind"] == kind)
            .unwrap_or_else(|| panic!("no unavailable entry for {kind}: {findings}"));
        assert_eq!(
            read["namespace"], "istio-system",
            "{read} in {unavailable:?}"
        );
        assert_eq!(read["status"], 403, "{read}");
        assert!(
            read["request"].as_str().unwrap().starts_with("list "),
            "{read}"
        );
    }
    drop(serve);
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "meshdoctor-serve-e2e-{}-{}-{}",
        std::process::id(),
        now(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
