//! Benchmark of the injection decision over a synthetic cluster: the default Istio webhooks
//! plus a canary revision, namespaces labelled every way the truth tables distinguish, and pods
//! with and without inject labels. Target (issue 2): at least 1,000,000 pod verdicts per second
//! on one core.

use std::collections::BTreeMap;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use meshdoctor::engine::{Engine, EngineOptions};
use meshdoctor::source::offline::{LoadOptions, load_text};
use meshdoctor::state::ClusterState;
use meshdoctor::workload::all_subjects;

const WEBHOOKS: &str = include_str!("../fixtures/check-namespace-not-selected/state.yaml");

fn synthetic_state(namespaces: usize, pods_per_namespace: usize) -> ClusterState {
    let mut state = ClusterState::default();
    load_text(&mut state, "webhooks", WEBHOOKS, &LoadOptions::default()).expect("fixture loads");
    let ns_labels = [
        vec![("istio-injection", "enabled")],
        vec![("istio.io/rev", "default")],
        vec![("istio-injection", "disabled")],
        vec![],
    ];
    let pod_labels = [
        vec![],
        vec![("sidecar.istio.io/inject", "false")],
        vec![("sidecar.istio.io/inject", "true")],
        vec![("app", "x")],
    ];
    for n in 0..namespaces {
        let name = format!("ns-{n}");
        let mut ns = k8s_openapi::api::core::v1::Namespace::default();
        ns.metadata.name = Some(name.clone());
        ns.metadata.labels = Some(
            ns_labels[n % ns_labels.len()]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        state
            .namespaces
            .insert(ns, meshdoctor::origin::Origin::Derived);
        for p in 0..pods_per_namespace {
            let mut pod = k8s_openapi::api::core::v1::Pod::default();
            pod.metadata.name = Some(format!("pod-{p}"));
            pod.metadata.namespace = Some(name.clone());
            let labels: BTreeMap<String, String> = pod_labels[p % pod_labels.len()]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            pod.metadata.labels = Some(labels);
            pod.spec = Some(Default::default());
            state.pods.insert(pod, meshdoctor::origin::Origin::Derived);
        }
    }
    state
}

fn bench_decision(c: &mut Criterion) {
    let state = synthetic_state(200, 50);
    let engine = Engine::new(&state, EngineOptions::default());
    let subjects = all_subjects(&state, None);
    let injected = subjects.iter().filter(|s| engine.verdict(s).inject).count();
    assert!(
        injected > 0 && injected < subjects.len(),
        "the synthetic state mixes verdicts"
    );
    let mut group = c.benchmark_group("decision");
    group.throughput(Throughput::Elements(subjects.len() as u64));
    group.bench_function("verdict_10k_pods", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for s in &subjects {
                n += usize::from(engine.verdict(s).inject);
            }
            std::hint::black_box(n)
        })
    });
    group.finish();
    c.bench_function("explain_one_pod", |b| {
        b.iter(|| std::hint::black_box(engine.explain(&subjects[0])))
    });
}

criterion_group!(benches, bench_decision);
criterion_main!(benches);
