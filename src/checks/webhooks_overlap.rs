//! `webhooks-overlap`: two mesh injector webhooks that the API server would both call for the
//! same pod, with both injectors willing to inject it: two Istio revisions (a stale install, a
//! revision tag next to the default webhooks) or Istio and Linkerd. Reported once per pair of
//! webhooks, with the pods they share.

use std::collections::{BTreeMap, BTreeSet};

use crate::admission::CompiledWebhook;
use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::engine::WebhookRole;
use crate::origin::Origin;
use crate::workload::PodSubject;

use super::support::{covered_by_workload, name_list, required_meshes, shell_quote};
use super::util::subject_name;

pub struct WebhooksOverlap;

const ID: &str = "webhooks-overlap";

impl Check for WebhooksOverlap {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/webhooks-overlap.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let engine = ctx.engine;
        required_meshes(engine)?;
        let mut pairs: BTreeMap<(usize, usize), Vec<&PodSubject<'_>>> = BTreeMap::new();
        for (subject, verdict) in ctx.subjects {
            if verdict.injectors_matched < 2 || covered_by_workload(ctx, subject) {
                continue;
            }
            // Only injectors that would inject count: Linkerd's webhook, for one, is called
            // for nearly every pod and decides by annotation.
            let injecting: Vec<usize> = engine
                .matched_injectors(subject)
                .into_iter()
                .filter(|(_, inject)| *inject)
                .map(|(i, _)| i)
                .collect();
            for (n, a) in injecting.iter().enumerate() {
                for b in injecting.iter().skip(n + 1) {
                    pairs.entry((*a, *b)).or_default().push(subject);
                }
            }
        }
        // One finding per pair of configurations, naming every pair of webhooks in them.
        let mut by_config: BTreeMap<(&str, &str), Vec<PairPods<'_>>> = BTreeMap::new();
        for ((a, b), subjects) in pairs {
            let (Some(wa), Some(wb)) = (engine.webhooks.get(a), engine.webhooks.get(b)) else {
                continue;
            };
            by_config
                .entry((&wa.configuration, &wb.configuration))
                .or_default()
                .push(((a, b), subjects));
        }
        for (_, groups) in by_config {
            let mut sentences = Vec::new();
            let mut evidence = Vec::new();
            let mut namespaces: BTreeSet<&str> = BTreeSet::new();
            let mut first_pair = None;
            for ((a, b), subjects) in &groups {
                let (Some(wa), Some(wb)) = (engine.webhooks.get(*a), engine.webhooks.get(*b))
                else {
                    continue;
                };
                let (ra, rb) = (engine.roles.get(*a), engine.roles.get(*b));
                first_pair.get_or_insert(((wa, ra), (wb, rb)));
                let names: Vec<String> = subjects.iter().map(|s| subject_name(s)).collect();
                namespaces.extend(subjects.iter().map(|s| s.namespace.as_str()));
                sentences.push(format!(
                    "{}/{} ({}) and {}/{} ({}) both inject {}",
                    wa.configuration,
                    wa.name,
                    describe(ra),
                    wb.configuration,
                    wb.name,
                    describe(rb),
                    name_list(&names, 5)
                ));
                for (w, r) in [(wa, ra), (wb, rb)] {
                    evidence.push(Evidence::new(
                        format!("{}: webhooks[{}] {}", w.configuration, w.index, w.name),
                        format!("{} ({})", describe(r), selectors(w)),
                        "the only mesh injector webhook matching these pods",
                        w.origin.as_ref().unwrap_or(&Origin::Derived),
                    ));
                }
                if let Some(s) = subjects.first() {
                    evidence.push(Evidence::new(
                        subject_name(s),
                        format!("matched by {} and {}", wa.name, wb.name),
                        "matched by one injector",
                        &s.origin,
                    ));
                }
            }
            let Some(((wa, ra), (wb, rb))) = first_pair else {
                continue;
            };
            out.push(Finding {
                check: ID.to_owned(),
                severity: Severity::Error,
                object: ObjectRef::new("MutatingWebhookConfiguration", None, &wb.configuration),
                message: format!(
                    "webhooks {}: each injector is called for the same pod and may add its own proxy",
                    sentences.join("; webhooks ")
                ),
                evidence,
                fix: fix(ctx, (wa, ra), (wb, rb), &namespaces),
            });
        }
        Ok(())
    }
}

/// Two webhooks (indexes in call order) and the pods both would inject.
type PairPods<'a> = ((usize, usize), Vec<&'a PodSubject<'a>>);

fn describe(role: Option<&WebhookRole>) -> String {
    match role {
        Some(WebhookRole::Istio { revision }) => format!("Istio revision \"{revision}\""),
        Some(WebhookRole::Linkerd) => "Linkerd".to_owned(),
        _ => "not a mesh injector".to_owned(),
    }
}

fn selectors(w: &CompiledWebhook) -> String {
    format!(
        "namespaceSelector {}, objectSelector {}",
        w.namespace_selector, w.object_selector
    )
}

/// One command per namespace set: `kubectl ...` or a loop over the namespaces.
fn per_namespace(namespaces: &BTreeSet<&str>, command: impl Fn(&str) -> String) -> String {
    if namespaces.len() == 1 {
        let ns = namespaces.iter().next().copied().unwrap_or_default();
        return command(&shell_quote(ns));
    }
    let list: Vec<String> = namespaces.iter().map(|n| shell_quote(n)).collect();
    format!("for ns in {}; do {}; done", list.join(" "), command("$ns"))
}

fn fix(
    ctx: &CheckContext<'_>,
    (wa, ra): (&CompiledWebhook, Option<&WebhookRole>),
    (wb, rb): (&CompiledWebhook, Option<&WebhookRole>),
    namespaces: &BTreeSet<&str>,
) -> String {
    match (ra, rb) {
        // Keep the injector called first; take the namespaces out of the second one.
        (Some(WebhookRole::Istio { .. }), Some(WebhookRole::Linkerd)) => {
            per_namespace(namespaces, |ns| {
                format!(
                    "kubectl label namespace {ns} config.linkerd.io/admission-webhooks=disabled --overwrite"
                )
            })
        }
        (Some(WebhookRole::Linkerd), Some(WebhookRole::Istio { .. })) => {
            per_namespace(namespaces, |ns| {
                format!("kubectl label namespace {ns} istio-injection=disabled --overwrite")
            })
        }
        (
            Some(WebhookRole::Istio { revision: rev_a }),
            Some(WebhookRole::Istio { revision: rev_b }),
        ) => {
            if wa.configuration == wb.configuration {
                return format!(
                    "kubectl edit mutatingwebhookconfiguration {}  # make the selectors of webhooks[{}] and webhooks[{}] exclusive",
                    shell_quote(&wa.configuration),
                    wa.index,
                    wb.index
                );
            }
            // A revision tag next to webhooks it should have replaced: `istioctl tag set`
            // deactivates the old default webhooks.
            let tag_of = |w: &CompiledWebhook| {
                ctx.engine
                    .istio
                    .webhook(&w.configuration, &w.name)
                    .and_then(|iw| iw.tag.clone())
            };
            match (tag_of(wa), tag_of(wb)) {
                (Some(tag), None) => format!(
                    "istioctl tag set {} --revision {} --overwrite",
                    shell_quote(&tag),
                    shell_quote(rev_a)
                ),
                (None, Some(tag)) => format!(
                    "istioctl tag set {} --revision {} --overwrite",
                    shell_quote(&tag),
                    shell_quote(rev_b)
                ),
                _ => format!(
                    "kubectl delete mutatingwebhookconfiguration {}  # once revision \"{rev_b}\" is no longer wanted; or make the selectors exclusive",
                    shell_quote(&wb.configuration)
                ),
            }
        }
        _ => format!(
            "kubectl edit mutatingwebhookconfiguration {}",
            shell_quote(&wb.configuration)
        ),
    }
}
