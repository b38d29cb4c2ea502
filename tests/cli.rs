//! The command line as users run it: exit codes, the `explain -o json` contract, located
//! errors for bad input, and the kubectl plugin's native feel.

use assert_cmd::Command;
use predicates::prelude::*;

const DEMO: &str = "fixtures/demo/state/";

fn meshdoctor() -> Command {
    let mut c = Command::cargo_bin("meshdoctor").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR");
    c
}

#[test]
fn explain_json_follows_the_contract() {
    let out = meshdoctor()
        .args([
            "explain",
            "deployment/web",
            "-n",
            "shop",
            "--from",
            DEMO,
            "-o",
            "json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        v["target"],
        serde_json::json!({"kind": "Deployment", "namespace": "shop", "name": "web"})
    );
    assert_eq!(v["inject"], true);
    assert_eq!(v["mesh"], "istio");
    assert_eq!(
        v["webhook"],
        serde_json::json!({"configuration": "istio-sidecar-injector", "name": "namespace.sidecar-injector.istio.io"})
    );
    assert_eq!(v["decisive"], "policy");
    let trace = v["trace"].as_array().unwrap();
    assert!(
        trace
            .iter()
            .all(|s| s["step"].is_string() && s["result"].is_string() && s["detail"].is_string())
    );
    assert!(trace.iter().any(|s| s["step"] == "policy"));
    assert!(v["findings"].is_array());
}

#[test]
fn explain_not_injected_has_null_mesh_and_webhook() {
    let out = meshdoctor()
        .args([
            "explain",
            "deploy/checkout",
            "-n",
            "payments",
            "--from",
            DEMO,
            "-o",
            "json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["inject"], false);
    assert!(v["mesh"].is_null() && v["webhook"].is_null());
    assert!(
        v["flip"]
            .as_str()
            .unwrap()
            .contains("istio-injection=enabled")
    );
}

#[test]
fn explain_yaml_has_the_same_data() {
    meshdoctor()
        .args([
            "explain",
            "daemonset/node-exporter",
            "-n",
            "monitoring",
            "--from",
            DEMO,
            "-o",
            "yaml",
        ])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("decisive: host-network")
                .and(predicate::str::contains("inject: false")),
        );
}

#[test]
fn explain_table_marks_the_decisive_step_and_has_no_colour_when_piped() {
    meshdoctor()
        .args(["explain", "deployment/web", "-n", "shop", "--from", DEMO])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "WILL BE INJECTED (istio, revision default)",
        ))
        .stdout(predicate::str::contains("▶"))
        .stdout(predicate::str::contains("\u{1b}[").not());
}

#[test]
fn color_always_colours() {
    meshdoctor()
        .args([
            "--color",
            "always",
            "explain",
            "deployment/web",
            "-n",
            "shop",
            "--from",
            DEMO,
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("\u{1b}["));
}

#[test]
fn unknown_target_is_exit_2() {
    meshdoctor()
        .args(["explain", "pod/nope", "-n", "shop", "--from", DEMO])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "pod \"nope\" not found in namespace \"shop\"",
        ));
}

#[test]
fn malformed_input_is_a_located_one_line_error() {
    let dir = tempdir();
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  hostNetwork: sometimes\n",
    )
    .unwrap();
    let out = meshdoctor()
        .args(["explain", "pod/p", "--from", file.to_str().unwrap()])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.yaml:1: pod \"p\": spec.hostNetwork:"),
        "{err}"
    );
}

#[test]
fn missing_file_is_exit_2() {
    meshdoctor()
        .args(["check", "-A", "--from", "does/not/exist.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "does/not/exist.yaml: no such file or directory",
        ));
}

#[test]
fn check_exit_code_follows_fail_on() {
    meshdoctor()
        .args(["check", "-A", "--from", DEMO])
        .assert()
        .code(1);
    meshdoctor()
        .args(["check", "-A", "--from", DEMO, "--fail-on", "never"])
        .assert()
        .code(0);
    meshdoctor()
        .args([
            "check",
            "-n",
            "shop",
            "--from",
            DEMO,
            "--check",
            "namespace-not-selected",
        ])
        .assert()
        .code(0);
}

#[test]
fn check_json_follows_the_contract() {
    let out = meshdoctor()
        .args([
            "check",
            "-A",
            "--from",
            DEMO,
            "-o",
            "json",
            "--fail-on",
            "never",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let f = v["findings"].as_array().unwrap();
    assert!(!f.is_empty());
    for finding in f {
        for key in ["check", "severity", "object", "message", "evidence", "fix"] {
            assert!(!finding[key].is_null(), "{key} missing in {finding}");
        }
    }
    assert!(v["skipped"].is_array());
    assert!(v["summary"]["error"].is_u64());
}

#[test]
fn unknown_check_id_is_exit_2() {
    meshdoctor()
        .args(["check", "-A", "--from", DEMO, "--check", "no-such-check"])
        .assert()
        .code(2);
}

#[test]
fn checks_lists_and_prints_pages() {
    meshdoctor()
        .args(["checks"])
        .assert()
        .success()
        .stdout(predicate::str::contains("namespace-not-selected"));
    meshdoctor()
        .args(["checks", "namespace-not-selected"])
        .assert()
        .success()
        .stdout(predicate::str::contains("## Fix"));
}

#[test]
fn bad_flag_is_exit_2() {
    meshdoctor().args(["explain", "--bogus"]).assert().code(2);
}

#[test]
fn kubectl_plugin_speaks_as_kubectl() {
    let mut c = Command::cargo_bin("kubectl-inject_why").unwrap();
    c.arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("kubectl inject-why"));
    let mut c = Command::cargo_bin("kubectl-inject_why").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["deployment/web", "-n", "shop", "--from", DEMO, "-o", "json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"inject\": true"));
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "meshdoctor-cli-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[test]
fn version_from_a_captured_state_as_a_table() {
    let out = meshdoctor()
        .args([
            "version",
            "--from",
            "fixtures/istio-revisions-and-tags/state.yaml",
        ])
        .env("NO_COLOR", "1")
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!("meshdoctor  {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("decision rules up to 1.32"), "{text}");
    assert!(
        text.contains("render checked against 1.24.6, 1.32-dev"),
        "{text}"
    );
    assert!(text.contains("modelled on edge-26.8.3"), "{text}");
    assert!(
        text.contains("Cluster     fixtures/istio-revisions-and-tags/state.yaml"),
        "{text}"
    );
    assert!(
        text.contains("API server  unknown: the files do not record it"),
        "{text}"
    );
    assert!(
        text.contains("revision canary (tags prod): 1.25 (image docker.io/istio/pilot:1.25.2"),
        "{text}"
    );
    assert!(
        text.contains("revision default: 1.24 (image docker.io/istio/pilot:1.24.6"),
        "{text}"
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn version_json_follows_docs_version_md() {
    let out = meshdoctor()
        .args([
            "version",
            "--from",
            "fixtures/linkerd-basic/state.yaml",
            "--from",
            DEMO,
            "-o",
            "json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["meshdoctor"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["meshdoctor"]["commit"].is_null() || v["meshdoctor"]["commit"].is_string());
    assert_eq!(v["istio"]["newest_known"], "1.32");
    assert_eq!(v["istio"]["assumed_when_unknown"], "1.27");
    assert_eq!(
        v["istio"]["render_conformance"],
        serde_json::json!(["1.24.6", "1.32-dev"])
    );
    let eras = v["istio"]["rule_eras"].as_array().unwrap();
    assert_eq!(eras.last().unwrap()["until"], "1.32");
    assert_eq!(v["linkerd"]["modelled_on"], "edge-26.8.3");
    let c = &v["cluster"];
    assert!(c["unavailable"].is_null());
    assert!(c["api_server"]["version"].is_null());
    assert_eq!(c["istio"][0]["revision"], "default");
    assert_eq!(c["istio"][0]["version"], "1.24");
    assert_eq!(c["istio"][0]["rules"], "label-wins-lenient");
    assert_eq!(c["linkerd"][0]["namespace"], "linkerd");
    assert_eq!(c["linkerd"][0]["version"], "edge-26.8.3");
    assert!(
        c["linkerd"][0]["from"]
            .as_str()
            .unwrap()
            .contains("deployment linkerd/linkerd-proxy-injector"),
        "{c}"
    );
}

#[test]
fn version_without_a_cluster_still_answers_and_exits_0() {
    let home = tempdir();
    let out = meshdoctor()
        .args(["version", "-o", "yaml"])
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("HOME", &home)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("modelled_on: edge-26.8.3"), "{text}");
    assert!(text.contains("unavailable: \"no cluster to read"), "{text}");
    // --client reads nothing and says nothing about a cluster.
    let out = meshdoctor()
        .args(["version", "--client", "-o", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(v["cluster"].is_null(), "{v}");
    // What the user typed wrong is still an error.
    meshdoctor()
        .args(["version", "--kubeconfig", "/nonexistent/kubeconfig"])
        .assert()
        .code(2);
    meshdoctor()
        .args(["version", "--from", "/nonexistent/state.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/state.yaml"));
    let _ = std::fs::remove_dir_all(home);
}

/// A pipe is not a terminal: however the run goes, no progress line reaches it.
#[test]
fn no_progress_output_on_a_pipe() {
    for args in [
        vec![
            "check",
            "-A",
            "--from",
            DEMO,
            "-o",
            "json",
            "--fail-on",
            "never",
        ],
        vec!["check", "-A", "--from", DEMO, "--fail-on", "never"],
        vec!["snapshot", "-A", "--from", DEMO],
        vec!["version", "--from", DEMO, "-o", "yaml"],
    ] {
        let out = meshdoctor()
            .args(&args)
            .assert()
            .success()
            .get_output()
            .clone();
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
