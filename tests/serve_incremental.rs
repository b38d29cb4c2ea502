//! `meshdoctor serve` re-runs only the namespaces a change touches. This proves the merged
//! result equal to a full evaluation — findings, skips, summary and pod counts — after every
//! change of a long random sequence, on every fixture scenario's state, and the full
//! evaluation equal to what `check -A` reports.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use meshdoctor::check::{RunOptions, run_checks};
use meshdoctor::engine::{Engine, EngineOptions};
use meshdoctor::serve::evaluate::{Evaluation, Evaluator};
use meshdoctor::serve::mirror::{AnyObject, Change, Dirty, Mirror, changes_for};
use meshdoctor::source::offline::{LoadOptions, load_paths};
use meshdoctor::state::ClusterState;

/// A fixed clock: the fixtures' certificates are judged on one day, whatever today is.
const NOW: i64 = 1_780_000_000;

/// The fixture states that load as cluster state (the preflight scenarios hold manifests
/// with values only a manifest reader accepts).
fn loadable_states() -> Vec<(PathBuf, ClusterState)> {
    fixture_states()
        .into_iter()
        .filter_map(|p| {
            let state = load_paths(std::slice::from_ref(&p), &LoadOptions::default()).ok()?;
            Some((p, state))
        })
        .collect()
}

fn fixture_states() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures/")
        .filter_map(Result::ok)
        .flat_map(|e| [e.path().join("state.yaml"), e.path().join("state")])
        .filter(|p| p.exists())
        .collect();
    out.sort();
    out
}

fn run_options() -> RunOptions {
    RunOptions {
        now_unix: NOW,
        cert_warn_days: 30,
        ..RunOptions::default()
    }
}

fn evaluator() -> Evaluator {
    Evaluator::new(
        meshdoctor::checks::builtin(),
        EngineOptions::default(),
        run_options(),
    )
}

/// A full evaluation from scratch of `state`, as a freshly started `serve` would make.
fn full(state: &ClusterState) -> Evaluation {
    let mut mirror = Mirror::new();
    for c in changes_for(state) {
        mirror.apply(c);
    }
    let dirty = mirror.take_dirty();
    assert!(dirty.everything);
    evaluator()
        .evaluate(&mut mirror.state, &dirty, NOW)
        .expect("evaluate")
}

/// A report as JSON without evidence locations: the watch gives every object the origin
/// `live`, the fixture files give `file:line`.
fn comparable(report: &meshdoctor::check::CheckReport) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("location");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(report).unwrap();
    strip(&mut v);
    v
}

/// Fails naming the first finding that differs, not two whole reports.
fn assert_same_report(a: &serde_json::Value, b: &serde_json::Value, what: &str) {
    if a == b {
        return;
    }
    let list = |v: &serde_json::Value| v["findings"].as_array().cloned().unwrap_or_default();
    let (fa, fb) = (list(a), list(b));
    let only_a: Vec<_> = fa.iter().filter(|f| !fb.contains(f)).collect();
    let only_b: Vec<_> = fb.iter().filter(|f| !fa.contains(f)).collect();
    panic!(
        "{what}: reports differ\n only left: {}\n only right: {}\n skipped: {} vs {}",
        serde_json::to_string(&only_a).unwrap(),
        serde_json::to_string(&only_b).unwrap(),
        a["skipped"],
        b["skipped"]
    );
}

fn same(a: &Evaluation, b: &Evaluation, what: &str) {
    assert_same_report(&comparable(&a.report), &comparable(&b.report), what);
    assert_eq!(a.pods, b.pods, "{what}: pod counts differ");
    assert_eq!(
        a.missing_by_namespace, b.missing_by_namespace,
        "{what}: missing sidecars differ"
    );
}

/// A small deterministic generator (the sequence must be the same on every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from((self.0 >> 33) % (n.max(1) as u64)).unwrap_or(0)
    }
}

fn with_annotation(meta: &mut ObjectMeta, key: &str, value: Option<&str>) {
    let a = meta.annotations.get_or_insert_with(Default::default);
    match value {
        Some(v) => a.insert(key.to_owned(), v.to_owned()),
        None => a.remove(key),
    };
}

fn with_label(meta: &mut ObjectMeta, key: &str, value: Option<&str>) {
    let l = meta.labels.get_or_insert_with(Default::default);
    match value {
        Some(v) => l.insert(key.to_owned(), v.to_owned()),
        None => l.remove(key),
    };
}

/// One random change of the kinds a running cluster sees most: pods opting in and out,
/// created and deleted, namespaces labelled and unlabelled, and now and then a webhook edit.
fn random_change(state: &ClusterState, rng: &mut Lcg, step: usize) -> Option<Change> {
    let pods: Vec<&Pod> = state.pods.iter().map(|o| &o.obj).collect();
    let namespaces: Vec<&Namespace> = state.namespaces.iter().map(|o| &o.obj).collect();
    let values = [Some("true"), Some("false"), Some("enabled"), None];
    match rng.next(6) {
        0 if !pods.is_empty() => {
            let mut p = pods[rng.next(pods.len())].clone();
            let v = values[rng.next(values.len())];
            with_annotation(&mut p.metadata, "sidecar.istio.io/inject", v);
            with_annotation(&mut p.metadata, "linkerd.io/inject", v.map(|_| "disabled"));
            Some(Change::Apply(AnyObject::from(p)))
        }
        1 if !pods.is_empty() => Some(Change::Delete(AnyObject::from(
            pods[rng.next(pods.len())].clone(),
        ))),
        2 if !pods.is_empty() => {
            let mut p = pods[rng.next(pods.len())].clone();
            p.metadata.name = Some(format!("copy-{step}"));
            if rng.next(2) == 0 {
                p.metadata.namespace = Some(format!("new-{}", rng.next(3)));
            }
            Some(Change::Apply(AnyObject::from(p)))
        }
        3 if !namespaces.is_empty() => {
            let mut n = namespaces[rng.next(namespaces.len())].clone();
            let v = [Some("enabled"), Some("disabled"), None][rng.next(3)];
            with_label(&mut n.metadata, "istio-injection", v);
            Some(Change::Apply(AnyObject::from(n)))
        }
        4 => {
            let name = format!("new-{}", rng.next(3));
            let mut n = Namespace {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            };
            with_label(&mut n.metadata, "kubernetes.io/metadata.name", Some(&name));
            if rng.next(2) == 0 {
                with_label(&mut n.metadata, "istio-injection", Some("enabled"));
            }
            Some(Change::Apply(AnyObject::from(n)))
        }
        _ => {
            let mwcs: Vec<_> = state.mutating_webhooks.iter().map(|o| &o.obj).collect();
            if mwcs.is_empty() {
                return None;
            }
            let mut m = mwcs[rng.next(mwcs.len())].clone();
            for w in m.webhooks.iter_mut().flatten() {
                w.failure_policy = Some(
                    if w.failure_policy.as_deref() == Some("Ignore") {
                        "Fail"
                    } else {
                        "Ignore"
                    }
                    .to_owned(),
                );
            }
            Some(Change::Apply(AnyObject::from(m)))
        }
    }
}

#[test]
fn a_full_evaluation_reports_what_check_reports() {
    let states = loadable_states();
    assert!(states.len() >= 40, "fixture states: {}", states.len());
    for (path, state) in states {
        let mut sorted = state.clone();
        sorted.sort();
        let engine = Engine::new(&sorted, EngineOptions::default());
        let report = run_checks(
            &sorted,
            &engine,
            &meshdoctor::checks::builtin(),
            &run_options(),
        )
        .unwrap();
        let served = full(&state);
        assert_same_report(
            &comparable(&report),
            &comparable(&served.report),
            &path.display().to_string(),
        );
    }
}

#[test]
fn namespace_scoped_reevaluation_equals_a_full_one_after_every_change() {
    let mut changes_applied = 0;
    let mut scoped_runs = 0;
    for (i, (path, state)) in loadable_states().into_iter().enumerate() {
        let mut mirror = Mirror::new();
        for c in changes_for(&state) {
            mirror.apply(c);
        }
        let mut live = evaluator();
        let dirty = mirror.take_dirty();
        live.evaluate(&mut mirror.state, &dirty, NOW).unwrap();
        let mut rng = Lcg(0x5eed + i as u64);
        for step in 0..25 {
            let Some(change) = random_change(&mirror.state, &mut rng, step) else {
                continue;
            };
            let what = format!("{} step {step}: {change:?}", path.display());
            mirror.apply(change);
            changes_applied += 1;
            let dirty: Dirty = mirror.take_dirty();
            if !dirty.everything {
                scoped_runs += 1;
            }
            let incremental = live.evaluate(&mut mirror.state, &dirty, NOW).unwrap();
            same(&incremental, &full(&mirror.state), &what);
        }
    }
    println!(
        "serve: {changes_applied} changes, {scoped_runs} re-evaluated by namespace, all equal to a full evaluation"
    );
    assert!(
        scoped_runs > changes_applied / 3,
        "most changes stay in one namespace"
    );
}

/// A watch whose list was forbidden leaves its failed request in the evaluated report, with
/// the namespace and status the server gave, as `check -o json`'s `unavailable` list has it.
#[test]
fn a_forbidden_watch_is_listed_as_an_unavailable_read() {
    use meshdoctor::check::unavailable::UnreadInput;
    use meshdoctor::state::Kind;
    let mut mirror = Mirror::new();
    mirror.apply(Change::Unavailable {
        kind: Kind::Secret,
        namespace: Some("istio-system".to_owned()),
        reason: "cannot list secrets in istio-system: forbidden".to_owned(),
        read: UnreadInput {
            kind: "Secret".to_owned(),
            namespace: Some("istio-system".to_owned()),
            request: "list secrets in istio-system".to_owned(),
            status: Some(403),
            reason: "secrets is forbidden".to_owned(),
        },
    });
    let dirty = mirror.take_dirty();
    let evaluation = evaluator()
        .evaluate(&mut mirror.state, &dirty, NOW)
        .expect("evaluate");
    let unavailable = &evaluation.report.unavailable;
    assert_eq!(unavailable.len(), 1, "{unavailable:?}");
    assert_eq!(unavailable[0].namespace.as_deref(), Some("istio-system"));
    assert_eq!(unavailable[0].status, Some(403));
}
