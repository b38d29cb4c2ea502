//! `namespace-ambient-and-sidecar`: a namespace labelled for the ambient data plane
//! (`istio.io/dataplane-mode`) and for sidecar injection (`istio-injection=enabled`, or
//! `istio.io/rev` without `istio-injection`) at once, the pair Istio's `IST0123` counts. The
//! finding says which one wins for a plain pod there, by asking the engine.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::decision::TargetRef;
use crate::mesh::istio::ambient::{AMBIENT, DATAPLANE_MODE};
use crate::mesh::istio::install::DEFAULT_NAMESPACE;
use crate::origin::Origin;
use crate::workload::PodSubject;

use super::support::shell_quote;
use super::util::ISTIO_REV;

pub struct NamespaceAmbientAndSidecar;

const ID: &str = "namespace-ambient-and-sidecar";
const ISTIO_INJECTION: &str = "istio-injection";

impl Check for NamespaceAmbientAndSidecar {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/namespace-ambient-and-sidecar.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let probe_meta = ObjectMeta::default();
        for ns in ctx.state.namespaces.iter() {
            let Some(name) = ns.obj.metadata.name.as_deref() else {
                continue;
            };
            // The control plane's own namespace is left alone, as istioctl analyze does.
            if name == DEFAULT_NAMESPACE || !ctx.in_scope(Some(name)) {
                continue;
            }
            let Some(labels) = ns.obj.metadata.labels.as_ref() else {
                continue;
            };
            let Some(mode) = labels.get(DATAPLANE_MODE) else {
                continue;
            };
            // The sidecar label that selects the namespace: istio-injection=enabled, or
            // istio.io/rev when istio-injection is absent (any other istio-injection value
            // switches sidecars off, and then the ambient label is the only one that counts).
            let sidecar_label = match (labels.get(ISTIO_INJECTION), labels.get(ISTIO_REV)) {
                (Some(v), _) if v == "enabled" => format!("{ISTIO_INJECTION}={v}"),
                (None, Some(rev)) => format!("{ISTIO_REV}={rev}"),
                _ => continue,
            };
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
            let injected = ctx.engine.verdict(&probe).inject;
            let outcome = match (mode == AMBIENT, injected) {
                (true, true) => "a plain pod there gets a sidecar, and the ambient data plane leaves pods with a sidecar alone: the ambient label has no effect on them, and removing the sidecar label later silently moves the pods to ambient".to_owned(),
                (true, false) => format!(
                    "yet no injection webhook injects a plain pod there, so its pods are ambient and {sidecar_label} does nothing"
                ),
                (false, _) => format!(
                    "{DATAPLANE_MODE}={mode} next to a sidecar label says two things about the same pods"
                ),
            };
            let ns_q = shell_quote(name);
            out.push(Finding {
                check: ID.to_owned(),
                severity: Severity::Warning,
                object: ObjectRef::new("Namespace", None, name),
                message: format!(
                    "namespace \"{name}\" asks for both the ambient data plane ({DATAPLANE_MODE}={mode}) and sidecar injection ({sidecar_label}): {outcome}"
                ),
                evidence: vec![Evidence::new(
                    "metadata.labels",
                    format!("{DATAPLANE_MODE}={mode}, {sidecar_label}"),
                    format!("either {DATAPLANE_MODE} or a sidecar injection label, not both"),
                    &ns.origin,
                )],
                fix: if injected {
                    format!("kubectl label namespace {ns_q} {DATAPLANE_MODE}-")
                } else {
                    let key = sidecar_label.split('=').next().unwrap_or(ISTIO_INJECTION);
                    format!("kubectl label namespace {ns_q} {key}-")
                },
            });
        }
        Ok(())
    }
}
