//! `protected-namespace`: pods that ask for an Istio sidecar in a namespace istiod always
//! ignores (`kube-system`, `kube-public`, and since 1.9 `kube-node-lease`,
//! `local-path-storage`). No label or annotation can change that; only moving the workload can.

use std::collections::BTreeMap;

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::engine::show_labels;
use crate::origin::Origin;
use crate::workload::PodSubject;

use super::support::{
    MetaChange, Section, change_command, covered_by_workload, has_istio, istio_settings,
    shell_quote,
};
use super::util::{LINKERD_INJECT, injection_intent, subject_name, subject_ref};

pub struct ProtectedNamespace;

const ID: &str = "protected-namespace";

impl Check for ProtectedNamespace {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/protected-namespace.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let engine = ctx.engine;
        if !has_istio(engine) {
            return Err(Skip("no Istio injection webhook in the input".to_owned()));
        }
        let label = served_label(ctx);
        // Namespaces whose own labels send pods to istiod, which then ignores them: who is
        // affected, and the first affected workload (the opt-out fix names it).
        let mut namespaces: BTreeMap<&str, Ignored<'_, '_>> = BTreeMap::new();
        for (subject, verdict) in ctx.subjects {
            let Some(settings) = istio_settings(engine, subject, verdict) else {
                continue;
            };
            let version = settings.version.effective();
            let ignored = version.ignored_namespaces();
            if !ignored.contains(&subject.namespace.as_str()) {
                continue;
            }
            let intent = injection_intent(subject).filter(|(f, _)| !f.ends_with(LINKERD_INJECT));
            let Some((field, value)) = intent else {
                if verdict.decisive == "ignored-namespace" {
                    let entry = namespaces.entry(subject.namespace.as_str()).or_default();
                    entry.who.push(subject_name(subject));
                    if subject.target.kind != "Pod" && entry.workload.is_none() {
                        entry.workload = Some(subject);
                    }
                }
                continue;
            };
            if covered_by_workload(ctx, subject) {
                continue;
            }
            let ns = &subject.namespace;
            let target = shell_quote(&subject.target.name);
            let version_text = match settings.version.version {
                Some(v) => format!("Istio {v}"),
                None => format!("Istio (version unknown, {version} rules assumed)"),
            };
            out.push(Finding {
                check: ID.to_owned(),
                severity: Severity::Warning,
                object: subject_ref(subject),
                message: format!(
                    "{} asks for a sidecar ({field}={value}) in namespace \"{ns}\", which {version_text} never injects into ({}): it will run without one",
                    subject_name(subject),
                    ignored.join(", ")
                ),
                evidence: vec![Evidence::new(
                    "metadata.namespace",
                    ns.as_str(),
                    format!("a namespace other than {}", ignored.join(", ")),
                    &subject.origin,
                )],
                fix: format!(
                    "kubectl create namespace {target} && kubectl label namespace {target} {label}  # then create {} {} there instead of in {ns}",
                    subject.target.kind.to_ascii_lowercase(),
                    subject.target.name
                ),
            });
        }
        for (ns, Ignored { who, workload }) in namespaces {
            let labels = engine.namespace_labels(ns).cloned().unwrap_or_default();
            let origin = ctx
                .state
                .namespaces
                .get(None, ns)
                .map(|n| n.origin.clone())
                .unwrap_or(Origin::Derived);
            let remove: Vec<String> = ["istio-injection", "istio.io/rev"]
                .iter()
                .filter(|k| labels.contains_key(**k))
                .map(|k| format!("{k}-"))
                .collect();
            let fix = if remove.is_empty() {
                // Selected some other way (e.g. enableNamespacesByDefault): opt the pods out.
                match workload {
                    Some(s) => change_command(
                        s,
                        &[MetaChange {
                            section: Section::Labels,
                            key: super::util::ISTIO_INJECT,
                            value: Some("false"),
                        }],
                        &[],
                    ),
                    None => format!(
                        "kubectl label namespace {} istio-injection=disabled --overwrite",
                        shell_quote(ns)
                    ),
                }
            } else {
                format!(
                    "kubectl label namespace {} {}",
                    shell_quote(ns),
                    remove.join(" ")
                )
            };
            out.push(Finding {
                check: ID.to_owned(),
                severity: Severity::Warning,
                object: ObjectRef::new("Namespace", None, ns),
                message: format!(
                    "namespace \"{ns}\" is selected for injection ({}), but istiod never injects into it: {} {} no sidecar",
                    show_labels(&labels),
                    super::support::name_list(&who, 5),
                    if who.len() == 1 { "gets" } else { "get" }
                ),
                evidence: vec![Evidence::new(
                    "metadata.labels",
                    show_labels(&labels),
                    "no injection labels (istiod ignores this namespace)",
                    &origin,
                )],
                fix,
            });
        }
        Ok(())
    }
}

/// The subjects of one ignored namespace that its labels alone send to istiod.
#[derive(Default)]
struct Ignored<'a, 's> {
    who: Vec<String>,
    workload: Option<&'a PodSubject<'s>>,
}

/// The namespace label that selects a namespace for this install.
fn served_label(ctx: &CheckContext<'_>) -> String {
    let engine = ctx.engine;
    if engine
        .webhooks
        .iter()
        .any(|w| w.name.as_ref() == "namespace.sidecar-injector.istio.io")
    {
        return "istio-injection=enabled".to_owned();
    }
    match engine.istio.served_revision_names().first() {
        Some(rev) => format!("istio.io/rev={rev}"),
        None => "istio-injection=enabled".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::machinery::testing::{istio_mwc, run_on_subjects};
    use super::*;

    #[test]
    fn a_namespace_selected_without_labels_is_fixed_on_its_first_workload() {
        // The webhook selects every namespace (as `enableNamespacesByDefault` does), so
        // kube-system carries no label to remove: the fix opts the first workload out.
        let mut yaml = istio_mwc("istio-sidecar-injector", "istiod", "");
        yaml.push_str("---\napiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system}\n");
        yaml.push_str(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {name: bare, namespace: kube-system}\nspec:\n  containers: [{name: c, image: c}]\n",
        );
        for name in ["coredns", "metrics"] {
            yaml.push_str(&format!(
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: kube-system}}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers: [{{name: c, image: c}}]\n"
            ));
        }
        let findings = run_on_subjects(&ProtectedNamespace, &yaml).unwrap();
        let ns = findings
            .iter()
            .find(|f| f.object == ObjectRef::new("Namespace", None, "kube-system"))
            .unwrap_or_else(|| panic!("{findings:?}"));
        assert!(
            ns.fix
                .starts_with("kubectl patch deployment coredns -n kube-system"),
            "{}",
            ns.fix
        );
        assert!(ns.message.contains("pod bare"), "{}", ns.message);
    }
}
