//! `cert-chain`: would the API server accept the injector's serving certificate — signed by a
//! `caBundle` certificate, valid now, with the service DNS name (`<svc>.<ns>.svc`) among its
//! SANs, usable for server authentication. The verdict and the Go error text come from
//! `pki::verify_serving_cert`.

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::pki::{ChainError, Time, verify_serving_cert};

use super::machinery::{
    CertSource, MeshKind, MeshWebhook, by_configuration, mesh_root, patch_from_source_command,
    required_mesh_webhooks, serving_cert, webhook_bundle, which_webhooks,
};

pub struct CertChain;

impl Check for CertChain {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/cert-chain.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let webhooks = required_mesh_webhooks(ctx)?;
        let before = out.len();
        let mut checked = 0usize;
        let mut unchecked: Vec<String> = Vec::new();
        for (configuration, list) in by_configuration(&webhooks) {
            let mut failures: Vec<(&MeshWebhook<'_>, CertSource, ChainError, String)> = Vec::new();
            for w in list {
                // Without a usable caBundle there is nothing to verify against (cabundle-empty).
                let (Ok(bundle), Some(svc)) = (webhook_bundle(w.ca_bundle()), w.service()) else {
                    continue;
                };
                let Some(serving) = serving_cert(ctx.state, w.mesh, &svc.namespace) else {
                    let why = match w.mesh {
                        MeshKind::Istio => format!(
                            "no istiod serving certificate in {} (secret istiod-tls or dns-certs; istiod's own self-signed certificate is kept in memory only)",
                            svc.namespace
                        ),
                        MeshKind::Linkerd => format!(
                            "no Linkerd proxy injector certificate in {} (secret linkerd-proxy-injector-k8s-tls)",
                            svc.namespace
                        ),
                    };
                    if !unchecked.contains(&why) {
                        unchecked.push(why);
                    }
                    continue;
                };
                checked += 1;
                let host = svc.host();
                if let Err(e) =
                    verify_serving_cert(&serving.pem, &bundle.certs, &host, ctx.now_unix)
                {
                    failures.push((w, serving, e, host));
                }
            }
            let Some((first, serving, err, host)) = failures.first() else {
                continue;
            };
            out.push(finding(
                ctx,
                configuration,
                first,
                serving,
                err,
                host,
                &failures,
            ));
        }
        if checked == 0 && !unchecked.is_empty() {
            return Err(Skip(unchecked.join("; ")));
        }
        if out.len() == before && !unchecked.is_empty() {
            return Err(Skip(format!(
                "some serving certificates could not be checked: {}",
                unchecked.join("; ")
            )));
        }
        Ok(())
    }
}

fn finding(
    ctx: &CheckContext<'_>,
    configuration: &str,
    first: &MeshWebhook<'_>,
    serving: &CertSource,
    err: &ChainError,
    host: &str,
    failures: &[(&MeshWebhook<'_>, CertSource, ChainError, String)],
) -> Finding {
    let (which, _) = which_webhooks(failures.iter().map(|(w, ..)| *w));
    let now = Time::from_unix(ctx.now_unix).rfc3339;
    let apiserver = err.go_message().map(|m| {
        let port = first.service().map_or(443, |s| s.port);
        let path = first
            .webhook
            .client_config
            .service
            .as_ref()
            .and_then(|s| s.path.clone())
            .unwrap_or_else(|| "/".to_owned());
        let timeout = first.webhook.timeout_seconds.unwrap_or(10);
        format!(
            "failed calling webhook \"{}\": failed to call webhook: Post \"https://{host}:{port}{path}?timeout={timeout}s\": tls: failed to verify certificate: {}",
            first.webhook.name,
            m.replace("<now>", &now)
        )
    });
    let mut message = format!(
        "the {} injector's serving certificate in {} is rejected for {which} of {configuration}: {}",
        first.mesh.name(),
        serving.describe(),
        err.to_string().trim_start_matches("serving certificate: ")
    );
    if let Some(a) = &apiserver {
        message.push_str(&format!("; the API server reports: {a}"));
    }
    let leaf = serving.certs.first();
    let (field, observed, expected) = match err {
        ChainError::NotValidForName { names, .. } => (
            format!("{} subjectAltName", serving.field()),
            if names.is_empty() {
                "no names".to_owned()
            } else {
                names.join(", ")
            },
            format!("DNS name {host}"),
        ),
        ChainError::Expired { .. } | ChainError::NotYetValid { .. } => (
            format!("{} validity", serving.field()),
            leaf.map_or_else(String::new, |c| {
                format!("{} to {}", c.not_before.rfc3339, c.not_after.rfc3339)
            }),
            format!("valid at {now}"),
        ),
        _ => (
            format!("{} issuer", serving.field()),
            leaf.map_or_else(String::new, |c| c.issuer.clone()),
            "a certificate in the webhook caBundle".to_owned(),
        ),
    };
    let mut evidence = vec![Evidence::new(field, observed, expected, &serving.origin)];
    if matches!(err, ChainError::UnknownIssuer { .. }) {
        let bundle_subjects = webhook_bundle(first.ca_bundle())
            .map(|b| {
                b.certs
                    .iter()
                    .map(|c| c.subject.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        evidence.push(Evidence::new(
            first.field("clientConfig.caBundle"),
            bundle_subjects,
            leaf.map_or_else(String::new, |c| format!("the issuer {}", c.issuer)),
            first.origin,
        ));
    }
    Finding {
        check: "cert-chain".to_owned(),
        severity: Severity::Error,
        object: ObjectRef::new("MutatingWebhookConfiguration", None, configuration),
        message,
        evidence,
        fix: fix(ctx, first, serving, err, host),
    }
}

fn fix(
    ctx: &CheckContext<'_>,
    w: &MeshWebhook<'_>,
    serving: &CertSource,
    err: &ChainError,
    host: &str,
) -> String {
    let ns = serving.namespace.as_deref().unwrap_or("istio-system");
    let certificate = ctx
        .state
        .secrets
        .get(Some(ns), &serving.name)
        .and_then(|s| s.obj.metadata.annotations.as_ref())
        .and_then(|a| a.get("cert-manager.io/certificate-name"))
        .cloned();
    match (err, w.mesh) {
        (ChainError::UnknownIssuer { .. }, MeshKind::Linkerd) => {
            match mesh_root(ctx.state, w.mesh, ns) {
                Ok(root) => patch_from_source_command(w, &root),
                Err(_) => "linkerd upgrade | kubectl apply -f -".to_owned(),
            }
        }
        (ChainError::UnknownIssuer { .. }, MeshKind::Istio) => {
            let name = w.service().map_or_else(|| "istiod".to_owned(), |s| s.name);
            format!("kubectl -n {ns} rollout restart deployment {name}")
        }
        (ChainError::NotValidForName { .. }, _) => {
            let cert = certificate.unwrap_or_else(|| match w.mesh {
                MeshKind::Istio => "istiod".to_owned(),
                MeshKind::Linkerd => "linkerd-proxy-injector".to_owned(),
            });
            if w.mesh == MeshKind::Linkerd
                && serving.certs.first().is_some_and(|c| c.subject == c.issuer)
            {
                // The chart's self-signed certificate names the release namespace.
                return "linkerd upgrade | kubectl apply -f -".to_owned();
            }
            format!(
                "kubectl -n {ns} patch certificate {cert} --type=json -p '[{{\"op\":\"add\",\"path\":\"/spec/dnsNames/-\",\"value\":\"{host}\"}}]'"
            )
        }
        (_, _) => match (certificate, w.mesh) {
            (Some(cert), _) => format!("cmctl renew -n {ns} {cert}"),
            (None, MeshKind::Linkerd) => "linkerd upgrade | kubectl apply -f -".to_owned(),
            (None, MeshKind::Istio) => format!(
                "kubectl -n {ns} delete secret {} && kubectl -n {ns} rollout restart deployment -l app=istiod",
                serving.name
            ),
        },
    }
}
