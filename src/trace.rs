//! The decision trace: the ordered steps an injection decision went through, each with what it
//! looked at, so that `explain` can print it and checks can cite it as evidence.
//!
//! Deciders are generic over [`Tracer`] so that the hot path (deciding 50,000 pods for `check`)
//! pays nothing for the trace: [`NoTrace`] never calls the closure that would build a step.

use serde::Serialize;

/// How one step of a decision came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepResult {
    /// The step let the pod through towards injection.
    Pass,
    /// The step stopped injection (or, for a webhook, did not match).
    Fail,
    /// The step did not apply (e.g. a selector only consulted when no explicit value is set).
    Skip,
    /// The step could not be evaluated offline (e.g. a CEL `matchCondition` using `authorizer`).
    NotEvaluated,
    /// Context that neither passes nor fails (the version rules applied, a misplaced annotation).
    Info,
}

/// One step of a decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Stable kebab-case id of the step (`namespace-selector`, `host-network`, `policy`, ...).
    pub step: String,
    pub result: StepResult,
    /// One human sentence: what was looked at and what it said.
    pub detail: String,
    /// The configuration object and field that decided this step, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<StepSource>,
}

/// Where the configuration that decided a step lives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepSource {
    /// `Kind/namespace/name` or `Kind/name` of the object.
    pub object: String,
    /// JSON-path-like field, e.g. `webhooks[2].namespaceSelector`.
    pub field: String,
    /// `file:line` or `live`.
    pub location: String,
}

impl Step {
    pub fn new(step: impl Into<String>, result: StepResult, detail: impl Into<String>) -> Self {
        Step {
            step: step.into(),
            result,
            detail: detail.into(),
            source: None,
        }
    }

    pub fn with_source(mut self, source: StepSource) -> Self {
        self.source = Some(source);
        self
    }
}

/// Receives the steps of a decision as they happen.
pub trait Tracer {
    /// Records a step. The closure is only called when the tracer keeps steps.
    fn record(&mut self, step: impl FnOnce() -> Step);
}

/// A tracer that keeps nothing: the decision's hot path.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTrace;

impl Tracer for NoTrace {
    #[inline(always)]
    fn record(&mut self, _step: impl FnOnce() -> Step) {}
}

/// A tracer that keeps every step, for `explain`.
#[derive(Debug, Default, Clone)]
pub struct Trace {
    pub steps: Vec<Step>,
}

impl Tracer for Trace {
    fn record(&mut self, step: impl FnOnce() -> Step) {
        self.steps.push(step());
    }
}
