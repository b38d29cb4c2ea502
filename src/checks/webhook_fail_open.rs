//! `webhook-fail-open`: `failurePolicy: Ignore` on a mesh injector webhook. Whenever the
//! injector cannot be called, the API server creates the pod unchanged and logs nothing the
//! workload's owner sees: the pod runs without a sidecar until it is recreated.

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};

use super::machinery::{
    MeshKind, MeshWebhook, by_configuration, required_mesh_webhooks, which_webhooks,
};

pub struct WebhookFailOpen;

impl Check for WebhookFailOpen {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/webhook-fail-open.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let webhooks = required_mesh_webhooks(ctx)?;
        for (configuration, list) in by_configuration(&webhooks) {
            let open: Vec<&MeshWebhook<'_>> =
                list.iter().copied().filter(|w| w.fails_open()).collect();
            let Some(first) = open.first() else {
                continue;
            };
            let (which, _) = which_webhooks(open.iter().copied());
            let message = format!(
                "{which} of {configuration} {} failurePolicy Ignore: whenever the {} injector is unreachable (restart, rollout, node loss, scale from zero, a TLS or network fault) pods are created without a sidecar, silently, and stay that way until they are recreated",
                if open.len() > 1 { "have" } else { "has" },
                first.mesh.name()
            );
            let evidence = open
                .iter()
                .map(|w| Evidence::new(w.field("failurePolicy"), "Ignore", "Fail", w.origin))
                .collect();
            let fix = match first.mesh {
                // The chart owns the field; a patch would be reverted by the next upgrade.
                MeshKind::Linkerd => {
                    "linkerd upgrade --set webhookFailurePolicy=Fail | kubectl apply -f -"
                        .to_owned()
                }
                MeshKind::Istio => {
                    let ops: Vec<String> = open
                        .iter()
                        .map(|w| {
                            format!(
                                "{{\"op\":\"replace\",\"path\":\"{}\",\"value\":\"Fail\"}}",
                                w.patch_path("failurePolicy")
                            )
                        })
                        .collect();
                    format!(
                        "kubectl patch mutatingwebhookconfiguration {configuration} --type=json -p '[{}]'",
                        ops.join(",")
                    )
                }
            };
            out.push(Finding {
                check: "webhook-fail-open".to_owned(),
                severity: Severity::Warning,
                object: ObjectRef::new("MutatingWebhookConfiguration", None, configuration),
                message,
                evidence,
                fix,
            });
        }
        Ok(())
    }
}
