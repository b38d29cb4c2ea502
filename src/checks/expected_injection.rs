//! `expected-injection` (preflight): a workload in the manifests that must get a sidecar and
//! will not. "Must" is the user's intent (the pod template, or by mistake the workload's own
//! metadata, asks for one) or a preflight flag (`--expect-injected`, `--expect-injected-in`).
//! The verdict comes from the engine; this check only compares it with the expectation and
//! cites the step that decided.

use crate::check::{Check, CheckContext, Evidence, Finding, Severity, Skip};
use crate::engine::{WebhookRole, show_labels};
use crate::origin::Origin;
use crate::workload::PodSubject;

use super::util::{ISTIO_INJECT, ISTIO_REV, LINKERD_INJECT, injection_intent, subject_ref};

pub struct ExpectedInjection;

/// Why a workload must be injected.
enum Expectation {
    /// The pod template asks: `(field, value)`.
    Template(String, String),
    /// The workload's own metadata asks, where no injector reads it: `(field, value)`.
    Misplaced(String, String),
    /// A preflight flag.
    Flag(String),
}

impl Check for ExpectedInjection {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/expected-injection.md")
    }

    fn preflight_only(&self) -> bool {
        true
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let Some(pf) = ctx.preflight else {
            return Err(Skip("runs only in `meshdoctor preflight`".to_owned()));
        };
        if !ctx.engine.roles.iter().any(|r| *r != WebhookRole::Other) {
            return Err(Skip(
                "no Istio or Linkerd injection webhook in the manifests or the context (pass the cluster's state with --from)".to_owned(),
            ));
        }
        for (subject, verdict) in ctx.subjects {
            if verdict.inject || !pf.is_manifest(&subject.origin) {
                continue;
            }
            let Some(expectation) = expectation(subject, pf) else {
                continue;
            };
            out.push(finding(ctx, subject, verdict.not_evaluated, expectation));
        }
        Ok(())
    }
}

/// `spec.template` for workloads, `spec.jobTemplate.spec.template` for CronJobs, `` for pods.
fn template_prefix(kind: &str) -> &'static str {
    match kind {
        "Pod" => "",
        "CronJob" => "spec.jobTemplate.spec.template.",
        _ => "spec.template.",
    }
}

fn expectation(
    subject: &PodSubject<'_>,
    pf: &crate::preflight::PreflightInputs,
) -> Option<Expectation> {
    if let Some((field, value)) = injection_intent(subject) {
        // util names every template `spec.template`; CronJobs nest it deeper.
        let field = match field.strip_prefix("spec.template.") {
            Some(rest) => format!("{}{rest}", template_prefix(&subject.target.kind)),
            None => field,
        };
        return Some(Expectation::Template(field, value));
    }
    if let Some(wm) = subject.workload_meta {
        let asks = |key: &str, v: &str| match key {
            ISTIO_INJECT => matches!(v, "true" | "yes" | "y" | "on"),
            ISTIO_REV => !v.is_empty(),
            _ => matches!(v, "enabled" | "ingress"),
        };
        for (map, what) in [(&wm.labels, "labels"), (&wm.annotations, "annotations")] {
            for key in [ISTIO_INJECT, ISTIO_REV, LINKERD_INJECT] {
                if let Some(v) = map.as_ref().and_then(|m| m.get(key))
                    && asks(key, v)
                {
                    return Some(Expectation::Misplaced(
                        format!("metadata.{what}.{key}"),
                        v.clone(),
                    ));
                }
            }
        }
    }
    pf.expect
        .reason_for(&subject.namespace)
        .map(Expectation::Flag)
}

fn finding(
    ctx: &CheckContext<'_>,
    subject: &PodSubject<'_>,
    not_evaluated: bool,
    expectation: Expectation,
) -> Finding {
    let decision = ctx.engine.explain(subject);
    let detail = decision
        .trace
        .iter()
        .rev()
        .find(|s| s.step == decision.decisive)
        .map(|s| s.detail.clone())
        .unwrap_or_else(|| decision.decisive.clone());
    let who = format!(
        "{} {}/{}",
        subject.target.kind.to_ascii_lowercase(),
        subject.namespace,
        subject.target.name
    );
    let origin = &subject.origin;
    let spec = format!("{}spec", template_prefix(&subject.target.kind));
    let mut evidence = Vec::new();
    // A reason on the workload itself is where the user has to look first.
    match decision.decisive.as_str() {
        "host-network" => evidence.push(Evidence::new(
            format!("{spec}.hostNetwork"),
            "true",
            "unset or false (injectors skip pods on the host network)",
            origin,
        )),
        "service-account-token" => evidence.push(Evidence::new(
            format!("{spec}.automountServiceAccountToken"),
            "false",
            "unset or true",
            origin,
        )),
        "existing-sidecar" => evidence.push(Evidence::new(
            format!("{spec}.containers"),
            "a proxy container is already declared",
            "no proxy container",
            origin,
        )),
        _ => {}
    }
    let why = match &expectation {
        Expectation::Template(field, value) => {
            evidence.push(Evidence::new(
                field.clone(),
                value.clone(),
                "a sidecar",
                origin,
            ));
            format!(
                "its pod template asks for one ({}={value})",
                last_key(field)
            )
        }
        Expectation::Misplaced(field, value) => {
            evidence.push(Evidence::new(
                field.clone(),
                value.clone(),
                format!(
                    "the same key under {}metadata, where injectors read it",
                    template_prefix(&subject.target.kind)
                ),
                origin,
            ));
            format!(
                "its own metadata asks for one ({}={value}), where no injector looks",
                last_key(field)
            )
        }
        Expectation::Flag(flag) => {
            evidence.push(Evidence::new(
                "metadata.namespace",
                subject.namespace.clone(),
                format!("injected ({flag})"),
                origin,
            ));
            format!("{flag} requires one")
        }
    };
    if matches!(
        decision.decisive.as_str(),
        "no-webhook-matched" | "namespace-selector" | "policy"
    ) {
        let labels = ctx
            .engine
            .namespace_labels(&subject.namespace)
            .map(show_labels)
            .unwrap_or_else(|| "(namespace not in the manifests or the context)".to_owned());
        let ns_origin = ctx
            .state
            .namespaces
            .get(None, &subject.namespace)
            .map(|n| n.origin.clone())
            .unwrap_or(Origin::Derived);
        evidence.push(Evidence::new(
            "metadata.labels",
            labels,
            "labels an injection webhook selects",
            &ns_origin,
        ));
    }
    let fix = match (&expectation, decision.decisive.as_str()) {
        (Expectation::Misplaced(field, value), _) => format!(
            "move `{}: \"{value}\"` from {} to {}metadata.{} in the manifest",
            last_key(field),
            field
                .strip_suffix(last_key(field))
                .map_or(field.as_str(), |p| p.trim_end_matches('.')),
            template_prefix(&subject.target.kind),
            if field.contains(".labels.") {
                "labels"
            } else {
                "annotations"
            }
        ),
        (_, "host-network") => format!(
            "remove `hostNetwork: true` from {spec}, or accept it: add the annotation `meshdoctor.io/ignore: \"expected-injection: <why this workload runs outside the mesh>\"` to {who}"
        ),
        _ => decision.flip.clone().unwrap_or_else(|| {
            format!(
                "make an injection webhook select namespace \"{}\" (e.g. kubectl label namespace {} istio-injection=enabled)",
                subject.namespace, subject.namespace
            )
        }),
    };
    let (severity, message) = if not_evaluated {
        (
            Severity::Warning,
            format!(
                "{who} may run without a sidecar, but {why}: a webhook condition could not be evaluated offline ({detail})"
            ),
        )
    } else {
        (
            Severity::Error,
            format!("{who} will run without a sidecar, but {why}: {detail}"),
        )
    };
    Finding {
        check: "expected-injection".to_owned(),
        severity,
        object: subject_ref(subject),
        message,
        evidence,
        fix,
    }
}

/// `sidecar.istio.io/inject` from `spec.template.metadata.annotations.sidecar.istio.io/inject`.
fn last_key(field: &str) -> &str {
    for marker in [".labels.", ".annotations."] {
        if let Some((_, key)) = field.rsplit_once(marker) {
            return key;
        }
    }
    field
}
