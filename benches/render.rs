//! Render + strategic merge + post-processing + JSON patch for Istio's default sidecar
//! template on `hello.yaml`'s pod (Istio 1.24.6 conformance data), templates parsed once.

use criterion::{Criterion, criterion_group, criterion_main};
use meshdoctor::render::{InjectContext, Injector, json_patch};
use serde_json::{Value, json};
use std::hint::black_box;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/conformance/istio-1.24.6"
);

fn read(rel: &str) -> Option<String> {
    std::fs::read_to_string(format!("{DATA}/{rel}")).ok()
}

fn hello_pod() -> Value {
    json!({
        "metadata": {"generateName": "hello-fake-", "labels": {"app": "hello", "tier": "backend",
            "track": "stable", "pod-template-hash": "fake"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "hello-fake", "controller": true}]},
        "spec": {"containers": [{"name": "hello", "image": "fake.docker.io/google-samples/hello-go-gke:1.0",
            "ports": [{"name": "http", "containerPort": 80}]}]}
    })
}

fn bench(c: &mut Criterion) {
    let (Some(config), Some(values), Some(mesh)) = (
        read("inputs/default.template.gen.yaml"),
        read("inputs/default.values.gen.yaml"),
        read("inputs/default.mesh.gen.yaml"),
    ) else {
        eprintln!("conformance data absent; benchmark skipped");
        return;
    };
    let injector = match Injector::from_configmaps(&config, &values, Some(&mesh)) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("injector: {e}");
            return;
        }
    };
    let pod = hello_pod();
    let ctx = InjectContext {
        revision: "default".into(),
        env: Some(Default::default()),
        ..Default::default()
    };
    c.bench_function("inject_pod+json_patch default sidecar (hello.yaml)", |b| {
        b.iter(|| {
            let Ok(mutated) = injector.inject_pod(black_box(&pod), &ctx) else {
                return Value::Null;
            };
            json_patch(&pod, &mutated)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
