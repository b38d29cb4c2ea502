//! One mutating webhook, validated and precompiled from its `MutatingWebhookConfiguration`, and
//! the API server's per-request decision for it (`generic/webhook.go` `ShouldCallHook`).

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::admissionregistration::v1::{MutatingWebhook, MutatingWebhookConfiguration};

use super::cel::{CompiledMatchCondition, ConditionResult, Variables};
use super::request::{AdmissionRequest, NO_LABELS, Operation};
use super::rules::Rule;
use crate::origin::Origin;
use crate::selector::{Selector, SelectorErrorKind};
use crate::trace::{Step, StepResult, StepSource, Tracer};

/// `failurePolicy` (default `Fail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FailurePolicy {
    #[default]
    Fail,
    Ignore,
}

/// `matchPolicy` (default `Equivalent`). Only Exact matching is performed: Equivalent also
/// tries the same resource under other group/versions (from the API server's discovery), which
/// never changes anything for core/v1 `pods`, the only group/version pods are served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MatchPolicy {
    Exact,
    #[default]
    Equivalent,
}

/// `sideEffects` (required in v1, no default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SideEffects {
    None,
    NoneOnDryRun,
    /// Rejected on create since v1; only survives on objects from v1beta1 days.
    Some,
    /// Rejected on create since v1; only survives on objects from v1beta1 days.
    Unknown,
}

impl SideEffects {
    /// Whether the webhook is called for `dryRun=All` requests (otherwise they fail).
    pub fn supports_dry_run(self) -> bool {
        matches!(self, SideEffects::None | SideEffects::NoneOnDryRun)
    }
}

/// `reinvocationPolicy` (default `Never`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReinvocationPolicy {
    #[default]
    Never,
    IfNeeded,
}

/// Where the API server sends the AdmissionReview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookTarget {
    Service {
        namespace: String,
        name: String,
        port: i32,
        path: Option<String>,
    },
    Url(String),
}

/// `clientConfig`, with defaults applied (`service.port` 443).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfigSummary {
    pub target: WebhookTarget,
    /// The decoded `caBundle` (PEM bytes); `None` when absent (system roots are used).
    pub ca_bundle: Option<Vec<u8>>,
}

impl ClientConfigSummary {
    /// The URL the API server posts to (`https://<name>.<ns>.svc:<port><path>`), without the
    /// `?timeout=` query.
    pub fn url(&self) -> String {
        match &self.target {
            WebhookTarget::Url(u) => u.clone(),
            WebhookTarget::Service {
                namespace,
                name,
                port,
                path,
            } => {
                format!(
                    "https://{name}.{namespace}.svc:{port}{}",
                    path.as_deref().unwrap_or("/")
                )
            }
        }
    }

    /// The TLS server name the API server verifies for a service reference.
    pub fn server_name(&self) -> Option<String> {
        match &self.target {
            WebhookTarget::Service {
                namespace, name, ..
            } => Some(format!("{name}.{namespace}.svc")),
            WebhookTarget::Url(_) => None,
        }
    }
}

/// A webhook that passed validation, ready to be matched per request.
#[derive(Debug, Clone)]
pub struct CompiledWebhook {
    /// `metadata.name` of the configuration.
    pub configuration: Arc<str>,
    /// `webhooks[index].name`.
    pub name: Arc<str>,
    pub index: usize,
    pub origin: Option<Origin>,
    pub rules: Box<[Rule]>,
    pub namespace_selector: Selector,
    pub object_selector: Selector,
    pub match_conditions: Arc<[CompiledMatchCondition]>,
    pub failure_policy: FailurePolicy,
    pub match_policy: MatchPolicy,
    pub side_effects: SideEffects,
    pub reinvocation_policy: ReinvocationPolicy,
    /// Defaulted to 10 (v1).
    pub timeout_seconds: i32,
    pub admission_review_versions: Vec<String>,
    pub client_config: ClientConfigSummary,
}

/// A webhook failed the API server's validation. Such a configuration cannot exist in a
/// cluster (its create is rejected), so none of its webhooks are matched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mutatingwebhookconfiguration {configuration:?}: {field}: {kind}")]
pub struct CompileError {
    pub configuration: String,
    /// e.g. `webhooks[2].namespaceSelector.matchExpressions[0].operator`.
    pub field: String,
    pub kind: CompileErrorKind,
    pub origin: Option<Origin>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileErrorKind {
    #[error(transparent)]
    Selector(#[from] SelectorErrorKind),
    #[error("{0}")]
    Invalid(String),
}

/// Why a webhook is not called for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotMatchedReason {
    /// The request is about an admission configuration kind, which no webhook ever sees.
    ExemptResource,
    Rules,
    NamespaceSelector,
    ObjectSelector,
    /// The first `matchConditions` entry that evaluated to false.
    MatchConditionFalse {
        name: Arc<str>,
    },
}

/// Why a webhook's match could not be decided offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotEvaluatedReason {
    /// The request's namespace is not in the input. The API server answers `namespaces "x" not
    /// found` (or the namespace is simply missing from the captured state).
    NamespaceUnknown,
    /// A condition cannot be evaluated offline (`authorizer`, syntax the offline engine lacks,
    /// unknown user); the API server would decide it, possibly either way.
    MatchConditionUnsupported { name: Arc<str>, detail: String },
    /// A condition failed to evaluate; the API server fails the same way and applies
    /// failurePolicy (barring differences between cel-go and the offline engine).
    MatchConditionError { name: Arc<str>, error: String },
}

/// What the API server does with the request when the match errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Consequence {
    /// The request fails (failurePolicy `Fail`, or an error independent of failurePolicy such
    /// as a namespace lookup failure).
    RequestRejected,
    /// The webhook is skipped and the request continues (failurePolicy `Ignore`).
    WebhookSkipped,
}

/// The API server's decision for one webhook and one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchOutcome {
    Matched,
    NotMatched(NotMatchedReason),
    /// Could not be decided offline; never counts as a match. `on_error` is what the API
    /// server does if the evaluation errors there.
    NotEvaluated {
        reason: NotEvaluatedReason,
        on_error: Consequence,
    },
}

impl MatchOutcome {
    pub fn is_matched(&self) -> bool {
        matches!(self, MatchOutcome::Matched)
    }
}

/// Kinds no API-registered webhook is ever called for (`IsExemptAdmissionConfigurationResource`).
const EXEMPT_KINDS: [&str; 6] = [
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
];

/// Compiles every webhook of every configuration, in the order the API server calls them:
/// configurations sorted by `metadata.name` (byte-wise, stable), webhooks in listed order.
/// A configuration with any invalid webhook contributes no webhook at all (the API server
/// would have rejected the whole object) and one error per problem found.
pub fn compile_configurations(
    configs: &[&MutatingWebhookConfiguration],
) -> (Vec<CompiledWebhook>, Vec<CompileError>) {
    let with: Vec<(&MutatingWebhookConfiguration, Option<Origin>)> =
        configs.iter().map(|c| (*c, None)).collect();
    compile_configurations_with_origins(&with)
}

/// [`compile_configurations`], recording where each configuration came from so that trace
/// steps and errors can cite it.
pub fn compile_configurations_with_origins(
    configs: &[(&MutatingWebhookConfiguration, Option<Origin>)],
) -> (Vec<CompiledWebhook>, Vec<CompileError>) {
    let mut sorted: Vec<&(&MutatingWebhookConfiguration, Option<Origin>)> =
        configs.iter().collect();
    sorted.sort_by(|a, b| config_name(a.0).as_bytes().cmp(config_name(b.0).as_bytes()));
    let mut webhooks = Vec::new();
    let mut errors = Vec::new();
    for (config, origin) in sorted {
        let before = errors.len();
        let mut compiled = Vec::new();
        let mut names = HashSet::new();
        for (i, wh) in config.webhooks.iter().flatten().enumerate() {
            if !names.insert(wh.name.as_str()) {
                errors.push(CompileError {
                    configuration: config_name(config).to_owned(),
                    field: format!("webhooks[{i}].name"),
                    kind: CompileErrorKind::Invalid(format!("duplicate value {:?}", wh.name)),
                    origin: origin.clone(),
                });
            }
            match CompiledWebhook::compile(config, i) {
                Ok(mut w) => {
                    w.origin = origin.clone();
                    compiled.push(w);
                }
                Err(mut e) => {
                    e.origin = origin.clone();
                    errors.push(e);
                }
            }
        }
        if errors.len() == before {
            webhooks.extend(compiled);
        }
    }
    (webhooks, errors)
}

fn config_name(c: &MutatingWebhookConfiguration) -> &str {
    c.metadata.name.as_deref().unwrap_or_default()
}

impl CompiledWebhook {
    /// Validates and compiles `config.webhooks[index]` (the first error found is returned).
    /// Name uniqueness across the configuration is checked by [`compile_configurations`].
    pub fn compile(
        config: &MutatingWebhookConfiguration,
        index: usize,
    ) -> Result<Self, CompileError> {
        let configuration = config_name(config);
        let at = |field: &str| format!("webhooks[{index}].{field}");
        let fail = |field: String, kind: CompileErrorKind| CompileError {
            configuration: configuration.to_owned(),
            field,
            kind,
            origin: None,
        };
        let invalid =
            |field: &str, msg: &str| fail(at(field), CompileErrorKind::Invalid(msg.to_owned()));
        let Some(wh) = config.webhooks.as_deref().and_then(|w| w.get(index)) else {
            return Err(fail(
                format!("webhooks[{index}]"),
                CompileErrorKind::Invalid("no such webhook".into()),
            ));
        };
        validate_qualified_webhook_name(&wh.name).map_err(|m| invalid("name", &m))?;

        let mut rules = Vec::new();
        for (j, r) in wh.rules.iter().flatten().enumerate() {
            let rule = Rule::compile(r)
                .map_err(|(field, kind)| fail(at(&format!("rules[{j}].{field}")), kind))?;
            rules.push(rule);
        }
        let namespace_selector = Selector::compile_optional_webhook(wh.namespace_selector.as_ref())
            .map_err(|e| selector_error(configuration, &at("namespaceSelector"), e))?;
        let object_selector = Selector::compile_optional_webhook(wh.object_selector.as_ref())
            .map_err(|e| selector_error(configuration, &at("objectSelector"), e))?;

        let failure_policy = match wh.failure_policy.as_deref() {
            None | Some("Fail") => FailurePolicy::Fail,
            Some("Ignore") => FailurePolicy::Ignore,
            Some(o) => {
                return Err(invalid(
                    "failurePolicy",
                    &unsupported(o, &["Fail", "Ignore"]),
                ));
            }
        };
        let match_policy = match wh.match_policy.as_deref() {
            None | Some("Equivalent") => MatchPolicy::Equivalent,
            Some("Exact") => MatchPolicy::Exact,
            Some(o) => {
                return Err(invalid(
                    "matchPolicy",
                    &unsupported(o, &["Equivalent", "Exact"]),
                ));
            }
        };
        let reinvocation_policy = match wh.reinvocation_policy.as_deref() {
            None | Some("Never") => ReinvocationPolicy::Never,
            Some("IfNeeded") => ReinvocationPolicy::IfNeeded,
            Some(o) => {
                return Err(invalid(
                    "reinvocationPolicy",
                    &unsupported(o, &["IfNeeded", "Never"]),
                ));
            }
        };
        // Some/Unknown are rejected on create but kept on objects that predate v1: accept
        // them, since a captured cluster can hold them (checks flag them separately).
        let side_effects = match wh.side_effects.as_str() {
            "None" => SideEffects::None,
            "NoneOnDryRun" => SideEffects::NoneOnDryRun,
            "Some" => SideEffects::Some,
            "Unknown" => SideEffects::Unknown,
            "" => {
                return Err(invalid(
                    "sideEffects",
                    "must specify one of None, NoneOnDryRun",
                ));
            }
            o => {
                return Err(invalid(
                    "sideEffects",
                    &unsupported(o, &["None", "NoneOnDryRun"]),
                ));
            }
        };
        let timeout_seconds = wh.timeout_seconds.unwrap_or(10);
        if !(1..=30).contains(&timeout_seconds) {
            return Err(invalid(
                "timeoutSeconds",
                "the timeout value must be between 1 and 30 seconds",
            ));
        }
        validate_review_versions(&wh.admission_review_versions)
            .map_err(|m| invalid("admissionReviewVersions", &m))?;
        let client_config =
            client_config(wh).map_err(|(f, m)| invalid(&format!("clientConfig{f}"), &m))?;
        let match_conditions = compile_match_conditions(wh).map_err(|(f, m)| invalid(&f, &m))?;

        Ok(CompiledWebhook {
            configuration: configuration.into(),
            name: wh.name.as_str().into(),
            index,
            origin: None,
            rules: rules.into_boxed_slice(),
            namespace_selector,
            object_selector,
            match_conditions: match_conditions.into(),
            failure_policy,
            match_policy,
            side_effects,
            reinvocation_policy,
            timeout_seconds,
            admission_review_versions: wh.admission_review_versions.clone(),
            client_config,
        })
    }

    /// What [`Consequence`] a failing evaluation has under this webhook's failurePolicy.
    pub fn on_error(&self) -> Consequence {
        match self.failure_policy {
            FailurePolicy::Fail => Consequence::RequestRejected,
            FailurePolicy::Ignore => Consequence::WebhookSkipped,
        }
    }

    /// Decides whether the API server would call this webhook for `req`, in its order:
    /// namespaceSelector, objectSelector, rules, then matchConditions. Selector and rule
    /// matching never allocate with [`crate::trace::NoTrace`]; matchConditions (CEL) do.
    pub fn matches<T: Tracer>(&self, req: &AdmissionRequest<'_>, tracer: &mut T) -> MatchOutcome {
        if req.kind.group == "admissionregistration.k8s.io" && EXEMPT_KINDS.contains(&req.kind.kind)
        {
            tracer.record(|| {
                self.step(
                    "webhook-rules",
                    "rules",
                    StepResult::Fail,
                    format!(
                        "{} objects are exempt from every admission webhook",
                        req.kind.kind
                    ),
                )
            });
            return MatchOutcome::NotMatched(NotMatchedReason::ExemptResource);
        }

        let namespace = self.match_namespace(req, tracer);
        if namespace == Some(false) {
            return MatchOutcome::NotMatched(NotMatchedReason::NamespaceSelector);
        }
        if !self.match_object(req, tracer) {
            return MatchOutcome::NotMatched(NotMatchedReason::ObjectSelector);
        }
        if !self.match_rules(req, tracer) {
            return MatchOutcome::NotMatched(NotMatchedReason::Rules);
        }
        // The namespace lookup error only surfaces for webhooks whose rules match, and then
        // fails the request whatever the failurePolicy.
        if namespace.is_none() {
            return MatchOutcome::NotEvaluated {
                reason: NotEvaluatedReason::NamespaceUnknown,
                on_error: Consequence::RequestRejected,
            };
        }
        self.match_conditions(req, tracer)
    }

    /// `Some(matched)`, or `None` when the namespace's labels are unknown.
    fn match_namespace<T: Tracer>(
        &self,
        req: &AdmissionRequest<'_>,
        tracer: &mut T,
    ) -> Option<bool> {
        const STEP: &str = "namespace-selector";
        const FIELD: &str = "namespaceSelector";
        let sel = &self.namespace_selector;
        if req.namespace.is_empty() && req.resource.resource != "namespaces" {
            tracer.record(|| {
                self.step(
                    STEP,
                    FIELD,
                    StepResult::Skip,
                    format!(
                        "cluster-scoped {}: namespaceSelector {sel} is not consulted",
                        req.describe_object()
                    ),
                )
            });
            return Some(true);
        }
        if sel.is_empty() {
            tracer.record(|| {
                self.step(
                    STEP,
                    FIELD,
                    StepResult::Pass,
                    "namespaceSelector {} matches every namespace".to_owned(),
                )
            });
            return Some(true);
        }
        // A Namespace being created or updated is matched on its incoming labels; everything
        // else on the stored namespace's labels.
        let own_labels = req.resource.resource == "namespaces"
            && req.subresource.is_empty()
            && matches!(req.operation, Operation::Create | Operation::Update);
        let labels = if own_labels {
            Some(req.object_labels.unwrap_or(&NO_LABELS))
        } else {
            req.namespace_labels
        };
        let Some(labels) = labels else {
            tracer.record(|| {
                self.step(STEP, FIELD, StepResult::NotEvaluated, format!(
                    "namespace {:?} is not in the input, so namespaceSelector {sel} cannot be evaluated; \
                     the API server fails such a request with namespaces {:?} not found when the webhook's rules match",
                    req.namespace, req.namespace
                ))
            });
            return None;
        };
        let matched = sel.matches(labels);
        tracer.record(|| {
            let subject = format!("namespace {:?}", req.namespace);
            let verdict = if matched { "matched" } else { "did not match" };
            self.step(
                STEP,
                FIELD,
                if matched {
                    StepResult::Pass
                } else {
                    StepResult::Fail
                },
                format!(
                    "namespaceSelector {sel} {verdict}: {}",
                    sel.explain(&subject, labels)
                ),
            )
        });
        Some(matched)
    }

    fn match_object<T: Tracer>(&self, req: &AdmissionRequest<'_>, tracer: &mut T) -> bool {
        const STEP: &str = "object-selector";
        const FIELD: &str = "objectSelector";
        let sel = &self.object_selector;
        if sel.is_empty() {
            tracer.record(|| {
                self.step(
                    STEP,
                    FIELD,
                    StepResult::Pass,
                    "objectSelector {} matches every object".to_owned(),
                )
            });
            return true;
        }
        // The new object or the old one; a missing object (or one without metadata) does not
        // match.
        let new = req.object_labels.is_some_and(|l| sel.matches(l));
        let matched = new || req.old_object_labels.is_some_and(|l| sel.matches(l));
        tracer.record(|| {
            let subject = req.describe_object();
            let verdict = if matched { "matched" } else { "did not match" };
            let why = match (req.object_labels, req.old_object_labels) {
                (None, None) => "the request has no object with metadata".to_owned(),
                (Some(l), None) => sel.explain(&subject, l),
                (None, Some(old)) => format!("the existing {}", sel.explain(&subject, old)),
                (Some(_), Some(old)) if matched && !new => {
                    format!("the existing {}", sel.explain(&subject, old))
                }
                (Some(l), Some(_)) => sel.explain(&subject, l),
            };
            let result = if matched {
                StepResult::Pass
            } else {
                StepResult::Fail
            };
            self.step(
                STEP,
                FIELD,
                result,
                format!("objectSelector {sel} {verdict}: {why}"),
            )
        });
        matched
    }

    fn match_rules<T: Tracer>(&self, req: &AdmissionRequest<'_>, tracer: &mut T) -> bool {
        let hit = self.rules.iter().position(|r| r.matches(req));
        tracer.record(|| {
            let what = request_summary(req);
            match hit.and_then(|i| self.rules.get(i).map(|r| (i, r))) {
                Some((i, r)) => self.step(
                    "webhook-rules",
                    "rules",
                    StepResult::Pass,
                    format!("rules[{i}] {r} matches {what}"),
                ),
                None if self.rules.is_empty() => self.step(
                    "webhook-rules",
                    "rules",
                    StepResult::Fail,
                    format!("the webhook has no rules, so {what} is not matched"),
                ),
                None => {
                    let list = self
                        .rules
                        .iter()
                        .enumerate()
                        .map(|(i, r)| format!("rules[{i}] {r}"))
                        .collect::<Vec<_>>()
                        .join("; ");
                    self.step(
                        "webhook-rules",
                        "rules",
                        StepResult::Fail,
                        format!("no rule matches {what}: {list}"),
                    )
                }
            }
        });
        hit.is_some()
    }

    fn match_conditions<T: Tracer>(
        &self,
        req: &AdmissionRequest<'_>,
        tracer: &mut T,
    ) -> MatchOutcome {
        const STEP: &str = "match-conditions";
        const FIELD: &str = "matchConditions";
        if self.match_conditions.is_empty() {
            tracer.record(|| {
                self.step(
                    STEP,
                    FIELD,
                    StepResult::Skip,
                    "no matchConditions".to_owned(),
                )
            });
            return MatchOutcome::Matched;
        }
        let results: Vec<ConditionResult> = match Variables::new(req) {
            Ok(vars) => self
                .match_conditions
                .iter()
                .map(|c| c.evaluate(&vars, req))
                .collect(),
            Err(e) => self
                .match_conditions
                .iter()
                .map(|_| ConditionResult::Error(e.clone()))
                .collect(),
        };
        let conditions = || self.match_conditions.iter().zip(&results);
        // Any false condition skips the webhook, even when another one errored.
        if let Some((c, _)) = conditions().find(|(_, r)| **r == ConditionResult::False) {
            tracer.record(|| {
                self.step(
                    STEP,
                    FIELD,
                    StepResult::Fail,
                    format!("matchCondition {:?} is false: {}", c.name, c.expression),
                )
            });
            return MatchOutcome::NotMatched(NotMatchedReason::MatchConditionFalse {
                name: Arc::clone(&c.name),
            });
        }
        let on_error = self.on_error();
        let unresolved = conditions().find_map(|(c, r)| match r {
            ConditionResult::Unsupported(d) => Some((
                c,
                NotEvaluatedReason::MatchConditionUnsupported {
                    name: Arc::clone(&c.name),
                    detail: d.clone(),
                },
            )),
            ConditionResult::Error(e) => Some((
                c,
                NotEvaluatedReason::MatchConditionError {
                    name: Arc::clone(&c.name),
                    error: e.clone(),
                },
            )),
            ConditionResult::True | ConditionResult::False => None,
        });
        if let Some((c, reason)) = unresolved {
            tracer.record(|| {
                let consequence = match on_error {
                    Consequence::RequestRejected => {
                        format!(
                            "with failurePolicy Fail an evaluation error rejects the request ({})",
                            forbidden_prefix(req)
                        )
                    }
                    Consequence::WebhookSkipped => {
                        "with failurePolicy Ignore an evaluation error skips the webhook".to_owned()
                    }
                };
                let what = match &reason {
                    NotEvaluatedReason::MatchConditionUnsupported { detail, .. } => {
                        format!("cannot be evaluated offline: {detail}")
                    }
                    NotEvaluatedReason::MatchConditionError { error, .. } => {
                        format!("failed: {error}")
                    }
                    NotEvaluatedReason::NamespaceUnknown => String::new(),
                };
                self.step(
                    STEP,
                    FIELD,
                    StepResult::NotEvaluated,
                    format!(
                        "matchCondition {:?} ({}) {what}; {consequence}",
                        c.name, c.expression
                    ),
                )
            });
            return MatchOutcome::NotEvaluated { reason, on_error };
        }
        tracer.record(|| {
            self.step(
                STEP,
                FIELD,
                StepResult::Pass,
                format!(
                    "all {} matchConditions are true",
                    self.match_conditions.len()
                ),
            )
        });
        MatchOutcome::Matched
    }

    fn step(&self, id: &str, field: &str, result: StepResult, detail: String) -> Step {
        Step::new(id, result, detail).with_source(StepSource {
            object: format!("MutatingWebhookConfiguration/{}", self.configuration),
            field: format!("webhooks[{}].{field}", self.index),
            location: self
                .origin
                .as_ref()
                .map_or_else(|| "unknown".to_owned(), ToString::to_string),
        })
    }
}

/// `CREATE pods (v1) in namespace "shop"`, for rule traces.
fn request_summary(req: &AdmissionRequest<'_>) -> String {
    let group = if req.resource.group.is_empty() {
        String::new()
    } else {
        format!("{}/", req.resource.group)
    };
    let sub = if req.subresource.is_empty() {
        String::new()
    } else {
        format!("/{}", req.subresource)
    };
    let scope = if req.namespace.is_empty() {
        "cluster-scoped".to_owned()
    } else {
        format!("in namespace {:?}", req.namespace)
    };
    format!(
        "{} {}{sub} ({group}{}) {scope}",
        req.operation.as_str(),
        req.resource.resource,
        req.resource.version
    )
}

/// The start of the API server's Forbidden message: `pods "web-1" is forbidden` or
/// `pods is forbidden` when the name is empty.
fn forbidden_prefix(req: &AdmissionRequest<'_>) -> String {
    if req.name.is_empty() {
        format!("{} is forbidden: <error>", req.resource.resource)
    } else {
        format!(
            "{} {:?} is forbidden: <error>",
            req.resource.resource, req.name
        )
    }
}

fn selector_error(
    configuration: &str,
    at: &str,
    e: crate::selector::SelectorError,
) -> CompileError {
    let e = e.within(at);
    CompileError {
        configuration: configuration.to_owned(),
        field: e.field,
        kind: e.kind.into(),
        origin: None,
    }
}

fn unsupported(value: &str, allowed: &[&str]) -> String {
    let list = allowed
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("unsupported value {value:?}: supported values are {list}")
}

/// `IsFullyQualifiedName`: a lowercase DNS subdomain with at least three segments.
fn validate_qualified_webhook_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    let valid_label = |l: &str| {
        let b = l.as_bytes();
        let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        match (b.first(), b.last()) {
            (Some(f), Some(e)) => alnum(f) && alnum(e) && b.iter().all(|c| alnum(c) || *c == b'-'),
            _ => false,
        }
    };
    if name.len() > 253 || !name.split('.').all(valid_label) {
        return Err(format!("{name:?} must be a lowercase RFC 1123 subdomain"));
    }
    if name.split('.').count() < 3 {
        return Err(format!(
            "{name:?} should be a domain with at least three segments separated by dots"
        ));
    }
    Ok(())
}

fn validate_review_versions(versions: &[String]) -> Result<(), String> {
    if versions.is_empty() {
        return Err("must specify one of v1, v1beta1".into());
    }
    let mut seen = HashSet::new();
    for v in versions {
        if !seen.insert(v.as_str()) {
            return Err(format!("duplicate version {v:?}"));
        }
    }
    if !versions.iter().any(|v| v == "v1" || v == "v1beta1") {
        return Err("must include at least one of v1, v1beta1".into());
    }
    Ok(())
}

/// The client config with defaults; errors are (field suffix, message).
fn client_config(wh: &MutatingWebhook) -> Result<ClientConfigSummary, (String, String)> {
    let cc = &wh.client_config;
    let target = match (&cc.url, &cc.service) {
        (Some(url), None) => {
            if !url.starts_with("https://") {
                return Err((
                    ".url".into(),
                    "'https' is the only allowed URL scheme".into(),
                ));
            }
            WebhookTarget::Url(url.clone())
        }
        (None, Some(s)) => {
            let port = s.port.unwrap_or(443);
            if !(1..=65535).contains(&port) {
                return Err((
                    ".service.port".into(),
                    "port is not valid: must be between 1 and 65535, inclusive".into(),
                ));
            }
            if let Some(p) = &s.path
                && !p.starts_with('/')
            {
                return Err((".service.path".into(), "must start with a '/'".into()));
            }
            WebhookTarget::Service {
                namespace: s.namespace.clone(),
                name: s.name.clone(),
                port,
                path: s.path.clone(),
            }
        }
        _ => {
            return Err((
                String::new(),
                "exactly one of url or service is required".into(),
            ));
        }
    };
    Ok(ClientConfigSummary {
        target,
        ca_bundle: cc.ca_bundle.as_ref().map(|b| b.0.clone()),
    })
}

/// Validates (count, names, non-empty expressions) and compiles the matchConditions; errors
/// are (field, message).
fn compile_match_conditions(
    wh: &MutatingWebhook,
) -> Result<Vec<CompiledMatchCondition>, (String, String)> {
    let list = wh.match_conditions.as_deref().unwrap_or_default();
    if list.len() > 64 {
        return Err((
            "matchConditions".into(),
            "must have at most 64 items".into(),
        ));
    }
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(list.len());
    for (i, mc) in list.iter().enumerate() {
        if mc.name.is_empty() {
            return Err((
                format!("matchConditions[{i}].name"),
                "must not be empty".into(),
            ));
        }
        if !names.insert(mc.name.as_str()) {
            return Err((
                format!("matchConditions[{i}].name"),
                format!("duplicate value {:?}", mc.name),
            ));
        }
        if mc.expression.trim().is_empty() {
            return Err((
                format!("matchConditions[{i}].expression"),
                "must not be empty".into(),
            ));
        }
        out.push(CompiledMatchCondition::compile(&mc.name, &mc.expression));
    }
    Ok(out)
}
