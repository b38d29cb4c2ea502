//! The outcome of the injection decision for one pod: the verdict, which mesh and webhook, the
//! ordered trace and the step that decided it. This is the `explain -o json` contract
//! (DESIGN.md §4); checks read it and never recompute it.

use serde::Serialize;

use crate::trace::Step;

/// The object a decision is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetRef {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for TargetRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind.to_ascii_lowercase(), ns, self.name),
            None => write!(f, "{}/{}", self.kind.to_ascii_lowercase(), self.name),
        }
    }
}

/// A mutating webhook: its configuration and its name within it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct WebhookRef {
    pub configuration: String,
    pub name: String,
}

impl std::fmt::Display for WebhookRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.configuration, self.name)
    }
}

/// Which mesh injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mesh {
    Istio,
    Linkerd,
}

impl Mesh {
    pub fn as_str(self) -> &'static str {
        match self {
            Mesh::Istio => "istio",
            Mesh::Linkerd => "linkerd",
        }
    }
}

/// The full decision for one pod.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub target: TargetRef,
    pub inject: bool,
    pub mesh: Option<Mesh>,
    pub webhook: Option<WebhookRef>,
    /// The Istio revision (or tag's revision) whose injector decided, when Istio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Step id of the step that decided the verdict.
    pub decisive: String,
    pub trace: Vec<Step>,
    /// The one change that would flip the verdict, verified by re-running the decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flip: Option<String>,
    pub findings: Vec<serde_json::Value>,
}
