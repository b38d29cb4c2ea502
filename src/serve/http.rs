//! The HTTP side of `meshdoctor serve`: `/metrics` (OpenMetrics text), `/healthz` (the process
//! answers), `/readyz` (every watch has listed and the first evaluation is done; the body says
//! what is missing or unreadable) and `/findings` (the `check -o json` document of the current
//! state).

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::metrics::Metrics;

/// What the monitor publishes and the handlers read.
pub struct Shared {
    pub metrics: Arc<Metrics>,
    published: RwLock<Published>,
}

#[derive(Default)]
struct Published {
    /// The last evaluation's report, as JSON; `None` before the first.
    findings: Option<String>,
    /// Watches that have not listed their scope yet.
    waiting: Vec<String>,
    /// Kinds that could not be read, and why.
    unavailable: Vec<String>,
}

impl Shared {
    pub fn new(metrics: Metrics) -> Shared {
        Shared {
            metrics: Arc::new(metrics),
            published: RwLock::new(Published::default()),
        }
    }

    pub fn set_waiting(&self, waiting: Vec<String>) {
        self.write().waiting = waiting;
    }

    pub fn publish(&self, findings: String, unavailable: Vec<String>) {
        let mut p = self.write();
        p.findings = Some(findings);
        p.waiting.clear();
        p.unavailable = unavailable;
        self.metrics.ready.set(1);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Published> {
        self.published.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Published> {
        self.published.read().unwrap_or_else(|e| e.into_inner())
    }
}

pub async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/findings", get(findings))
        .with_state(shared);
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("meshdoctor: the metrics server stopped: {e}");
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.encode(),
    )
        .into_response()
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let p = shared.read();
    let mut body = String::new();
    for w in &p.waiting {
        body.push_str(&format!("waiting for the first list of {w}\n"));
    }
    for u in &p.unavailable {
        body.push_str(&format!("unavailable: {u}\n"));
    }
    if p.findings.is_some() {
        body.insert_str(0, "ok\n");
        (StatusCode::OK, body).into_response()
    } else {
        if p.waiting.is_empty() {
            body.push_str("waiting for the first evaluation\n");
        }
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

async fn findings(State(shared): State<Arc<Shared>>) -> Response {
    match &shared.read().findings {
        Some(json) => ([(header::CONTENT_TYPE, "application/json")], json.clone()).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no evaluation yet: the watches are still listing\n",
        )
            .into_response(),
    }
}
