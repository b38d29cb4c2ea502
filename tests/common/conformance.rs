//! Helpers shared by the conformance tests of every Istio version: reading a case, the
//! semantic comparison, and the kube-inject and webhook paths of Istio's `TestInjection`.
#![allow(dead_code)]

use meshdoctor::mesh::istio::version::IstioVersion;
use meshdoctor::render::{
    InjectContext, Injector, InjectorConfig, InjectorValues, MeshConfig, kube_inject,
};
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;
use std::path::Path;

pub fn read(dir: &Path, rel: &str) -> Result<String, String> {
    std::fs::read_to_string(dir.join(rel)).map_err(|e| format!("{rel}: {e}"))
}

pub fn yaml(text: &str) -> Result<Json, String> {
    serde_saphyr::from_str::<Json>(text).map_err(|e| e.to_string())
}

pub fn s<'a>(v: &'a Json, k: &str) -> &'a str {
    v.get(k).and_then(Json::as_str).unwrap_or("")
}

/// Semantic normalisation shared by both sides: nulls, empty maps and lists dropped (Go's
/// omitempty and typed zero values), the workload `status` dropped.
pub fn semantic(v: &Json) -> Json {
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
pub fn first_diff(a: &Json, b: &Json, path: &str) -> Option<String> {
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

pub fn short(v: &Json) -> String {
    let t = v.to_string();
    if t.len() > 140 {
        format!("{}…", t.chars().take(140).collect::<String>())
    } else {
        t
    }
}

pub fn split_k8s_docs(text: &str) -> Vec<String> {
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

pub struct Settings {
    pub mesh: MeshConfig,
    pub values: InjectorValues,
    pub config_text: String,
    pub env: BTreeMap<String, String>,
    /// The Istio version whose injector is emulated (the data set's).
    pub istio_version: IstioVersion,
}

impl Settings {
    /// istiod's `COMPLIANCE_POLICY`, taken from the case's environment.
    fn compliance_policy(&self) -> String {
        self.env
            .get("COMPLIANCE_POLICY")
            .cloned()
            .unwrap_or_default()
    }
}

pub fn settings(dir: &Path, case: &Json) -> Result<Settings, String> {
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
        istio_version: IstioVersion::new(1, 24),
    })
}

/// The kube-inject path: `(semantic pass, byte-exact pass)` or a reason.
pub fn kube_inject_path(dir: &Path, case: &Json, st: &Settings) -> Result<bool, String> {
    let cfg = InjectorConfig::parse_kube_inject(&st.config_text);
    let injector =
        Injector::new(cfg, st.values.clone(), st.mesh.clone()).map_err(|e| e.to_string())?;
    let input = read(dir, s(case, "input"))?;
    let ctx = InjectContext {
        env: Some(st.env.clone()),
        compliance_policy: st.compliance_policy(),
        istio_version: Some(st.istio_version),
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

pub const WORKLOADS: &[&str] = &[
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

pub fn webhook_parts(text: &str) -> Result<Vec<Json>, String> {
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
pub fn object_to_pod(obj: &Json) -> Json {
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
pub fn webhook_injects(pod: &Json) -> bool {
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

pub fn webhook_normalise(pod: &mut Json, got: bool) {
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

pub fn webhook_path(dir: &Path, case: &Json, st: &Settings) -> Result<(), String> {
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
            compliance_policy: st.compliance_policy(),
            openshift,
            istio_version: Some(st.istio_version),
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

/// Fails when `pass` drops below the floor recorded in a floor file (the count only goes up).
pub fn assert_floor(pass: usize, total: usize, floor_file: &str) {
    let floor: usize = floor_file.trim().parse().unwrap_or(0);
    assert!(
        pass >= floor,
        "{pass}/{total} cases pass, below the recorded floor {floor}"
    );
}
