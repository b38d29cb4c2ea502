//! `meshdoctor explain --server-dry-run` against a real kube-apiserver 1.20.2 with a real HTTPS
//! injector: the verdict and mutated pod agree with what the cluster did, and every webhook
//! fault the API server reports (untrusted caBundle, injector down, injector too slow) is
//! attributed to the webhook and the check that covers it, with the server's own message as
//! evidence. Each scenario routes its namespace to its own webhook configuration, so the
//! scenarios can share one API server and run concurrently.

mod e2e_support;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use assert_cmd::Command;
use e2e_support::ApiServer;
use e2e_support::injector::{PROBE_ANNOTATION, TestInjector, closed_port};
use e2e_support::istio::{self, DryRun, Endpoint, ISTIO_NAMESPACE, SCENARIO_LABEL};
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use meshdoctor::admission::MetadataNameLabel;
use meshdoctor::engine::{Engine, EngineOptions};
use meshdoctor::state::Kind;
use meshdoctor::workload::resolve;
use serde_json::Value;

/// One injector for every test of this binary, on its own thread.
fn injector() -> &'static TestInjector {
    static INJECTOR: OnceLock<TestInjector> = OnceLock::new();
    INJECTOR.get_or_init(|| {
        let injector = TestInjector::start();
        let mesh = istio::mesh_configmap();
        injector.set_revision(
            "default",
            &istio::injector_configmap("default", "enabled"),
            Some(&mesh),
        );
        injector
    })
}

fn endpoint(url: String, failure_policy: &'static str, timeout_seconds: Option<i32>) -> Endpoint {
    Endpoint {
        url,
        ca_pem: injector().ca_pem().to_owned(),
        failure_policy,
        timeout_seconds,
    }
}

/// Runs `meshdoctor explain <target> -n <ns> --server-dry-run` against the server; returns the
/// exit code, stdout and stderr.
fn explain(
    server: &ApiServer,
    target: &str,
    namespace: &str,
    extra: &[&str],
) -> (i32, String, String) {
    let output = Command::cargo_bin("meshdoctor")
        .expect("the meshdoctor binary")
        .args([
            "explain",
            target,
            "-n",
            namespace,
            "--server-dry-run",
            "--color",
            "never",
        ])
        .arg("--kubeconfig")
        .arg(server.kubeconfig())
        .args(extra)
        .env_remove("KUBECONFIG")
        .output()
        .expect("run meshdoctor");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn explain_json(server: &ApiServer, target: &str, namespace: &str) -> Value {
    let (code, stdout, stderr) = explain(server, target, namespace, &["-o", "json"]);
    assert_eq!(code, 0, "exit code; stderr: {stderr}\nstdout: {stdout}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A scenario's namespace (labelled for its webhooks) holding a Deployment `web`.
async fn scenario_namespace(client: &Client, scenario: &str) -> String {
    let name = istio::unique(scenario);
    let labels = BTreeMap::from([(SCENARIO_LABEL.to_owned(), scenario.to_owned())]);
    istio::create_namespace(client, &name, &labels).await;
    istio::create_deployment(client, &istio::deployment("web", &name, &BTreeMap::new())).await;
    name
}

fn probe_pod(namespace: &str) -> k8s_openapi::api::core::v1::Pod {
    istio::pod("probe", namespace, &BTreeMap::new(), &BTreeMap::new())
}

/// Registers a fault scenario's configuration and waits until the API server applies it.
async fn register(
    client: &Client,
    mwc: &MutatingWebhookConfiguration,
    namespace: &str,
    fails_closed: bool,
) {
    istio::apply_webhooks(client, mwc).await;
    istio::wait_for_webhooks(client, &probe_pod(namespace), |d| match d {
        DryRun::Rejected(s) => fails_closed && s.message.contains("failed calling webhook"),
        DryRun::Admitted(p) => {
            !fails_closed
                && p.metadata
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key(PROBE_ANNOTATION))
        }
    })
    .await;
}

fn findings(v: &Value) -> Vec<Value> {
    v.pointer("/server_dry_run/findings")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn injected_deployment_agrees_with_the_cluster_down_to_the_mutated_pod() {
    let Some(server) = e2e_support::shared_or_skip("injected_deployment_agrees_with_the_cluster")
    else {
        return;
    };
    let client = istio::client(server).await;
    istio::ensure_namespace(&client, ISTIO_NAMESPACE).await;
    istio::apply_configmap(&client, &istio::mesh_configmap()).await;
    istio::apply_configmap(&client, &istio::injector_configmap("default", "enabled")).await;
    let hooks = istio::injector_webhooks(
        "default",
        &endpoint(injector().url("/inject/default"), "Fail", None),
    );
    istio::apply_webhooks(&client, &hooks).await;
    let ns = istio::unique("agree");
    let labels = BTreeMap::from([("istio-injection".to_owned(), "enabled".to_owned())]);
    istio::create_namespace(&client, &ns, &labels).await;
    istio::create_deployment(&client, &istio::deployment("web", &ns, &BTreeMap::new())).await;
    istio::wait_for_webhooks(&client, &probe_pod(&ns), |d| d.has_sidecar() == Some(true)).await;

    let v = explain_json(server, "deployment/web", &ns);
    assert_eq!(v["inject"], true, "{v:#}");
    let dry = &v["server_dry_run"];
    assert_eq!(dry["admitted"], true, "{dry:#}");
    assert_eq!(dry["actual_inject"], true, "{dry:#}");
    assert_eq!(dry["sidecar"], "istio-proxy");
    assert_eq!(dry["agree"], true, "{dry:#}");
    assert_eq!(dry["pod_diff"]["matches"], true, "{:#}", dry["pod_diff"]);
    assert!(
        dry["pod_diff"]["compared_fields"].as_u64().unwrap_or(0) > 50,
        "the injected sidecar's fields were compared: {:#}",
        dry["pod_diff"]
    );

    // The same in the table, and a pod the webhooks skip agrees too.
    let (code, table, stderr) = explain(server, "deployment/web", &ns, &[]);
    assert_eq!(code, 0, "{stderr}");
    println!("{table}");
    assert!(
        table.contains("cluster:     admitted, sidecar injected (istio-proxy)"),
        "{table}"
    );
    assert!(table.contains("AGREES with the cluster"), "{table}");
    assert!(
        table.contains("mutated pod: predicted and actual agree"),
        "{table}"
    );

    let opted_out = BTreeMap::from([("sidecar.istio.io/inject".to_owned(), "false".to_owned())]);
    istio::create_deployment(&client, &istio::deployment("batch", &ns, &opted_out)).await;
    let v = explain_json(server, "deployment/batch", &ns);
    assert_eq!(v["inject"], false);
    assert_eq!(v["server_dry_run"]["actual_inject"], false);
    assert_eq!(v["server_dry_run"]["agree"], true);
}

#[tokio::test]
async fn cabundle_of_another_ca_is_attributed_to_cabundle_mismatch() {
    let Some(server) = e2e_support::shared_or_skip("cabundle_of_another_ca") else {
        return;
    };
    let client = istio::client(server).await;
    let ns = scenario_namespace(&client, "cabundle").await;
    let other_ca = e2e_support::injector::other_ca_pem();
    let mut ep = endpoint(injector().url("/inject/default"), "Fail", None);
    ep.ca_pem = other_ca;
    register(
        &client,
        &istio::scenario_webhook("e2e-cabundle", "cabundle", &ep, None),
        &ns,
        true,
    )
    .await;

    let v = explain_json(server, "deployment/web", &ns);
    let dry = &v["server_dry_run"];
    assert_eq!(dry["admitted"], false, "{dry:#}");
    assert_eq!(dry["agree"], false);
    let message = dry["rejection"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("x509: certificate signed by unknown authority"),
        "the server's own error: {message}"
    );
    let f = findings(&v);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["check"], "cabundle-mismatch");
    assert_eq!(f[0]["object"]["name"], "e2e-cabundle");
    assert_eq!(
        f[0]["evidence"][0]["observed"], message,
        "the server's message is the evidence"
    );
    assert!(
        injector().handshake_failures() > 0,
        "the API server hung up during the handshake"
    );

    let (_, table, _) = explain(server, "deployment/web", &ns, &[]);
    println!("{table}");
    assert!(
        table.contains("cause:       [cabundle-mismatch]"),
        "{table}"
    );
}

#[tokio::test]
async fn unreachable_webhook_failing_closed_rejects_and_is_named() {
    let Some(server) = e2e_support::shared_or_skip("unreachable_webhook_failing_closed") else {
        return;
    };
    let client = istio::client(server).await;
    let ns = scenario_namespace(&client, "down-fail").await;
    let url = format!("https://127.0.0.1:{}/inject", closed_port());
    let ep = endpoint(url.clone(), "Fail", None);
    register(
        &client,
        &istio::scenario_webhook("e2e-down-fail", "down-fail", &ep, None),
        &ns,
        true,
    )
    .await;

    let v = explain_json(server, "deployment/web", &ns);
    let dry = &v["server_dry_run"];
    assert_eq!(dry["admitted"], false, "{dry:#}");
    assert_eq!(dry["rejection"]["code"], 500);
    let message = dry["rejection"]["message"].as_str().unwrap_or("");
    assert!(message.contains("connect: connection refused"), "{message}");
    let f = findings(&v);
    assert_eq!(f.len(), 1, "{f:#?}");
    let text = f[0]["message"].as_str().unwrap_or("");
    assert!(
        text.contains(
            "webhook \"namespace.sidecar-injector.istio.io\" of mutatingwebhookconfiguration \"e2e-down-fail\""
        ) && text.contains(&url),
        "names the unreachable webhook and where it points: {text}"
    );
    assert!(f[0]["fix"].as_str().unwrap_or("").contains(&url));
}

#[tokio::test]
async fn unreachable_webhook_failing_open_admits_without_sidecar_and_fail_open_shows_it() {
    let Some(server) = e2e_support::shared_or_skip("unreachable_webhook_failing_open") else {
        return;
    };
    let client = istio::client(server).await;
    let ns = scenario_namespace(&client, "down-ignore").await;
    let ep = endpoint(
        format!("https://127.0.0.1:{}/inject", closed_port()),
        "Ignore",
        None,
    );
    let probe = endpoint(injector().url("/probe"), "Fail", None);
    register(
        &client,
        &istio::scenario_webhook("e2e-down-ignore", "down-ignore", &ep, Some(&probe)),
        &ns,
        false,
    )
    .await;

    let v = explain_json(server, "deployment/web", &ns);
    assert_eq!(
        v["inject"], true,
        "the prediction: the Istio webhook matches: {v:#}"
    );
    let dry = &v["server_dry_run"];
    assert_eq!(dry["admitted"], true, "{dry:#}");
    assert_eq!(dry["actual_inject"], false);
    assert_eq!(dry["agree"], false);
    let f = findings(&v);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["check"], "webhook-fail-open");
    assert_eq!(f[0]["object"]["name"], "e2e-down-ignore");
    assert_eq!(f[0]["evidence"][0]["observed"], "Ignore");
}

#[tokio::test]
async fn webhook_slower_than_its_timeout_is_attributed_to_webhook_timeout() {
    let Some(server) = e2e_support::shared_or_skip("webhook_slower_than_its_timeout") else {
        return;
    };
    let client = istio::client(server).await;
    let ns = scenario_namespace(&client, "timeout").await;
    let ep = endpoint(injector().url("/slow/3/default"), "Fail", Some(1));
    register(
        &client,
        &istio::scenario_webhook("e2e-timeout", "timeout", &ep, None),
        &ns,
        true,
    )
    .await;

    let v = explain_json(server, "deployment/web", &ns);
    let dry = &v["server_dry_run"];
    let message = dry["rejection"]["message"].as_str().unwrap_or("");
    assert!(message.contains("context deadline exceeded"), "{dry:#}");
    assert!(message.contains("?timeout=1s"), "{message}");
    let f = findings(&v);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["check"], "webhook-timeout");
    assert_eq!(f[0]["object"]["name"], "e2e-timeout");
    assert_eq!(f[0]["evidence"][0]["observed"], message);
}

/// Kubernetes 1.20 does not label namespaces with `kubernetes.io/metadata.name`: a webhook
/// selecting on it never matches there. `--server-dry-run` reads the server's version and
/// predicts accordingly; assuming the label (as on 1.21+) would predict the opposite.
#[tokio::test]
async fn namespaces_have_no_metadata_name_label_on_1_20() {
    let Some(server) = e2e_support::shared_or_skip("namespaces_have_no_metadata_name_label") else {
        return;
    };
    let client = istio::client(server).await;
    let ns = scenario_namespace(&client, "metadata-name").await;
    let ep = endpoint(injector().url("/inject/default"), "Fail", None);
    let probe = endpoint(injector().url("/probe"), "Fail", None);
    let mut mwc = istio::scenario_webhook("e2e-metadata-name", "metadata-name", &ep, Some(&probe));
    // The Istio webhook selects the namespace by name only.
    if let Some(hook) = mwc.webhooks.as_mut().and_then(|w| w.first_mut()) {
        hook.namespace_selector = Some(serde_json::from_value(serde_json::json!({
            "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": [ns]}],
        })).expect("a selector"));
    }
    register(&client, &mwc, &ns, false).await;
    let stored: Namespace = kube::Api::all(client.clone())
        .get(&ns)
        .await
        .expect("namespace");
    assert!(
        !stored
            .metadata
            .labels
            .unwrap_or_default()
            .contains_key("kubernetes.io/metadata.name"),
        "1.20 stores no metadata.name label"
    );

    let v = explain_json(server, "deployment/web", &ns);
    assert_eq!(v["inject"], false, "{v:#}");
    assert_eq!(v["server_dry_run"]["actual_inject"], false);
    assert_eq!(v["server_dry_run"]["agree"], true);

    // The same objects under 1.21+ rules (the label set) predict an injection that 1.20 does
    // not do: the server's version matters.
    let conn = meshdoctor::dryrun::connect(&meshdoctor::dryrun::ConnectOptions {
        kubeconfig: Some(server.kubeconfig().to_path_buf()),
        context: None,
    })
    .await
    .expect("connect");
    assert_eq!(
        meshdoctor::dryrun::metadata_name_label(&conn).await,
        MetadataNameLabel::Absent
    );
    let state = meshdoctor::dryrun::read_state(&conn, Kind::Deployment, &ns, "web")
        .await
        .expect("state");
    let subject = resolve(&state, Kind::Deployment, &ns, "web").expect("subject");
    for (label, expected) in [
        (MetadataNameLabel::Absent, false),
        (MetadataNameLabel::Set, true),
    ] {
        let engine = Engine::new(
            &state,
            EngineOptions {
                istio_version: None,
                metadata_name_label: label,
            },
        );
        assert_eq!(engine.verdict(&subject).inject, expected, "{label:?}");
    }
}

/// The injector runs other settings than the cluster's ConfigMap says (a stale or hand-patched
/// istiod): the verdicts agree, and the pod diff points at the field that differs.
#[tokio::test]
async fn pod_diff_shows_where_the_injector_differs_from_its_configmap() {
    let Some(server) = e2e_support::shared_or_skip("pod_diff_shows_where_the_injector_differs")
    else {
        return;
    };
    let client = istio::client(server).await;
    istio::ensure_namespace(&client, ISTIO_NAMESPACE).await;
    let in_cluster = istio::injector_configmap("stale", "enabled");
    istio::apply_configmap(&client, &in_cluster).await;
    // What the injector really runs: the same, with another proxy tag.
    let mut running = in_cluster.clone();
    if let Some(values) = running.data.as_mut().and_then(|d| d.get_mut("values")) {
        *values = values.replacen("\"tag\": \"latest\"", "\"tag\": \"1.24.6-patched\"", 1);
    }
    injector().set_revision("stale", &running, Some(&istio::mesh_configmap()));

    let ns = scenario_namespace(&client, "stale").await;
    let ep = endpoint(injector().url("/inject/stale"), "Fail", None);
    let mut mwc = istio::scenario_webhook("e2e-stale", "stale", &ep, None);
    mwc.metadata.labels = Some(BTreeMap::from([(
        "istio.io/rev".to_owned(),
        "stale".to_owned(),
    )]));
    istio::apply_webhooks(&client, &mwc).await;
    istio::wait_for_webhooks(&client, &probe_pod(&ns), |d| d.has_sidecar() == Some(true)).await;

    let v = explain_json(server, "deployment/web", &ns);
    let dry = &v["server_dry_run"];
    assert_eq!(v["revision"], "stale", "{v:#}");
    assert_eq!(dry["agree"], true, "{dry:#}");
    assert_eq!(dry["pod_diff"]["matches"], false, "{dry:#}");
    let differences = dry["pod_diff"]["differences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let image = differences
        .iter()
        .find(|d| d["path"] == "/spec/containers[istio-proxy]/image")
        .unwrap_or_else(|| panic!("the proxy image differs: {differences:#?}"));
    assert!(
        image["predicted"]
            .as_str()
            .unwrap_or("")
            .ends_with(":latest"),
        "{image}"
    );
    assert!(
        image["actual"]
            .as_str()
            .unwrap_or("")
            .ends_with(":1.24.6-patched"),
        "{image}"
    );
    let (_, table, _) = explain(server, "deployment/web", &ns, &[]);
    println!("{table}");
    assert!(
        table.contains("difference(s) between predicted and actual"),
        "{table}"
    );
}

/// `--help` says what the flag sends; without a server nothing else here needs one.
#[test]
fn help_says_server_dry_run_is_the_only_request_that_is_not_a_read() {
    let output = Command::cargo_bin("meshdoctor")
        .expect("the meshdoctor binary")
        .args(["explain", "--help"])
        .output()
        .expect("run meshdoctor");
    let help = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(help.contains("--server-dry-run"), "{help}");
    assert!(
        help.contains("This is the only request meshdoctor ever sends that is not a read"),
        "{help}"
    );
}

#[test]
fn server_dry_run_needs_a_cluster_not_files() {
    let output = Command::cargo_bin("meshdoctor")
        .expect("the meshdoctor binary")
        .args([
            "explain",
            "pod/x",
            "--server-dry-run",
            "--from",
            "state.yaml",
        ])
        .output()
        .expect("run meshdoctor");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot be used with"));

    let missing = std::env::temp_dir().join("meshdoctor-no-such-kubeconfig");
    let output = Command::cargo_bin("meshdoctor")
        .expect("the meshdoctor binary")
        .args(["explain", "pod/x", "--server-dry-run", "--kubeconfig"])
        .arg(&missing)
        .output()
        .expect("run meshdoctor");
    assert_eq!(
        output.status.code(),
        Some(2),
        "a kubeconfig problem is a usage error"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--kubeconfig"), "{stderr}");
}
