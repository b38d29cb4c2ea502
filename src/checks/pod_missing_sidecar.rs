//! `pod-missing-sidecar`: running pods the engine says would be injected if they were created
//! now, but that have no proxy container. Injection happens only at creation, so these pods
//! predate the namespace label (or the policy change), or were created while the injector was
//! unreachable; restarting their workload recreates them through the webhook.

use std::collections::BTreeMap;

use crate::admission::FailurePolicy;
use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::decision::Mesh;
use crate::engine::Verdict;
use crate::mesh::istio::ambient::Enrollment;
use crate::workload::PodSubject;

use super::support::{Owner, controlling_workload, name_list, required_meshes, shell_quote};

pub struct PodMissingSidecar;

const ID: &str = "pod-missing-sidecar";

impl Check for PodMissingSidecar {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/pod-missing-sidecar.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        required_meshes(ctx.engine)?;
        // Pods grouped by the workload whose restart recreates them; bare pods stand alone.
        let mut groups: BTreeMap<GroupKey, Vec<Missing<'_>>> = BTreeMap::new();
        for (subject, verdict) in ctx.subjects {
            if subject.target.kind != "Pod" || !verdict.inject || !is_live(ctx, subject) {
                continue;
            }
            let proxy = match verdict.mesh {
                Some(Mesh::Istio) => "istio-proxy",
                Some(Mesh::Linkerd) => "linkerd-proxy",
                None => continue,
            };
            // An ambient pod has no sidecar by design (ztunnel carries its traffic); a
            // namespace that asks for both is `namespace-ambient-and-sidecar`'s finding.
            if verdict.mesh == Some(Mesh::Istio) && is_ambient(ctx, subject) {
                continue;
            }
            let Some(spec) = subject.spec else { continue };
            let names: Vec<&str> = spec
                .init_containers
                .iter()
                .flatten()
                .chain(spec.containers.iter())
                .map(|c| c.name.as_str())
                .collect();
            if names.contains(&proxy) {
                continue;
            }
            let owner = controlling_workload(ctx.state, &subject.namespace, subject.meta)
                .filter(|o| matches!(o.kind, "Deployment" | "StatefulSet" | "DaemonSet"))
                .map(|Owner { kind, name }| (kind, name));
            let key = match owner {
                Some(o) => (subject.namespace.clone(), Some(o)),
                None => (
                    subject.namespace.clone(),
                    Some(("Pod", subject.target.name.clone())),
                ),
            };
            groups.entry(key).or_default().push(Missing {
                subject,
                verdict,
                proxy,
                containers: names.join(", "),
            });
        }
        for ((ns, owner), pods) in groups {
            let Some(first) = pods.first() else { continue };
            let (kind, name) = owner.unwrap_or(("Pod", first.subject.target.name.clone()));
            let pod_names: Vec<String> =
                pods.iter().map(|p| p.subject.target.name.clone()).collect();
            let webhook = first
                .verdict
                .webhook
                .and_then(|i| ctx.engine.webhooks.get(i));
            let via = webhook
                .map(|w| format!(" (webhook {}/{})", w.configuration, w.name))
                .unwrap_or_default();
            let why = if webhook.is_some_and(|w| w.failure_policy == FailurePolicy::Ignore) {
                "created before the namespace or pod asked for injection, or while the injector was unreachable (the webhook's failurePolicy is Ignore, so such pods start without a sidecar)"
            } else {
                "created before the namespace or pod asked for injection, or while the injection webhook was missing or did not select it"
            };
            let (object, whose, fix) = if kind == "Pod" {
                (
                    ObjectRef::new("Pod", Some(ns.as_str()), &name),
                    format!("pod {name}"),
                    format!(
                        "kubectl delete pod {} -n {}",
                        shell_quote(&name),
                        shell_quote(&ns)
                    ),
                )
            } else {
                let lower = kind.to_ascii_lowercase();
                let plural = if pods.len() == 1 { "pod" } else { "pods" };
                (
                    ObjectRef::new(kind, Some(ns.as_str()), &name),
                    format!("{plural} {} of {lower} {name}", name_list(&pod_names, 5)),
                    format!(
                        "kubectl rollout restart {lower}/{} -n {}",
                        shell_quote(&name),
                        shell_quote(&ns)
                    ),
                )
            };
            let verb = if pods.len() == 1 { "runs" } else { "run" };
            let evidence = pods
                .iter()
                .take(5)
                .map(|p| {
                    Evidence::new(
                        format!("pod {}: containers", p.subject.target.name),
                        p.containers.clone(),
                        format!("{} among them", p.proxy),
                        &p.subject.origin,
                    )
                })
                .collect();
            out.push(Finding {
                check: ID.to_owned(),
                severity: Severity::Warning,
                object,
                message: format!(
                    "{whose} {verb} without the {} sidecar although {} would be injected if created now{via}: {why}",
                    first.proxy,
                    if pods.len() == 1 { "it" } else { "they" }
                ),
                evidence,
                fix,
            });
        }
        Ok(())
    }
}

/// The namespace and the workload (or pod) whose restart (or deletion) recreates the pods.
type GroupKey = (String, Option<(&'static str, String)>);

struct Missing<'a> {
    subject: &'a PodSubject<'a>,
    verdict: &'a Verdict,
    proxy: &'static str,
    containers: String,
}

fn is_ambient(ctx: &CheckContext<'_>, subject: &PodSubject<'_>) -> bool {
    static NONE: BTreeMap<String, String> = BTreeMap::new();
    let ns = ctx
        .engine
        .namespace_labels(&subject.namespace)
        .unwrap_or(&NONE);
    let pod = subject.meta.labels.as_ref().unwrap_or(&NONE);
    Enrollment::of(ns, pod).is_ambient()
}

/// A pod that is still meant to run: not finished and not being deleted.
fn is_live(ctx: &CheckContext<'_>, subject: &PodSubject<'_>) -> bool {
    if subject.meta.deletion_timestamp.is_some() {
        return false;
    }
    let phase = ctx
        .state
        .pods
        .get(Some(&subject.namespace), &subject.target.name)
        .and_then(|p| p.obj.status.as_ref())
        .and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded" | "Failed"))
}
