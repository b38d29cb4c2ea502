//! `deploy/`: the manifests that run `meshdoctor serve` in a cluster and the alerts on its
//! metrics. The alert rules pass `promtool check rules` and their unit tests
//! (`promtool test rules`); the PrometheusRule carries exactly the rules file's groups; every
//! alert's expression uses series that serve exports and links to a page that exists; the
//! ClusterRole grants read access to every kind the checks read and nothing else.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn yaml_docs(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.split("\n---\n")
        .map(|d| serde_saphyr::from_str::<Value>(d).unwrap_or_else(|e| panic!("{path}: {e}")))
        .filter(|v| !v.is_null())
        .collect()
}

fn rules() -> Value {
    yaml_docs("deploy/prometheus/meshdoctor.rules.yaml").remove(0)
}

fn alerts() -> Vec<Value> {
    rules()["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .collect()
}

/// promtool from PATH; required where the end-to-end tier is (`.ci/run` installs it).
fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("promtool"))
            .find(|p| p.is_file())
    });
    let required = std::env::var("MESHDOCTOR_E2E").is_ok_and(|v| !v.is_empty() && v != "0");
    assert!(
        found.is_some() || !required,
        "MESHDOCTOR_E2E is set but promtool is not on PATH (apt-get install prometheus)"
    );
    if found.is_none() {
        eprintln!("skipped: no promtool on PATH (apt-get install prometheus)");
    }
    found
}

#[test]
fn promtool_accepts_the_rules_and_their_unit_tests_pass() {
    let Some(promtool) = promtool() else {
        return;
    };
    let dir = repo("deploy/prometheus");
    for args in [
        ["check", "rules", "meshdoctor.rules.yaml"],
        ["test", "rules", "meshdoctor.rules.test.yaml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_prometheus_rule_carries_the_rules_file() {
    let rule = yaml_docs("deploy/prometheusrule.yaml").remove(0);
    assert_eq!(rule["kind"], "PrometheusRule");
    assert_eq!(
        rule["spec"],
        rules(),
        "regenerate deploy/prometheusrule.yaml"
    );
}

#[test]
fn every_alert_reads_exported_series_and_links_to_a_page_that_exists() {
    let metrics = meshdoctor::serve::metrics::Metrics::new();
    let families: BTreeSet<&str> = metrics.family_names().iter().map(String::as_str).collect();
    let catalog: BTreeSet<String> = meshdoctor::checks::builtin()
        .iter()
        .filter_map(|c| meshdoctor::check::doc::parse(c.doc()).ok().map(|d| d.id))
        .collect();
    let alerts = alerts();
    assert!(alerts.len() >= 6);
    for alert in &alerts {
        let name = alert["alert"].as_str().unwrap();
        let expr = alert["expr"].as_str().unwrap();
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("meshdoctor_") {
                // Counters are exported with `_total`; their family is named without it.
                let family = word.strip_suffix("_total").unwrap_or(word);
                assert!(
                    families.contains(family),
                    "{name}: {word} is not exported (families: {families:?})"
                );
            }
        }
        if let Some(check) = expr
            .split("check=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
        {
            assert!(catalog.contains(check), "{name}: no check {check}");
        }
        let url = alert["annotations"]["runbook_url"].as_str().unwrap();
        let page = url
            .strip_prefix("https://github.com/meshdoctor/meshdoctor/blob/main/")
            .unwrap_or_else(|| panic!("{name}: {url} is not a page of this repository"));
        assert!(repo(page).is_file(), "{name}: {page} does not exist");
    }
}

#[test]
fn the_cluster_role_reads_what_the_checks_read_and_nothing_else() {
    use meshdoctor::state::{Kind, plural};
    let docs = yaml_docs("deploy/rbac.yaml");
    let role = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .expect("a ClusterRole");
    let mut granted: BTreeSet<(String, String)> = BTreeSet::new();
    for rule in role["rules"].as_array().unwrap() {
        let verbs: Vec<&str> = rule["verbs"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(verbs, ["get", "list", "watch"], "read-only: {rule}");
        for group in rule["apiGroups"].as_array().unwrap() {
            for res in rule["resources"].as_array().unwrap() {
                granted.insert((
                    group.as_str().unwrap().to_owned(),
                    res.as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    // ConfigMaps and Secrets only through the control-plane Roles, never cluster-wide.
    let wanted: BTreeSet<(String, String)> = Kind::ALL
        .into_iter()
        .filter(|k| !matches!(k, Kind::ConfigMap | Kind::Secret))
        .map(|k| {
            let gv = k.api_versions()[0];
            let group = gv.rsplit_once('/').map_or("", |(g, _)| g);
            (group.to_owned(), plural(k))
        })
        .collect();
    assert_eq!(granted, wanted);
    for d in docs.iter().filter(|d| d["kind"] == "Role") {
        assert_eq!(
            d["rules"][0]["resources"],
            serde_json::json!(["configmaps", "secrets"])
        );
    }
}

#[test]
fn the_deployment_runs_read_only_and_unprivileged() {
    let d = yaml_docs("deploy/deployment.yaml").remove(0);
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
    assert_eq!(c["args"][0], "serve");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
}

/// `kubectl kustomize` (the real one, when on PATH) builds both kustomizations.
#[test]
fn kustomize_builds_deploy() {
    let Some(kubectl) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("kubectl"))
            .find(|p| p.is_file())
    }) else {
        eprintln!("skipped: no kubectl on PATH (scripts/install-tools.sh)");
        return;
    };
    for dir in ["deploy", "deploy/linkerd"] {
        let out = Command::new(&kubectl)
            .args(["kustomize", dir])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run kubectl");
        assert!(
            out.status.success(),
            "kubectl kustomize {dir}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
