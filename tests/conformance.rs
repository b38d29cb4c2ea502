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

#[path = "common/conformance.rs"]
mod conformance;

use conformance::*;
use meshdoctor::mesh::istio::version::IstioVersion;
use meshdoctor::render::{KubeInjectOptions, run_kube_inject};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::PathBuf;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/conformance/istio-1.24.6"
);

fn data_dir() -> Option<PathBuf> {
    let p = PathBuf::from(DATA);
    p.join("cases.yaml").exists().then_some(p)
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
    assert_floor(pass, total, include_str!("conformance-floor.txt"));
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
            istio_version: Some(IstioVersion::new(1, 24)),
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
