//! The test API server as a standalone process, for the live benchmark
//! (`scripts/bench-live.sh`) and for trying meshdoctor or kubectl against a fixture by hand:
//!
//! ```text
//! cargo run --example fake_apiserver -- --fixture fixtures/demo/state --port 8001
//! kubectl --server http://127.0.0.1:8001 get pods -A
//! ```
//!
//! Flags: `--fixture PATH` (repeatable), `--synthetic NAMESPACES:PODS` (adds a generated
//! workload on top of the fixtures), `--latency-ms N` (per request), `--port N` (0 = any; the
//! URL is printed on the first line of stdout). `GET /_fake/log` returns the request log.

#[path = "../tests/support/apiserver.rs"]
mod apiserver;

use std::path::PathBuf;
use std::time::Duration;

fn main() {
    let mut fixtures: Vec<PathBuf> = Vec::new();
    let mut synthetic: Option<(usize, usize)> = None;
    let mut latency = Duration::ZERO;
    let mut port: u16 = 0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next().unwrap_or_else(|| {
                eprintln!("fake_apiserver: {a} needs a value");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--fixture" => fixtures.push(PathBuf::from(value())),
            "--synthetic" => {
                let v = value();
                let parsed = v
                    .split_once(':')
                    .and_then(|(n, p)| Some((n.parse().ok()?, p.parse().ok()?)));
                synthetic = Some(parsed.unwrap_or_else(|| {
                    eprintln!("fake_apiserver: --synthetic NAMESPACES:PODS, got {v}");
                    std::process::exit(2)
                }));
            }
            "--latency-ms" => {
                latency = Duration::from_millis(value().parse().unwrap_or_else(|_| {
                    eprintln!("fake_apiserver: --latency-ms takes a number");
                    std::process::exit(2)
                }))
            }
            "--port" => {
                port = value().parse().unwrap_or_else(|_| {
                    eprintln!("fake_apiserver: --port takes a number");
                    std::process::exit(2)
                })
            }
            other => {
                eprintln!("fake_apiserver: unknown argument {other}");
                std::process::exit(2)
            }
        }
    }
    let mut objects = apiserver::load_objects(&fixtures);
    if let Some((namespaces, pods)) = synthetic {
        objects = apiserver::synthetic(objects, namespaces, pods);
    }
    let count = objects.len();
    let server = apiserver::FakeApiServer::start_on(objects, port);
    server.set_faults(apiserver::Faults {
        latency,
        ..apiserver::Faults::default()
    });
    println!("{}", server.url());
    eprintln!(
        "fake_apiserver: serving {count} objects on {} (latency {latency:?})",
        server.url()
    );
    loop {
        std::thread::park();
    }
}
