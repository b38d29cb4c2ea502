//! Re-running the checks and verdicts over the watched state, only as far as the changes
//! reach.
//!
//! The check runner answers for one namespace (`check -n NS`) or for all of them. A full run
//! is split by where each finding belongs: a finding about an object in namespace N (or about
//! the Namespace N itself) belongs to N, every other finding (webhook configurations,
//! cluster-wide machinery) to the cluster. After that, a change confined to namespace N re-runs
//! the checks for N alone and replaces N's share: the cost follows the namespaces that changed,
//! not the cluster. `tests/serve_incremental.rs` proves the merged result equal to a full
//! `check -A` after every change of a long random sequence.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::check::unavailable::{PartialInput, UnreadInput};
use crate::check::{
    Check, CheckReport, Finding, RunOptions, Severity, Skipped, Summary, run_checks,
};
use crate::checks::cert_expiry::mesh_certificates;
use crate::checks::sidecar::{LINKERD_PROXY, has_proxy};
use crate::checks::webhook_endpoints_not_ready::injector_endpoints;
use crate::engine::{Engine, EngineOptions, Verdict};
use crate::state::ClusterState;
use crate::workload::{PodSubject, all_subjects};

use super::mirror::Dirty;

/// What a pod's sidecar situation is, as the metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PodState {
    /// The pod runs the mesh's proxy.
    Injected,
    /// The injector would add a sidecar today, but the pod runs without one (created before
    /// the namespace was labelled, or while the webhook failed open).
    ExpectedButMissing,
    /// The pod's own label or annotation opts it out.
    OptedOut,
    /// No injector selects it.
    OutsideMesh,
}

impl PodState {
    pub fn as_str(self) -> &'static str {
        match self {
            PodState::Injected => "injected",
            PodState::ExpectedButMissing => "expected_but_missing",
            PodState::OptedOut => "opted_out",
            PodState::OutsideMesh => "outside_mesh",
        }
    }
}

/// The trace steps by which a pod opts itself out (Istio's label and annotation, Linkerd's
/// annotation).
const OPT_OUT_STEPS: [&str; 3] = [
    "inject-label",
    "inject-annotation",
    crate::mesh::linkerd::STEP_INJECT_ANNOTATION,
];

/// Checks whose findings gather pods of many namespaces into one finding about a cluster-wide
/// object (`webhooks-overlap` names every workload two injectors both match). They cannot be
/// split by namespace, so every evaluation runs them over the whole cluster; they read the
/// verdicts alone, which cost well under a microsecond a pod. `tests/serve_incremental.rs`
/// finds any other check that would need to be here.
pub const CROSS_NAMESPACE_CHECKS: [&str; 3] =
    ["policy-disabled", "policy-invalid", "webhooks-overlap"];

/// One certificate the injection machinery depends on, as found in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedCertificate {
    pub mesh: &'static str,
    /// The control-plane namespace.
    pub plane: String,
    /// `secret istio-system/istio-ca-secret (ca-cert.pem)`, `caBundle of istio-sidecar-injector`.
    pub source: String,
    pub subject: String,
    pub role: &'static str,
    pub not_after_unix: i64,
}

/// The endpoints behind one injector Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEndpoints {
    pub mesh: &'static str,
    pub service: String,
    pub configurations: String,
    pub ready: usize,
    pub not_ready: usize,
}

/// Whether an evaluation redid everything or some namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Full,
    Namespaces(usize),
}

/// The result of one evaluation: the `check -o json` document and what the metrics show.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub report: CheckReport,
    pub certificates: Vec<WatchedCertificate>,
    pub endpoints: Vec<WatchedEndpoints>,
    /// Pods by (mesh, state), cluster-wide.
    pub pods: BTreeMap<(&'static str, PodState), usize>,
    /// Namespaces with pods expected to have a sidecar that do not, and how many.
    pub missing_by_namespace: BTreeMap<String, usize>,
    pub scope: Scope,
    pub duration: Duration,
}

#[derive(Debug, Default)]
struct NamespaceShare {
    findings: Vec<Finding>,
    pods: BTreeMap<(&'static str, PodState), usize>,
}

/// Keeps the last results per namespace and redoes what a [`Dirty`] record says.
pub struct Evaluator {
    checks: Vec<Box<dyn Check>>,
    options: EngineOptions,
    run: RunOptions,
    cluster_findings: Vec<Finding>,
    /// The findings of [`CROSS_NAMESPACE_CHECKS`], from their last whole-cluster run.
    cross_findings: Vec<Finding>,
    skipped: Vec<Skipped>,
    /// The checks of the last whole-cluster run that ran without a kind they read.
    partial: Vec<PartialInput>,
    /// The reads that failed, as of the last whole-cluster run.
    unavailable: Vec<UnreadInput>,
    namespaces: BTreeMap<String, NamespaceShare>,
    certificates: Vec<WatchedCertificate>,
    endpoints: Vec<WatchedEndpoints>,
}

impl Evaluator {
    pub fn new(checks: Vec<Box<dyn Check>>, options: EngineOptions, run: RunOptions) -> Self {
        Evaluator {
            checks,
            options,
            run,
            cluster_findings: Vec::new(),
            cross_findings: Vec::new(),
            skipped: Vec::new(),
            partial: Vec::new(),
            unavailable: Vec::new(),
            namespaces: BTreeMap::new(),
            certificates: Vec::new(),
            endpoints: Vec::new(),
        }
    }

    /// Re-evaluates what `dirty` names over `state` at time `now_unix`.
    pub fn evaluate(
        &mut self,
        state: &mut ClusterState,
        dirty: &Dirty,
        now_unix: i64,
    ) -> Result<Evaluation, String> {
        let started = Instant::now();
        // Watches insert and delete in any order; the checks read namespaces as sorted ranges.
        state.sort();
        let state: &ClusterState = state;
        let engine = Engine::new(state, self.options.clone());
        let mut run = self.run.clone();
        run.now_unix = now_unix;
        let scope = if dirty.everything {
            run.namespace = None;
            let report = run_checks(state, &engine, &self.checks, &run)?;
            self.skipped = report.skipped;
            self.partial = report.partial;
            self.unavailable = report.unavailable;
            self.cluster_findings.clear();
            self.cross_findings.clear();
            let mut shares: BTreeMap<String, NamespaceShare> = BTreeMap::new();
            for f in report.findings {
                if is_cross_namespace(&f.check) {
                    self.cross_findings.push(f);
                    continue;
                }
                match home_namespace(&f) {
                    Some(ns) => shares.entry(ns.to_owned()).or_default().findings.push(f),
                    None => self.cluster_findings.push(f),
                }
            }
            for (subject, verdict) in pod_verdicts(&engine, state, None) {
                let share = shares.entry(subject.namespace.clone()).or_default();
                *share.pods.entry(classify(&subject, &verdict)).or_default() += 1;
            }
            self.namespaces = shares;
            self.refresh_machinery(&engine, state, &run);
            Scope::Full
        } else {
            let mut scoped = run.clone();
            scoped
                .skip
                .extend(CROSS_NAMESPACE_CHECKS.iter().map(|c| (*c).to_owned()));
            for ns in &dirty.namespaces {
                scoped.namespace = Some(ns.clone());
                let report = run_checks(state, &engine, &self.checks, &scoped)?;
                let mut share = NamespaceShare {
                    findings: report
                        .findings
                        .into_iter()
                        .filter(|f| home_namespace(f) == Some(ns.as_str()))
                        .collect(),
                    ..NamespaceShare::default()
                };
                for (subject, verdict) in pod_verdicts(&engine, state, Some(ns)) {
                    *share.pods.entry(classify(&subject, &verdict)).or_default() += 1;
                }
                if share.findings.is_empty() && share.pods.is_empty() {
                    self.namespaces.remove(ns);
                } else {
                    self.namespaces.insert(ns.clone(), share);
                }
            }
            self.rerun_cross_namespace(state, &engine, &run)?;
            Scope::Namespaces(dirty.namespaces.len())
        };
        Ok(self.assemble(scope, started.elapsed()))
    }

    /// Re-runs the [`CROSS_NAMESPACE_CHECKS`] that are enabled over the whole cluster.
    fn rerun_cross_namespace(
        &mut self,
        state: &ClusterState,
        engine: &Engine<'_>,
        run: &RunOptions,
    ) -> Result<(), String> {
        let enabled: Vec<String> = CROSS_NAMESPACE_CHECKS
            .iter()
            .map(|c| (*c).to_owned())
            .filter(|c| (run.only.is_empty() || run.only.contains(c)) && !run.skip.contains(c))
            .collect();
        self.cross_findings.clear();
        if enabled.is_empty() {
            return Ok(());
        }
        let mut cross = run.clone();
        cross.namespace = None;
        cross.only = enabled;
        self.cross_findings = run_checks(state, engine, &self.checks, &cross)?.findings;
        Ok(())
    }

    /// Certificates and injector endpoints live in the control plane: only a full run can
    /// change them.
    fn refresh_machinery(&mut self, engine: &Engine<'_>, state: &ClusterState, run: &RunOptions) {
        let subjects = Vec::new();
        let ctx = crate::check::CheckContext {
            state,
            engine,
            subjects: &subjects,
            namespace: None,
            now_unix: run.now_unix,
            cert_warn_days: run.cert_warn_days,
            preflight: None,
        };
        self.certificates = mesh_certificates(&ctx)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|(cert, holders)| {
                holders.into_iter().map(move |h| WatchedCertificate {
                    mesh: mesh_label(h.mesh),
                    plane: h.plane,
                    source: h.describe,
                    subject: cert.subject.clone(),
                    role: if h.serving { "serving" } else { "ca" },
                    not_after_unix: cert.not_after.unix,
                })
            })
            .collect();
        self.endpoints = injector_endpoints(&ctx)
            .into_iter()
            .map(|e| WatchedEndpoints {
                mesh: mesh_label(e.mesh),
                service: format!("{}/{}", e.service.namespace, e.service.name),
                configurations: e.configurations,
                ready: e.ready,
                not_ready: e.not_ready,
            })
            .collect();
    }

    fn assemble(&self, scope: Scope, duration: Duration) -> Evaluation {
        let mut findings = self.cluster_findings.clone();
        findings.extend(self.cross_findings.iter().cloned());
        let mut pods: BTreeMap<(&'static str, PodState), usize> = BTreeMap::new();
        let mut missing_by_namespace = BTreeMap::new();
        for (ns, share) in &self.namespaces {
            findings.extend(share.findings.iter().cloned());
            let mut missing = 0;
            for (&key, &n) in &share.pods {
                *pods.entry(key).or_default() += n;
                if key.1 == PodState::ExpectedButMissing {
                    missing += n;
                }
            }
            if missing > 0 {
                missing_by_namespace.insert(ns.clone(), missing);
            }
        }
        // The runner's order, so that /findings reads like `check -A -o json`.
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.check.cmp(&b.check))
                .then_with(|| a.object.cmp(&b.object))
        });
        let mut summary = Summary::default();
        for f in &findings {
            match f.severity {
                Severity::Error => summary.error += 1,
                Severity::Warning => summary.warning += 1,
                Severity::Info => summary.info += 1,
            }
        }
        Evaluation {
            report: CheckReport {
                findings,
                skipped: self.skipped.clone(),
                partial: self.partial.clone(),
                unavailable: self.unavailable.clone(),
                summary,
            },
            certificates: self.certificates.clone(),
            endpoints: self.endpoints.clone(),
            pods,
            missing_by_namespace,
            scope,
            duration,
        }
    }
}

fn is_cross_namespace(check: &str) -> bool {
    CROSS_NAMESPACE_CHECKS.contains(&check)
}

/// The namespace a finding belongs to: its object's, or the Namespace it is about.
fn home_namespace(f: &Finding) -> Option<&str> {
    match (&f.object.namespace, f.object.kind.as_str()) {
        (Some(ns), _) => Some(ns),
        (None, "Namespace") => Some(&f.object.name),
        (None, _) => None,
    }
}

/// Running pods (not workload templates) in scope, with their verdicts.
fn pod_verdicts<'s>(
    engine: &Engine<'s>,
    state: &'s ClusterState,
    namespace: Option<&'s str>,
) -> Vec<(PodSubject<'s>, Verdict)> {
    all_subjects(state, namespace)
        .into_iter()
        .filter(|s| s.target.kind == "Pod")
        .map(|s| {
            let v = engine.verdict(&s);
            (s, v)
        })
        .collect()
}

fn classify(subject: &PodSubject<'_>, verdict: &Verdict) -> (&'static str, PodState) {
    if has_proxy(subject.spec) {
        let linkerd = subject.spec.is_some_and(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
                .any(|c| c.name == LINKERD_PROXY)
        });
        return (
            if linkerd { "linkerd" } else { "istio" },
            PodState::Injected,
        );
    }
    let mesh = verdict.mesh.map_or("none", |m| m.as_str());
    let state = if verdict.inject {
        PodState::ExpectedButMissing
    } else if OPT_OUT_STEPS.contains(&verdict.decisive) {
        PodState::OptedOut
    } else {
        PodState::OutsideMesh
    };
    (mesh, state)
}

fn mesh_label(m: crate::checks::machinery::MeshKind) -> &'static str {
    match m {
        crate::checks::machinery::MeshKind::Istio => "istio",
        crate::checks::machinery::MeshKind::Linkerd => "linkerd",
    }
}
