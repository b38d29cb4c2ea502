//! `namespace-label-conflict`: a namespace labelled both `istio-injection` and `istio.io/rev`.
//! Every Istio webhook that reads `istio.io/rev` requires `istio-injection` to be absent, so
//! `istio-injection` wins: the finding says which revision really injects the namespace (or
//! that none does), found by asking the engine about a plain pod there.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::decision::TargetRef;
use crate::engine::WebhookRole;
use crate::origin::Origin;
use crate::workload::PodSubject;

use super::support::{has_istio, shell_quote};
use super::util::ISTIO_REV;

pub struct NamespaceLabelConflict;

const ID: &str = "namespace-label-conflict";
const ISTIO_INJECTION: &str = "istio-injection";

impl Check for NamespaceLabelConflict {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/namespace-label-conflict.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let engine = ctx.engine;
        if !has_istio(engine) {
            return Err(Skip("no Istio injection webhook in the input".to_owned()));
        }
        let probe_meta = ObjectMeta::default();
        for ns in ctx.state.namespaces.iter() {
            let Some(name) = ns.obj.metadata.name.as_deref() else {
                continue;
            };
            if !ctx.in_scope(Some(name)) {
                continue;
            }
            let labels = ns.obj.metadata.labels.as_ref();
            let (Some(injection), Some(rev)) = (
                labels.and_then(|l| l.get(ISTIO_INJECTION)),
                labels.and_then(|l| l.get(ISTIO_REV)),
            ) else {
                continue;
            };
            // `istio-injection=disabled` next to `istio.io/rev` is Istio's documented way to
            // switch a revisioned namespace off; istioctl analyze accepts it too.
            if injection == "disabled" {
                continue;
            }
            // A plain pod in the namespace: which Istio webhook does the API server call?
            let probe = PodSubject {
                target: TargetRef {
                    kind: "Pod".to_owned(),
                    namespace: Some(name.to_owned()),
                    name: String::new(),
                },
                namespace: name.to_owned(),
                meta: &probe_meta,
                spec: None,
                workload_meta: None,
                origin: Origin::Derived,
            };
            let served =
                engine
                    .matched_injectors(&probe)
                    .into_iter()
                    .find_map(|(i, _)| match engine.roles.get(i) {
                        Some(WebhookRole::Istio { revision }) => {
                            engine.webhooks.get(i).map(|w| (revision.clone(), w))
                        }
                        _ => None,
                    });
            let outcome = match &served {
                Some((revision, w)) if revision == rev => format!(
                    "istio-injection wins; it happens to select the same revision \"{revision}\" (webhook {}/{}), so istio.io/rev is redundant",
                    w.configuration, w.name
                ),
                Some((revision, w)) => format!(
                    "istio-injection wins, so its pods are injected by revision \"{revision}\" (webhook {}/{}), not \"{rev}\"",
                    w.configuration, w.name
                ),
                None => format!(
                    "istio-injection wins, and no Istio webhook selects istio-injection={injection}: its pods are not injected by any revision, \"{rev}\" included"
                ),
            };
            let ns_q = shell_quote(name);
            out.push(Finding {
                check: ID.to_owned(),
                severity: Severity::Warning,
                object: ObjectRef::new("Namespace", None, name),
                message: format!(
                    "namespace \"{name}\" has both {ISTIO_INJECTION}={injection} and {ISTIO_REV}={rev}: {outcome}"
                ),
                evidence: vec![Evidence::new(
                    "metadata.labels",
                    format!("{ISTIO_INJECTION}={injection}, {ISTIO_REV}={rev}"),
                    format!("only one of {ISTIO_INJECTION} or {ISTIO_REV}"),
                    &ns.origin,
                )],
                fix: format!(
                    "kubectl label namespace {ns_q} {ISTIO_INJECTION}- && kubectl rollout restart deployment -n {ns_q}"
                ),
            });
        }
        Ok(())
    }
}
