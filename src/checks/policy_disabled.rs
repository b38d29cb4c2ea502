//! `policy-disabled`: an Istio revision whose injector policy is `disabled`, and the pods that
//! are therefore not injected although a webhook sends them to istiod. Often deliberate, so
//! this is information: it names the pods that need an explicit opt-in.

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::mesh::istio::config::Policy;
use crate::mesh::istio::version::InjectRules;

use super::support::{
    MetaChange, Section, auto_inject_command, change_command, name_list, not_injected_by_policy,
    served_injector_settings,
};
use super::util::{ISTIO_INJECT, subject_name};

pub struct PolicyDisabled;

impl Check for PolicyDisabled {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/policy-disabled.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let engine = ctx.engine;
        let served = served_injector_settings(engine)?;
        for settings in served {
            if settings.policy != Policy::Disabled || settings.configmap.is_none() {
                continue;
            }
            let cm = settings.configmap.as_deref().unwrap_or("");
            let (cm_ns, cm_name) = cm.split_once('/').unwrap_or(("", cm));
            let affected = not_injected_by_policy(ctx, &settings.revision);
            let names: Vec<String> = affected.iter().map(|(s, _)| subject_name(s)).collect();
            // ≤1.11 reads only the annotation; later versions prefer the label.
            let section = match settings.version.effective().rules() {
                InjectRules::AnnotationOnly => Section::Annotations,
                _ => Section::Labels,
            };
            let opt_in = format!(
                "{ISTIO_INJECT}: \"true\" on the pod template's {}",
                section.key()
            );
            let message = if names.is_empty() {
                format!(
                    "injector policy of revision \"{}\" is disabled in {cm}: only pods with {opt_in} are injected (none in scope is affected)",
                    settings.revision
                )
            } else {
                format!(
                    "injector policy of revision \"{}\" is disabled in {cm}, so {} {} not injected although the webhook calls istiod; pods need {opt_in}",
                    settings.revision,
                    name_list(&names, 5),
                    if names.len() == 1 { "is" } else { "are" }
                )
            };
            let mut evidence = vec![Evidence::new(
                "data.config: policy",
                "disabled",
                "enabled (or an explicit opt-in on each pod)",
                &settings.origin,
            )];
            for (s, _) in affected.iter().take(5) {
                evidence.push(Evidence::new(
                    subject_name(s),
                    "not injected (decided by the policy)",
                    format!("{ISTIO_INJECT}=true to opt in"),
                    &s.origin,
                ));
            }
            let workload = affected.iter().find(|(s, _)| s.target.kind != "Pod");
            let fix = match workload {
                Some((s, _)) => change_command(
                    s,
                    &[MetaChange {
                        section,
                        key: ISTIO_INJECT,
                        value: Some("true"),
                    }],
                    &[],
                ),
                None => auto_inject_command(ctx, settings, "enabled"),
            };
            out.push(Finding {
                check: "policy-disabled".to_owned(),
                severity: Severity::Info,
                object: ObjectRef::new("ConfigMap", Some(cm_ns), cm_name),
                message,
                evidence,
                fix,
            });
        }
        Ok(())
    }
}
