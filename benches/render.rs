//! Render + strategic merge + post-processing + JSON patch for Istio's default sidecar
//! template on `hello.yaml`'s pod (Istio 1.24.6 conformance data), templates parsed once.
//!
//! Measured twice: wall time (criterion's default) and the thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), because on a shared, loaded machine wall time also counts the
//! time other processes hold the core; the CPU-time figure is the cost "per pod on one core".

use criterion::{Criterion, criterion_group, criterion_main};
use meshdoctor::render::{InjectContext, Injector, json_patch};
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Duration;

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

/// Nanoseconds of CPU time this thread has used (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u64::try_from(ts.tv_nsec).ok()?;
    Some(secs * 1_000_000_000 + nanos)
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
    let run = || {
        let Ok(mutated) = injector.inject_pod(black_box(&pod), &ctx) else {
            return Value::Null;
        };
        json_patch(&pod, &mutated)
    };
    c.bench_function("inject_pod+json_patch default sidecar (hello.yaml)", |b| {
        b.iter(run)
    });
    if thread_cpu_ns().is_some() {
        c.bench_function(
            "inject_pod+json_patch default sidecar (hello.yaml), thread CPU time",
            |b| {
                b.iter_custom(|iters| {
                    let start = thread_cpu_ns().unwrap_or(0);
                    for _ in 0..iters {
                        black_box(run());
                    }
                    Duration::from_nanos(thread_cpu_ns().unwrap_or(0).saturating_sub(start))
                })
            },
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
