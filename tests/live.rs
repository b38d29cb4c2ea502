//! Live mode against the in-process Kubernetes API test server (tests/support/apiserver.rs):
//! the binary reads every fixture through kubeconfig and must give the same answers as offline;
//! faults (RBAC denial, expired continue tokens, 500 and 429 bursts, a slow or absent server)
//! degrade as documented; only GET requests are ever sent; and the real `kubectl` accepts the
//! test server (its fidelity oracle).

#[path = "support/apiserver.rs"]
mod apiserver;
#[path = "common/pki.rs"]
mod pki;

use std::path::{Path, PathBuf};
use std::time::Duration;

use apiserver::{FakeApiServer, Faults};
use assert_cmd::Command;
use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.yaml").exists())
        // Preflight scenarios hold manifests with YAML 1.1 scalars the API server rejects;
        // they cannot be served as a cluster.
        .filter(|p| {
            !std::fs::read_to_string(p.join("expected.yaml"))
                .is_ok_and(|t| t.contains("preflight: true"))
        })
        .collect();
    dirs.sort();
    dirs
}

/// The state files of a fixture (`state.yaml` or the `state/` directory).
fn state_path(dir: &Path) -> PathBuf {
    let d = dir.join("state");
    if d.is_dir() {
        d
    } else {
        dir.join("state.yaml")
    }
}

fn files_under(p: &Path) -> Vec<String> {
    if p.is_dir() {
        let mut out = Vec::new();
        for e in std::fs::read_dir(p).unwrap() {
            out.extend(files_under(&e.unwrap().path()));
        }
        out
    } else {
        vec![p.display().to_string()]
    }
}

struct Temp(PathBuf);

impl Temp {
    fn new(tag: &str) -> Temp {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "meshdoctor-live-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Temp(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// The findings of `report` from the checks that ran offline too. A file that holds no object
/// of a kind cannot say whether the cluster has none, so offline skips the checks that need it;
/// live lists the kind and knows. Those checks are compared only where both ran.
fn ran_in_both(report: &Value, offline: &Value) -> Vec<Value> {
    let offline_skipped: Vec<&str> = offline["skipped"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| {
            s["reason"]
                .as_str()
                .is_some_and(|r| r.contains("in the input"))
        })
        .filter_map(|s| s["check"].as_str())
        .collect();
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| {
            !f["check"]
                .as_str()
                .is_some_and(|c| offline_skipped.contains(&c))
        })
        .cloned()
        .collect()
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server for a fixture plus a kubeconfig file for it.
struct Live {
    server: FakeApiServer,
    kubeconfig: PathBuf,
    _temp: Temp,
}

impl Live {
    fn new(objects: Vec<Value>, namespace: &str) -> Live {
        let server = FakeApiServer::start(objects);
        let temp = Temp::new("kc");
        let kubeconfig = temp.file("kubeconfig", &server.kubeconfig(namespace));
        Live {
            server,
            kubeconfig,
            _temp: temp,
        }
    }

    fn fixture(dir: &Path) -> Live {
        Live::new(apiserver::load_objects(&[state_path(dir)]), "default")
    }

    fn cmd(&self, bin: &str) -> Command {
        let mut c = Command::cargo_bin(bin).unwrap();
        // KUBECONFIG here; --kubeconfig is exercised by its own tests.
        c.current_dir(root())
            .env("KUBECONFIG", &self.kubeconfig)
            .env("NO_COLOR", "1")
            .env("MESHDOCTOR_NOW", PINNED_NOW);
        c
    }

    fn meshdoctor(&self) -> Command {
        self.cmd("meshdoctor")
    }

    fn assert_read_only(&self) {
        let log = self.server.requests();
        assert!(!log.is_empty(), "no request reached the server");
        for r in &log {
            assert_eq!(r.method, "GET", "a non-read request was sent: {r:?}");
            assert!(!r.query.contains("dryRun"), "{r:?}");
        }
    }
}

fn offline() -> Command {
    let mut c = Command::cargo_bin("meshdoctor").unwrap();
    // Both sides must judge certificate expiry at the same instant.
    c.current_dir(root())
        .env("NO_COLOR", "1")
        .env("MESHDOCTOR_NOW", PINNED_NOW);
    c
}

const PINNED_NOW: &str = "1750000000";

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Replaces origins (`fixtures/x/state.yaml:12`, `live`) by a placeholder, everywhere.
fn normalize(v: &mut Value, files: &[String]) {
    match v {
        Value::String(s) => {
            for f in files {
                while let Some(i) = s.find(&format!("{f}:")) {
                    let rest = &s[i + f.len() + 1..];
                    let digits = rest.chars().take_while(char::is_ascii_digit).count();
                    s.replace_range(i..i + f.len() + 1 + digits, "@ORIGIN");
                }
            }
            *s = s.replace("live", "@ORIGIN");
        }
        Value::Array(a) => a.iter_mut().for_each(|x| normalize(x, files)),
        Value::Object(m) => m.values_mut().for_each(|x| normalize(x, files)),
        _ => {}
    }
}

/// Global flags a fixture's expected.yaml asks for.
fn fixture_flags(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("expected.yaml")).unwrap();
    let v: Value = serde_saphyr::from_str(&text).unwrap();
    let mut flags = Vec::new();
    if v["options"]["metadata_name_label"] == json!(false) {
        flags.push("--no-metadata-name-label".to_owned());
    }
    if let Some(iv) = v["options"]["istio_version"].as_str() {
        flags.push(format!("--istio-version={iv}"));
    }
    flags
}

/// (kind, namespace, name) of a fixture's expected subjects.
fn subjects(dir: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(dir.join("expected.yaml")).unwrap();
    let v: Value = serde_saphyr::from_str(&text).unwrap();
    let mut out = Vec::new();
    for key in ["subjects", "pods"] {
        for s in v[key].as_array().into_iter().flatten() {
            out.push((
                s["kind"].as_str().unwrap_or("Pod").to_ascii_lowercase(),
                s["namespace"].as_str().unwrap_or("default").to_owned(),
                s["name"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

#[test]
fn explain_live_equals_offline_for_every_fixture_subject() {
    let mut compared = 0;
    for dir in fixture_dirs() {
        let live = Live::fixture(&dir);
        let files = files_under(&state_path(&dir));
        let flags = fixture_flags(&dir);
        for (kind, ns, name) in subjects(&dir) {
            let target = format!("{kind}/{name}");
            let got = live
                .meshdoctor()
                .args(&flags)
                .args(["explain", &target, "-n", &ns, "-o", "json"])
                .output()
                .unwrap();
            assert!(
                got.status.success(),
                "{}: live explain {target} -n {ns}: {}",
                dir.display(),
                String::from_utf8_lossy(&got.stderr)
            );
            let want = offline()
                .args(&flags)
                .args(["explain", &target, "-n", &ns, "-o", "json", "--from"])
                .arg(state_path(&dir))
                .output()
                .unwrap();
            let (mut got, mut want) = (json_of(&got), json_of(&want));
            normalize(&mut got, &files);
            normalize(&mut want, &files);
            assert_eq!(got, want, "{}: explain {target} -n {ns}", dir.display());
            compared += 1;
        }
        if !subjects(&dir).is_empty() {
            live.assert_read_only();
        }
    }
    assert!(compared > 50, "only {compared} subjects compared");
}

#[test]
fn explain_reads_only_what_it_needs() {
    let dir = root().join("fixtures/istio-workloads");
    let live = Live::fixture(&dir);
    let (kind, ns, name) = subjects(&dir)
        .into_iter()
        .find(|(k, _, _)| k == "pod")
        .expect("a pod subject");
    live.meshdoctor()
        .args(["explain", &format!("{kind}/{name}"), "-n", &ns])
        .assert()
        .success();
    live.assert_read_only();
    for r in live.server.requests() {
        let p = &r.path;
        let allowed = p == &format!("/api/v1/namespaces/{ns}/pods/{name}")
            || p == &format!("/api/v1/namespaces/{ns}")
            || p.starts_with(&format!("/apis/apps/v1/namespaces/{ns}/"))
            || p.starts_with(&format!("/apis/batch/v1/namespaces/{ns}/"))
            || p == "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
            || p == "/api/v1/namespaces/istio-system/configmaps"
            || p == "/apis/apps/v1/namespaces/istio-system/deployments"
            || (p == "/api/v1/namespaces/istio-system/pods" && r.query.contains("labelSelector"))
            // The Nodes' kubelet versions: Istio's native-sidecar `auto` mode.
            || p == "/api/v1/nodes"
            // The server's version: whether namespaces carry kubernetes.io/metadata.name.
            || p == "/version";
        assert!(allowed, "explain sent an unneeded request: {r:?}");
        // Owner lookups are GETs of one object, never lists of the target's namespace.
        if p.starts_with(&format!("/apis/apps/v1/namespaces/{ns}/")) {
            assert_eq!(p.split('/').count(), 8, "{r:?}");
        }
    }
}

#[test]
fn check_live_equals_offline_for_every_fixture() {
    for dir in fixture_dirs() {
        let live = Live::fixture(&dir);
        let files = files_under(&state_path(&dir));
        let flags = fixture_flags(&dir);
        let got = live
            .meshdoctor()
            .args(&flags)
            .args(["check", "-A", "-o", "json", "--fail-on", "never"])
            .output()
            .unwrap();
        assert!(
            got.status.success(),
            "{}: {}",
            dir.display(),
            String::from_utf8_lossy(&got.stderr)
        );
        let want = offline()
            .args(&flags)
            .args(["check", "-A", "-o", "json", "--fail-on", "never", "--from"])
            .arg(state_path(&dir))
            .output()
            .unwrap();
        let (mut got, mut want) = (json_of(&got), json_of(&want));
        normalize(&mut got, &files);
        normalize(&mut want, &files);
        assert_eq!(
            ran_in_both(&got, &want),
            ran_in_both(&want, &want),
            "{}",
            dir.display()
        );
        // And one namespace at a time.
        let mut namespaces: Vec<String> = subjects(&dir).into_iter().map(|s| s.1).collect();
        namespaces.sort();
        namespaces.dedup();
        for ns in &namespaces {
            let args = ["check", "-n", ns, "-o", "json", "--fail-on", "never"];
            let got = live.meshdoctor().args(&flags).args(args).output().unwrap();
            let want = offline()
                .args(&flags)
                .args(args)
                .arg("--from")
                .arg(state_path(&dir))
                .output()
                .unwrap();
            let (mut got, mut want) = (json_of(&got), json_of(&want));
            normalize(&mut got, &files);
            normalize(&mut want, &files);
            // With -n, live reads less than the whole file (only that namespace and the mesh
            // namespaces), so messages may cite less context; the findings must be the same.
            let key = |fs: Vec<Value>| -> Vec<(Value, Value, Value)> {
                fs.into_iter()
                    .map(|f| {
                        (
                            f["check"].clone(),
                            f["object"].clone(),
                            f["severity"].clone(),
                        )
                    })
                    .collect()
            };
            assert_eq!(
                key(ran_in_both(&got, &want)),
                key(ran_in_both(&want, &want)),
                "{} -n {ns}",
                dir.display()
            );
        }
        live.server.clear_log();
        live.meshdoctor()
            .args(["check", "-A", "--fail-on", "never"])
            .assert()
            .success();
        live.assert_read_only();
        // One LIST per kind: no path is listed twice from the start (continue pages aside).
        let mut firsts: Vec<String> = live
            .server
            .requests()
            .into_iter()
            .filter(|r| !r.query.contains("continue="))
            .map(|r| r.path)
            .collect();
        let n = firsts.len();
        firsts.sort();
        firsts.dedup();
        assert_eq!(
            firsts.len(),
            n,
            "{}: a path was listed twice",
            dir.display()
        );
    }
}

/// A fixture with the mesh CA in a Secret (certificate and private key), as Istio's `cacerts`.
fn with_ca_secret(mut objects: Vec<Value>) -> (Vec<Value>, String) {
    let ca = pki::ca("meshdoctor test root");
    let b64 = |s: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    objects.push(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "cacerts", "namespace": "istio-system",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"ca-key.pem\":\"secret\"}}"}},
        "data": {"ca-cert.pem": b64(&ca.cert_pem), "ca-key.pem": b64(&ca.key_pem),
                 "root-cert.pem": b64(&ca.cert_pem), "password": b64("hunter2")}
    }));
    (objects, ca.cert_pem)
}

#[test]
fn snapshot_round_trip_gives_the_same_answers_and_no_private_key() {
    for name in [
        "demo",
        "istio-workloads",
        "linkerd-basic",
        "istio-revisions-and-tags",
    ] {
        let dir = root().join("fixtures").join(name);
        let (objects, cert) = with_ca_secret(apiserver::load_objects(&[state_path(&dir)]));
        let live = Live::new(objects, "default");
        let temp = Temp::new("snap");
        let snap = temp.0.join("snapshot.yaml");
        live.meshdoctor()
            .args(["snapshot", "-A", "--output-file"])
            .arg(&snap)
            .assert()
            .success();
        let text = std::fs::read_to_string(&snap).unwrap();
        assert!(
            !text.contains("PRIVATE KEY"),
            "{name}: a private key was written"
        );
        assert!(
            !text.contains("ca-key.pem"),
            "{name}: the key entry was written"
        );
        assert!(
            !text.contains("aHVudGVyMg"),
            "{name}: a non-certificate value was written"
        );
        assert!(!text.contains("last-applied"), "{name}");
        assert!(!text.contains("managedFields"), "{name}");
        // The certificate is kept, byte for byte.
        use base64::Engine as _;
        let cert_b64 = base64::engine::general_purpose::STANDARD.encode(&cert);
        assert!(
            text.contains(&cert_b64),
            "{name}: the CA certificate was lost"
        );

        let flags = fixture_flags(&dir);
        let files = vec![snap.display().to_string()];
        let got = live
            .meshdoctor()
            .args(&flags)
            .args(["check", "-A", "-o", "json", "--fail-on", "never"])
            .output()
            .unwrap();
        let want = offline()
            .args(&flags)
            .args(["check", "-A", "-o", "json", "--fail-on", "never", "--from"])
            .arg(&snap)
            .output()
            .unwrap();
        let (mut got, mut want) = (json_of(&got), json_of(&want));
        normalize(&mut got, &files);
        normalize(&mut want, &files);
        // Everything, skips included: the snapshot records which kinds were read.
        assert_eq!(got, want, "{name}: check");

        for (kind, ns, n) in subjects(&dir) {
            let target = format!("{kind}/{n}");
            let got = live
                .meshdoctor()
                .args(&flags)
                .args(["explain", &target, "-n", &ns, "-o", "json"])
                .output()
                .unwrap();
            let want = offline()
                .args(&flags)
                .args(["explain", &target, "-n", &ns, "-o", "json", "--from"])
                .arg(&snap)
                .output()
                .unwrap();
            let (mut got, mut want) = (json_of(&got), json_of(&want));
            normalize(&mut got, &files);
            normalize(&mut want, &files);
            assert_eq!(got, want, "{name}: explain {target} -n {ns}");
        }
        live.assert_read_only();
    }
}

#[test]
fn snapshot_json_and_namespace_scope() {
    let dir = root().join("fixtures/demo");
    let live = Live::fixture(&dir);
    let out = live
        .meshdoctor()
        .args(["snapshot", "-n", "shop", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = json_of(&out);
    assert_eq!(v["kind"], "List");
    let namespaces: std::collections::BTreeSet<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["metadata"]["namespace"].as_str())
        .collect();
    assert!(namespaces.contains("shop"), "{namespaces:?}");
    assert!(
        namespaces
            .iter()
            .all(|n| *n == "shop" || *n == "istio-system"),
        "{namespaces:?}"
    );
}

#[test]
fn rbac_denial_becomes_a_visible_skip() {
    let dir = root().join("fixtures/check-namespace-not-selected");
    let live = Live::fixture(&dir);
    live.server.set_faults(Faults {
        forbidden: vec![
            ("namespaces".into(), None),
            ("secrets".into(), Some("istio-system".into())),
        ],
        ..Faults::default()
    });
    let out = live
        .meshdoctor()
        .args(["check", "-A", "-o", "json", "--fail-on", "never"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    let skipped = v["skipped"].as_array().unwrap();
    let reason_of = |id: &str| {
        skipped
            .iter()
            .find(|s| s["check"] == id)
            .and_then(|s| s["reason"].as_str())
            .map(str::to_owned)
    };
    assert_eq!(
        reason_of("namespace-not-selected").as_deref(),
        Some("cannot list namespaces: forbidden"),
        "{v}"
    );
    // Every check that reads Secrets is skipped saying which permission is missing.
    for check in meshdoctor::checks::builtin() {
        let d = meshdoctor::check::doc::parse(check.doc()).unwrap();
        if d.inputs.contains(&meshdoctor::state::Kind::Secret) {
            let reason = reason_of(&d.id).unwrap_or_else(|| panic!("{} not skipped", d.id));
            assert!(
                reason.contains("cannot list secrets in istio-system: forbidden"),
                "{}: {reason}",
                d.id
            );
        }
    }
    // The snapshot records the denial, so offline skips the same way.
    let snap = live
        .meshdoctor()
        .args(["snapshot", "-A", "-o", "json"])
        .output()
        .unwrap();
    let s = json_of(&snap);
    let unavailable = s["metadata"]["annotations"]["meshdoctor.io/unavailable-kinds"]
        .as_str()
        .unwrap();
    assert!(
        unavailable.contains("cannot list secrets in istio-system: forbidden"),
        "{unavailable}"
    );
}

#[test]
fn the_live_state_says_why_a_kind_is_missing() {
    // The library API, without the CLI: the reason is kept per kind.
    let dir = root().join("fixtures/demo");
    let server = FakeApiServer::start(apiserver::load_objects(&[state_path(&dir)]));
    server.set_faults(Faults {
        forbidden: vec![("secrets".into(), Some("istio-system".into()))],
        unserved: vec!["discovery.k8s.io/v1".into()],
        ..Faults::default()
    });
    let temp = Temp::new("lib");
    let kc = temp.file("kubeconfig", &server.kubeconfig("shop"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = rt.block_on(async {
        let cluster =
            meshdoctor::source::live::Cluster::connect(meshdoctor::source::live::LiveOptions {
                kubeconfig: Some(kc.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(cluster.default_namespace, "shop");
        assert_eq!(cluster.context.as_deref(), Some("fake"));
        cluster
            .read(&meshdoctor::source::live::Plan::Scan {
                namespace: None,
                kinds: meshdoctor::state::Kind::ALL.into_iter().collect(),
            })
            .await
            .unwrap()
    });
    use meshdoctor::state::Kind;
    assert_eq!(
        state.unavailable_reason(Kind::Secret).as_deref(),
        Some("cannot list secrets in istio-system: forbidden")
    );
    let slices = state.unavailable_reason(Kind::EndpointSlice).unwrap();
    assert!(slices.contains("does not serve endpointslices"), "{slices}");
    assert_eq!(state.unavailable_reason(Kind::Pod), None);
    assert!(state.deployments.get(Some("shop"), "web").is_some());
}

/// Enough pods for three pages of 500.
fn big_cluster() -> Vec<Value> {
    let base =
        apiserver::load_objects(&[root().join("fixtures/check-namespace-selected/state.yaml")]);
    apiserver::synthetic(base, 6, 1200)
}

fn verdict_count(live: &Live) -> usize {
    let out = live
        .cmd("kubectl-inject_why")
        .args(["-A", "-o", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out).as_array().unwrap().len()
}

#[test]
fn an_expired_continue_token_restarts_the_list_once() {
    let live = Live::new(big_cluster(), "default");
    let baseline = verdict_count(&live);
    assert!(baseline >= 1200, "{baseline}");
    live.server.clear_log();
    live.server.set_faults(Faults {
        expire_continue: 1,
        ..Faults::default()
    });
    assert_eq!(verdict_count(&live), baseline);
    let pod_lists: Vec<_> = live
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/pods")
        .collect();
    let starts = pod_lists
        .iter()
        .filter(|r| !r.query.contains("continue="))
        .count();
    assert_eq!(
        starts, 2,
        "the pod list was not restarted exactly once: {pod_lists:?}"
    );

    // Expired again after the restart: pods are unavailable, with the reason.
    live.server.set_faults(Faults {
        expire_continue: 2,
        ..Faults::default()
    });
    let out = live
        .meshdoctor()
        .args(["snapshot", "-A", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = json_of(&out);
    let unavailable = s["metadata"]["annotations"]["meshdoctor.io/unavailable-kinds"]
        .as_str()
        .unwrap_or("");
    assert!(
        unavailable.contains("cannot list pods in all namespaces")
            && unavailable.contains("expired"),
        "{unavailable}"
    );
}

#[test]
fn a_burst_of_500s_and_429s_is_retried() {
    let dir = root().join("fixtures/demo");
    let live = Live::fixture(&dir);
    let want = live
        .meshdoctor()
        .args(["check", "-A", "-o", "json", "--fail-on", "never"])
        .output()
        .unwrap();
    // Four faults: fewer than the five attempts one request gets, so the burst is survived
    // even when it all lands on one request (`check` lists the webhooks alone, first).
    live.server.set_faults(Faults {
        server_errors: 3,
        throttle: 1,
        ..Faults::default()
    });
    let got = live
        .meshdoctor()
        .args(["check", "-A", "-o", "json", "--fail-on", "never"])
        .output()
        .unwrap();
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert_eq!(json_of(&got), json_of(&want));
    assert_eq!(live.server.faults().server_errors, 0);
    assert_eq!(live.server.faults().throttle, 0);
}

#[test]
fn a_kind_that_keeps_failing_gives_skips_not_a_crash() {
    let dir = root().join("fixtures/check-namespace-not-selected");
    let live = Live::fixture(&dir);
    live.server.set_faults(Faults {
        broken: vec!["namespaces".into()],
        ..Faults::default()
    });
    let out = live
        .meshdoctor()
        .args(["check", "-A", "-o", "json", "--fail-on", "never"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    let reason = v["skipped"][0]["reason"].as_str().unwrap_or("");
    assert!(
        reason.starts_with("cannot list namespaces: the API server answered 500"),
        "{v}"
    );
    assert!(reason.contains("5 attempts"), "{v}");
}

#[test]
fn a_server_that_fails_everything_is_exit_3() {
    let dir = root().join("fixtures/demo");
    let live = Live::fixture(&dir);
    live.server.set_faults(Faults {
        forbidden: apiserver::RESOURCES
            .iter()
            .map(|r| (r.plural.to_owned(), None))
            .collect(),
        ..Faults::default()
    });
    let out = live.meshdoctor().args(["check", "-A"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing could be read from the API server at"),
        "{err}"
    );
    assert!(err.contains("forbidden"), "{err}");
    // explain without the webhook configurations has nothing to say either.
    live.server.set_faults(Faults {
        forbidden: vec![("mutatingwebhookconfigurations".into(), None)],
        ..Faults::default()
    });
    live.meshdoctor()
        .args(["explain", "deploy/web", "-n", "shop"])
        .assert()
        .code(3)
        .stderr(predicates::str::contains(
            "cannot list mutatingwebhookconfigurations: forbidden",
        ));
}

#[test]
fn a_slow_server_hits_the_request_timeout() {
    let dir = root().join("fixtures/demo");
    let live = Live::fixture(&dir);
    live.server.set_faults(Faults {
        stall: Some(Duration::from_secs(2)),
        ..Faults::default()
    });
    let out = live
        .meshdoctor()
        .args(["check", "-A", "--request-timeout", "300ms"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&live.server.url()), "{err}");
    assert!(err.contains("within 300ms (--request-timeout)"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn an_unreachable_server_is_exit_3_naming_it() {
    // A port that was free a moment ago: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let temp = Temp::new("down");
    let url = format!("http://127.0.0.1:{port}");
    let kc = temp.file("kubeconfig", &apiserver::kubeconfig_for(&url, "default"));
    for args in [
        vec!["check", "-A"],
        vec!["explain", "pod/x"],
        vec!["snapshot", "-A"],
    ] {
        let out = Command::cargo_bin("meshdoctor")
            .unwrap()
            .env_remove("KUBECONFIG")
            .args(&args)
            .arg("--kubeconfig")
            .arg(&kc)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("cannot reach the API server at {url}")),
            "{err}"
        );
        assert!(err.to_ascii_lowercase().contains("refused"), "{err}");
    }
}

#[test]
fn context_and_namespace_come_from_kubeconfig() {
    let dir = root().join("fixtures/demo");
    let live = Live::new(apiserver::load_objects(&[state_path(&dir)]), "shop");
    // The current context's namespace is shop: no -n needed.
    live.meshdoctor()
        .args(["explain", "deployment/web", "-o", "json"])
        .assert()
        .success()
        .stdout(predicates::str::contains("\"inject\": true"));
    // The other context's namespace has no such deployment.
    live.meshdoctor()
        .args(["explain", "deployment/web", "--context", "other"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "not found in namespace \"other\"",
        ));
    // --kubeconfig wins over KUBECONFIG.
    let mut c = Command::cargo_bin("meshdoctor").unwrap();
    c.env("KUBECONFIG", "/nonexistent/kubeconfig")
        .args(["explain", "deployment/web", "--kubeconfig"])
        .arg(&live.kubeconfig)
        .assert()
        .success();
}

#[test]
fn forbidden_target_is_exit_3() {
    let dir = root().join("fixtures/demo");
    let live = Live::fixture(&dir);
    live.server.set_faults(Faults {
        forbidden: vec![("deployments".into(), Some("shop".into()))],
        ..Faults::default()
    });
    live.meshdoctor()
        .args(["explain", "deployment/web", "-n", "shop"])
        .assert()
        .code(3)
        .stderr(predicates::str::contains(
            "cannot get deployments/web in shop: forbidden",
        ));
}

#[test]
fn kubectl_plugin_reads_the_cluster_like_kubectl() {
    let dir = root().join("fixtures/demo");
    let live = Live::new(apiserver::load_objects(&[state_path(&dir)]), "shop");
    live.cmd("kubectl-inject_why")
        .args(["deployment/web", "-o", "json"])
        .assert()
        .success()
        .stdout(predicates::str::contains("\"inject\": true"));
    live.cmd("kubectl-inject_why")
        .args(["deploy/checkout", "-n", "payments", "-o", "yaml"])
        .assert()
        .success()
        .stdout(predicates::str::contains("inject: false"));
    let out = live
        .cmd("kubectl-inject_why")
        .args(["-A"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.trim_start().starts_with("NAMESPACE"), "{text}");
    assert!(text.contains("node-exporter"), "{text}");
    live.assert_read_only();
}

/// The real kubectl is the oracle of the test server's fidelity.
#[test]
fn real_kubectl_accepts_the_test_server() {
    if std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_err()
    {
        // CI puts the real kubectl on PATH (scripts/install-tools.sh) and sets MESHDOCTOR_E2E:
        // there a missing kubectl is a broken setup, not a reason to skip the oracle.
        assert!(
            std::env::var_os("MESHDOCTOR_E2E").is_none(),
            "kubectl is not on PATH: run `export PATH=\"$(scripts/install-tools.sh):$PATH\"`"
        );
        eprintln!("skipped: kubectl is not installed");
        return;
    }
    let live = Live::new(big_cluster(), "default");
    let temp = Temp::new("kubectl");
    let empty = temp.file("empty-kubeconfig", "");
    let kubectl = |args: &[&str]| {
        let out = std::process::Command::new("kubectl")
            .env("KUBECONFIG", &empty)
            .env("HOME", &temp.0)
            .arg("--server")
            .arg(live.server.url())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let served_pods = big_cluster().iter().filter(|o| o["kind"] == "Pod").count();
    let all: Value =
        serde_json::from_slice(&kubectl(&["get", "pods", "-A", "-o", "json"])).unwrap();
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), served_pods);
    assert!(items.iter().all(|i| i["kind"] == "Pod"));
    // kubectl paged through the list with limit/continue.
    let pages = live
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/pods" && r.query.contains("continue="))
        .count();
    assert_eq!(pages, 2);
    // Label selectors, namespaced lists, gets, cluster-scoped kinds and short names.
    let sel: Value = serde_json::from_slice(&kubectl(&[
        "get",
        "pods",
        "-n",
        "team-001",
        "-l",
        "app in (api),pod-template-hash",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(sel["items"].as_array().unwrap().len(), 200);
    let one: Value = serde_json::from_slice(&kubectl(&[
        "get", "deploy", "api", "-n", "team-002", "-o", "json",
    ]))
    .unwrap();
    assert_eq!(one["metadata"]["name"], "api");
    let names = String::from_utf8(kubectl(&[
        "get",
        "mutatingwebhookconfigurations,ns",
        "-o",
        "name",
    ]))
    .unwrap();
    assert!(
        names.contains(
            "mutatingwebhookconfiguration.admissionregistration.k8s.io/istio-sidecar-injector"
        ),
        "{names}"
    );
    assert!(names.contains("namespace/team-005"), "{names}");
    // A missing object is a NotFound Status that kubectl prints as such.
    let out = std::process::Command::new("kubectl")
        .env("KUBECONFIG", &empty)
        .env("HOME", &temp.0)
        .args([
            "--server",
            &live.server.url(),
            "get",
            "pod",
            "nope",
            "-n",
            "team-000",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pods \"nope\" not found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 403 as kubectl prints it.
    live.server.set_faults(Faults {
        forbidden: vec![("secrets".into(), Some("istio-system".into()))],
        ..Faults::default()
    });
    let out = std::process::Command::new("kubectl")
        .env("KUBECONFIG", &empty)
        .env("HOME", &temp.0)
        .args([
            "--server",
            &live.server.url(),
            "get",
            "secrets",
            "-n",
            "istio-system",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot list resource \"secrets\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    live.assert_read_only();
}

/// A 403 on `list secrets in istio-system` is listed in every output format, whether or not a
/// check needed Secrets, and the checks that read Secrets without needing them say what they
/// could not see.
#[test]
fn a_forbidden_read_is_listed_in_every_format() {
    let dir = root().join("fixtures/check-certs");
    let live = Live::fixture(&dir);
    live.server.set_faults(Faults {
        forbidden: vec![("secrets".into(), Some("istio-system".into()))],
        ..Faults::default()
    });
    let run = |args: &[&str]| {
        let out = live.meshdoctor().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let request = "list secrets in istio-system";
    let server_says = "secrets is forbidden: User \"tester\" cannot list resource \"secrets\"";

    let json: Value =
        serde_json::from_str(&run(&["check", "-A", "-o", "json", "--fail-on", "never"])).unwrap();
    let yaml: Value =
        serde_saphyr::from_str(&run(&["check", "-A", "-o", "yaml", "--fail-on", "never"])).unwrap();
    for v in [&json, &yaml] {
        let unavailable = v["unavailable"].as_array().unwrap();
        assert_eq!(unavailable.len(), 1, "{v}");
        let u = &unavailable[0];
        assert_eq!(u["kind"], "Secret");
        assert_eq!(u["namespace"], "istio-system");
        assert_eq!(u["request"], request);
        assert_eq!(u["status"], 403);
        assert!(
            u["reason"].as_str().unwrap().starts_with(server_says),
            "{u}"
        );
        // cert-expiry ran, and says it did without the CA secrets.
        let partial = v["partial"].as_array().unwrap();
        let cert = partial
            .iter()
            .find(|p| p["check"] == "cert-expiry")
            .unwrap_or_else(|| panic!("no partial note for cert-expiry: {v}"));
        assert_eq!(cert["unseen"], "Secret");
        assert_eq!(
            cert["reason"],
            "cannot list secrets in istio-system: forbidden"
        );
        assert!(
            !v["skipped"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["check"] == "cert-expiry"),
            "{v}"
        );
    }
    let table = run(&["check", "-A", "--fail-on", "never"]);
    assert!(table.contains("\nUNAVAILABLE ("), "{table}");
    assert!(
        table.contains(&format!("  {request}: 403 {server_says}")),
        "{table}"
    );
    assert!(
        table.contains(
            "  cert-expiry: ran without Secret (cannot list secrets in istio-system: forbidden)"
        ),
        "{table}"
    );

    // preflight over the live context: SARIF, JUnit and GitHub.
    let temp = Temp::new("unread");
    let manifest = temp.file(
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n",
    );
    let manifest = manifest.to_str().unwrap();
    let preflight = |format: &str| {
        run(&[
            "preflight",
            "-f",
            manifest,
            "-o",
            format,
            "--fail-on",
            "never",
        ])
    };
    let sarif: Value = serde_json::from_str(&preflight("sarif")).unwrap();
    let notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    let unread = notes
        .iter()
        .find(|n| n["properties"]["kind"] == "Secret")
        .unwrap_or_else(|| panic!("no notification for the failed read: {sarif}"));
    assert_eq!(unread["level"], "warning");
    assert_eq!(unread["properties"]["namespace"], "istio-system");
    assert_eq!(unread["properties"]["status"], 403);
    let text = unread["message"]["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!("could not read: {request}: 403 {server_says}")),
        "{text}"
    );
    assert!(
        notes.iter().any(|n| n["descriptor"]["id"] == "cert-expiry"
            && n["message"]["text"]
                .as_str()
                .unwrap()
                .contains("ran without Secret")),
        "{sarif}"
    );

    let junit = preflight("junit");
    assert!(
        junit.contains("<testsuite name=\"unavailable-inputs\""),
        "{junit}"
    );
    assert!(
        junit.contains(&format!(
            "<testcase name=\"{request}\" classname=\"unavailable-inputs\""
        )),
        "{junit}"
    );
    assert!(
        junit.contains("<skipped message=\"could not read: list secrets in istio-system: 403"),
        "{junit}"
    );
    assert!(junit.contains("<system-err>"), "{junit}");

    let github = preflight("github");
    let line = github
        .lines()
        .find(|l| l.starts_with("::warning title=meshdoctor%3A inputs not read::"))
        .unwrap_or_else(|| panic!("no annotation for the failed read: {github}"));
    assert!(
        line.contains(&format!("could not read: {request}: 403 {server_says}")),
        "{line}"
    );
    assert!(
        line.contains("%0Acert-expiry: ran without Secret"),
        "{line}"
    );

    // explain has nowhere in its output for it: a note on stderr. (It reads no Secrets; the
    // istiod Deployment it reads for the version is what is denied here.)
    let demo = Live::fixture(&root().join("fixtures/demo"));
    demo.server.set_faults(Faults {
        forbidden: vec![("deployments".into(), Some("istio-system".into()))],
        ..Faults::default()
    });
    let out = demo
        .meshdoctor()
        .args(["explain", "deployment/web", "-n", "shop"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("meshdoctor: note: could not read: list deployments in istio-system: 403"),
        "{err}"
    );
    demo.assert_read_only();
    live.assert_read_only();
}

#[test]
fn version_reports_the_clusters_api_server_istio_and_linkerd() {
    let mut objects =
        apiserver::load_objects(&[root().join("fixtures/istio-revisions-and-tags/state.yaml")]);
    objects.extend(apiserver::load_objects(&[
        root().join("fixtures/linkerd-basic/state.yaml")
    ]));
    let live = Live::new(objects, "default");
    let out = live
        .meshdoctor()
        .args(["version", "-o", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    let c = &v["cluster"];
    assert!(c["unavailable"].is_null(), "{v}");
    assert_eq!(c["api_server"]["version"], "v1.32.0-meshdoctor-test");
    assert_eq!(c["api_server"]["from"], "GET /version");
    assert!(
        c["source"].as_str().unwrap().contains(&live.server.url()),
        "{v}"
    );
    let istio: Vec<(&str, &str)> = c["istio"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["revision"].as_str().unwrap(),
                p["version"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(istio, [("canary", "1.25"), ("default", "1.24")], "{v}");
    assert_eq!(c["istio"][0]["tags"], json!(["prod"]));
    assert_eq!(c["linkerd"][0]["namespace"], "linkerd");
    assert_eq!(c["linkerd"][0]["version"], "edge-26.8.3");
    live.assert_read_only();
    // Only the mesh's objects are read: no cluster-wide list of pods or deployments.
    for r in live.server.requests() {
        assert!(
            !matches!(
                r.path.as_str(),
                "/api/v1/pods" | "/apis/apps/v1/deployments"
            ),
            "{r:?}"
        );
    }

    // A snapshot taken live records the server's version, and `version --from` reads it back.
    let temp = Temp::new("version");
    let snap = temp.0.join("snap.yaml");
    live.meshdoctor()
        .args(["snapshot", "-A", "--output-file"])
        .arg(&snap)
        .assert()
        .success();
    let out = offline()
        .args(["version", "-o", "json", "--from"])
        .arg(&snap)
        .output()
        .unwrap();
    let v = json_of(&out);
    assert_eq!(
        v["cluster"]["api_server"]["version"],
        "v1.32.0-meshdoctor-test"
    );
    assert_eq!(v["cluster"]["istio"][1]["version"], "1.24");

    // A server that is down: meshdoctor's part, the reason, exit 0.
    drop(live);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let kc = temp.file("kubeconfig", &apiserver::kubeconfig_for(&url, "default"));
    let out = Command::cargo_bin("meshdoctor")
        .unwrap()
        .env("KUBECONFIG", &kc)
        .env("NO_COLOR", "1")
        .arg("version")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("meshdoctor  "), "{text}");
    assert!(
        text.contains(&format!(
            "Cluster     unavailable: cannot reach the API server at {url}"
        )),
        "{text}"
    );
}

/// Runs `shell` with stdout and stderr on a pseudo-terminal (util-linux `script`) and returns
/// what the terminal showed; `None` where `script` is missing.
fn on_a_terminal(shell: &str, kubeconfig: &Path, extra_env: &[(&str, &str)]) -> Option<String> {
    let mut c = std::process::Command::new("script");
    c.args(["-q", "-e", "-c", shell, "/dev/null"])
        .env("KUBECONFIG", kubeconfig)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env_remove("MESHDOCTOR_NO_PROGRESS");
    for (k, v) in extra_env {
        c.env(k, v);
    }
    let out = c.output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn the_progress_line_is_for_a_terminal_after_a_second_only() {
    let dir = root().join("fixtures/demo");
    let live = Live::fixture(&dir);
    // Every request waits: the scan (two rounds of LISTs) takes well over a second.
    live.server.set_faults(Faults {
        latency: Duration::from_millis(700),
        ..Faults::default()
    });
    let bin = assert_cmd::cargo::cargo_bin("meshdoctor");
    let bin = bin.display();
    let Some(shown) = on_a_terminal(
        &format!("'{bin}' check -A --fail-on never"),
        &live.kubeconfig,
        &[],
    ) else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    assert!(shown.contains("reading the cluster:"), "{shown}");
    assert!(
        shown.contains("ERROR") || shown.contains("errors,"),
        "{shown}"
    );
    // JSON into a pipe: the terminal shows no progress line, even though stderr is one.
    let piped = on_a_terminal(
        &format!("'{bin}' check -A --fail-on never -o json | cat"),
        &live.kubeconfig,
        &[],
    )
    .unwrap();
    assert!(!piped.contains("reading the cluster"), "{piped}");
    assert!(piped.contains("\"findings\""), "{piped}");
    // Turned off by the environment.
    let off = on_a_terminal(
        &format!("'{bin}' check -A --fail-on never"),
        &live.kubeconfig,
        &[("MESHDOCTOR_NO_PROGRESS", "1")],
    )
    .unwrap();
    assert!(!off.contains("reading the cluster"), "{off}");
    // A read that takes less than a second draws nothing.
    live.server.set_faults(Faults::default());
    let quick = on_a_terminal(
        &format!("'{bin}' check -A --fail-on never"),
        &live.kubeconfig,
        &[],
    )
    .unwrap();
    assert!(!quick.contains("reading the cluster"), "{quick}");
}

#[test]
fn a_list_that_times_out_is_an_unavailable_kind_not_the_end() {
    let dir = root().join("fixtures/check-events");
    let live = Live::fixture(&dir);
    live.server.set_faults(Faults {
        hang: vec!["events".into()],
        ..Faults::default()
    });
    let out = live
        .meshdoctor()
        .args([
            "check",
            "-A",
            "-o",
            "json",
            "--fail-on",
            "never",
            "--request-timeout",
            "500ms",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    let unavailable = v["unavailable"].as_array().unwrap();
    assert_eq!(unavailable.len(), 1, "{v}");
    let u = &unavailable[0];
    assert_eq!(u["kind"], "Event");
    assert_eq!(u["request"], "list events in all namespaces");
    assert!(u["status"].is_null(), "{u}");
    assert_eq!(u["reason"], "no answer within 500ms (--request-timeout)");
    // The checks that need events say why they did not run; the others ran.
    let skipped = v["skipped"].as_array().unwrap();
    let why = skipped
        .iter()
        .find(|s| s["check"] == "injection-failed-events")
        .unwrap_or_else(|| panic!("{v}"));
    assert!(
        why["reason"]
            .as_str()
            .unwrap()
            .contains("no answer within 500ms"),
        "{why}"
    );
    for ran in ["webhook-service-missing", "namespace-not-selected"] {
        assert!(skipped.iter().all(|s| s["check"] != ran), "{ran}: {v}");
    }
    // The table names it too.
    let out = live
        .meshdoctor()
        .args([
            "check",
            "-A",
            "--fail-on",
            "never",
            "--request-timeout",
            "500ms",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("UNAVAILABLE"), "{text}");
    assert!(text.contains("list events in all namespaces"), "{text}");
}
