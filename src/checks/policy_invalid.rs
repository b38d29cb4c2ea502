//! `policy-invalid`: an Istio injector ConfigMap whose `policy` is neither `enabled` nor
//! `disabled` (or missing). istiod then logs "Illegal value for autoInject" and injects nothing
//! for that revision, whatever the labels and annotations say.

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::mesh::istio::config::{InjectorSettings, Policy};
use crate::trace::StepResult;
use crate::workload::PodSubject;

use super::support::{
    auto_inject_command, name_list, not_injected_by_policy, served_injector_settings,
};
use super::util::{ISTIO_INJECT, subject_name};

pub struct PolicyInvalid;

/// Whether istiod's trace shows an explicit "no" before the policy (the inject label or
/// annotation, or a neverInjectSelector).
fn opts_out(ctx: &CheckContext<'_>, settings: &InjectorSettings, subject: &PodSubject<'_>) -> bool {
    // The trace is only worth computing when something could say no.
    let has_key = |m: Option<&std::collections::BTreeMap<String, String>>| {
        m.is_some_and(|m| m.contains_key(ISTIO_INJECT))
    };
    if !has_key(subject.meta.labels.as_ref())
        && !has_key(subject.meta.annotations.as_ref())
        && settings.never_inject.is_empty()
    {
        return false;
    }
    ctx.engine.explain(subject).trace.iter().any(|s| {
        s.result == StepResult::Fail
            && matches!(
                s.step.as_str(),
                "inject-label" | "inject-annotation" | "never-inject-selector"
            )
    })
}

impl Check for PolicyInvalid {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/policy-invalid.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let engine = ctx.engine;
        let served = served_injector_settings(engine)?;
        for settings in served {
            let Policy::Illegal(value) = &settings.policy else {
                continue;
            };
            let Some(cm) = settings.configmap.as_deref() else {
                continue;
            };
            let (cm_ns, cm_name) = cm.split_once('/').unwrap_or(("", cm));
            let shown = if settings.policy_set {
                format!("{value:?}")
            } else {
                "(not set)".to_owned()
            };
            // Pods that opt out explicitly would not be injected under any policy.
            let affected: Vec<_> = not_injected_by_policy(ctx, &settings.revision)
                .into_iter()
                .filter(|(s, _)| !opts_out(ctx, settings, s))
                .collect();
            let names: Vec<String> = affected.iter().map(|(s, _)| subject_name(s)).collect();
            let consequence = if names.is_empty() {
                "no pod of this revision will get a sidecar".to_owned()
            } else {
                format!(
                    "{} {} no sidecar",
                    name_list(&names, 5),
                    if names.len() == 1 { "gets" } else { "get" }
                )
            };
            let what = if settings.policy_set {
                format!("sets policy {shown}")
            } else {
                "has no policy".to_owned()
            };
            let mut evidence = vec![Evidence::new(
                "data.config: policy",
                shown,
                "enabled or disabled",
                &settings.origin,
            )];
            for (s, _) in affected.iter().take(5) {
                evidence.push(Evidence::new(
                    subject_name(s),
                    "not injected (decided by the illegal policy)",
                    "injected",
                    &s.origin,
                ));
            }
            out.push(Finding {
                check: "policy-invalid".to_owned(),
                severity: Severity::Error,
                object: ObjectRef::new("ConfigMap", Some(cm_ns), cm_name),
                message: format!(
                    "injector ConfigMap {cm} (revision \"{}\") {what}: istiod accepts only \"enabled\" or \"disabled\" and injects nothing at all; {consequence}",
                    settings.revision
                ),
                evidence,
                fix: auto_inject_command(ctx, settings, "enabled"),
            });
        }
        Ok(())
    }
}
