//! Conformance against Linkerd edge-26.8.3's own injection test data, read in place from
//! `../shared/conformance/linkerd-edge-26.8.3/` through our manifest `tests/linkerd/cases.yaml`
//! (written from Linkerd's Go test tables).
//!
//! - `proxy-injector/`: the webhook's JSON patches. A case passes when our patch equals the
//!   golden as data (Linkerd's own test compares the unmarshalled patches the same way).
//!
//! The test prints `linkerd: N/M cases pass`, writes the failures with a one-line reason to
//! `$CARGO_TARGET_TMPDIR/linkerd-conformance-failures.txt`, and fails if N drops below
//! `tests/linkerd-conformance-floor.txt`.

use meshdoctor::mesh::linkerd::render::{
    Annotations, Origin, Values, Workload, opaque_ports_patch, overrides, pod_patch,
};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/conformance/linkerd-edge-26.8.3"
);
const MANIFEST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/linkerd/cases.yaml");
const FLOOR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/linkerd-conformance-floor.txt"
);

fn data_dir() -> Option<PathBuf> {
    let p = PathBuf::from(DATA);
    p.join("NOTICE.md").exists().then_some(p)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn yaml(text: &str) -> Result<Json, String> {
    serde_saphyr::from_str::<Json>(text).map_err(|e| e.to_string())
}

fn s<'a>(v: &'a Json, k: &str) -> &'a str {
    v.get(k).and_then(Json::as_str).unwrap_or("")
}

fn string_map(v: Option<&Json>) -> Annotations {
    v.and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

struct Suite {
    dir: PathBuf,
    manifest: Json,
    values: Values,
}

impl Suite {
    fn load() -> Option<Suite> {
        let dir = data_dir()?;
        let manifest = yaml(&read(Path::new(MANIFEST)).ok()?).ok()?;
        let doc = yaml(&read(&dir.join(s(&manifest, "values"))).ok()?).ok()?;
        let mut values = Values::from_document(&doc).ok()?;
        values.linkerd_version = s(&manifest, "linkerdVersion").to_owned();
        values.debug_image.version = s(&manifest, "debugVersion").to_owned();
        values.identity_trust_anchors_pem = s(&manifest, "trustAnchors").to_owned();
        Some(Suite {
            dir,
            manifest,
            values,
        })
    }

    fn injector_file(&self, name: &str) -> Result<String, String> {
        read(&self.dir.join("proxy-injector").join(name))
    }

    fn control_ns(&self) -> &str {
        s(&self.manifest, "controlPlaneNamespace")
    }

    /// One `podPatch` case: `Ok` on a match, `Err(reason)` otherwise.
    fn pod_patch_case(&self, case: &Json) -> Result<(), String> {
        let obj = yaml(&self.injector_file(s(case, "input"))?)?;
        let owner = &self.manifest["owner"];
        let mut w = Workload::from_object(
            &obj,
            self.control_ns(),
            Some((s(owner, "kind"), s(owner, "name"))),
            Origin::Webhook,
        )
        .ok_or("not an injectable kind")?;
        w.namespace_annotations = string_map(case.get("namespace"));
        if case.get("inheritNamespace").and_then(Json::as_bool) == Some(true) {
            let pod = w.pod_annotations();
            overrides::inherit_namespace_annotations(
                &mut w.annotations,
                &w.namespace_annotations.clone(),
                &pod,
            );
        }
        let patch =
            pod_patch(&self.values, &w, self.control_ns(), true).map_err(|e| e.to_string())?;
        if case.get("nonEmpty").and_then(Json::as_bool) == Some(true) {
            return if patch.ops.is_empty() {
                Err("empty patch".into())
            } else {
                Ok(())
            };
        }
        let want: Json = serde_json::from_str(&self.injector_file(s(case, "patch"))?)
            .map_err(|e| e.to_string())?;
        compare_patch(&Json::Array(patch.ops), &want)
    }

    /// One `annotationPatch` case.
    fn annotation_case(&self, case: &Json) -> Result<(), String> {
        let obj = yaml(&self.injector_file(s(case, "input"))?)?;
        let ns = yaml(&self.injector_file(s(case, "namespace"))?)?;
        let ns_ann = string_map(ns.pointer("/metadata/annotations"));
        let ops = opaque_ports_patch(&self.values, &obj, &ns_ann);
        match case.get("patch").and_then(Json::as_str) {
            None if ops.is_empty() => Ok(()),
            None => Err(format!("no patch expected, got {}", Json::Array(ops))),
            Some(golden) => {
                let want: Json = serde_json::from_str(&self.injector_file(golden)?)
                    .map_err(|e| e.to_string())?;
                compare_patch(&Json::Array(ops), &want)
            }
        }
    }
}

/// Equal as data; otherwise the first differing operation.
fn compare_patch(got: &Json, want: &Json) -> Result<(), String> {
    if got == want {
        return Ok(());
    }
    let (g, w) = (
        got.as_array().cloned().unwrap_or_default(),
        want.as_array().cloned().unwrap_or_default(),
    );
    for i in 0..g.len().max(w.len()) {
        if g.get(i) != w.get(i) {
            let show = |v: Option<&Json>| {
                v.map(|v| {
                    let t = v.to_string();
                    t.chars().take(400).collect::<String>()
                })
                .unwrap_or_else(|| "(none)".into())
            };
            return Err(format!(
                "op {i} differs ({} ops, want {}): got {} want {}",
                g.len(),
                w.len(),
                show(g.get(i)),
                show(w.get(i))
            ));
        }
    }
    Err("patches differ".into())
}

#[test]
fn linkerd_conformance() {
    let Some(suite) = Suite::load() else {
        eprintln!("linkerd conformance data not found under {DATA}; skipped");
        return;
    };
    let mut results: Vec<(String, Result<(), String>)> = Vec::new();
    for case in suite.manifest["podPatch"].as_array().into_iter().flatten() {
        results.push((
            format!("proxy-injector pod patch: {}", s(case, "name")),
            suite.pod_patch_case(case),
        ));
    }
    for case in suite.manifest["annotationPatch"]
        .as_array()
        .into_iter()
        .flatten()
    {
        results.push((
            format!("proxy-injector annotation patch: {}", s(case, "name")),
            suite.annotation_case(case),
        ));
    }
    let webhook_pass = results.iter().filter(|(_, r)| r.is_ok()).count();
    println!(
        "linkerd: webhook patches {webhook_pass}/{} pass",
        results.len()
    );

    let total = results.len();
    let pass = results.iter().filter(|(_, r)| r.is_ok()).count();
    let failures: String = results
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|e| format!("{n}: {e}\n")))
        .collect();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("linkerd-conformance-failures.txt");
    let _ = std::fs::write(&out, &failures);
    println!("linkerd: {pass}/{total} cases pass");
    if !failures.is_empty() {
        println!("failures ({}):\n{failures}", out.display());
    }
    let floor: usize = std::fs::read_to_string(FLOOR)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        pass >= floor,
        "linkerd conformance fell below the floor: {pass} < {floor}\n{failures}"
    );
}
