//! `cabundle-empty`: a mesh injector webhook that calls a Service with no `caBundle`, or with
//! one the API server cannot load. Either way every call fails TLS before the injector sees
//! the pod.

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};

use super::machinery::{
    BundleProblem, MeshKind, MeshWebhook, by_configuration, patch_ca_bundle_command,
    required_mesh_webhooks, webhook_bundle, which_webhooks,
};

pub struct CabundleEmpty;

const CA_INJECT_ANNOTATIONS: [&str; 2] = [
    "cert-manager.io/inject-ca-from",
    "cert-manager.io/inject-ca-from-secret",
];

impl Check for CabundleEmpty {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/cabundle-empty.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let webhooks = required_mesh_webhooks(ctx)?;
        for (configuration, list) in by_configuration(&webhooks) {
            // (webhook, problem); an empty caBundle only matters for a Service reference (a
            // URL webhook may rely on the API server's system roots).
            let bad: Vec<(&MeshWebhook<'_>, BundleProblem)> = list
                .iter()
                .filter_map(|w| match webhook_bundle(w.ca_bundle()) {
                    Ok(_) => None,
                    Err(BundleProblem::Empty) if w.service().is_none() => None,
                    Err(p) => Some((*w, p)),
                })
                .collect();
            let Some((first, problem)) = bad.first() else {
                continue;
            };
            out.push(finding(ctx, configuration, first, problem, &bad));
        }
        Ok(())
    }
}

fn finding(
    ctx: &CheckContext<'_>,
    configuration: &str,
    first: &MeshWebhook<'_>,
    problem: &BundleProblem,
    bad: &[(&MeshWebhook<'_>, BundleProblem)],
) -> Finding {
    let (which, plural) = which_webhooks(bad.iter().map(|(w, _)| *w));
    let has = if plural { "have" } else { "has" };
    let svc = first.service();
    let namespace = svc
        .as_ref()
        .map_or("istio-system", |s| s.namespace.as_str());
    let cfg_obj = ctx.state.mutating_webhooks.get(None, configuration);
    let annotations = cfg_obj.and_then(|c| c.obj.metadata.annotations.as_ref());
    let ca_injected_from = CA_INJECT_ANNOTATIONS
        .iter()
        .find_map(|a| annotations.and_then(|m| m.get(*a)).map(|v| (*a, v.clone())));
    let mut evidence: Vec<Evidence> = bad
        .iter()
        .map(|(w, p)| {
            let observed = match p {
                BundleProblem::Empty => "empty".to_owned(),
                BundleProblem::Undecodable { what, .. } => what.clone(),
            };
            Evidence::new(
                w.field("clientConfig.caBundle"),
                observed,
                "base64 of the PEM CA certificate(s) that signed the injector's serving certificate",
                w.origin,
            )
        })
        .collect();

    let (message, fix) = match problem {
        BundleProblem::Undecodable { what, apiserver } => (
            format!(
                "{which} of {configuration} {has} a caBundle the API server cannot load ({what}): every call fails with \"could not get REST client: {apiserver}\" before reaching the injector"
            ),
            patch_ca_bundle_command(first, namespace),
        ),
        BundleProblem::Empty => match (first.mesh, &ca_injected_from) {
            (_, Some((annotation, from))) => {
                if let Some(c) = cfg_obj {
                    evidence.push(Evidence::new(
                        format!("metadata.annotations.{annotation}"),
                        from.clone(),
                        "a Certificate / Secret that cert-manager's cainjector copies into caBundle",
                        &c.origin,
                    ));
                }
                (
                    format!(
                        "{which} of {configuration} {has} no caBundle although {annotation}={from} asks cert-manager's cainjector to fill it: the API server cannot verify the injector's certificate (x509: certificate signed by unknown authority)"
                    ),
                    "kubectl -n cert-manager rollout restart deployment cert-manager-cainjector"
                        .to_owned(),
                )
            }
            (MeshKind::Istio, None) => {
                istio_empty(ctx, configuration, first, &which, has, &mut evidence)
            }
            (MeshKind::Linkerd, None) => (
                format!(
                    "{which} of {configuration} {has} no caBundle: the API server cannot verify the proxy injector's certificate (x509: certificate signed by unknown authority); Linkerd's chart renders it, so it was removed after install (e.g. a GitOps tool re-applied the configuration without it)"
                ),
                patch_ca_bundle_command(first, namespace),
            ),
        },
    };
    // Error under either failurePolicy: with Ignore the pods start silently without a proxy.
    let severity = Severity::Error;
    Finding {
        check: "cabundle-empty".to_owned(),
        severity,
        object: ObjectRef::new("MutatingWebhookConfiguration", None, configuration),
        message,
        evidence,
        fix,
    }
}

/// istiod patches `caBundle` at runtime into the configurations labelled with its revision; an
/// empty one means that patcher is not running, cannot reach the configuration, or does not
/// select it.
fn istio_empty(
    ctx: &CheckContext<'_>,
    configuration: &str,
    first: &MeshWebhook<'_>,
    which: &str,
    has: &str,
    evidence: &mut Vec<Evidence>,
) -> (String, String) {
    let revision = ctx
        .engine
        .istio
        .webhook(configuration, &first.webhook.name)
        .map_or_else(|| "default".to_owned(), |w| w.revision.clone());
    let svc = first.service();
    let (namespace, deployment) = svc.as_ref().map_or(("istio-system", "istiod"), |s| {
        (s.namespace.as_str(), s.name.as_str())
    });
    let label = ctx
        .state
        .mutating_webhooks
        .get(None, configuration)
        .map(|c| {
            (
                c.obj
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("istio.io/rev"))
                    .cloned(),
                c.origin.clone(),
            )
        });
    if let Some((None, origin)) = &label {
        evidence.push(Evidence::new(
            "metadata.labels.istio.io/rev",
            "absent",
            revision.clone(),
            origin,
        ));
        return (
            format!(
                "{which} of {configuration} {has} no caBundle, and the configuration lacks the label istio.io/rev={revision} that istiod's caBundle patcher selects by: istiod will never fill it, and every call fails with x509: certificate signed by unknown authority"
            ),
            format!(
                "kubectl label mutatingwebhookconfiguration {configuration} istio.io/rev={revision}"
            ),
        );
    }
    (
        format!(
            "{which} of {configuration} {has} no caBundle: istiod (revision {revision}) patches it at runtime, so an empty one means istiod is not running or cannot update the configuration (RBAC, or a GitOps tool re-applied it); until then every call fails with x509: certificate signed by unknown authority"
        ),
        format!("kubectl -n {namespace} rollout restart deployment {deployment}"),
    )
}
