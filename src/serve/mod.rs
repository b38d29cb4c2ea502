//! `meshdoctor serve`: the checks as a monitor. Watches keep the injection-relevant state
//! current ([`watch`] → [`mirror`]), changes are gathered for a moment and then re-evaluated
//! only as far as they reach ([`evaluate`]), and the results are served as Prometheus
//! metrics and as the `check -o json` document ([`http`], [`metrics`]).
//!
//! It only reads: get, list and watch, never a write.

pub mod evaluate;
mod http;
pub mod metrics;
pub mod mirror;
mod watch;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, LimitRange, Namespace, Node, Pod, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::check::RunOptions;
use crate::cli::Failure;
use crate::cli::args::{GlobalArgs, ServeArgs};
use crate::source::live::{Cluster, LiveError, LiveOptions};
use crate::state::{Kind, KindAvailability, plural};

use evaluate::Evaluator;
use http::Shared;
use metrics::Metrics;
use mirror::{Change, Mirror};

/// Kinds read only in the control-plane namespaces (as `check`'s live mode reads them): the
/// mesh ConfigMaps and the CA Secrets. Every other kind is watched cluster-wide.
const CONTROL_PLANE_ONLY: [Kind; 2] = [Kind::ConfigMap, Kind::Secret];

/// How often the seconds left on each certificate are recomputed between evaluations.
const CERTIFICATE_AGEING: Duration = Duration::from_secs(15);

pub fn run(global: &GlobalArgs, args: &ServeArgs) -> Result<(), Failure> {
    let checks = crate::check::user::catalog(&[]).map_err(|e| Failure::Usage(e.to_string()))?;
    let check_ids: Vec<String> = checks
        .iter()
        .filter_map(|c| crate::check::doc::parse(c.doc()).ok().map(|d| d.id))
        .filter(|id| (args.only.is_empty() || args.only.contains(id)) && !args.skip.contains(id))
        .collect();
    for id in args.only.iter().chain(&args.skip) {
        if !checks
            .iter()
            .any(|c| crate::check::doc::parse(c.doc()).is_ok_and(|d| &d.id == id))
        {
            return Err(Failure::Usage(format!(
                "unknown check \"{id}\" (see `meshdoctor checks`)"
            )));
        }
    }
    let addr = parse_listen_addr(&args.metrics_addr).map_err(Failure::Usage)?;
    let mut options = crate::cli::common::engine_options(global)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Unreachable(format!("cannot start the I/O runtime: {e}")))?;
    runtime.block_on(async move {
        let cluster = Cluster::connect(LiveOptions {
            kubeconfig: args.kubeconfig.clone(),
            context: args.context.clone(),
            ..LiveOptions::default()
        })
        .await
        .map_err(live_failure)?;
        if let Ok(info) = cluster.client().apiserver_version().await {
            options.metadata_name_label =
                crate::admission::MetadataNameLabel::for_server_version(&info.major, &info.minor);
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Failure::Usage(format!("--metrics-addr {}: {e}", args.metrics_addr)))?;
        let local = listener
            .local_addr()
            .map_err(|e| Failure::Usage(format!("--metrics-addr {}: {e}", args.metrics_addr)))?;
        eprintln!(
            "meshdoctor: watching {}; serving http://{local}/metrics, /healthz, /readyz, /findings",
            cluster.describe()
        );
        let shared = Arc::new(Shared::new(Metrics::new()));
        tokio::spawn(http::serve(listener, Arc::clone(&shared)));
        let run = RunOptions {
            namespace: None,
            only: args.only.clone(),
            skip: args.skip.clone(),
            now_unix: crate::cli::check::now_unix(),
            cert_warn_days: args.cert_expiry_days,
            preflight: None,
        };
        let evaluator = Evaluator::new(checks, options, run);
        Monitor {
            client: cluster.client().clone(),
            shared,
            evaluator,
            check_ids,
            debounce: args.debounce,
            resync: args.resync,
        }
        .run()
        .await
    })
}

/// The loop that owns the state: it applies changes, and evaluates when they settle.
struct Monitor {
    client: kube::Client,
    shared: Arc<Shared>,
    evaluator: Evaluator,
    check_ids: Vec<String>,
    debounce: Duration,
    resync: Duration,
}

impl Monitor {
    async fn run(mut self) -> Result<(), Failure> {
        let (tx, mut rx) = mpsc::channel::<Change>(4096);
        let mut mirror = Mirror::new();
        let mut started: BTreeSet<(Kind, Option<String>)> = BTreeSet::new();
        for kind in Kind::ALL {
            if !CONTROL_PLANE_ONLY.contains(&kind) {
                self.start(kind, None, &tx, &mut started);
            }
        }
        self.start_control_plane(&mirror, &tx, &mut started);

        let mut synced = false;
        let mut deadline: Option<Instant> = None;
        let mut resync = tokio::time::interval(if self.resync.is_zero() {
            Duration::from_secs(u64::from(u32::MAX))
        } else {
            self.resync
        });
        resync.tick().await;
        let mut ageing = tokio::time::interval(CERTIFICATE_AGEING);
        loop {
            tokio::select! {
                change = rx.recv() => {
                    let Some(change) = change else { return Ok(()) };
                    mirror.apply(change);
                    while let Ok(more) = rx.try_recv() {
                        mirror.apply(more);
                    }
                    self.start_control_plane(&mirror, &tx, &mut started);
                    if !synced {
                        let waiting = waiting_for(&mirror, &started);
                        self.shared.set_waiting(waiting.clone());
                        if waiting.is_empty() {
                            // The first evaluation goes as soon as every watch has listed.
                            synced = true;
                            deadline = Some(Instant::now());
                        }
                    } else if mirror.is_dirty() && deadline.is_none() {
                        deadline = Some(Instant::now() + self.debounce);
                    }
                }
                () = sleep_until(deadline), if deadline.is_some() => {
                    deadline = None;
                    self.evaluate(&mut mirror);
                }
                _ = resync.tick() => {
                    if synced {
                        mirror.mark_all_dirty();
                        deadline.get_or_insert_with(Instant::now);
                    }
                }
                _ = ageing.tick() => {
                    self.shared.metrics.age_certificates(crate::cli::check::now_unix());
                }
            }
        }
    }

    fn evaluate(&mut self, mirror: &mut Mirror) {
        let dirty = mirror.take_dirty();
        let now = crate::cli::check::now_unix();
        let evaluator = &mut self.evaluator;
        let result =
            tokio::task::block_in_place(|| evaluator.evaluate(&mut mirror.state, &dirty, now));
        match result {
            Ok(evaluation) => {
                let available: Vec<(String, bool)> = mirror
                    .state
                    .loaded_kinds
                    .iter()
                    .map(|(k, a)| (plural(*k), *a == KindAvailability::Loaded))
                    .collect();
                self.shared
                    .metrics
                    .record(&evaluation, &self.check_ids, &available, now);
                let unavailable: Vec<String> = mirror
                    .state
                    .loaded_kinds
                    .values()
                    .filter_map(|a| match a {
                        KindAvailability::Unavailable(why) => Some(why.clone()),
                        KindAvailability::Loaded => None,
                    })
                    .collect();
                self.shared
                    .publish(crate::report::to_json(&evaluation.report), unavailable);
            }
            // Only an unknown --check id fails the runner, and that was refused at start.
            Err(e) => eprintln!("meshdoctor: evaluation failed: {e}"),
        }
    }

    /// Watches for the control-plane-only kinds in every control-plane namespace known so far
    /// (the defaults once the namespace watch has seen them, each namespace a mesh webhook's
    /// Service names).
    fn start_control_plane(
        &self,
        mirror: &Mirror,
        tx: &mpsc::Sender<Change>,
        started: &mut BTreeSet<(Kind, Option<String>)>,
    ) {
        for ns in mirror.control_planes_to_watch() {
            for kind in CONTROL_PLANE_ONLY {
                self.start(kind, Some(ns.clone()), tx, started);
            }
        }
    }

    fn start(
        &self,
        kind: Kind,
        namespace: Option<String>,
        tx: &mpsc::Sender<Change>,
        started: &mut BTreeSet<(Kind, Option<String>)>,
    ) {
        if !started.insert((kind, namespace.clone())) {
            return;
        }
        let (t, m) = (tx.clone(), Arc::clone(&self.shared.metrics));
        let c = self.client.clone();
        let ns = namespace;
        // Cluster-wide kinds list everything; the control-plane-only kinds one namespace each,
        // so that a namespaced Role is enough for them.
        macro_rules! all {
            ($ty:ty) => {
                spawn(watch::watch::<$ty>(kube::Api::all(c), kind, None, t, m))
            };
        }
        macro_rules! scoped {
            ($ty:ty) => {
                match ns {
                    Some(n) => spawn(watch::watch::<$ty>(
                        kube::Api::namespaced(c, &n),
                        kind,
                        Some(n),
                        t,
                        m,
                    )),
                    None => spawn(watch::watch::<$ty>(kube::Api::all(c), kind, None, t, m)),
                }
            };
        }
        match kind {
            Kind::Namespace => all!(Namespace),
            Kind::Pod => all!(Pod),
            Kind::Deployment => all!(Deployment),
            Kind::StatefulSet => all!(StatefulSet),
            Kind::DaemonSet => all!(DaemonSet),
            Kind::ReplicaSet => all!(ReplicaSet),
            Kind::Job => all!(Job),
            Kind::CronJob => all!(CronJob),
            Kind::MutatingWebhookConfiguration => all!(MutatingWebhookConfiguration),
            Kind::ConfigMap => scoped!(ConfigMap),
            Kind::Secret => scoped!(Secret),
            Kind::Service => all!(Service),
            Kind::Endpoints => all!(Endpoints),
            Kind::EndpointSlice => all!(EndpointSlice),
            Kind::Event => all!(Event),
            Kind::NetworkPolicy => all!(NetworkPolicy),
            Kind::ResourceQuota => all!(ResourceQuota),
            Kind::LimitRange => all!(LimitRange),
            Kind::Node => all!(Node),
        }
    }
}

fn spawn(f: impl std::future::Future<Output = ()> + Send + 'static) {
    tokio::spawn(f);
}

/// The watches that have not listed their scope yet, as `/readyz` names them.
fn waiting_for(mirror: &Mirror, started: &BTreeSet<(Kind, Option<String>)>) -> Vec<String> {
    started
        .iter()
        .filter(|(k, ns)| !mirror.has_listed(*k, ns.as_deref()))
        .map(|(k, ns)| match ns {
            Some(ns) => format!("{} in {ns}", plural(*k)),
            None => plural(*k),
        })
        .collect()
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// `:9090` (every interface), `127.0.0.1:0`, `[::1]:9090`.
fn parse_listen_addr(text: &str) -> Result<std::net::SocketAddr, String> {
    let full = match text.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => text.to_owned(),
    };
    full.parse().map_err(|_| {
        format!("--metrics-addr: \"{text}\" is not HOST:PORT (e.g. :9090, 127.0.0.1:9090)")
    })
}

fn live_failure(e: LiveError) -> Failure {
    match e {
        LiveError::Config(m) => Failure::Usage(m),
        e @ (LiveError::Unreachable { .. } | LiveError::Refused(_)) => {
            Failure::Unreachable(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_read_as_prometheus_exporters_write_them() {
        assert_eq!(
            parse_listen_addr(":9090").unwrap().to_string(),
            "0.0.0.0:9090"
        );
        assert_eq!(
            parse_listen_addr("127.0.0.1:0").unwrap().to_string(),
            "127.0.0.1:0"
        );
        assert_eq!(
            parse_listen_addr("[::1]:9100").unwrap().to_string(),
            "[::1]:9100"
        );
        assert!(parse_listen_addr("9090").is_err());
    }
}
