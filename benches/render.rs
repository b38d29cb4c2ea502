//! Render + strategic merge + post-processing + JSON patch for Istio's default sidecar
//! template on `hello.yaml`'s pod (Istio 1.24.6 conformance data), templates parsed once.
//! Next to it, Linkerd: meshdoctor's own build of the proxy injector's patch for one pod of
//! Linkerd edge-26.8.3's webhook test data, with the chart's default values parsed once, and
//! the patch applied (what `explain --show-pod` does per pod).
//!
//! Measured twice: wall time (criterion's default) and the thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), because on a shared, loaded machine wall time also counts the
//! time other processes hold the core; the CPU-time figure is the cost "per pod on one core".

use criterion::{Criterion, criterion_group, criterion_main};
use meshdoctor::render::{InjectContext, Injector, json_patch};
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Duration;

const LINKERD_DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/conformance/linkerd-edge-26.8.3"
);
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
    wall_and_cpu(c, "inject_pod+json_patch default sidecar (hello.yaml)", run);
}

/// Times `run` in wall time and, where available, in this thread's CPU time.
fn wall_and_cpu<T>(c: &mut Criterion, name: &str, run: impl Fn() -> T) {
    c.bench_function(name, |b| b.iter(&run));
    if thread_cpu_ns().is_some() {
        c.bench_function(&format!("{name}, thread CPU time"), |b| {
            b.iter_custom(|iters| {
                let start = thread_cpu_ns().unwrap_or(0);
                for _ in 0..iters {
                    black_box(run());
                }
                Duration::from_nanos(thread_cpu_ns().unwrap_or(0).saturating_sub(start))
            })
        });
    }
}

fn bench_linkerd(c: &mut Criterion) {
    use meshdoctor::mesh::linkerd::render::webhook_injection_patch;
    use meshdoctor::mesh::linkerd::render::{Origin, Values, Workload, apply_patch};
    let read = |rel: &str| std::fs::read_to_string(format!("{LINKERD_DATA}/{rel}")).ok();
    let (Some(values), Some(pod)) = (
        read("values/linkerd-control-plane.values.yaml"),
        read("proxy-injector/pod-inject-enabled.yaml"),
    ) else {
        eprintln!("linkerd conformance data absent; benchmark skipped");
        return;
    };
    let parsed = serde_saphyr::from_str::<Value>(&values)
        .ok()
        .and_then(|doc| Values::from_document(&doc).ok());
    let (Some(mut values), Ok(pod)) = (parsed, serde_saphyr::from_str::<Value>(&pod)) else {
        eprintln!("linkerd values or pod do not parse; benchmark skipped");
        return;
    };
    values.linkerd_version = "edge-26.8.3".into();
    values.identity_trust_anchors_pem = "IdentityTrustAnchorsPEM".into();
    let run = || {
        let Some(w) = Workload::from_object(
            black_box(&pod),
            "linkerd",
            Some(("deployment", "owner-deployment")),
            Origin::Webhook,
        ) else {
            return Value::Null;
        };
        match webhook_injection_patch(&values, w, "linkerd", "edge-26.8.3") {
            Ok(patch) => apply_patch(&pod, &patch.ops).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    };
    // A render that fails would time nothing useful: say so instead.
    if run().is_null() {
        eprintln!("linkerd render failed; benchmark skipped");
        return;
    }
    wall_and_cpu(
        c,
        "linkerd webhook patch + apply (pod-inject-enabled.yaml)",
        run,
    );
}

criterion_group!(benches, bench, bench_linkerd);
criterion_main!(benches);
