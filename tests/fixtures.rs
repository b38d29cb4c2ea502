//! Drives every scenario under `fixtures/`: loads `state.yaml`, decides every pod and
//! workload template in it, and compares with `expected.yaml`. A subject the scenario does not
//! list fails the test, so a scenario always states the verdict of everything it contains.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use meshdoctor::admission::MetadataNameLabel;
use meshdoctor::check::{RunOptions, run_checks};
use meshdoctor::engine::{Engine, EngineOptions};
use meshdoctor::mesh::istio::version::IstioVersion;
use meshdoctor::source::offline::{LoadOptions, load_manifests, load_paths};
use meshdoctor::workload::all_subjects;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    options: Options,
    #[serde(default, alias = "pods")]
    subjects: Vec<ExpectedSubject>,
    /// Workload templates, listed apart from pods by some scenarios; same fields.
    #[serde(default)]
    workloads: Vec<ExpectedSubject>,
    /// When present: exactly these findings from `check -A` (every built-in check).
    #[serde(default)]
    findings: Option<Vec<ExpectedFinding>>,
    /// When present: exactly these checks are skipped.
    #[serde(default)]
    skipped: Option<Vec<String>>,
    /// Seconds since the epoch the checks run at (certificate expiry).
    #[serde(default)]
    now: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedFinding {
    check: String,
    /// `kind/namespace/name` or `kind/name`, lowercase kind (as `ObjectRef` prints it).
    object: String,
    #[serde(default)]
    severity: Option<String>,
    /// The message must contain this text.
    #[serde(default)]
    message_contains: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    istio_version: Option<String>,
    /// `false` emulates an API server older than 1.21.
    #[serde(default)]
    metadata_name_label: Option<bool>,
    /// Load `state.yaml` as manifests for `meshdoctor preflight` (located, lenient string
    /// maps) and run the preflight-only checks too.
    #[serde(default)]
    preflight: bool,
    /// With `preflight`: `--expect-injected-in`.
    #[serde(default)]
    expect_injected_in: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedSubject {
    #[serde(default = "pod_kind")]
    kind: String,
    namespace: String,
    name: String,
    inject: bool,
    #[serde(default)]
    mesh: Option<String>,
    /// `configuration/webhook` of the injector webhook that decided.
    #[serde(default)]
    webhook: Option<String>,
    #[serde(default)]
    revision: Option<String>,
    /// The step id that decided.
    #[serde(default)]
    decisive: Option<String>,
    /// Free text: why (for people reading the fixture); or a Linkerd reason id.
    #[serde(default)]
    #[allow(dead_code)]
    reason: Option<String>,
    /// The suggested change must contain this text.
    #[serde(default)]
    flip_contains: Option<String>,
    /// Some trace line, rendered `step result detail` (result in kebab-case, e.g.
    /// `match-conditions not-evaluated ...`), must contain this text.
    #[serde(default)]
    trace_contains: Option<String>,
    /// Whether the trace must say that an inject annotation or label sits on the workload's
    /// own metadata, where injectors ignore it.
    #[serde(default)]
    misplaced: Option<bool>,
    /// Linkerd reason ids (`injection_enable_annotation_absent`, ...): each must appear in the
    /// trace.
    #[serde(default)]
    reasons: Vec<String>,
}

fn pod_kind() -> String {
    "Pod".to_owned()
}

fn scenario_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("expected.yaml").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn check_scenario(dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let expected_text = std::fs::read_to_string(dir.join("expected.yaml")).unwrap();
    let mut expected: Expected = match serde_saphyr::from_str(&expected_text) {
        Ok(e) => e,
        Err(e) => return vec![format!("{name}/expected.yaml: {e}")],
    };
    let workloads = std::mem::take(&mut expected.workloads);
    expected.subjects.extend(workloads);
    let state_path = if dir.join("state").is_dir() {
        dir.join("state")
    } else {
        dir.join("state.yaml")
    };
    let mut manifests = Vec::new();
    let loaded = if expected.options.preflight {
        let mut state = meshdoctor::state::ClusterState::default();
        let opts = LoadOptions {
            lenient_string_maps: true,
            ..LoadOptions::default()
        };
        load_manifests(&mut state, &[state_path], &opts).map(|m| {
            manifests = m;
            state
        })
    } else {
        load_paths(&[state_path], &LoadOptions::default())
    };
    let state = match loaded {
        Ok(s) => s,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let options = EngineOptions {
        istio_version: expected
            .options
            .istio_version
            .as_deref()
            .map(|v| IstioVersion::parse(v).expect("valid version")),
        metadata_name_label: match expected.options.metadata_name_label {
            Some(false) => MetadataNameLabel::Absent,
            _ => MetadataNameLabel::Set,
        },
    };
    let engine = Engine::new(&state, options);
    if !engine.compile_errors.is_empty() {
        problems.push(format!(
            "{name}: webhook compile errors: {:?}",
            engine.compile_errors
        ));
    }
    let subjects = all_subjects(&state, None);
    let mut seen = BTreeSet::new();
    for subject in &subjects {
        let key = (
            subject.target.kind.clone(),
            subject.namespace.clone(),
            subject.target.name.clone(),
        );
        seen.insert(key.clone());
        let Some(exp) = expected
            .subjects
            .iter()
            .find(|e| e.kind == key.0 && e.namespace == key.1 && e.name == key.2)
        else {
            problems.push(format!(
                "{name}: {}/{}/{} is not listed in expected.yaml",
                key.0, key.1, key.2
            ));
            continue;
        };
        let fast = engine.verdict(subject);
        let d = engine.explain(subject);
        let who = format!("{name}: {} {}/{}", key.0, key.1, key.2);
        if fast.inject != d.inject || fast.decisive != d.decisive {
            problems.push(format!("{who}: the traced and untraced decisions differ"));
        }
        if d.inject != exp.inject {
            let trace: Vec<String> = d
                .trace
                .iter()
                .map(|s| format!("  {} {:?} {}", s.step, s.result, s.detail))
                .collect();
            problems.push(format!(
                "{who}: inject = {}, expected {}\n{}",
                d.inject,
                exp.inject,
                trace.join("\n")
            ));
        }
        let mesh = d.mesh.map(|m| m.as_str().to_owned());
        let exp_mesh = exp.mesh.clone();
        if exp.inject && mesh != exp_mesh {
            problems.push(format!("{who}: mesh = {mesh:?}, expected {exp_mesh:?}"));
        }
        if !exp.inject && mesh.is_some() {
            problems.push(format!("{who}: not injected but mesh = {mesh:?}"));
        }
        if let Some(w) = &exp.webhook {
            let got = d.webhook.as_ref().map(|w| w.to_string());
            if got.as_deref() != Some(w.as_str()) {
                problems.push(format!("{who}: webhook = {got:?}, expected {w}"));
            }
        }
        if let Some(r) = &exp.revision
            && d.revision.as_deref() != Some(r.as_str())
        {
            problems.push(format!("{who}: revision = {:?}, expected {r}", d.revision));
        }
        if let Some(dec) = &exp.decisive
            && &d.decisive != dec
        {
            problems.push(format!("{who}: decisive = {}, expected {dec}", d.decisive));
        }
        if !d.trace.iter().any(|s| s.step == d.decisive) {
            problems.push(format!(
                "{who}: decisive step {} is not in the trace",
                d.decisive
            ));
        }
        let wanted = exp.trace_contains.iter().chain(&exp.reasons);
        for t in wanted {
            let lines: Vec<String> = d
                .trace
                .iter()
                .map(|s| {
                    let result = serde_json::to_value(s.result)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    format!("{} {result} {}", s.step, s.detail)
                })
                .collect();
            if !lines.iter().any(|l| l.contains(t.as_str())) {
                problems.push(format!(
                    "{who}: no trace line contains {t:?}:\n  {}",
                    lines.join("\n  ")
                ));
            }
        }
        if let Some(m) = exp.misplaced {
            // Linkerd also ignores linkerd.io/inject as a label, even on the template.
            let said = d
                .trace
                .iter()
                .any(|s| s.step == "workload-metadata" || s.step == "linkerd-inject-label");
            if said != m {
                problems.push(format!(
                    "{who}: trace says the annotation is misplaced: {said}, expected {m}"
                ));
            }
        }
        if let Some(f) = &exp.flip_contains
            && !d
                .flip
                .as_deref()
                .is_some_and(|got| got.contains(f.as_str()))
        {
            problems.push(format!(
                "{who}: flip = {:?}, expected it to contain {f:?}",
                d.flip
            ));
        }
    }
    for e in &expected.subjects {
        if !seen.contains(&(e.kind.clone(), e.namespace.clone(), e.name.clone())) {
            problems.push(format!(
                "{name}: expected.yaml lists {}/{}/{} which is not in the state",
                e.kind, e.namespace, e.name
            ));
        }
    }
    if expected.findings.is_some() || expected.skipped.is_some() {
        problems.extend(check_findings(&name, &state, &engine, &expected, manifests));
    }
    problems
}

/// Runs every built-in check over the scenario and compares with `findings` / `skipped`.
fn check_findings(
    name: &str,
    state: &meshdoctor::state::ClusterState,
    engine: &Engine<'_>,
    expected: &Expected,
    manifests: Vec<meshdoctor::source::offline::ManifestObject>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let known_checks = meshdoctor::checks::builtin()
        .iter()
        .map(|c| meshdoctor::check::doc::parse(c.doc()).unwrap().id)
        .collect();
    let preflight = expected.options.preflight.then(|| {
        std::sync::Arc::new(meshdoctor::preflight::PreflightInputs {
            expect: meshdoctor::preflight::Expectations {
                all: false,
                namespaces: expected.options.expect_injected_in.clone(),
            },
            manifests,
            known_checks,
        })
    });
    let opts = RunOptions {
        now_unix: expected.now.unwrap_or(1_750_000_000),
        cert_warn_days: 30,
        preflight,
        ..RunOptions::default()
    };
    let report = match run_checks(state, engine, &meshdoctor::checks::builtin(), &opts) {
        Ok(r) => r,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    if let Some(want) = &expected.findings {
        let got: BTreeSet<(String, String)> = report
            .findings
            .iter()
            .map(|f| (f.check.clone(), f.object.to_string()))
            .collect();
        let exp: BTreeSet<(String, String)> = want
            .iter()
            .map(|f| (f.check.clone(), f.object.clone()))
            .collect();
        for extra in got.difference(&exp) {
            let f = report
                .findings
                .iter()
                .find(|f| f.check == extra.0 && f.object.to_string() == extra.1)
                .unwrap();
            problems.push(format!(
                "{name}: unexpected finding {} on {}: {}",
                extra.0, extra.1, f.message
            ));
        }
        for missing in exp.difference(&got) {
            problems.push(format!(
                "{name}: missing finding {} on {}",
                missing.0, missing.1
            ));
        }
        for w in want {
            let Some(f) = report
                .findings
                .iter()
                .find(|f| f.check == w.check && f.object.to_string() == w.object)
            else {
                continue;
            };
            if let Some(sev) = &w.severity
                && f.severity.as_str() != sev
            {
                problems.push(format!(
                    "{name}: {} on {}: severity {}, expected {sev}",
                    w.check,
                    w.object,
                    f.severity.as_str()
                ));
            }
            if let Some(text) = &w.message_contains
                && !f.message.contains(text.as_str())
            {
                problems.push(format!(
                    "{name}: {} on {}: message {:?} lacks {text:?}",
                    w.check, w.object, f.message
                ));
            }
            if f.fix.trim().is_empty() || f.evidence.is_empty() {
                problems.push(format!(
                    "{name}: {} on {}: a finding needs evidence and a fix",
                    w.check, w.object
                ));
            }
        }
    }
    if let Some(want) = &expected.skipped {
        let got: BTreeSet<&str> = report.skipped.iter().map(|s| s.check.as_str()).collect();
        let exp: BTreeSet<&str> = want.iter().map(String::as_str).collect();
        if got != exp {
            problems.push(format!("{name}: skipped checks {got:?}, expected {exp:?}"));
        }
    }
    problems
}

/// Every built-in check must fire in some scenario and run silently in another.
#[test]
fn every_check_fires_somewhere_and_stays_silent_somewhere() {
    let mut fired: BTreeSet<String> = BTreeSet::new();
    let mut silent: BTreeSet<String> = BTreeSet::new();
    let ids: Vec<String> = meshdoctor::checks::builtin()
        .iter()
        .map(|c| meshdoctor::check::doc::parse(c.doc()).unwrap().id)
        .collect();
    for dir in scenario_dirs() {
        let text = std::fs::read_to_string(dir.join("expected.yaml")).unwrap();
        let Ok(expected) = serde_saphyr::from_str::<Expected>(&text) else {
            continue;
        };
        let (Some(findings), Some(skipped)) = (&expected.findings, &expected.skipped) else {
            continue;
        };
        for id in &ids {
            if findings.iter().any(|f| &f.check == id) {
                fired.insert(id.clone());
            } else if !skipped.contains(id) {
                silent.insert(id.clone());
            }
        }
    }
    let never_fired: Vec<_> = ids.iter().filter(|i| !fired.contains(*i)).collect();
    let never_silent: Vec<_> = ids.iter().filter(|i| !silent.contains(*i)).collect();
    assert!(
        never_fired.is_empty(),
        "checks with no scenario where they fire: {never_fired:?}"
    );
    assert!(
        never_silent.is_empty(),
        "checks with no scenario where they run and stay silent: {never_silent:?}"
    );
}

#[test]
fn every_fixture_scenario_gives_its_expected_verdicts() {
    let dirs = scenario_dirs();
    assert!(!dirs.is_empty(), "no fixture scenarios found");
    let mut problems = Vec::new();
    let mut subjects = 0;
    for dir in &dirs {
        problems.extend(check_scenario(dir));
        subjects += 1;
    }
    eprintln!("{} scenarios checked", subjects);
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
