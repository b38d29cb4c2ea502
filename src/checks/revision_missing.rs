//! `revision-missing`: an `istio.io/rev` label (on a namespace, or on a pod in a namespace
//! without injection labels, where the pod's label is what the webhooks read) that names a
//! revision or tag no active webhook serves. Nothing selects such pods: typically the revision
//! was removed or renamed during a canary upgrade, or a tag was never created.

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::engine::Engine;

use super::support::{
    MetaChange, Section, change_command, covered_by_workload, get, has_istio, name_list,
    shell_quote,
};
use super::util::{ISTIO_REV, subject_name, subject_ref};

pub struct RevisionMissing;

const ID: &str = "revision-missing";
const ISTIO_INJECTION: &str = "istio-injection";

impl Check for RevisionMissing {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/revision-missing.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let engine = ctx.engine;
        if !has_istio(engine) {
            return Err(Skip("no Istio injection webhook in the input".to_owned()));
        }
        let served = engine.istio.served_revision_names();
        let served_text = if served.is_empty() {
            "none".to_owned()
        } else {
            served.join(", ")
        };
        // What to point a stale label at: the default tag or revision when there is one.
        let suggestion = served
            .iter()
            .find(|r| r.as_str() == "default")
            .or_else(|| served.first())
            .cloned();

        for ns in ctx.state.namespaces.iter() {
            let Some(name) = ns.obj.metadata.name.as_deref() else {
                continue;
            };
            if !ctx.in_scope(Some(name)) {
                continue;
            }
            let labels = ns.obj.metadata.labels.as_ref();
            // With istio-injection present the rev label is not read (namespace-label-conflict).
            if get(labels, ISTIO_INJECTION).is_some() {
                continue;
            }
            let Some(rev) = get(labels, ISTIO_REV) else {
                continue;
            };
            if served.iter().any(|s| s == rev) {
                continue;
            }
            let pods: Vec<String> = ctx
                .subjects
                .iter()
                .filter(|(s, _)| s.namespace == name && !covered_by_workload(ctx, s))
                .map(|(s, _)| subject_name(s))
                .collect();
            let affected = if pods.is_empty() {
                "no pod created there is injected".to_owned()
            } else {
                format!(
                    "{} {} no Istio sidecar",
                    name_list(&pods, 5),
                    if pods.len() == 1 { "gets" } else { "get" }
                )
            };
            let ns_q = shell_quote(name);
            let fix = match &suggestion {
                Some(s) => format!(
                    "kubectl label namespace {ns_q} {ISTIO_REV}={} --overwrite && kubectl rollout restart deployment -n {ns_q}",
                    shell_quote(s)
                ),
                None => format!("kubectl label namespace {ns_q} {ISTIO_REV}-"),
            };
            out.push(Finding {
                check: ID.to_owned(),
                severity: Severity::Error,
                object: ObjectRef::new("Namespace", None, name),
                message: format!(
                    "namespace \"{name}\" is labelled {ISTIO_REV}={rev}, but no active webhook serves a revision or tag \"{rev}\" (served: {served_text}{}): {affected}",
                    deactivated_note(engine, rev)
                ),
                evidence: vec![Evidence::new(
                    format!("metadata.labels.{ISTIO_REV}"),
                    rev,
                    format!("one of: {served_text}"),
                    &ns.origin,
                )],
                fix,
            });
        }

        for (subject, _) in ctx.subjects {
            if covered_by_workload(ctx, subject) {
                continue;
            }
            let Some(rev) = get(subject.meta.labels.as_ref(), ISTIO_REV) else {
                continue;
            };
            // A namespace label of either kind decides instead of the pod's.
            let ns_labels = engine.namespace_labels(&subject.namespace);
            if get(ns_labels, ISTIO_INJECTION).is_some() || get(ns_labels, ISTIO_REV).is_some() {
                continue;
            }
            if served.iter().any(|s| s == rev) {
                continue;
            }
            let path = match subject.target.kind.as_str() {
                "Pod" => "metadata",
                "CronJob" => "spec.jobTemplate.spec.template.metadata",
                _ => "spec.template.metadata",
            };
            let fix = match &suggestion {
                Some(s) => change_command(
                    subject,
                    &[MetaChange {
                        section: Section::Labels,
                        key: ISTIO_REV,
                        value: Some(s),
                    }],
                    &[],
                ),
                None => change_command(
                    subject,
                    &[MetaChange {
                        section: Section::Labels,
                        key: ISTIO_REV,
                        value: None,
                    }],
                    &[],
                ),
            };
            out.push(Finding {
                check: ID.to_owned(),
                severity: Severity::Error,
                object: subject_ref(subject),
                message: format!(
                    "{} is labelled {ISTIO_REV}={rev}, but no active webhook serves a revision or tag \"{rev}\" (served: {served_text}{}): it gets no Istio sidecar",
                    subject_name(subject),
                    deactivated_note(engine, rev)
                ),
                evidence: vec![Evidence::new(
                    format!("{path}.labels.{ISTIO_REV}"),
                    rev,
                    format!("one of: {served_text}"),
                    &subject.origin,
                )],
                fix,
            });
        }
        Ok(())
    }
}

/// `; the webhooks of X that name it are deactivated` when `istioctl tag` neutralised them.
fn deactivated_note(engine: &Engine<'_>, rev: &str) -> String {
    let configs: Vec<&str> = engine
        .istio
        .webhooks
        .iter()
        .filter(|w| w.deactivated && (w.tag.as_deref() == Some(rev) || w.revision == rev))
        .map(|w| w.configuration.as_str())
        .collect();
    match configs.first() {
        Some(c) => format!("; the webhooks of {c} that name it are deactivated"),
        None => String::new(),
    }
}
