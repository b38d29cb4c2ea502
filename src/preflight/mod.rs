//! `meshdoctor preflight`: the CI gate over manifests not yet applied. The manifests are laid
//! over a mesh context (a snapshot, later the live cluster), the same engine and checks run,
//! and every finding is located at the file, line and column of the field it is about, with
//! suppressions applied and counted.
//!
//! The context is given by the caller as a [`ClusterState`]; this module never reads a
//! cluster. `cli::preflight` builds it from `--from` today and is where a live context plugs in.

pub mod locate;
pub mod suppress;

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::check::doc::{self, CheckDoc};
use crate::check::unavailable::{PartialInput, UnreadInput};
use crate::check::{Check, Finding, ObjectRef, RunOptions, Severity, Skipped, run_checks};
use crate::engine::{Engine, EngineOptions};
use crate::origin::Origin;
use crate::source::InputError;
use crate::source::offline::{LoadOptions, ManifestObject, load_manifests};
use crate::state::ClusterState;

pub use locate::SourceLocation;
pub use suppress::{IgnoreRule, Suppression, SuppressionKind};

/// Which workloads must end up with a sidecar, beyond those that ask for one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    /// `--expect-injected`: every workload in the manifests.
    pub all: bool,
    /// `--expect-injected-in`: every workload in these namespaces.
    pub namespaces: Vec<String>,
}

impl Expectations {
    /// Why a workload in `namespace` must be injected, if a flag says so.
    pub fn reason_for(&self, namespace: &str) -> Option<String> {
        if self.all {
            Some("--expect-injected".to_owned())
        } else if self.namespaces.iter().any(|n| n == namespace) {
            Some(format!("--expect-injected-in {namespace}"))
        } else {
            None
        }
    }
}

/// What preflight-only checks read through `CheckContext::preflight`.
#[derive(Debug, Clone, Default)]
pub struct PreflightInputs {
    pub expect: Expectations,
    /// Every object of the manifests, in input order, located.
    pub manifests: Vec<ManifestObject>,
    /// The ids of every check that can run, for validating suppressions.
    pub known_checks: Vec<String>,
}

impl PreflightInputs {
    /// The manifest object defined at `origin` (a file and the line it starts on).
    pub fn manifest_at(&self, origin: &Origin) -> Option<&ManifestObject> {
        match origin {
            Origin::File { .. } => self.manifests.iter().find(|m| &m.origin == origin),
            _ => None,
        }
    }

    /// Whether `origin` is in the manifests (rather than in the context).
    pub fn is_manifest(&self, origin: &Origin) -> bool {
        self.manifest_at(origin).is_some()
    }

    /// The manifest object a finding is about: the last one of that kind, namespace and name
    /// (a later document replaces an earlier one, as `kubectl apply` would).
    pub fn manifest_for(&self, object: &ObjectRef) -> Option<&ManifestObject> {
        self.manifests.iter().rev().find(|m| {
            m.kind.eq_ignore_ascii_case(&object.kind)
                && m.name == object.name
                && (object.namespace.is_none() || m.namespace == object.namespace)
        })
    }
}

/// Everything `preflight` needs besides the context.
#[derive(Debug, Clone, Default)]
pub struct PreflightSettings {
    /// `-f`: files, directories or `-`.
    pub manifests: Vec<PathBuf>,
    /// Namespace for manifest objects that name none (`kubectl apply -n`).
    pub default_namespace: String,
    pub expect: Expectations,
    pub ignores: Vec<IgnoreRule>,
    pub only: Vec<String>,
    pub skip: Vec<String>,
    pub now_unix: i64,
    pub cert_warn_days: u32,
    pub engine: EngineOptions,
}

/// Why the gate could not run (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error("{0}")]
    Input(#[from] InputError),
    #[error("{0}")]
    Usage(String),
}

/// A finding and where it is written.
#[derive(Debug, Clone, Serialize)]
pub struct LocatedFinding {
    #[serde(flatten)]
    pub finding: Finding,
    /// The field the finding is about, in the manifests.
    pub location: Option<SourceLocation>,
}

/// A finding that a suppression silenced: still reported, not counted for the exit code.
#[derive(Debug, Clone, Serialize)]
pub struct SuppressedFinding {
    #[serde(flatten)]
    pub finding: LocatedFinding,
    pub suppression: Suppression,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PreflightSummary {
    pub error: usize,
    pub warning: usize,
    pub info: usize,
    /// Findings silenced by `meshdoctor.io/ignore` or `--ignore`.
    pub suppressed: usize,
    /// Findings about the context only (nothing in the manifests): shown, never gating.
    pub context: usize,
}

/// A manifest object, for reports that list every object (JUnit test cases).
#[derive(Debug, Clone, Serialize)]
pub struct ManifestEntry {
    pub object: ObjectRef,
    pub location: SourceLocation,
}

/// The `preflight -o json` document.
#[derive(Debug, Clone, Serialize)]
pub struct PreflightReport {
    pub findings: Vec<LocatedFinding>,
    pub suppressed: Vec<SuppressedFinding>,
    pub skipped: Vec<Skipped>,
    /// Checks that ran without a kind they read, which could not be read (live context).
    pub partial: Vec<PartialInput>,
    /// Every read of the live context that failed.
    pub unavailable: Vec<UnreadInput>,
    /// Findings about objects that are only in the context (e.g. the cluster's webhook).
    pub context_findings: Vec<Finding>,
    pub summary: PreflightSummary,
    pub objects: Vec<ManifestEntry>,
    /// The pages of the checks that ran or were skipped (SARIF rules, JUnit suites).
    #[serde(skip)]
    pub rules: Vec<CheckDoc>,
}

impl PreflightReport {
    /// The most severe finding that is not suppressed and is about the manifests.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.finding.severity).max()
    }
}

/// Loads the manifests over `context`, runs the checks and locates, scopes and suppresses
/// their findings.
pub fn evaluate(
    mut context: ClusterState,
    settings: &PreflightSettings,
    checks: &[Box<dyn Check>],
) -> Result<PreflightReport, PreflightError> {
    let docs: Vec<CheckDoc> = checks
        .iter()
        .map(|c| doc::parse(c.doc()).map_err(|e| PreflightError::Usage(format!("check page: {e}"))))
        .collect::<Result<_, _>>()?;
    let known: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    for rule in &settings.ignores {
        if !known.contains(&rule.check) {
            return Err(PreflightError::Usage(format!(
                "--ignore: unknown check \"{}\" (see `meshdoctor checks`)",
                rule.check
            )));
        }
    }
    let opts = LoadOptions {
        default_namespace: settings.default_namespace.clone(),
        lenient_string_maps: true,
        ..LoadOptions::default()
    };
    // Loading marks every kind found in the manifests as read, so a Namespace created by the
    // manifests is known to the checks even when the context has no Namespace objects.
    let manifests = load_manifests(&mut context, &settings.manifests, &opts)?;
    let inputs = Arc::new(PreflightInputs {
        expect: settings.expect.clone(),
        manifests,
        known_checks: known.clone(),
    });
    let engine = Engine::new(&context, settings.engine.clone());
    let run = RunOptions {
        namespace: None,
        only: settings.only.clone(),
        skip: settings.skip.clone(),
        now_unix: settings.now_unix,
        cert_warn_days: settings.cert_warn_days,
        preflight: Some(Arc::clone(&inputs)),
    };
    let report = run_checks(&context, &engine, checks, &run).map_err(PreflightError::Usage)?;

    let mut out = PreflightReport {
        findings: Vec::new(),
        suppressed: Vec::new(),
        skipped: report.skipped,
        partial: report.partial,
        unavailable: report.unavailable,
        context_findings: Vec::new(),
        summary: PreflightSummary::default(),
        objects: inputs
            .manifests
            .iter()
            .map(|m| ManifestEntry {
                object: ObjectRef::new(&m.kind, m.namespace.as_deref(), &m.name),
                location: locate::object_start(m),
            })
            .collect(),
        rules: docs,
    };
    let index = locate::OriginIndex::new(&inputs);
    for finding in report.findings {
        let (finding, location) = locate::locate(&inputs, &index, finding);
        let Some(location) = location else {
            out.context_findings.push(finding);
            continue;
        };
        let located = LocatedFinding {
            finding,
            location: Some(location),
        };
        match suppress::find(&inputs, &settings.ignores, &located.finding) {
            Some(suppression) => out.suppressed.push(SuppressedFinding {
                finding: located,
                suppression,
            }),
            None => out.findings.push(located),
        }
    }
    for f in &out.findings {
        match f.finding.severity {
            Severity::Error => out.summary.error += 1,
            Severity::Warning => out.summary.warning += 1,
            Severity::Info => out.summary.info += 1,
        }
    }
    out.summary.suppressed = out.suppressed.len();
    out.summary.context = out.context_findings.len();
    Ok(out)
}
