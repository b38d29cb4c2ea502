//! The check runner: the `Check` trait, findings with evidence and a fix, the registry of
//! built-in checks, and the runner that turns missing inputs into visible skips.
//!
//! Each check lives in its own file under `src/checks/` and its documentation in
//! `checks/<id>.md`, whose front matter (id, title, severity, inputs) is the single source for
//! the check's metadata: `meshdoctor checks`, `docs/checks.md` and SARIF rules all read it.

pub mod doc;
pub mod runner;
pub mod unavailable;
pub mod user;

use serde::Serialize;

use crate::engine::{Engine, Verdict};
use crate::origin::Origin;
use crate::state::{ClusterState, Kind};
use crate::workload::PodSubject;

pub use doc::CheckDoc;
pub use runner::{CheckReport, RunOptions, Skipped, Summary, run_checks};

/// How serious a finding is. Ordered: `Info < Warning < Error`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

/// The object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: &str, namespace: Option<&str>, name: &str) -> Self {
        ObjectRef {
            kind: kind.to_owned(),
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind.to_ascii_lowercase(), ns, self.name),
            None => write!(f, "{}/{}", self.kind.to_ascii_lowercase(), self.name),
        }
    }
}

/// One piece of evidence: a field, what it holds, what it should hold, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub field: String,
    pub observed: String,
    pub expected: String,
    /// `file:line`, `live` or `derived`.
    pub location: String,
}

impl Evidence {
    pub fn new(
        field: impl Into<String>,
        observed: impl Into<String>,
        expected: impl Into<String>,
        origin: &Origin,
    ) -> Self {
        Evidence {
            field: field.into(),
            observed: observed.into(),
            expected: expected.into(),
            location: origin.to_string(),
        }
    }
}

/// A problem a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: String,
    pub severity: Severity,
    pub object: ObjectRef,
    pub message: String,
    pub evidence: Vec<Evidence>,
    /// One concrete fix: a command or a patch.
    pub fix: String,
}

/// What a check reads while it runs. Decisions are computed once, before any check runs, and
/// shared: checks never recompute a decision.
pub struct CheckContext<'a> {
    pub state: &'a ClusterState,
    pub engine: &'a Engine<'a>,
    /// Every pod and top-level workload template in scope, with its verdict.
    pub subjects: &'a [(PodSubject<'a>, Verdict)],
    /// The namespace in scope (`None` = all namespaces).
    pub namespace: Option<&'a str>,
    /// Seconds since the epoch, for certificate expiry.
    pub now_unix: i64,
    /// `cert-expiry` warns this many days ahead.
    pub cert_warn_days: u32,
    /// What `meshdoctor preflight` adds: the manifests (located) and the injection
    /// expectations. `None` under `meshdoctor check`.
    pub preflight: Option<&'a crate::preflight::PreflightInputs>,
}

impl CheckContext<'_> {
    /// Whether a namespaced object is in scope.
    pub fn in_scope(&self, namespace: Option<&str>) -> bool {
        match (self.namespace, namespace) {
            (None, _) => true,
            (Some(want), Some(ns)) => want == ns,
            (Some(_), None) => true,
        }
    }
}

/// Why a check did not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip(pub String);

/// A diagnostic. Implementations live in `src/checks/`, one per file.
pub trait Check: Send + Sync {
    /// The check's documentation page (`include_str!("../../checks/<id>.md")`); its front
    /// matter carries the id, title, default severity and inputs.
    fn doc(&self) -> &'static str;

    /// Runs the check, appending findings. Returns `Err(Skip)` when an input it needs beyond
    /// the declared kinds is missing (e.g. no mesh root certificate anywhere).
    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip>;

    /// Whether the check only makes sense over manifests about to be applied (it reads
    /// [`CheckContext::preflight`]). Such checks are not run, nor listed as skipped, by
    /// `meshdoctor check`.
    fn preflight_only(&self) -> bool {
        false
    }
}

/// Kinds by their `kind` name, for check front matter.
pub fn kind_by_name(name: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| k.name() == name)
}
