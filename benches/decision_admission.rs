//! Benchmarks webhook matching on the hot path: one pod CREATE against the Istio default
//! injector webhooks (four of them, read from Istio's own check-inject test data), without a
//! trace, as `check` does for every pod.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use meshdoctor::admission::{
    AdmissionRequest, MetadataNameLabel, compile_configurations, effective_namespace_labels,
};
use meshdoctor::trace::NoTrace;

const DEFAULT_INJECTOR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/conformance/istio-1.24.6/check-inject/check-inject/default-injector.yaml"
);

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn bench(c: &mut Criterion) {
    let yaml = std::fs::read_to_string(DEFAULT_INJECTOR).expect("conformance data is readable");
    let cfg: MutatingWebhookConfiguration = serde_saphyr::from_str(&yaml).expect("webhook parses");
    let (webhooks, errors) = compile_configurations(&[&cfg]);
    assert!(errors.is_empty() && webhooks.len() == 4);

    // A typical namespace and pod: a few unrelated labels besides the deciding ones.
    let cases = [
        (
            "namespace-enabled",
            labels(&[("istio-injection", "enabled"), ("team", "shop")]),
            labels(&[
                ("app", "web"),
                ("pod-template-hash", "5d9c7b"),
                ("version", "v1"),
            ]),
        ),
        (
            "unlabelled",
            labels(&[("team", "shop")]),
            labels(&[("app", "web"), ("pod-template-hash", "5d9c7b")]),
        ),
        (
            "pod-opt-in",
            labels(&[]),
            labels(&[("app", "web"), ("sidecar.istio.io/inject", "true")]),
        ),
    ];
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1"}});
    for (name, ns_labels, pod_labels) in &cases {
        let eff = effective_namespace_labels("shop", ns_labels, MetadataNameLabel::Set);
        let req = AdmissionRequest::pod_create("shop", "web-1", &pod, Some(pod_labels), Some(&eff));
        c.bench_function(&format!("match 4 istio webhooks / {name}"), |b| {
            b.iter(|| {
                let mut matched = 0u32;
                for w in &webhooks {
                    if w.matches(black_box(&req), &mut NoTrace).is_matched() {
                        matched += 1;
                    }
                }
                black_box(matched)
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
