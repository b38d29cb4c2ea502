//! `annotation-misplaced`: injection keys where no injector reads them. `sidecar.istio.io/inject`
//! and `linkerd.io/inject` on a workload's own metadata (injectors see only the pod, made from
//! the template), `linkerd.io/inject` as a label (Linkerd reads annotations), and the Istio
//! *annotation* used to opt a pod in where only the *label* can: webhook selectors see labels
//! only, so in a namespace no webhook selects, the annotation never reaches istiod.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::check::{Check, CheckContext, Evidence, Finding, Severity, Skip};
use crate::engine::{Verdict, WebhookRole};
use crate::mesh::istio::version::{InjectRules, InjectValue};
use crate::mesh::linkerd;
use crate::workload::PodSubject;

use super::support::{
    Meshes, MetaChange, Section, change_command, covered_by_workload, get, istio_revision,
    istio_settings, required_meshes,
};
use super::util::{ISTIO_INJECT, LINKERD_INJECT, subject_name, subject_ref};

pub struct AnnotationMisplaced;

const ID: &str = "annotation-misplaced";

impl Check for AnnotationMisplaced {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/annotation-misplaced.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let Meshes { istio, linkerd } = required_meshes(ctx.engine)?;
        for (subject, verdict) in ctx.subjects {
            if covered_by_workload(ctx, subject) {
                continue;
            }
            if istio {
                if let Some(wm) = subject.workload_meta {
                    istio_on_workload(ctx, subject, verdict, wm, out);
                }
                istio_annotation_needs_label(ctx, subject, verdict, out);
            }
            if linkerd {
                linkerd_misplaced(subject, out);
            }
        }
        Ok(())
    }
}

/// The rules of the Istio version that would serve the subject (current rules when unknown).
fn rules(ctx: &CheckContext<'_>, subject: &PodSubject<'_>, verdict: &Verdict) -> InjectRules {
    istio_settings(ctx.engine, subject, verdict)
        .map(|s| s.version.effective().rules())
        .unwrap_or(InjectRules::LabelWinsExact)
}

/// Where istiod reads the inject value in this version: the label since 1.12.
fn istio_section(rules: InjectRules) -> Section {
    match rules {
        InjectRules::AnnotationOnly => Section::Annotations,
        _ => Section::Labels,
    }
}

fn istio_on_workload(
    ctx: &CheckContext<'_>,
    subject: &PodSubject<'_>,
    verdict: &Verdict,
    wm: &ObjectMeta,
    out: &mut Vec<Finding>,
) {
    let template_label = get(subject.meta.labels.as_ref(), ISTIO_INJECT);
    let template_annotation = get(subject.meta.annotations.as_ref(), ISTIO_INJECT);
    let rules = rules(ctx, subject, verdict);
    let kind = subject.target.kind.to_ascii_lowercase();
    for (section, map) in [
        (Section::Annotations, wm.annotations.as_ref()),
        (Section::Labels, wm.labels.as_ref()),
    ] {
        let Some(value) = get(map, ISTIO_INJECT) else {
            continue;
        };
        // The same value on the template too is harmless duplication.
        if template_label == Some(value) || template_annotation == Some(value) {
            continue;
        }
        let applies = match (template_label, template_annotation) {
            (Some(l), _) => format!("the pod template's label {ISTIO_INJECT}={l:?} applies"),
            (None, Some(a)) => {
                format!("the pod template's annotation {ISTIO_INJECT}={a:?} applies")
            }
            (None, None) => "the pod template has no such key".to_owned(),
        };
        let word = if section == Section::Labels {
            "label"
        } else {
            "annotation"
        };
        let target_section = istio_section(rules);
        let remove = MetaChange {
            section,
            key: ISTIO_INJECT,
            value: None,
        };
        let fix = if template_label.is_some() || template_annotation.is_some() {
            // The template decides already; only remove the misleading key.
            change_command(subject, &[], &[remove])
        } else {
            change_command(
                subject,
                &[MetaChange {
                    section: target_section,
                    key: ISTIO_INJECT,
                    value: Some(value),
                }],
                &[remove],
            )
        };
        out.push(Finding {
            check: ID.to_owned(),
            severity: Severity::Warning,
            object: subject_ref(subject),
            message: format!(
                "{kind} {} has the {word} {ISTIO_INJECT}={value:?} on its own metadata, which istiod and the webhook selectors never see (they see only the pod made from spec.template); {applies}",
                subject.target.name
            ),
            evidence: vec![Evidence::new(
                format!("metadata.{}.{ISTIO_INJECT}", section.key()),
                value,
                format!(
                    "{}.{}.{ISTIO_INJECT}",
                    template_path(subject),
                    target_section.key()
                ),
                &subject.origin,
            )],
            fix,
        });
    }
}

/// `spec.template.metadata` (or the CronJob's nested template, or a pod's own metadata).
fn template_path(subject: &PodSubject<'_>) -> &'static str {
    match subject.target.kind.as_str() {
        "Pod" => "metadata",
        "CronJob" => "spec.jobTemplate.spec.template.metadata",
        _ => "spec.template.metadata",
    }
}

/// The pod asks with the annotation, no webhook selects it, and the label would.
fn istio_annotation_needs_label(
    ctx: &CheckContext<'_>,
    subject: &PodSubject<'_>,
    verdict: &Verdict,
    out: &mut Vec<Finding>,
) {
    // Only when istiod is never called: another mesh's webhook may still have matched.
    if verdict.inject || istio_revision(ctx.engine, verdict).is_some() {
        return;
    }
    let Some(value) = get(subject.meta.annotations.as_ref(), ISTIO_INJECT) else {
        return;
    };
    if get(subject.meta.labels.as_ref(), ISTIO_INJECT).is_some() {
        return;
    }
    let rules = rules(ctx, subject, verdict);
    if rules.parse_value(value) != InjectValue::Yes {
        return;
    }
    // Ask the engine whether the label would opt the pod in; never guess.
    let mut labels: BTreeMap<String, String> = subject.meta.labels.clone().unwrap_or_default();
    labels.insert(ISTIO_INJECT.to_owned(), "true".to_owned());
    let meta = ObjectMeta {
        labels: Some(labels),
        ..subject.meta.clone()
    };
    let ns_labels = ctx.engine.effective_labels(&subject.namespace);
    let with_label = ctx
        .engine
        .verdict_with(subject, &meta, subject.spec, &ns_labels, None);
    if !with_label.inject {
        return;
    }
    let webhook = with_label
        .webhook
        .filter(|i| matches!(ctx.engine.roles.get(*i), Some(WebhookRole::Istio { .. })))
        .and_then(|i| ctx.engine.webhook_ref(i))
        .map(|w| format!(" (webhook {}/{})", w.configuration, w.name))
        .unwrap_or_default();
    let path = template_path(subject);
    out.push(Finding {
        check: ID.to_owned(),
        severity: Severity::Warning,
        object: subject_ref(subject),
        message: format!(
            "{} asks for a sidecar with the annotation {ISTIO_INJECT}={value:?}, but no webhook selects namespace \"{}\" and webhook selectors see only labels: the label {ISTIO_INJECT}=\"true\" on {path} would opt it in{webhook}",
            subject_name(subject),
            subject.namespace
        ),
        evidence: vec![Evidence::new(
            format!("{path}.annotations.{ISTIO_INJECT}"),
            value,
            format!("{path}.labels.{ISTIO_INJECT}=true"),
            &subject.origin,
        )],
        fix: change_command(
            subject,
            &[MetaChange {
                section: Section::Labels,
                key: ISTIO_INJECT,
                value: Some("true"),
            }],
            &[],
        ),
    });
}

fn linkerd_misplaced(subject: &PodSubject<'_>, out: &mut Vec<Finding>) {
    static EMPTY: std::sync::LazyLock<ObjectMeta> = std::sync::LazyLock::new(ObjectMeta::default);
    let wm = subject.workload_meta.unwrap_or(&EMPTY);
    let Some(note) = linkerd::misplaced_annotation(wm, subject.meta) else {
        return;
    };
    let path = template_path(subject);
    let own_annotation = get(wm.annotations.as_ref(), LINKERD_INJECT);
    let own_label = get(wm.labels.as_ref(), LINKERD_INJECT);
    let template_label = get(subject.meta.labels.as_ref(), LINKERD_INJECT);
    let template_annotation = get(subject.meta.annotations.as_ref(), LINKERD_INJECT);

    let mut own = Vec::new();
    if own_annotation.is_some() {
        own.push(MetaChange {
            section: Section::Annotations,
            key: LINKERD_INJECT,
            value: None,
        });
    }
    if own_label.is_some() {
        own.push(MetaChange {
            section: Section::Labels,
            key: LINKERD_INJECT,
            value: None,
        });
    }
    let mut template = Vec::new();
    if template_label.is_some() && template_label != template_annotation {
        template.push(MetaChange {
            section: Section::Labels,
            key: LINKERD_INJECT,
            value: None,
        });
    }
    let wanted = own_annotation.or(own_label).or(template_label);
    if template_annotation.is_none()
        && let Some(v) = wanted
    {
        template.push(MetaChange {
            section: Section::Annotations,
            key: LINKERD_INJECT,
            value: Some(v),
        });
    }
    let (field, observed) = match (own_annotation, own_label, template_label) {
        (Some(v), _, _) => (format!("metadata.annotations.{LINKERD_INJECT}"), v),
        (None, Some(v), _) => (format!("metadata.labels.{LINKERD_INJECT}"), v),
        (None, None, Some(v)) => (format!("{path}.labels.{LINKERD_INJECT}"), v),
        (None, None, None) => return,
    };
    // A bare pod's own metadata is its template: recreating it is the only way.
    let fix = if subject.target.kind == "Pod" {
        change_command(subject, &template, &[])
    } else {
        change_command(subject, &template, &own)
    };
    out.push(Finding {
        check: ID.to_owned(),
        severity: Severity::Warning,
        object: subject_ref(subject),
        message: format!("{}: {note}", subject_name(subject)),
        evidence: vec![Evidence::new(
            field,
            observed,
            format!("{path}.annotations.{LINKERD_INJECT}"),
            &subject.origin,
        )],
        fix,
    });
}
