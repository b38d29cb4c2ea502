//! User-defined checks through the CLI: the two examples in `examples/checks/` against
//! `fixtures/user-checks/`, their pages in `meshdoctor checks`, and a broken definition as a
//! located usage error (exit 2).

use assert_cmd::Command;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn meshdoctor() -> Command {
    let mut cmd = Command::cargo_bin("meshdoctor").expect("binary builds");
    cmd.current_dir(ROOT).env("NO_COLOR", "1");
    cmd
}

#[test]
fn example_checks_find_what_they_describe() {
    let out = meshdoctor()
        .args([
            "check",
            "-A",
            "--from",
            "fixtures/user-checks/state.yaml",
            "--checks-dir",
            "examples/checks",
            "-o",
            "json",
        ])
        .assert()
        .code(1) // error findings, default --fail-on error
        .get_output()
        .stdout
        .clone();
    let report: Value = serde_json::from_slice(&out).expect("json report");
    let mut got: Vec<(String, String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let o = &f["object"];
            (
                f["check"].as_str().unwrap_or("").to_owned(),
                format!(
                    "{}/{}/{}",
                    o["kind"].as_str().unwrap_or(""),
                    o["namespace"].as_str().unwrap_or(""),
                    o["name"].as_str().unwrap_or("")
                ),
                f["severity"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    got.sort();
    let want = [
        // The fixture's webhook has no caBundle, which the built-in cabundle-empty reports.
        (
            "cabundle-empty",
            "MutatingWebhookConfiguration//istio-sidecar-injector",
            "error",
        ),
        ("cronjobs-not-injected", "CronJob/prod/report", "warning"),
        ("jobs-not-injected", "Job/prod/seed", "warning"),
        ("prod-must-be-injected", "Deployment/prod/legacy", "error"),
        ("prod-must-be-injected", "StatefulSet/prod-eu/db", "error"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect();
    assert_eq!(got, want);
    // Same shape as built-in findings: filled-in message, evidence, fix.
    let legacy = report["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["object"]["name"] == "legacy"))
        .expect("legacy finding");
    assert_eq!(
        legacy["message"],
        "deployment prod/legacy runs in a tier=prod namespace but will not get a sidecar"
    );
    assert!(
        legacy["fix"]
            .as_str()
            .is_some_and(|f| f.starts_with("meshdoctor explain deployment/legacy -n prod"))
    );
    assert_eq!(legacy["evidence"][0]["field"], "expression");
    assert_eq!(legacy["evidence"][0]["observed"], "false");
    assert_eq!(
        legacy["evidence"][0]["location"],
        "fixtures/user-checks/state.yaml:51"
    );
    assert_eq!(report["summary"]["error"], 3);
    assert_eq!(report["summary"]["warning"], 2);
}

#[test]
fn user_checks_can_be_selected_like_built_in_ones() {
    meshdoctor()
        .args([
            "check",
            "-A",
            "--from",
            "fixtures/user-checks/state.yaml",
            "--checks-dir",
            "examples/checks",
            "--check",
            "jobs-not-injected",
        ])
        .assert()
        .code(0)
        .stdout(contains("jobs-not-injected job/prod/seed"))
        .stdout(contains("prod-must-be-injected").not());
}

#[test]
fn user_checks_are_listed_and_documented() {
    meshdoctor()
        .args(["checks", "--checks-dir", "examples/checks"])
        .assert()
        .success()
        .stdout(contains("prod-must-be-injected"))
        .stdout(contains("cronjobs-not-injected"))
        .stdout(contains("namespace-not-selected"));
    meshdoctor()
        .args([
            "checks",
            "prod-must-be-injected",
            "--checks-dir",
            "examples/checks",
        ])
        .assert()
        .success()
        .stdout(contains("## What it checks"))
        .stdout(contains("examples/checks/prod-must-be-injected.yaml:2"))
        .stdout(contains("## Fix"));
}

#[test]
fn a_broken_definition_is_a_located_usage_error() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("broken-user-checks");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "id: bad\ntitle: Bad\nseverity: critical\nkinds: [Pod]\nmessage: m\nfix: f\nexpression: \"true\"\n",
    )
    .expect("write");
    meshdoctor()
        .args([
            "check",
            "-A",
            "--from",
            "fixtures/user-checks/state.yaml",
            "--checks-dir",
        ])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(contains(format!(
            "{}:3: severity: \"critical\" is not error, warning or info",
            file.display()
        )));
    std::fs::write(
        &file,
        "id: bad\ntitle: Bad\nseverity: error\nkinds: [Pod]\nmessage: m\nfix: f\nexpression: \"object.metadata.name ==\"\n",
    )
    .expect("write");
    meshdoctor()
        .args(["checks", "--checks-dir"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(contains(format!(
            "{}:7: expression: does not compile",
            file.display()
        )));
    std::fs::write(
        &file,
        "id: namespace-not-selected\ntitle: Bad\nseverity: error\nkinds: [Pod]\nmessage: m\nfix: f\nexpression: \"true\"\n",
    )
    .expect("write");
    meshdoctor()
        .args(["checks", "--checks-dir"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(contains(format!(
            "{}:1: id: \"namespace-not-selected\" is a built-in check id",
            file.display()
        )));
}

#[test]
fn a_config_file_lists_the_same_checks() {
    let ids = |args: &[&str]| -> Vec<String> {
        let out = meshdoctor().args(args).output().expect("runs");
        let report: Value = serde_json::from_slice(&out.stdout).expect("json report");
        let mut ids: Vec<String> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| format!("{} {}", f["check"], f["object"]["name"]))
            .collect();
        ids.sort();
        ids
    };
    let base = [
        "check",
        "-A",
        "--from",
        "fixtures/user-checks/state.yaml",
        "-o",
        "json",
    ];
    let with_dir = ids(&[&base[..], &["--checks-dir", "examples/checks"]].concat());
    let with_config = ids(&[&base[..], &["--config", "examples/meshdoctor.yaml"]].concat());
    assert_eq!(with_config, with_dir);
    assert!(
        with_config
            .iter()
            .any(|i| i.contains("prod-must-be-injected"))
    );
    meshdoctor()
        .args(["checks", "--config", "examples/meshdoctor.yaml"])
        .assert()
        .success()
        .stdout(contains("jobs-not-injected"));
}

#[test]
fn user_checks_are_sarif_rules_and_results_in_preflight() {
    let out = meshdoctor()
        .args([
            "preflight",
            "-f",
            "fixtures/user-checks/state.yaml",
            "--offline",
            "--checks-dir",
            "examples/checks",
            "-o",
            "sarif",
            "--fail-on",
            "never",
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sarif: Value = serde_json::from_slice(&out.stdout).expect("sarif");
    let run = &sarif["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    for id in [
        "prod-must-be-injected",
        "jobs-not-injected",
        "cronjobs-not-injected",
    ] {
        assert!(rules.contains(&id), "{id} is not a SARIF rule: {rules:?}");
    }
    assert!(
        run["results"]
            .as_array()
            .expect("results")
            .iter()
            .any(|r| r["ruleId"] == "prod-must-be-injected")
    );
}
