//! `host-network`: pods that ask for a sidecar but run on the host network. Neither istiod nor
//! Linkerd's injector ever injects such a pod (a proxy would capture the node's traffic), so
//! the request cannot be met; either the pod leaves the host network or it opts out openly.

use k8s_openapi::api::core::v1::PodSpec;
use serde_json::json;

use crate::check::{Check, CheckContext, Evidence, Finding, Severity, Skip};
use crate::decision::Mesh;
use crate::engine::{Verdict, WebhookRole};
use crate::workload::PodSubject;

use super::support::{
    Meshes, MetaChange, Section, change_command, covered_by_workload, required_meshes, shell_quote,
};
use super::util::{ISTIO_INJECT, LINKERD_INJECT, injection_intent, subject_name, subject_ref};

pub struct HostNetwork;

const ID: &str = "host-network";

impl Check for HostNetwork {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/host-network.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let Meshes { istio, linkerd } = required_meshes(ctx.engine)?;
        for (subject, verdict) in ctx.subjects {
            if covered_by_workload(ctx, subject) {
                continue;
            }
            if subject.spec.and_then(|s| s.host_network) != Some(true) {
                continue;
            }
            let intent = injection_intent(subject);
            let served_by = served_mesh(ctx, verdict);
            let (mesh, asked_by) = match (&intent, served_by) {
                (Some((field, value)), _) => {
                    let mesh = if field.ends_with(LINKERD_INJECT) {
                        Mesh::Linkerd
                    } else {
                        Mesh::Istio
                    };
                    (mesh, format!("{field}={value}"))
                }
                // The namespace asks and the injector refused. An Istio webhook matches only
                // namespaces (or pods) labelled for it; Linkerd's matches nearly every pod and
                // decides by annotation, so there the engine must inject the same pod once it
                // is off the host network.
                (None, Some(mesh))
                    if verdict.decisive == "host-network"
                        && (mesh == Mesh::Istio || injected_without(ctx, subject)) =>
                {
                    (mesh, format!("its namespace \"{}\"", subject.namespace))
                }
                _ => continue,
            };
            if (mesh == Mesh::Istio && !istio) || (mesh == Mesh::Linkerd && !linkerd) {
                continue;
            }
            let refusal = match mesh {
                Mesh::Istio => "istiod never injects pods on the host network",
                Mesh::Linkerd => "Linkerd skips pods on the host network (host_network_enabled)",
            };
            let fix = if intent.is_some() {
                leave_host_network(subject)
            } else {
                let (section, key, value) = match mesh {
                    Mesh::Istio => (Section::Labels, ISTIO_INJECT, "false"),
                    Mesh::Linkerd => (Section::Annotations, LINKERD_INJECT, "disabled"),
                };
                change_command(
                    subject,
                    &[MetaChange {
                        section,
                        key,
                        value: Some(value),
                    }],
                    &[],
                )
            };
            let spec_path = match subject.target.kind.as_str() {
                "Pod" => "spec.hostNetwork",
                "CronJob" => "spec.jobTemplate.spec.template.spec.hostNetwork",
                _ => "spec.template.spec.hostNetwork",
            };
            out.push(Finding {
                check: ID.to_owned(),
                severity: Severity::Warning,
                object: subject_ref(subject),
                message: format!(
                    "{} asks for a sidecar ({asked_by}) but sets hostNetwork: true, and {refusal}: it will run without one",
                    subject_name(subject)
                ),
                evidence: vec![Evidence::new(
                    spec_path,
                    "true",
                    "false (or no sidecar request)",
                    &subject.origin,
                )],
                fix,
            });
        }
        Ok(())
    }
}

/// Whether the engine injects the pod when it is not on the host network.
fn injected_without(ctx: &CheckContext<'_>, subject: &PodSubject<'_>) -> bool {
    let Some(spec) = subject.spec else {
        return false;
    };
    let off = PodSpec {
        host_network: Some(false),
        ..spec.clone()
    };
    let ns_labels = ctx.engine.effective_labels(&subject.namespace);
    ctx.engine
        .verdict_with(subject, subject.meta, Some(&off), &ns_labels, None)
        .inject
}

fn served_mesh(ctx: &CheckContext<'_>, verdict: &Verdict) -> Option<Mesh> {
    match verdict.webhook.and_then(|i| ctx.engine.roles.get(i))? {
        WebhookRole::Istio { .. } => Some(Mesh::Istio),
        WebhookRole::Linkerd => Some(Mesh::Linkerd),
        WebhookRole::Other => None,
    }
}

/// `hostNetwork` is immutable on a pod: a workload's template is patched, a bare pod recreated.
fn leave_host_network(subject: &PodSubject<'_>) -> String {
    let ns = shell_quote(&subject.namespace);
    let name = shell_quote(&subject.target.name);
    let off = json!({"hostNetwork": false});
    let patch = match subject.target.kind.as_str() {
        "Pod" => {
            return format!(
                "kubectl get pod {name} -n {ns} -o json | kubectl patch -f - --local --type merge -p '{{\"spec\":{{\"hostNetwork\":false}}}}' -o yaml | kubectl replace --force -f -"
            );
        }
        "CronJob" => json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": off}}}}}),
        _ => json!({"spec": {"template": {"spec": off}}}),
    };
    format!(
        "kubectl patch {} {name} -n {ns} --type merge -p {}",
        subject.target.kind.to_ascii_lowercase(),
        shell_quote(&patch.to_string())
    )
}
