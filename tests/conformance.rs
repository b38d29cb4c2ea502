//! Conformance against Istio 1.24.6's own injection test data (read in place from
//! `../shared/conformance/istio-1.24.6/`): the 105 `TestInjection` cases of `cases.yaml` and the
//! 8 `TestKubeInject` CLI cases of `kube-inject-cases.yaml`.
//!
//! A case passes when every path it lists (`kube-inject`, `webhook`) produces the golden
//! semantically: both sides parsed and compared as data after the normalisation the
//! manifest's header describes. Byte-identical kube-inject output is counted separately.
//! The test prints `N/105 cases pass`, writes the failing cases with a one-line reason to
//! `$CARGO_TARGET_TMPDIR/conformance-failures.txt`, and fails if N drops below
//! `tests/conformance-floor.txt`.

use meshdoctor::render::{
    InjectContext, Injector, InjectorConfig, InjectorValues, KubeInjectOptions, MeshConfig,
    kube_inject, run_kube_inject,
};
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/conformance/istio-1.24.6"
);

fn data_dir() -> Option<PathBuf> {
    let p = PathBuf::from(DATA);
    p.join("cases.yaml").exists().then_some(p)
}

fn read(dir: &Path, rel: &str) -> Result<String, String> {
    std::fs::read_to_string(dir.join(rel)).map_err(|e| format!("{rel}: {e}"))
}

fn yaml(text: &str) -> Result<Json, String> {
    serde_saphyr::from_str::<Json>(text).map_err(|e| e.to_string())
}

fn s<'a>(v: &'a Json, k: &str) -> &'a str {
    v.get(k).and_then(Json::as_str).unwrap_or("")
}

/// Semantic normalisation shared by both sides: nulls, empty maps and lists dropped (Go's
/// omitempty and typed zero values), the workload `status` dropped.
fn semantic(v: &Json) -> Json {
    fn walk(v: &Json) -> Option<Json> {
        match v {
            Json::Null => None,
            Json::Object(m) => {
                let mut out = Map::new();
                for (k, child) in m {
                    if let Some(c) = walk(child) {
                        out.insert(k.clone(), c);
                    }
                }
                (!out.is_empty()).then_some(Json::Object(out))
            }
            Json::Array(a) => {
                let out: Vec<Json> = a.iter().map(|i| walk(i).unwrap_or(json!({}))).collect();
                (!out.is_empty()).then_some(Json::Array(out))
            }
            other => Some(other.clone()),
        }
    }
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
        if let Some(Json::Array(items)) = o.get_mut("items") {
            for i in items.iter_mut() {
                if let Some(io) = i.as_object_mut() {
                    io.remove("status");
                }
            }
        }
    }
    walk(&v).unwrap_or(Json::Null)
}

/// The first path where two values differ, for a one-line reason.
fn first_diff(a: &Json, b: &Json, path: &str) -> Option<String> {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            for (k, xv) in x {
                let p = format!("{path}.{k}");
                match y.get(k) {
                    None => return Some(format!("{p}: unexpected (ours {})", short(xv))),
                    Some(yv) => {
                        if let Some(d) = first_diff(xv, yv, &p) {
                            return Some(d);
                        }
                    }
                }
            }
            y.iter()
                .find(|(k, _)| !x.contains_key(*k))
                .map(|(k, yv)| format!("{path}.{k}: missing (golden {})", short(yv)))
        }
        (Json::Array(x), Json::Array(y)) => {
            for (i, (xv, yv)) in x.iter().zip(y).enumerate() {
                let name = yv
                    .get("name")
                    .and_then(Json::as_str)
                    .map(|n| format!("[{n}]"));
                let p = format!("{path}{}", name.unwrap_or_else(|| format!("[{i}]")));
                if let Some(d) = first_diff(xv, yv, &p) {
                    return Some(d);
                }
            }
            (x.len() != y.len())
                .then(|| format!("{path}: length {} vs golden {}", x.len(), y.len()))
        }
        _ => (a != b).then(|| format!("{path}: ours {} vs golden {}", short(a), short(b))),
    }
}

fn short(v: &Json) -> String {
    let t = v.to_string();
    if t.len() > 140 {
        format!("{}…", t.chars().take(140).collect::<String>())
    } else {
        t
    }
}

fn split_k8s_docs(text: &str) -> Vec<String> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    for line in text.split_inclusive('\n') {
        let body = line.trim_end();
        if body.starts_with("---")
            && body[3..].trim_start().is_empty() | body[3..].trim_start().starts_with('#')
        {
            if !cur.trim().is_empty() {
                docs.push(std::mem::take(&mut cur));
            }
            cur.clear();
            continue;
        }
        cur.push_str(line);
    }
    if !cur.trim().is_empty() {
        docs.push(cur);
    }
    docs
}

struct Settings {
    mesh: MeshConfig,
    values: InjectorValues,
    config_text: String,
    env: BTreeMap<String, String>,
}

fn settings(dir: &Path, case: &Json) -> Result<Settings, String> {
    let mut mesh = MeshConfig::parse(&read(dir, s(case, "mesh"))?).map_err(|e| e.to_string())?;
    if let Some(Json::Array(ovs)) = case.pointer("/extra/mesh_overrides") {
        for o in ovs {
            mesh.set_path(s(o, "path"), o.get("value").cloned().unwrap_or(Json::Null));
        }
    }
    let values =
        InjectorValues::parse(&read(dir, s(case, "values"))?).map_err(|e| e.to_string())?;
    let mut env = BTreeMap::new();
    if let Some(Json::Object(e)) = case.pointer("/extra/env") {
        for (k, v) in e {
            env.insert(k.clone(), v.as_str().unwrap_or("").to_string());
        }
    }
    Ok(Settings {
        mesh,
        values,
        config_text: read(dir, s(case, "template"))?,
        env,
    })
}

/// The kube-inject path: `(semantic pass, byte-exact pass)` or a reason.
fn kube_inject_path(dir: &Path, case: &Json, st: &Settings) -> Result<bool, String> {
    let cfg = InjectorConfig::parse_kube_inject(&st.config_text);
    let injector =
        Injector::new(cfg, st.values.clone(), st.mesh.clone()).map_err(|e| e.to_string())?;
    let input = read(dir, s(case, "input"))?;
    let ctx = InjectContext {
        env: Some(st.env.clone()),
        ..Default::default()
    };
    let result = kube_inject(&injector, &input, s(case, "input"), &ctx);
    if let Some(want) = case.get("expect_error").and_then(Json::as_str) {
        return match result {
            Err(e) if e.to_string().to_lowercase().contains(want) => Ok(false),
            Err(e) => Err(format!("error {e:?} lacks {want:?}")),
            Ok(_) => Err(format!("expected an error containing {want:?}")),
        };
    }
    let out = result.map_err(|e| format!("kube-inject failed: {e}"))?;
    if let Some(log) = case.pointer("/extra/expected_log").and_then(Json::as_str)
        && !out.warnings.iter().any(|w| w.contains(log))
    {
        return Err(format!("warnings {:?} lack {log:?}", out.warnings));
    }
    let golden = read(dir, s(case, "golden"))?;
    let byte_exact = out.text.trim() == golden.trim();
    let want_docs = split_k8s_docs(&golden);
    if want_docs.len() != out.documents.len() {
        return Err(format!(
            "kube-inject: {} documents vs golden {}",
            out.documents.len(),
            want_docs.len()
        ));
    }
    for (i, (got, want)) in out.documents.iter().zip(&want_docs).enumerate() {
        let want = yaml(want).map_err(|e| format!("golden doc {i}: {e}"))?;
        let (g, w) = (semantic(got), semantic(&want));
        if let Some(d) = first_diff(&g, &w, "") {
            return Err(format!("kube-inject doc {i}: {d}"));
        }
    }
    Ok(byte_exact)
}

const WORKLOADS: &[&str] = &[
    "Deployment",
    "DeploymentConfig",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "ReplicaSet",
    "ReplicationController",
    "CronJob",
    "Pod",
];

fn webhook_parts(text: &str) -> Result<Vec<Json>, String> {
    fn collect(v: Json, out: &mut Vec<Json>) {
        let kind = s(&v, "kind").to_string();
        if kind == "List" {
            if let Some(Json::Array(items)) = v.get("items") {
                for i in items {
                    collect(i.clone(), out);
                }
            }
        } else if WORKLOADS.contains(&kind.as_str()) {
            out.push(v);
        }
    }
    let mut out = Vec::new();
    for chunk in text.split("\n---") {
        if chunk.trim().is_empty() {
            continue;
        }
        let v = yaml(chunk)?;
        if v.is_object() {
            collect(v, &mut out);
        }
    }
    Ok(out)
}

/// `objectToPod` of the Go test.
fn object_to_pod(obj: &Json) -> Json {
    let kind = s(obj, "kind");
    if kind == "Pod" {
        return obj.clone();
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Json::as_str)
        .unwrap_or("");
    let template = if kind == "CronJob" {
        obj.pointer("/spec/jobTemplate/spec/template")
    } else {
        obj.pointer("/spec/template")
    }
    .cloned()
    .unwrap_or(json!({}));
    let mut meta = template.get("metadata").cloned().unwrap_or(json!({}));
    let spec = template.get("spec").cloned().unwrap_or(json!({}));
    let api = s(obj, "apiVersion");
    let (owner_kind, owner_name, gen_name) = if kind == "Deployment" {
        (
            "ReplicaSet",
            format!("{name}-fake"),
            format!("{name}-fake-"),
        )
    } else {
        (kind, name.to_string(), name.to_string())
    };
    if let Some(m) = meta.as_object_mut() {
        m.insert("generateName".into(), json!(gen_name));
        m.insert(
            "ownerReferences".into(),
            json!([{"apiVersion": api, "kind": owner_kind, "name": owner_name, "controller": true}]),
        );
        if kind == "Deployment" {
            let labels = m.entry("labels").or_insert_with(|| json!({}));
            if let Some(l) = labels.as_object_mut() {
                l.insert("pod-template-hash".into(), json!("fake"));
            }
        }
    }
    json!({"metadata": meta, "spec": spec})
}

/// The webhook's own decision, reduced to what the conformance inputs exercise (policy
/// enabled, no selectors in any config): host network and `sidecar.istio.io/inject`.
fn webhook_injects(pod: &Json) -> bool {
    if pod.pointer("/spec/hostNetwork").and_then(Json::as_bool) == Some(true) {
        return false;
    }
    let anno = pod
        .pointer("/metadata/annotations/sidecar.istio.io~1inject")
        .and_then(Json::as_str);
    let label = pod
        .pointer("/metadata/labels/sidecar.istio.io~1inject")
        .and_then(Json::as_str);
    let v = label.or(anno).unwrap_or("").to_ascii_lowercase();
    matches!(v.as_str(), "" | "y" | "yes" | "true" | "on")
}

fn webhook_normalise(pod: &mut Json, got: bool) {
    if let Some(a) = pod
        .pointer_mut("/metadata/annotations")
        .and_then(Json::as_object_mut)
    {
        a.remove("sidecar.istio.io/status");
    }
    if got
        && let Some(cs) = pod
            .pointer_mut("/spec/containers")
            .and_then(Json::as_array_mut)
    {
        for c in cs {
            if let Some(env) = c.get_mut("env").and_then(Json::as_array_mut) {
                for e in env {
                    if let Some(fr) = e
                        .pointer_mut("/valueFrom/fieldRef")
                        .and_then(Json::as_object_mut)
                    {
                        fr.remove("apiVersion");
                    }
                }
            }
        }
    }
}

fn webhook_path(dir: &Path, case: &Json, st: &Settings) -> Result<(), String> {
    let cfg = InjectorConfig::parse(&st.config_text).map_err(|e| e.to_string())?;
    let injector =
        Injector::new(cfg, st.values.clone(), st.mesh.clone()).map_err(|e| e.to_string())?;
    let inputs = webhook_parts(&read(dir, s(case, "input"))?)?;
    let goldens = webhook_parts(&read(dir, s(case, "golden"))?)?;
    if inputs.len() != goldens.len() {
        return Err(format!(
            "webhook: {} parts vs golden {}",
            inputs.len(),
            goldens.len()
        ));
    }
    let ns = s(case, "webhook_request_namespace").to_string();
    let openshift = st.env.get("PLATFORM").map(String::as_str) == Some("openshift");
    for (i, (input, golden)) in inputs.iter().zip(&goldens).enumerate() {
        let pod = object_to_pod(input);
        let pod_ns = pod
            .pointer("/metadata/namespace")
            .and_then(Json::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or(&ns)
            .to_string();
        let uid = (openshift && pod_ns == "test-ns").then_some(1_000_629_999);
        let ctx = InjectContext {
            revision: "default".into(),
            env: Some(st.env.clone()),
            proxy_uid: uid,
            proxy_gid: uid,
            request_namespace: ns.clone(),
            openshift,
            ..Default::default()
        };
        let mut got = if webhook_injects(&pod) {
            injector
                .inject_pod(&pod, &ctx)
                .map_err(|e| format!("webhook part {i}: {e}"))?
        } else {
            pod.clone()
        };
        let mut want = object_to_pod(golden);
        if let Some(m) = got.pointer_mut("/metadata").and_then(Json::as_object_mut)
            && pod.pointer("/metadata/namespace").is_none()
        {
            // The golden pod has no namespace; the webhook only filled it for the request.
            m.remove("namespace");
        }
        webhook_normalise(&mut got, true);
        webhook_normalise(&mut want, false);
        if let Some(d) = first_diff(&semantic(&got), &semantic(&want), "") {
            return Err(format!("webhook part {i}: {d}"));
        }
    }
    Ok(())
}

#[test]
fn istio_1_24_6_injection_cases() {
    let Some(dir) = data_dir() else {
        println!("conformance: {DATA} is absent; skipped");
        return;
    };
    let cases = yaml(&read(&dir, "cases.yaml").unwrap_or_default()).unwrap_or(Json::Null);
    let Some(cases) = cases.as_array() else {
        panic!("cases.yaml: expected a list");
    };
    let mut pass = 0;
    let mut byte_exact = 0;
    let mut failures = Vec::new();
    let mut not_byte_exact = Vec::new();
    for case in cases {
        let name = s(case, "name");
        let paths: Vec<&str> = case
            .get("paths")
            .and_then(Json::as_array)
            .map(|a| a.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        let result = settings(&dir, case).and_then(|st| {
            if paths.contains(&"kube-inject") {
                if kube_inject_path(&dir, case, &st)? {
                    byte_exact += 1;
                } else if case.get("expect_error").is_none_or(Json::is_null) {
                    not_byte_exact.push(name.to_string());
                }
            }
            if paths.contains(&"webhook") {
                webhook_path(&dir, case, &st)?;
            }
            Ok(())
        });
        match result {
            Ok(()) => pass += 1,
            Err(reason) => failures.push(format!("{name}: {reason}")),
        }
    }
    let total = cases.len();
    println!("{pass}/{total} cases pass ({byte_exact} byte-identical on the kube-inject path)");
    eprintln!("{pass}/{total} cases pass ({byte_exact} byte-identical on the kube-inject path)");
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    let report = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-failures.txt");
    let mut text = failures.join("\n") + "\n";
    for n in &not_byte_exact {
        text.push_str(&format!("NOT BYTE-IDENTICAL (semantic pass) {n}\n"));
    }
    let _ = std::fs::write(&report, text);
    eprintln!("failing cases written to {}", report.display());
    let floor: usize = include_str!("conformance-floor.txt")
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(
        pass >= floor,
        "{pass}/{total} cases pass, below the recorded floor {floor}"
    );
}

#[test]
fn istioctl_kube_inject_cli_cases() {
    let Some(dir) = data_dir() else {
        println!("conformance: {DATA} is absent; skipped");
        return;
    };
    let cases =
        yaml(&read(&dir, "kube-inject-cases.yaml").unwrap_or_default()).unwrap_or(Json::Null);
    let Some(cases) = cases.as_array() else {
        panic!("kube-inject-cases.yaml: expected a list");
    };
    let mut pass = 0;
    let mut failures = Vec::new();
    for case in cases {
        let args: Vec<String> = case
            .get("args")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut opts = KubeInjectOptions {
            env: Some(BTreeMap::new()),
            ..Default::default()
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let val = it.next().map(|v| {
                // Relative data paths are relative to the conformance folder; `missing.yaml`
                // stays as given so the error names it as istioctl does.
                if v.starts_with("kube-inject/") {
                    dir.join(v)
                } else {
                    PathBuf::from(v)
                }
            });
            match flag.as_str() {
                "-f" => opts.filename = val,
                "--meshConfigFile" => opts.mesh_config_file = val,
                "--injectConfigFile" => opts.inject_config_file = val,
                "--valuesFile" => opts.values_file = val,
                "--operatorFileName" => opts.operator_file = val,
                _ => {}
            }
        }
        let result = run_kube_inject(&opts);
        let name = s(case, "name");
        let ok = if case.get("expect_error").and_then(Json::as_bool) == Some(true) {
            let want = s(case, "expect_output_regexp").replace('\\', "");
            match &result {
                Err(e) => e.to_string().contains(&want),
                Ok(_) => false,
            }
        } else {
            match (&result, case.get("golden").and_then(Json::as_str)) {
                (Ok(out), Some(g)) => {
                    let golden = read(&dir, g).unwrap_or_default();
                    let want: Vec<Json> = split_k8s_docs(&golden)
                        .iter()
                        .filter_map(|d| yaml(d).ok())
                        .collect();
                    let same = want.len() == out.documents.len()
                        && out
                            .documents
                            .iter()
                            .zip(&want)
                            .all(|(a, b)| semantic(a) == semantic(b));
                    if !same {
                        let d = out
                            .documents
                            .first()
                            .zip(want.first())
                            .and_then(|(a, b)| first_diff(&semantic(a), &semantic(b), ""));
                        failures.push(format!(
                            "{name}: {}",
                            d.unwrap_or_else(|| "document count".into())
                        ));
                    }
                    same
                }
                (Err(e), _) => {
                    failures.push(format!("{name}: {e}"));
                    false
                }
                _ => false,
            }
        };
        if ok {
            pass += 1;
        }
    }
    println!("{pass}/{} kube-inject CLI cases pass", cases.len());
    eprintln!("{pass}/{} kube-inject CLI cases pass", cases.len());
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    assert_eq!(
        pass,
        cases.len(),
        "kube-inject CLI cases failing: {failures:?}"
    );
}
