//! The injection engine: for one pod (or workload template), which mutating webhooks the API
//! server calls, and what the mesh injector behind the first matching one decides.
//!
//! Everything that does not depend on the pod is prepared once in [`Engine::new`]: webhooks
//! compiled in call order, each webhook's mesh role, namespace labels as the API server sees
//! them, and each Istio revision's injector settings. [`Engine::verdict`] is then cheap enough to
//! run for every pod of a large cluster; [`Engine::explain`] runs the same code with a tracer.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Namespace, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::admission::{
    AdmissionRequest, CompileError, CompiledWebhook, MatchOutcome, MetadataNameLabel,
    compile_configurations_with_origins, effective_namespace_labels,
};
use crate::decision::{Decision, Mesh, WebhookRef};
use crate::mesh::istio::ambient::Enrollment;
use crate::mesh::istio::config::InjectorSettings;
use crate::mesh::istio::decide::{INJECT_KEY, PodFacts, inject_required};
use crate::mesh::istio::install::{IstioInstall, is_istio_injector_webhook};
use crate::mesh::istio::native::NativeSidecars;
use crate::mesh::istio::version::{IstioVersion, VersionInfo};
use crate::state::ClusterState;
use crate::trace::{NoTrace, Step, StepResult, Trace, Tracer};
use crate::workload::PodSubject;

/// Settings that change how the engine reads the state.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// `--istio-version`: overrides the detected control-plane version.
    pub istio_version: Option<IstioVersion>,
    /// Whether the API server adds `kubernetes.io/metadata.name` to namespaces (≥ 1.21).
    pub metadata_name_label: MetadataNameLabel,
}

/// What a webhook is to the meshes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookRole {
    Istio { revision: String },
    Linkerd,
    Other,
}

/// The verdict without a trace: what `check` computes for every pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub inject: bool,
    pub mesh: Option<Mesh>,
    /// Index into [`Engine::webhooks`] of the injector webhook that decided, when one matched.
    pub webhook: Option<usize>,
    pub decisive: &'static str,
    /// How many mesh injector webhooks matched (more than one means double injection).
    pub injectors_matched: u8,
    /// A matching webhook could not be evaluated offline (CEL, unknown namespace).
    pub not_evaluated: bool,
}

pub struct Engine<'s> {
    pub state: &'s ClusterState,
    pub webhooks: Vec<CompiledWebhook>,
    pub roles: Vec<WebhookRole>,
    pub compile_errors: Vec<CompileError>,
    pub istio: IstioInstall,
    /// Each Istio revision's native-sidecar flag and the Nodes' kubelet versions.
    pub native: NativeSidecars,
    /// Effective labels per known namespace.
    namespace_labels: HashMap<String, BTreeMap<String, String>>,
    options: EngineOptions,
    /// Some webhook has matchConditions: the pod must be given to CEL as JSON.
    needs_object_json: bool,
    /// Linkerd's install settings (`linkerd-config`) per Linkerd webhook index.
    linkerd_settings: HashMap<
        usize,
        Result<crate::mesh::linkerd::InjectorSettings, crate::mesh::linkerd::LinkerdConfigError>,
    >,
}

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

impl<'s> Engine<'s> {
    /// The namespace of a Linkerd injector webhook's Service: Linkerd's control-plane
    /// namespace, where `linkerd-config` lives (`linkerd` for a URL webhook or an unknown one).
    pub fn linkerd_control_namespace(
        &self,
        webhook: Option<&crate::decision::WebhookRef>,
    ) -> String {
        webhook
            .and_then(|r| {
                self.webhooks
                    .iter()
                    .find(|w| *w.configuration == *r.configuration && *w.name == *r.name)
            })
            .and_then(|w| match &w.client_config.target {
                crate::admission::WebhookTarget::Service { namespace, .. } => {
                    Some(namespace.clone())
                }
                crate::admission::WebhookTarget::Url(_) => None,
            })
            .unwrap_or_else(|| "linkerd".to_owned())
    }

    pub fn new(state: &'s ClusterState, options: EngineOptions) -> Engine<'s> {
        let configs: Vec<_> = state
            .mutating_webhooks
            .iter()
            .map(|c| (&c.obj, Some(c.origin.clone())))
            .collect();
        let (webhooks, compile_errors) = compile_configurations_with_origins(&configs);
        let roles: Vec<WebhookRole> = webhooks
            .iter()
            .map(|w| {
                if is_istio_injector_webhook(&w.name) {
                    let revision = state
                        .mutating_webhooks
                        .get(None, &w.configuration)
                        .and_then(|c| c.obj.metadata.labels.as_ref()?.get("istio.io/rev").cloned())
                        .filter(|r| !r.is_empty())
                        .or_else(|| match &w.client_config.target {
                            crate::admission::WebhookTarget::Service { name, .. } => {
                                name.strip_prefix("istiod-").map(str::to_owned)
                            }
                            crate::admission::WebhookTarget::Url(_) => None,
                        })
                        .unwrap_or_else(|| "default".to_owned());
                    WebhookRole::Istio { revision }
                } else if is_linkerd_injector_webhook(&w.configuration, &w.name) {
                    WebhookRole::Linkerd
                } else {
                    WebhookRole::Other
                }
            })
            .collect();
        let namespace_labels = state
            .namespaces
            .iter()
            .filter_map(|ns| {
                let name = ns.obj.metadata.name.as_deref()?;
                let labels = ns.obj.metadata.labels.as_ref().unwrap_or(&NO_LABELS);
                Some((
                    name.to_owned(),
                    effective_namespace_labels(name, labels, options.metadata_name_label)
                        .into_owned(),
                ))
            })
            .collect();
        let needs_object_json = webhooks.iter().any(|w| !w.match_conditions.is_empty());
        let istio = IstioInstall::discover(state, options.istio_version);
        let native = NativeSidecars::new(state, &istio);
        // Linkerd reads its install settings from linkerd-config in the control-plane
        // namespace, which is where its webhook's Service lives.
        let linkerd_settings = webhooks
            .iter()
            .enumerate()
            .filter(|(i, _)| roles.get(*i) == Some(&WebhookRole::Linkerd))
            .map(|(i, w)| {
                let ns = match &w.client_config.target {
                    crate::admission::WebhookTarget::Service { namespace, .. } => namespace.clone(),
                    crate::admission::WebhookTarget::Url(_) => "linkerd".to_owned(),
                };
                (
                    i,
                    crate::mesh::linkerd::InjectorSettings::from_state(state, &ns),
                )
            })
            .collect();
        Engine {
            state,
            webhooks,
            roles,
            compile_errors,
            istio,
            native,
            namespace_labels,
            options,
            needs_object_json,
            linkerd_settings,
        }
    }

    pub fn webhook_ref(&self, index: usize) -> Option<WebhookRef> {
        self.webhooks.get(index).map(|w| WebhookRef {
            configuration: w.configuration.to_string(),
            name: w.name.to_string(),
        })
    }

    /// Labels the API server matches namespaceSelectors against for `namespace`, or `None`
    /// when the namespace is not in the input.
    pub fn namespace_labels(&self, namespace: &str) -> Option<&BTreeMap<String, String>> {
        self.namespace_labels.get(namespace)
    }

    /// The verdict for one pod, without a trace.
    pub fn verdict(&self, subject: &PodSubject<'_>) -> Verdict {
        let ns_labels = self.labels_for(&subject.namespace);
        self.decide(
            subject.meta,
            subject.spec,
            &subject.namespace,
            &ns_labels,
            &mut NoTrace,
        )
    }

    fn labels_for(&self, namespace: &str) -> Cow<'_, BTreeMap<String, String>> {
        match self.namespace_labels.get(namespace) {
            Some(l) => Cow::Borrowed(l),
            None => Cow::Owned(
                effective_namespace_labels(namespace, &NO_LABELS, self.options.metadata_name_label)
                    .into_owned(),
            ),
        }
    }

    /// The full decision with its trace and the change that would flip it.
    pub fn explain(&self, subject: &PodSubject<'_>) -> Decision {
        let mut trace = Trace::default();
        let ns_labels = self.labels_for(&subject.namespace);
        self.trace_context(subject, &ns_labels, &mut trace);
        let verdict = self.decide(
            subject.meta,
            subject.spec,
            &subject.namespace,
            &ns_labels,
            &mut trace,
        );
        let pod_labels = subject.meta.labels.as_ref().unwrap_or(&NO_LABELS);
        if let Some(step) =
            Enrollment::of(&ns_labels, pod_labels).step(&subject.namespace, verdict.inject)
        {
            trace.record(|| step);
        }
        let flip = crate::flip::find_flip(self, subject, &verdict);
        Decision {
            target: subject.target.clone(),
            inject: verdict.inject,
            mesh: verdict.mesh,
            webhook: verdict.webhook.and_then(|i| self.webhook_ref(i)),
            revision: verdict.webhook.and_then(|i| match self.roles.get(i) {
                Some(WebhookRole::Istio { revision }) => Some(revision.clone()),
                _ => None,
            }),
            decisive: verdict.decisive.to_owned(),
            trace: trace.steps,
            flip,
            findings: Vec::new(),
        }
    }

    /// Steps that describe the inputs: the namespace's labels, the workload metadata, the
    /// control-plane version rules.
    fn trace_context(
        &self,
        subject: &PodSubject<'_>,
        ns_labels: &BTreeMap<String, String>,
        trace: &mut Trace,
    ) {
        let ns = &subject.namespace;
        match self.state.namespaces.get(None, ns) {
            Some(n) => trace.record(|| {
                Step::new(
                    "namespace",
                    StepResult::Info,
                    format!("namespace \"{ns}\" has labels {}", show_labels(ns_labels)),
                )
                .with_source(crate::trace::StepSource {
                    object: format!("Namespace/{ns}"),
                    field: "metadata.labels".into(),
                    location: n.origin.to_string(),
                })
            }),
            None => trace.record(|| {
                Step::new(
                    "namespace",
                    StepResult::Info,
                    format!(
                        "namespace \"{ns}\" is not in the input: assuming it has no labels but {}",
                        show_labels(ns_labels)
                    ),
                )
            }),
        }
        if let Some(wm) = subject.workload_meta {
            for key in [INJECT_KEY, "linkerd.io/inject"] {
                let on_workload = wm
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(key))
                    .or_else(|| wm.labels.as_ref().and_then(|l| l.get(key)));
                if let Some(v) = on_workload {
                    let kind = subject.target.kind.to_ascii_lowercase();
                    trace.record(|| {
                        Step::new(
                            "workload-metadata",
                            StepResult::Info,
                            format!(
                                "{kind} metadata carries {key}={v:?}, which injectors ignore: only the pod template (spec.template.metadata) counts"
                            ),
                        )
                    });
                }
            }
        }
    }

    fn decide<T: Tracer>(
        &self,
        meta: &ObjectMeta,
        spec: Option<&PodSpec>,
        namespace: &str,
        ns_labels: &BTreeMap<String, String>,
        tracer: &mut T,
    ) -> Verdict {
        self.decide_in(meta, spec, namespace, ns_labels, None, tracer)
    }

    fn decide_in<T: Tracer>(
        &self,
        meta: &ObjectMeta,
        spec: Option<&PodSpec>,
        namespace: &str,
        ns_labels: &BTreeMap<String, String>,
        ns_override: Option<&Namespace>,
        tracer: &mut T,
    ) -> Verdict {
        let labels = meta.labels.as_ref().unwrap_or(&NO_LABELS);
        let pod_json = if self.needs_object_json {
            pod_json(meta, spec, namespace)
        } else {
            Value::Null
        };
        let name = meta.name.as_deref().unwrap_or("");
        let request =
            AdmissionRequest::pod_create(namespace, name, &pod_json, Some(labels), Some(ns_labels));

        let mut result: Option<Verdict> = None;
        let mut injectors_matched = 0u8;
        let mut not_evaluated = false;
        let mut any_injector = false;
        for (i, wh) in self.webhooks.iter().enumerate() {
            let role = &self.roles[i];
            if *role == WebhookRole::Other {
                // Other webhooks matter only when they are called; trace them only then.
                if wh.matches(&request, &mut NoTrace).is_matched() {
                    tracer.record(|| {
                        Step::new(
                            "other-webhook",
                            StepResult::Info,
                            format!(
                                "webhook {}/{} (not a mesh injector) is also called",
                                wh.configuration, wh.name
                            ),
                        )
                    });
                }
                continue;
            }
            any_injector = true;
            tracer.record(|| {
                let who = match role {
                    WebhookRole::Istio { revision } => {
                        format!("Istio injector, revision \"{revision}\"")
                    }
                    _ => "Linkerd proxy injector".to_owned(),
                };
                let mut s = Step::new(
                    "webhook",
                    StepResult::Info,
                    format!("webhook {}/{} ({who})", wh.configuration, wh.name),
                );
                if let Some(o) = &wh.origin {
                    s = s.with_source(crate::trace::StepSource {
                        object: format!("MutatingWebhookConfiguration/{}", wh.configuration),
                        field: format!("webhooks[{}]", wh.index),
                        location: o.to_string(),
                    });
                }
                s
            });
            match wh.matches(&request, tracer) {
                MatchOutcome::Matched => {}
                MatchOutcome::NotMatched(_) => continue,
                MatchOutcome::NotEvaluated { .. } => {
                    not_evaluated = true;
                    continue;
                }
            }
            injectors_matched = injectors_matched.saturating_add(1);
            if result.is_some() {
                tracer.record(|| {
                    Step::new(
                        "webhook-overlap",
                        StepResult::Info,
                        format!(
                            "webhook {}/{} also matches: the pod is sent to a second injector",
                            wh.configuration, wh.name
                        ),
                    )
                });
                continue;
            }
            let verdict = self.injector_verdict(i, meta, spec, namespace, ns_override, tracer);
            result = Some(verdict);
        }
        let mut verdict = result.unwrap_or_else(|| {
            let decisive = if any_injector { "no-webhook-matched" } else { "no-injector" };
            tracer.record(|| {
                if any_injector {
                    Step::new("no-webhook-matched", StepResult::Fail, "no mesh injection webhook matches this pod: the API server never calls an injector")
                } else {
                    Step::new(
                        "no-injector",
                        StepResult::Fail,
                        format!(
                            "no Istio or Linkerd injection webhook in the input ({} MutatingWebhookConfigurations)",
                            self.state.mutating_webhooks.len()
                        ),
                    )
                }
            });
            Verdict { inject: false, mesh: None, webhook: None, decisive, injectors_matched: 0, not_evaluated: false }
        });
        verdict.injectors_matched = injectors_matched;
        verdict.not_evaluated = not_evaluated;
        verdict
    }

    /// What the injector behind webhook `index` answers for this pod (the webhook matched).
    fn injector_verdict<T: Tracer>(
        &self,
        index: usize,
        meta: &ObjectMeta,
        spec: Option<&PodSpec>,
        namespace: &str,
        ns_override: Option<&Namespace>,
        tracer: &mut T,
    ) -> Verdict {
        let verdict = |inject: bool, mesh: Mesh, decisive: &'static str| Verdict {
            inject,
            mesh: inject.then_some(mesh),
            webhook: Some(index),
            decisive,
            injectors_matched: 0,
            not_evaluated: false,
        };
        match self.roles.get(index) {
            Some(WebhookRole::Istio { revision }) => {
                let settings = self.istio_settings(revision);
                let facts = PodFacts {
                    namespace,
                    labels: meta.labels.as_ref().unwrap_or(&NO_LABELS),
                    annotations: meta.annotations.as_ref().unwrap_or(&NO_LABELS),
                    host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
                };
                tracer.record(|| {
                    let v = &settings.version;
                    Step::new(
                        "istio-version",
                        StepResult::Info,
                        format!(
                            "{} (version from {})",
                            v.effective().rules().describe(),
                            v.source
                        ),
                    )
                });
                let v = inject_required(&facts, &settings, tracer);
                if v.inject {
                    tracer.record(|| {
                        let node = spec.and_then(|s| s.node_name.as_deref());
                        self.native
                            .decide(self.state, &settings, node, facts.annotations)
                            .step()
                    });
                }
                verdict(v.inject, Mesh::Istio, v.decisive)
            }
            Some(WebhookRole::Linkerd) => {
                let settings = match self.linkerd_settings.get(&index) {
                    Some(Ok(s)) => s,
                    Some(Err(e)) => {
                        tracer.record(|| {
                            Step::new(
                                "linkerd-config",
                                StepResult::Fail,
                                format!("{e}: the proxy injector fails every request it gets"),
                            )
                        });
                        return verdict(false, Mesh::Linkerd, "linkerd-config");
                    }
                    None => &crate::mesh::linkerd::InjectorSettings::CHART_DEFAULTS,
                };
                let pod = Pod {
                    metadata: ObjectMeta {
                        namespace: Some(namespace.to_owned()),
                        ..meta.clone()
                    },
                    spec: spec.cloned(),
                    status: None,
                };
                let ns: Option<&Namespace> = ns_override
                    .or_else(|| self.state.namespaces.get(None, namespace).map(|n| &n.obj));
                let d = crate::mesh::linkerd::decide_with(&pod, ns, settings, tracer);
                verdict(d.inject, Mesh::Linkerd, d.decisive)
            }
            Some(WebhookRole::Other) | None => verdict(false, Mesh::Istio, "no-injector"),
        }
    }

    /// The settings of an Istio revision; the Helm defaults when the input has none for it.
    fn istio_settings(&self, revision: &str) -> Cow<'_, InjectorSettings> {
        match self.istio.settings_for_revision(revision) {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(InjectorSettings::assumed(
                revision,
                VersionInfo {
                    version: self.options.istio_version,
                    source: "no injector ConfigMap or istiod in the input".into(),
                },
            )),
        }
    }

    /// Re-runs the decision with changed namespace labels and pod labels/annotations: how
    /// `flip` verifies a suggested change before printing it.
    pub fn verdict_with(
        &self,
        subject: &PodSubject<'_>,
        meta: &ObjectMeta,
        spec: Option<&PodSpec>,
        ns_labels: &BTreeMap<String, String>,
        ns_override: Option<&Namespace>,
    ) -> Verdict {
        self.decide_in(
            meta,
            spec,
            &subject.namespace,
            ns_labels,
            ns_override,
            &mut NoTrace,
        )
    }

    pub fn effective_labels(&self, namespace: &str) -> BTreeMap<String, String> {
        self.labels_for(namespace).into_owned()
    }

    /// Every mesh injector webhook the API server calls for this pod, in call order, each with
    /// whether its injector would inject the pod if it were the only one called.
    /// [`Verdict::injectors_matched`] only counts the matches and [`Engine::verdict`] decides
    /// with the first; the `webhooks-overlap` check needs the others' names and answers, and
    /// asks only for the rare pods with more than one match.
    pub fn matched_injectors(&self, subject: &PodSubject<'_>) -> Vec<(usize, bool)> {
        let ns_labels = self.labels_for(&subject.namespace);
        let labels = subject.meta.labels.as_ref().unwrap_or(&NO_LABELS);
        let pod_json = if self.needs_object_json {
            pod_json(subject.meta, subject.spec, &subject.namespace)
        } else {
            Value::Null
        };
        let name = subject.meta.name.as_deref().unwrap_or("");
        let request = AdmissionRequest::pod_create(
            &subject.namespace,
            name,
            &pod_json,
            Some(labels),
            Some(&ns_labels),
        );
        let mut out = Vec::new();
        for (i, wh) in self.webhooks.iter().enumerate() {
            let Some(role) = self.roles.get(i) else {
                continue;
            };
            if *role == WebhookRole::Other || !wh.matches(&request, &mut NoTrace).is_matched() {
                continue;
            }
            let inject = self
                .injector_verdict(
                    i,
                    subject.meta,
                    subject.spec,
                    &subject.namespace,
                    None,
                    &mut NoTrace,
                )
                .inject;
            out.push((i, inject));
        }
        out
    }
}

fn is_linkerd_injector_webhook(configuration: &str, name: &str) -> bool {
    crate::mesh::linkerd::is_linkerd_injector_webhook(configuration, name)
}

/// The pod as the API server would send it to CEL: only built when some webhook needs it.
fn pod_json(meta: &ObjectMeta, spec: Option<&PodSpec>, namespace: &str) -> Value {
    let meta = ObjectMeta {
        namespace: Some(namespace.to_owned()),
        ..meta.clone()
    };
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": serde_json::to_value(&meta).unwrap_or(Value::Null),
        "spec": spec.map(|s| serde_json::to_value(s).unwrap_or(Value::Null)).unwrap_or(Value::Null),
    })
}

/// `{a=1, b=2}` or `(none)`.
pub fn show_labels(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "(none)".to_owned();
    }
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join(", ")
}
