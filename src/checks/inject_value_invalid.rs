//! `inject-value-invalid`: injection values the injector does not accept, read with the rules
//! of the version that serves the pod. Istio ≥1.27 accepts only `true`/`false` (anything else
//! falls back to the policy); Istio ≤1.26 reads `y/yes/true/on` as yes and anything else as an
//! explicit no (so `enabled` means no); webhook selectors compare the label with exactly
//! `true`/`false`; a namespace's `istio-injection` must be `enabled` or `disabled`; Linkerd
//! accepts only `enabled`, `disabled` and `ingress`, on pods and namespaces.

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::engine::Verdict;
use crate::mesh::istio::config::InjectorSettings;
use crate::mesh::istio::version::{InjectRules, InjectValue, VersionInfo};
use crate::mesh::linkerd::valid_inject_value;
use crate::origin::Origin;
use crate::workload::PodSubject;

use super::support::{
    Meshes, MetaChange, Section, change_command, covered_by_workload, get, istio_revision,
    istio_settings, required_meshes, shell_quote,
};
use super::util::{ISTIO_INJECT, LINKERD_INJECT, subject_name, subject_ref};

pub struct InjectValueInvalid;

const ID: &str = "inject-value-invalid";
const ISTIO_INJECTION: &str = "istio-injection";

impl Check for InjectValueInvalid {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/inject-value-invalid.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let Meshes { istio, linkerd } = required_meshes(ctx.engine)?;
        for ns in ctx.state.namespaces.iter() {
            let Some(name) = ns.obj.metadata.name.as_deref() else {
                continue;
            };
            if !ctx.in_scope(Some(name)) {
                continue;
            }
            if istio && let Some(v) = get(ns.obj.metadata.labels.as_ref(), ISTIO_INJECTION) {
                namespace_istio(name, v, &ns.origin, out);
            }
            if linkerd && let Some(v) = get(ns.obj.metadata.annotations.as_ref(), LINKERD_INJECT) {
                namespace_linkerd(name, v, &ns.origin, out);
            }
        }
        for (subject, verdict) in ctx.subjects {
            if covered_by_workload(ctx, subject) {
                continue;
            }
            if istio {
                pod_istio(ctx, subject, verdict, out);
            }
            if linkerd
                && let Some(v) = get(subject.meta.annotations.as_ref(), LINKERD_INJECT)
                && !v.is_empty()
                && !valid_inject_value(v)
            {
                let good = linkerd_intent(v);
                out.push(Finding {
                    check: ID.to_owned(),
                    severity: Severity::Warning,
                    object: subject_ref(subject),
                    message: format!(
                        "{} sets {LINKERD_INJECT}={v:?}: Linkerd accepts only enabled, disabled or ingress, and skips the pod (invalid_inject_annotation_at_workload)",
                        subject_name(subject)
                    ),
                    evidence: vec![Evidence::new(
                        format!("{}.annotations.{LINKERD_INJECT}", meta_path(subject)),
                        v,
                        "enabled, disabled or ingress",
                        &subject.origin,
                    )],
                    fix: change_command(
                        subject,
                        &[MetaChange {
                            section: Section::Annotations,
                            key: LINKERD_INJECT,
                            value: Some(good),
                        }],
                        &[],
                    ),
                });
            }
        }
        Ok(())
    }
}

fn meta_path(subject: &PodSubject<'_>) -> &'static str {
    match subject.target.kind.as_str() {
        "Pod" => "metadata",
        "CronJob" => "spec.jobTemplate.spec.template.metadata",
        _ => "spec.template.metadata",
    }
}

/// Whether a value reads as "no" to a person: with lenient parsing such values do what they
/// say. Anything else is taken to mean "yes" when a fix has to pick a value.
fn means_no(v: &str) -> bool {
    ["false", "no", "n", "off", "0", "disabled", "disable"]
        .iter()
        .any(|w| v.trim().eq_ignore_ascii_case(w))
}

fn linkerd_intent(v: &str) -> &'static str {
    let t = v.trim();
    if t.eq_ignore_ascii_case("ingress") {
        "ingress"
    } else if means_no(t) {
        "disabled"
    } else {
        "enabled"
    }
}

fn version_text(info: &VersionInfo) -> String {
    match info.version {
        Some(v) => format!("Istio {v}"),
        None => format!(
            "Istio (version unknown, {} rules assumed)",
            VersionInfo::ASSUMED
        ),
    }
}

fn namespace_istio(name: &str, v: &str, origin: &Origin, out: &mut Vec<Finding>) {
    if v == "enabled" || v == "disabled" {
        return;
    }
    let good = if means_no(v) { "disabled" } else { "enabled" };
    out.push(Finding {
        check: ID.to_owned(),
        severity: Severity::Warning,
        object: ObjectRef::new("Namespace", None, name),
        message: format!(
            "namespace \"{name}\" has {ISTIO_INJECTION}={v:?}: only \"enabled\" selects it, and any other value keeps every Istio webhook (istio.io/rev ones included) away from its pods"
        ),
        evidence: vec![Evidence::new(
            format!("metadata.labels.{ISTIO_INJECTION}"),
            v,
            "enabled or disabled",
            origin,
        )],
        fix: format!(
            "kubectl label namespace {} {ISTIO_INJECTION}={good} --overwrite",
            shell_quote(name)
        ),
    });
}

fn namespace_linkerd(name: &str, v: &str, origin: &Origin, out: &mut Vec<Finding>) {
    if v.is_empty() || valid_inject_value(v) {
        return;
    }
    out.push(Finding {
        check: ID.to_owned(),
        severity: Severity::Warning,
        object: ObjectRef::new("Namespace", None, name),
        message: format!(
            "namespace \"{name}\" has the annotation {LINKERD_INJECT}={v:?}: Linkerd accepts only enabled, disabled or ingress, and skips every pod of the namespace (invalid_inject_annotation_at_ns)"
        ),
        evidence: vec![Evidence::new(
            format!("metadata.annotations.{LINKERD_INJECT}"),
            v,
            "enabled, disabled or ingress",
            origin,
        )],
        fix: format!(
            "kubectl annotate namespace {} {LINKERD_INJECT}={} --overwrite",
            shell_quote(name),
            linkerd_intent(v)
        ),
    });
}

/// What is wrong with one Istio value under some rules, or `None` when it does what it says.
/// `istio_called`: whether an Istio webhook matched the pod as it is.
fn istio_problem(
    rules: InjectRules,
    section: Section,
    value: &str,
    istio_called: bool,
) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    let label = section == Section::Labels;
    match rules {
        // ≤1.11: istiod does not read the label; only the webhook selectors do.
        InjectRules::AnnotationOnly if label => (value != "true" && value != "false").then(|| {
            "istiod 1.11 and earlier ignore the label, and the webhook selectors compare it with exactly \"true\" or \"false\"".to_owned()
        }),
        InjectRules::LabelWinsExact => (rules.parse_value(value) == InjectValue::InvalidFallsBack)
            .then(|| {
                "only \"true\" and \"false\" are accepted: istiod ignores it and falls back to the injector policy".to_owned()
            }),
        _ => match rules.parse_value(value) {
            InjectValue::No if !means_no(value) => Some(
                "istiod reads only y, yes, true or on (any case) as yes, so this is an explicit \"do not inject\"".to_owned(),
            ),
            InjectValue::Yes
                if label && value != "true" && !istio_called =>
            {
                Some("istiod would read it as yes, but the object webhooks' selector needs exactly \"true\", so no webhook calls istiod".to_owned())
            }
            _ => None,
        },
    }
}

fn pod_istio(
    ctx: &CheckContext<'_>,
    subject: &PodSubject<'_>,
    verdict: &Verdict,
    out: &mut Vec<Finding>,
) {
    let settings: Option<&InjectorSettings> = istio_settings(ctx.engine, subject, verdict);
    let (rules, version) = match settings {
        Some(s) => (s.version.effective().rules(), version_text(&s.version)),
        None => (
            VersionInfo::ASSUMED.rules(),
            format!("Istio {} rules (no revision found)", VersionInfo::ASSUMED),
        ),
    };
    let label = get(subject.meta.labels.as_ref(), ISTIO_INJECT);
    let annotation = get(subject.meta.annotations.as_ref(), ISTIO_INJECT);
    // Since 1.12 a present label hides the annotation from istiod: report what is read.
    let mut checked: Vec<(Section, &str)> = Vec::new();
    if let Some(l) = label {
        checked.push((Section::Labels, l));
    }
    if let Some(a) = annotation
        && (label.is_none() || rules == InjectRules::AnnotationOnly)
    {
        checked.push((Section::Annotations, a));
    }
    for (section, value) in checked {
        let called = istio_revision(ctx.engine, verdict).is_some();
        let Some(problem) = istio_problem(rules, section, value, called) else {
            continue;
        };
        let word = if section == Section::Labels {
            "label"
        } else {
            "annotation"
        };
        let good = if means_no(value) { "false" } else { "true" };
        let path = meta_path(subject);
        out.push(Finding {
            check: ID.to_owned(),
            severity: Severity::Warning,
            object: subject_ref(subject),
            message: format!(
                "{} sets the {word} {ISTIO_INJECT}={value:?}, which {version} does not accept as meant: {problem}",
                subject_name(subject)
            ),
            evidence: vec![Evidence::new(
                format!("{path}.{}.{ISTIO_INJECT}", section.key()),
                value,
                "\"true\" or \"false\"",
                &subject.origin,
            )],
            fix: change_command(
                subject,
                &[MetaChange {
                    section,
                    key: ISTIO_INJECT,
                    value: Some(good),
                }],
                &[],
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn istio_values_per_version() {
        let v = true;
        let exact = InjectRules::LabelWinsExact;
        let lenient = InjectRules::LabelWinsLenient;
        let old = InjectRules::AnnotationOnly;
        let ann = Section::Annotations;
        let lab = Section::Labels;
        // ≥1.27: only true/false.
        assert!(istio_problem(exact, lab, "yes", v).is_some());
        assert!(istio_problem(exact, ann, "enabled", v).is_some());
        assert!(istio_problem(exact, lab, "true", v).is_none());
        assert!(istio_problem(exact, lab, "false", v).is_none());
        assert!(istio_problem(exact, lab, "", v).is_none());
        // 1.12–1.26: `enabled` is an explicit no; `yes` and `off` do what they say.
        assert!(istio_problem(lenient, ann, "enabled", v).is_some());
        assert!(istio_problem(lenient, ann, "yes", v).is_none());
        assert!(istio_problem(lenient, ann, "off", v).is_none());
        assert!(istio_problem(lenient, lab, "TRUE", v).is_none());
        // ...but a yes-label other than "true" reaches no object webhook.
        assert!(istio_problem(lenient, lab, "yes", false).is_some());
        // ≤1.11: lenient annotation; the label is for selectors only.
        assert!(istio_problem(old, ann, "enabled", v).is_some());
        assert!(istio_problem(old, ann, "on", v).is_none());
        assert!(istio_problem(old, lab, "yes", v).is_some());
        assert!(istio_problem(old, lab, "true", v).is_none());
    }

    #[test]
    fn intents() {
        assert_eq!(linkerd_intent("true"), "enabled");
        assert_eq!(linkerd_intent("false"), "disabled");
        assert_eq!(linkerd_intent("Ingress"), "ingress");
        assert!(means_no("Off"));
        assert!(!means_no("enabled"));
    }
}
