//! `namespace-not-selected`: pods that ask for a sidecar in a namespace no injection webhook
//! selects. The pod-level opt-in cannot help there: webhook selectors only see labels, and the
//! Istio annotation never reaches istiod when no webhook calls it.

use std::collections::BTreeMap;

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::engine::show_labels;

use super::support::required_meshes;
use crate::origin::Origin;

use super::util::{injection_intent, subject_name};

pub struct NamespaceNotSelected;

impl Check for NamespaceNotSelected {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/namespace-not-selected.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let engine = ctx.engine;
        required_meshes(engine)?;
        // Namespace → the subjects in it that ask for a sidecar and reach no webhook, with where
        // each was read (kept here: finding a subject again by name would scan them all).
        let mut by_ns: BTreeMap<&str, Vec<(String, String, String, &Origin)>> = BTreeMap::new();
        for (subject, verdict) in ctx.subjects {
            if verdict.decisive != "no-webhook-matched" {
                continue;
            }
            if let Some((field, value)) = injection_intent(subject) {
                by_ns.entry(subject.namespace.as_str()).or_default().push((
                    subject_name(subject),
                    field,
                    value,
                    &subject.origin,
                ));
            }
        }
        let expected = expected_labels(ctx);
        for (ns, asking) in by_ns {
            let labels = engine.namespace_labels(ns).cloned().unwrap_or_default();
            let origin = ctx
                .state
                .namespaces
                .get(None, ns)
                .map(|n| n.origin.clone())
                .unwrap_or(Origin::Derived);
            let mut evidence = vec![Evidence::new(
                "metadata.labels",
                show_labels(&labels),
                expected.join(" or "),
                &origin,
            )];
            for (who, field, value, subj_origin) in asking.iter().take(5) {
                evidence.push(Evidence::new(
                    format!("{who}: {field}"),
                    value.clone(),
                    "a webhook that calls the injector",
                    subj_origin,
                ));
            }
            let first = &asking[0];
            let more = if asking.len() > 1 {
                format!(" and {} more", asking.len() - 1)
            } else {
                String::new()
            };
            let fix = match expected.first() {
                Some(l) => {
                    let blocking = labels
                        .get("istio-injection")
                        .filter(|v| v.as_str() != "enabled" && !l.starts_with("istio-injection"));
                    let unset = if blocking.is_some() {
                        " istio-injection-"
                    } else {
                        ""
                    };
                    format!(
                        "kubectl label namespace {ns} {l}{unset} --overwrite && kubectl rollout restart deployment -n {ns}"
                    )
                }
                None => format!("kubectl annotate namespace {ns} linkerd.io/inject=enabled"),
            };
            out.push(Finding {
                check: "namespace-not-selected".to_owned(),
                severity: Severity::Error,
                object: ObjectRef::new("Namespace", None, ns),
                message: format!(
                    "namespace \"{ns}\" matches no injection webhook, but {}{more} asks for a sidecar ({}={}): it will run without one",
                    first.0, first.1, first.2
                ),
                evidence,
                fix,
            });
        }
        Ok(())
    }
}

/// The namespace labels that select a namespace for this install, most common first.
fn expected_labels(ctx: &CheckContext<'_>) -> Vec<String> {
    let engine = ctx.engine;
    let mut out = Vec::new();
    if engine.webhooks.iter().any(|w| {
        w.name.as_ref() == "namespace.sidecar-injector.istio.io"
            || w.name.as_ref() == "sidecar-injector.istio.io"
    }) {
        out.push("istio-injection=enabled".to_owned());
    }
    for rev in engine.istio.served_revision_names() {
        out.push(format!("istio.io/rev={rev}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::machinery::testing::run_on_subjects;
    use super::*;

    /// Pods in two unselected namespaces, each asking for a sidecar; the same pod name in both.
    fn two_namespaces() -> String {
        let mut yaml =
            include_str!("../../fixtures/check-namespace-not-selected/state.yaml").to_owned();
        for ns in ["north", "south"] {
            yaml.push_str(&format!(
                "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"
            ));
            for pod in ["a", "b"] {
                yaml.push_str(&format!(
                    "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\n  namespace: {ns}\n  annotations: {{sidecar.istio.io/inject: \"true\"}}\nspec:\n  containers: [{{name: app, image: app}}]\n"
                ));
            }
        }
        yaml
    }

    #[test]
    fn each_asking_pod_is_located_at_its_own_line() {
        let yaml = two_namespaces();
        let findings = run_on_subjects(&NamespaceNotSelected, &yaml).unwrap();
        let line_of = |ns: &str, pod: &str| {
            let needle = format!("  name: {pod}\n  namespace: {ns}\n");
            let at = yaml.find(&needle).unwrap();
            // The object starts two lines above its name (`apiVersion`, `kind`).
            format!("test.yaml:{}", yaml[..at].lines().count() - 2)
        };
        for ns in ["north", "south"] {
            let f = findings
                .iter()
                .find(|f| f.object == ObjectRef::new("Namespace", None, ns))
                .unwrap_or_else(|| panic!("no finding for {ns}: {findings:?}"));
            let pods: Vec<(&str, &str)> = f.evidence[1..]
                .iter()
                .map(|e| (e.field.as_str(), e.location.as_str()))
                .collect();
            let (a, b) = (line_of(ns, "a"), line_of(ns, "b"));
            assert_eq!(
                pods,
                [
                    (
                        "pod a: metadata.annotations.sidecar.istio.io/inject",
                        a.as_str()
                    ),
                    (
                        "pod b: metadata.annotations.sidecar.istio.io/inject",
                        b.as_str()
                    ),
                ],
                "{ns}"
            );
        }
    }
}
