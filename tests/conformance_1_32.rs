//! Conformance against Istio 1.32-dev's `TestInjection` (data read in place from
//! `../shared/conformance/istio-1.32-dev/`, case table in `tests/istio-1.32/cases.yaml`).
//!
//! That snapshot keeps no pre-rendered settings: like Istio's own test, each case renders the
//! istiod chart with the real `helm template` and its values, then takes the injector config,
//! values and mesh from the rendered ConfigMaps. Renders are cached per value set. The test
//! prints `istio 1.32-dev: N/M cases pass (B byte-identical)`, writes the failing cases (and
//! the passing ones whose kube-inject output is not byte-identical) to
//! `$CARGO_TARGET_TMPDIR/conformance-1.32-failures.txt`, and fails below
//! `tests/conformance-floor-1.32.txt`.

#[path = "common/conformance.rs"]
mod conformance;

use conformance::*;
use meshdoctor::mesh::istio::version::IstioVersion;
use meshdoctor::render::{InjectorValues, MeshConfig};
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/conformance/istio-1.32-dev"
);
const MANIFEST: &str = include_str!("istio-1.32/cases.yaml");

/// `helm` from PATH, else the one `scripts/install-tools.sh` caches (it prints its bin dir).
fn helm() -> PathBuf {
    let on_path = Command::new("helm").arg("version").output();
    if on_path.is_ok_and(|o| o.status.success()) {
        return PathBuf::from("helm");
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-tools.sh");
    let out = Command::new(&script)
        .output()
        .expect("scripts/install-tools.sh runs");
    assert!(out.status.success(), "install-tools.sh failed");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("helm")
}

/// The three texts Istio's `getInjectionSettings` reads from the rendered chart.
struct Rendered {
    config: String,
    values: String,
    mesh: String,
}

fn render_chart(helm: &Path, dir: &Path, values: &Json) -> Result<Rendered, String> {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let file = tmp.join(format!("istio-1.32-values-{}.json", std::process::id()));
    std::fs::write(&file, values.to_string()).map_err(|e| e.to_string())?;
    let out = Command::new(helm)
        .args(["template", "istiod"])
        .arg(dir.join("chart/istio-discovery"))
        .args(["-n", "istio-system", "-f"])
        .arg(&file)
        .output()
        .map_err(|e| format!("helm: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "helm template: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut config, mut vals, mut mesh) = (None, None, None);
    for doc in split_k8s_docs(&text) {
        let v = yaml(&doc)?;
        if s(&v, "kind") != "ConfigMap" {
            continue;
        }
        let data = |k: &str| v.pointer(&format!("/data/{k}")).and_then(Json::as_str);
        match v.pointer("/metadata/name").and_then(Json::as_str) {
            Some("istio-sidecar-injector") => {
                config = data("config").map(str::to_string);
                vals = data("values").map(str::to_string);
            }
            Some("istio") => mesh = data("mesh").map(str::to_string),
            _ => {}
        }
    }
    Ok(Rendered {
        config: config.ok_or("no istio-sidecar-injector data.config")?,
        values: vals.ok_or("no istio-sidecar-injector data.values")?,
        mesh: mesh.ok_or("no istio data.mesh")?,
    })
}

/// The Helm values of a case: inline `values`, or `spec.values` of its `.iop.yaml`.
fn case_values(dir: &Path, case: &Json) -> Result<Json, String> {
    if let Some(iop) = case.get("values_from_iop").and_then(Json::as_str) {
        let v = yaml(&read(dir, &format!("inject/{iop}"))?)?;
        return Ok(v.pointer("/spec/values").cloned().unwrap_or(json!({})));
    }
    Ok(case.get("values").cloned().unwrap_or(json!({})))
}

fn case_settings(rendered: &Rendered, case: &Json) -> Result<Settings, String> {
    let mut mesh = MeshConfig::parse(&rendered.mesh).map_err(|e| e.to_string())?;
    for o in case
        .get("mesh_set")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        mesh.set_path(s(o, "path"), o.get("value").cloned().unwrap_or(Json::Null));
    }
    for o in case
        .get("mesh_append")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let path = s(o, "path");
        let mut list = mesh
            .json
            .get(path)
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        list.push(o.get("value").cloned().unwrap_or(Json::Null));
        mesh.set_path(path, Json::Array(list));
    }
    let values = InjectorValues::parse(&rendered.values).map_err(|e| e.to_string())?;
    let mut env = BTreeMap::new();
    for (k, v) in case
        .get("env")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
    {
        env.insert(k.clone(), v.as_str().unwrap_or("").to_string());
    }
    if let Some(p) = case.get("compliance_policy").and_then(Json::as_str) {
        env.insert("COMPLIANCE_POLICY".into(), p.to_string());
    }
    // The Go test's nodes run kubelets >= 1.33 under ENABLE_NATIVE_SIDECARS=auto.
    let native = case
        .get("native_sidecars")
        .and_then(Json::as_bool)
        .unwrap_or(true);
    env.insert("ENABLE_NATIVE_SIDECARS".into(), native.to_string());
    Ok(Settings {
        mesh,
        values,
        config_text: rendered.config.clone(),
        env,
        istio_version: IstioVersion::new(1, 32),
    })
}

/// The table plus the auto-discovered cases, as the Go test builds its list.
fn all_cases(dir: &Path) -> Vec<Json> {
    let table = yaml(MANIFEST).expect("tests/istio-1.32/cases.yaml parses");
    let mut cases = table.as_array().cloned().expect("a list");
    let claimed: BTreeSet<String> = cases
        .iter()
        .map(|c| match c.get("want").and_then(Json::as_str) {
            Some(w) => w.to_string(),
            None => format!("{}.injected", s(c, "in")),
        })
        .collect();
    let mut files: Vec<String> = std::fs::read_dir(dir.join("inject"))
        .expect("inject/ lists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    files.sort();
    for f in &files {
        if f.ends_with(".yaml")
            && !f.ends_with(".iop.yaml")
            && !claimed.contains(&format!("{f}.injected"))
        {
            cases.push(json!({"in": f, "want": format!("{f}.injected")}));
        }
    }
    let used: BTreeSet<&str> = cases.iter().map(|c| s(c, "want")).collect();
    let stale: Vec<&String> = files
        .iter()
        .filter(|f| f.ends_with(".injected") && !used.contains(f.as_str()))
        .collect();
    assert!(stale.is_empty(), "goldens no case uses: {stale:?}");
    cases
}

/// The shape the shared kube-inject and webhook paths read.
fn as_run(dir: &Path, case: &Json) -> Result<Json, String> {
    let input = format!("inject/{}", s(case, "in"));
    let ns = webhook_parts(&read(dir, &input)?)?
        .first()
        .and_then(|p| p.pointer("/metadata/namespace").and_then(Json::as_str))
        .unwrap_or("")
        .to_string();
    Ok(json!({
        "input": input,
        "golden": format!("inject/{}", s(case, "want")),
        "expect_error": case.get("expected_error"),
        "extra": {"expected_log": case.get("expected_log")},
        "webhook_request_namespace": ns,
    }))
}

#[test]
fn istio_1_32_injection_cases() {
    let dir = PathBuf::from(DATA);
    if !dir.join("inject").is_dir() {
        println!("conformance: {DATA} is absent; skipped");
        return;
    }
    let helm = helm();
    let cases = all_cases(&dir);
    let mut renders: HashMap<String, Result<std::sync::Arc<Rendered>, String>> = HashMap::new();
    let (mut pass, mut byte_exact) = (0, 0);
    let mut failures = Vec::new();
    let mut not_byte_exact = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let error = case.get("expected_error").and_then(Json::as_str);
        let name = match error {
            Some(_) => format!("[{i:02}] {}", s(case, "in")),
            None => format!("[{i:02}] {}", s(case, "want")),
        };
        let flag = |k: &str| case.get(k).and_then(Json::as_bool) == Some(true);
        let result = case_values(&dir, case).and_then(|values| {
            let rendered = renders
                .entry(values.to_string())
                .or_insert_with(|| render_chart(&helm, &dir, &values).map(std::sync::Arc::new))
                .clone()?;
            let st = case_settings(&rendered, case)?;
            let run = as_run(&dir, case)?;
            if !flag("skip_injection") {
                if kube_inject_path(&dir, &run, &st)? {
                    byte_exact += 1;
                } else if error.is_none() {
                    not_byte_exact.push(name.clone());
                }
            }
            if error.is_none() && !flag("skip_webhook") {
                webhook_path(&dir, &run, &st)?;
            }
            Ok(())
        });
        match result {
            Ok(()) => pass += 1,
            Err(reason) => failures.push(format!("{name}: {reason}")),
        }
    }
    let total = cases.len();
    let line = format!("istio 1.32-dev: {pass}/{total} cases pass ({byte_exact} byte-identical)");
    println!("{line}");
    eprintln!("{line}");
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    let report = Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-1.32-failures.txt");
    let mut text = failures.join("\n") + "\n";
    for n in &not_byte_exact {
        text.push_str(&format!("NOT BYTE-IDENTICAL (semantic pass) {n}\n"));
    }
    let _ = std::fs::write(&report, text);
    assert_floor(pass, total, include_str!("conformance-floor-1.32.txt"));
}
