//! `annotation-not-string` against the ground truth: the real kube-apiserver (and kubectl's
//! YAML 1.1 decoding in front of it) rejects exactly the label and annotation values the check
//! reports, and accepts their quoted forms, which the check leaves alone.

mod e2e_support;

use std::path::Path;
use std::process::Command;

/// Labels and annotations on a ConfigMap in `default`: `plain` writes the values unquoted.
fn manifest(plain: bool) -> String {
    let q = |v: &str| {
        if plain {
            v.to_owned()
        } else {
            format!("\"{v}\"")
        }
    };
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yaml11-{}\n  namespace: default\n  labels:\n    version: {}\n  annotations:\n    sidecar.istio.io/inject: {}\n    mode: {}\ndata:\n  a: b\n",
        if plain { "plain" } else { "quoted" },
        q("1.10"),
        q("yes"),
        q("0755"),
    )
}

fn kubectl_dry_run(server: &e2e_support::ApiServer, file: &Path) -> std::process::Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(server.kubeconfig())
        .args(["apply", "--dry-run=server", "-f"])
        .arg(file)
        .output()
        .expect("kubectl runs")
}

fn preflight_findings(file: &Path) -> Vec<serde_json::Value> {
    let out = assert_cmd::Command::cargo_bin("meshdoctor")
        .unwrap()
        .args([
            "preflight",
            "--offline",
            "--check",
            "annotation-not-string",
            "-o",
            "json",
            "-f",
        ])
        .arg(file)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["findings"].as_array().cloned().unwrap_or_default()
}

#[test]
fn the_api_server_rejects_what_annotation_not_string_reports() {
    let Some(server) =
        e2e_support::shared_or_skip("the_api_server_rejects_what_annotation_not_string_reports")
    else {
        return;
    };
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!("skipped: no kubectl on PATH");
        return;
    }
    let dir = std::env::temp_dir().join(format!("meshdoctor-e2e-yaml11-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plain = dir.join("plain.yaml");
    let quoted = dir.join("quoted.yaml");
    std::fs::write(&plain, manifest(true)).unwrap();
    std::fs::write(&quoted, manifest(false)).unwrap();

    let rejected = kubectl_dry_run(server, &plain);
    let stderr = String::from_utf8_lossy(&rejected.stderr);
    assert!(!rejected.status.success(), "plain values were accepted");
    assert!(stderr.contains("cannot unmarshal"), "{stderr}");
    let findings = preflight_findings(&plain);
    let mut fields: Vec<&str> = findings
        .iter()
        .map(|f| f["location"]["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "metadata.annotations.mode",
            "metadata.annotations.sidecar.istio.io/inject",
            "metadata.labels.version"
        ]
    );
    eprintln!("kubectl: {}", stderr.trim());
    assert_eq!(findings.len(), 3, "{findings:#?}");

    let accepted = kubectl_dry_run(server, &quoted);
    assert!(
        accepted.status.success(),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
    assert!(preflight_findings(&quoted).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
