//! The Prometheus metrics `meshdoctor serve` exports, and how an evaluation updates them.
//!
//! Cardinality is bounded by the cluster's configuration, never by its pods: labels are checks,
//! severities, namespaces (only where a finding or a missing sidecar is), certificates, webhook
//! Services and watched kinds. `docs/monitoring.md` lists every series.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::evaluate::{Evaluation, Scope};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FindingLabels {
    pub check: String,
    pub severity: String,
    pub namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    pub check: String,
    pub severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CertificateLabels {
    pub mesh: String,
    pub namespace: String,
    pub source: String,
    pub subject: String,
    pub role: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub mesh: String,
    pub service: String,
    pub configurations: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PodLabels {
    pub mesh: String,
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NamespaceLabels {
    pub namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScopeLabels {
    pub scope: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Every series, registered once.
pub struct Metrics {
    pub registry: Registry,
    findings: Published<FindingLabels, Gauge>,
    findings_by_check: Published<CheckLabels, Gauge>,
    cert_expiry_seconds: Published<CertificateLabels, FloatGauge>,
    cert_not_after: Published<CertificateLabels, Gauge>,
    ready_endpoints: Published<EndpointLabels, Gauge>,
    not_ready_endpoints: Published<EndpointLabels, Gauge>,
    pods: Published<PodLabels, Gauge>,
    missing_sidecars: Published<NamespaceLabels, Gauge>,
    input_available: Published<KindLabels, Gauge>,
    pub watch_restarts: Family<KindLabels, Counter>,
    pub watch_errors: Family<KindLabels, Counter>,
    evaluations: Family<ScopeLabels, Counter>,
    last_evaluation: Gauge,
    evaluation_seconds: FloatGauge,
    pub ready: Gauge,
    /// Every family's name as scraped (`meshdoctor_pods`; counters gain `_total`).
    families: Vec<String>,
    /// Certificates' notAfter, kept to age `certificate_expiry_seconds` between evaluations.
    not_after: Mutex<Vec<(CertificateLabels, i64)>>,
}

/// A family whose label sets are replaced as a whole by each evaluation: sets that are gone
/// are removed (one at a time, so a scrape never sees the family empty mid-update).
struct Published<L, M> {
    family: Family<L, M>,
    shown: Mutex<HashSet<L>>,
}

impl<L, M> Published<L, M>
where
    L: Clone + Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
    M: Default + Send + Sync + 'static,
    Family<L, M>: prometheus_client::metrics::TypedMetric,
{
    fn new() -> Self {
        Published {
            family: Family::default(),
            shown: Mutex::new(HashSet::new()),
        }
    }

    fn publish(&self, values: impl IntoIterator<Item = (L, impl FnOnce(&M))>) {
        let mut now = HashSet::new();
        for (labels, set) in values {
            set(&self.family.get_or_create(&labels));
            now.insert(labels);
        }
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        for gone in shown.difference(&now) {
            self.family.remove(gone);
        }
        *shown = now;
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("meshdoctor");
        let m = Metrics {
            registry: Registry::default(),
            findings: Published::new(),
            findings_by_check: Published::new(),
            cert_expiry_seconds: Published::new(),
            cert_not_after: Published::new(),
            ready_endpoints: Published::new(),
            not_ready_endpoints: Published::new(),
            pods: Published::new(),
            missing_sidecars: Published::new(),
            input_available: Published::new(),
            watch_restarts: Family::default(),
            watch_errors: Family::default(),
            evaluations: Family::default(),
            last_evaluation: Gauge::default(),
            evaluation_seconds: FloatGauge::default(),
            ready: Gauge::default(),
            not_after: Mutex::new(Vec::new()),
            families: Vec::new(),
        };
        let mut names = Vec::new();
        // Registers a family and remembers its name: an empty family is not in the output.
        macro_rules! family {
            ($name:literal, $help:literal, $metric:expr) => {
                names.push(concat!("meshdoctor_", $name).to_owned());
                registry.register($name, $help, $metric);
            };
        }
        family!(
            "findings",
            "Findings of the current state by check, severity and namespace (\"\" = cluster-scoped); only non-zero series",
            m.findings.family.clone()
        );
        family!(
            "check_findings",
            "Findings of the current state by check and severity, every check of the catalog (zero included)",
            m.findings_by_check.family.clone()
        );
        family!(
            "certificate_expiry_seconds",
            "Seconds until a certificate the injection machinery depends on expires (negative: expired)",
            m.cert_expiry_seconds.family.clone()
        );
        family!(
            "certificate_not_after_timestamp_seconds",
            "The notAfter of a certificate the injection machinery depends on, in seconds since the epoch",
            m.cert_not_after.family.clone()
        );
        family!(
            "webhook_ready_endpoints",
            "Ready endpoints of the Service a mesh injector webhook calls",
            m.ready_endpoints.family.clone()
        );
        family!(
            "webhook_not_ready_endpoints",
            "Not-ready endpoints of the Service a mesh injector webhook calls",
            m.not_ready_endpoints.family.clone()
        );
        family!(
            "pods",
            "Pods by mesh and sidecar state (injected, expected_but_missing, opted_out, outside_mesh)",
            m.pods.family.clone()
        );
        family!(
            "namespace_pods_missing_sidecar",
            "Pods running without the sidecar their injector would add today, per namespace; only non-zero series",
            m.missing_sidecars.family.clone()
        );
        family!(
            "input_available",
            "1 when every watch of a kind has listed it, 0 when some could not (see /readyz)",
            m.input_available.family.clone()
        );
        family!(
            "watch_restarts",
            "Watches that relisted after the first list (410 Gone, a lost connection)",
            m.watch_restarts.clone()
        );
        family!(
            "watch_errors",
            "Errors a watch met (the watch retries with back-off)",
            m.watch_errors.clone()
        );
        family!(
            "evaluations",
            "Evaluations by scope (full, namespaces)",
            m.evaluations.clone()
        );
        family!(
            "last_evaluation_timestamp_seconds",
            "When the last evaluation finished, in seconds since the epoch",
            m.last_evaluation.clone()
        );
        family!(
            "last_evaluation_duration_seconds",
            "How long the last evaluation took",
            m.evaluation_seconds.clone()
        );
        family!(
            "ready",
            "1 once every watch has listed its scope and the first evaluation is done",
            m.ready.clone()
        );
        Metrics {
            registry,
            families: names,
            ..m
        }
    }

    /// Publishes one evaluation. `check_ids` is the catalog, so that a check with no finding
    /// shows 0 rather than no series.
    pub fn record(
        &self,
        e: &Evaluation,
        check_ids: &[String],
        available: &[(String, bool)],
        now_unix: i64,
    ) {
        let mut by_ns: std::collections::HashMap<FindingLabels, i64> = Default::default();
        let mut by_check: std::collections::HashMap<CheckLabels, i64> = Default::default();
        for id in check_ids {
            for severity in ["error", "warning", "info"] {
                by_check.insert(
                    CheckLabels {
                        check: id.clone(),
                        severity: severity.to_owned(),
                    },
                    0,
                );
            }
        }
        for f in &e.report.findings {
            let severity = f.severity.as_str().to_owned();
            let namespace = match (&f.object.namespace, f.object.kind.as_str()) {
                (Some(ns), _) => ns.clone(),
                (None, "Namespace") => f.object.name.clone(),
                (None, _) => String::new(),
            };
            *by_ns
                .entry(FindingLabels {
                    check: f.check.clone(),
                    severity: severity.clone(),
                    namespace,
                })
                .or_default() += 1;
            *by_check
                .entry(CheckLabels {
                    check: f.check.clone(),
                    severity,
                })
                .or_default() += 1;
        }
        self.findings.publish(
            by_ns
                .into_iter()
                .map(|(l, n)| (l, move |g: &Gauge| set(g, n))),
        );
        self.findings_by_check.publish(
            by_check
                .into_iter()
                .map(|(l, n)| (l, move |g: &Gauge| set(g, n))),
        );

        let certs: Vec<(CertificateLabels, i64)> = e
            .certificates
            .iter()
            .map(|c| {
                (
                    CertificateLabels {
                        mesh: c.mesh.to_owned(),
                        namespace: c.plane.clone(),
                        source: c.source.clone(),
                        subject: c.subject.clone(),
                        role: c.role.to_owned(),
                    },
                    c.not_after_unix,
                )
            })
            .collect();
        self.cert_not_after.publish(
            certs
                .iter()
                .map(|(l, t)| (l.clone(), move |g: &Gauge| set(g, *t))),
        );
        *self.not_after.lock().unwrap_or_else(|e| e.into_inner()) = certs;
        self.age_certificates(now_unix);

        let endpoint = |w: &super::evaluate::WatchedEndpoints| EndpointLabels {
            mesh: w.mesh.to_owned(),
            service: w.service.clone(),
            configurations: w.configurations.clone(),
        };
        self.ready_endpoints.publish(e.endpoints.iter().map(|w| {
            let n = count(w.ready);
            (endpoint(w), move |g: &Gauge| set(g, n))
        }));
        self.not_ready_endpoints
            .publish(e.endpoints.iter().map(|w| {
                let n = count(w.not_ready);
                (endpoint(w), move |g: &Gauge| set(g, n))
            }));
        self.pods.publish(e.pods.iter().map(|((mesh, state), n)| {
            let n = count(*n);
            (
                PodLabels {
                    mesh: (*mesh).to_owned(),
                    state: state.as_str().to_owned(),
                },
                move |g: &Gauge| set(g, n),
            )
        }));
        self.missing_sidecars
            .publish(e.missing_by_namespace.iter().map(|(ns, n)| {
                let n = count(*n);
                (
                    NamespaceLabels {
                        namespace: ns.clone(),
                    },
                    move |g: &Gauge| set(g, n),
                )
            }));
        self.input_available
            .publish(available.iter().map(|(kind, ok)| {
                let v = i64::from(*ok);
                (KindLabels { kind: kind.clone() }, move |g: &Gauge| {
                    set(g, v)
                })
            }));
        let scope = match e.scope {
            Scope::Full => "full",
            Scope::Namespaces(_) => "namespaces",
        };
        self.evaluations
            .get_or_create(&ScopeLabels {
                scope: scope.to_owned(),
            })
            .inc();
        self.last_evaluation.set(now_unix);
        self.evaluation_seconds.set(e.duration.as_secs_f64());
    }

    /// Recomputes the seconds left on each certificate: time passes without any change.
    pub fn age_certificates(&self, now_unix: i64) {
        let certs = self.not_after.lock().unwrap_or_else(|e| e.into_inner());
        #[allow(clippy::cast_precision_loss)] // seconds until 2^53 are exact
        self.cert_expiry_seconds.publish(certs.iter().map(|(l, t)| {
            let left = (*t - now_unix) as f64;
            (l.clone(), move |g: &FloatGauge| {
                g.set(left);
            })
        }));
    }

    /// The names of every family, including those with no series yet.
    pub fn family_names(&self) -> &[String] {
        &self.families
    }

    /// The text exposition format (OpenMetrics), as `/metrics` serves it.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

fn set(g: &Gauge, v: i64) {
    g.set(v);
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
