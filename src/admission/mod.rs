//! Webhook matching as the Kubernetes API server does it (`k8s.io/apiserver`
//! `pkg/admission/plugin/webhook`): which `MutatingWebhookConfiguration` webhooks would be
//! called, in which order, for a request. Knows nothing about any mesh.
//!
//! * [`compile_configurations`] validates and precompiles the webhooks once, in call order
//!   (configurations by name, webhooks in listed order);
//! * [`CompiledWebhook::matches`] answers, per request, with the API server's decision order:
//!   namespaceSelector, objectSelector, rules, then matchConditions (CEL);
//! * [`AdmissionRequest`] is the part of the request the matching reads, borrowed from the
//!   caller so that the hot path (one verdict per pod) does not allocate.
//!
//! Not modelled: `matchPolicy: Equivalent` conversions (they need the API server's discovery
//! mapper; for core/v1 `pods` there is no other group/version, so Exact and Equivalent agree),
//! static manifest-based webhooks (very new, not API objects), and the informer cache delay.

mod cel;
mod request;
mod rules;
mod webhook;

#[cfg(test)]
mod tests;

pub use cel::{CompiledMatchCondition, ConditionResult};
pub use request::{
    AdmissionRequest, Gvk, Gvr, METADATA_NAME_LABEL, MetadataNameLabel, ObjectRef, Operation,
    UserInfo, effective_namespace_labels,
};
pub use rules::{Rule, Scope};
pub use webhook::{
    ClientConfigSummary, CompileError, CompileErrorKind, CompiledWebhook, Consequence,
    FailurePolicy, MatchOutcome, MatchPolicy, NotEvaluatedReason, NotMatchedReason,
    ReinvocationPolicy, SideEffects, WebhookTarget, compile_configurations,
    compile_configurations_with_origins,
};
