//! `cert-expiry`: the certificates the injection path depends on — the webhook `caBundle`, the
//! mesh CA it should hold, and the injector's serving certificate — expired, not yet valid, or
//! expiring within `ctx.cert_warn_days`. Each certificate is reported once, at the object to fix,
//! with every other place that holds a copy.

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::origin::Origin;
use crate::pki::{CertInfo, Expiry, expiry_status};

use super::machinery::{
    CertSource, MeshKind, mesh_root, required_mesh_webhooks, secret_value, serving_cert,
    webhook_bundle,
};

pub struct CertExpiry;

/// One place a certificate was found.
pub struct Holder {
    pub object: ObjectRef,
    /// `secret linkerd/linkerd-proxy-injector-k8s-tls (tls.crt)`.
    pub describe: String,
    pub field: String,
    pub origin: Origin,
    /// The injector's serving certificate (the leaf of its chain), not a CA.
    pub serving: bool,
    pub mesh: MeshKind,
    /// The control-plane namespace (where the injector runs).
    pub plane: String,
    /// The cert-manager Certificate that owns a Secret, when annotated.
    pub certificate: Option<String>,
}

impl Check for CertExpiry {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/cert-expiry.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let found = mesh_certificates(ctx)?;
        for (cert, holders) in &found {
            let status = expiry_status(cert, ctx.now_unix, ctx.cert_warn_days);
            let (severity, when) = match status {
                Expiry::Valid { .. } => continue,
                Expiry::Expired { days_ago } => (
                    Severity::Error,
                    format!(
                        "expired {} ({})",
                        days(days_ago, "ago"),
                        cert.not_after.rfc3339
                    ),
                ),
                Expiry::NotYetValid { days_until } => (
                    Severity::Error,
                    format!(
                        "is not valid until {} ({})",
                        cert.not_before.rfc3339,
                        days(days_until, "from now")
                    ),
                ),
                Expiry::ExpiringSoon { days_left } => (
                    Severity::Warning,
                    format!(
                        "expires in {} ({}), within the {}-day warning window",
                        days_left_text(days_left),
                        cert.not_after.rfc3339,
                        ctx.cert_warn_days
                    ),
                ),
            };
            let Some(primary) = holders.first() else {
                continue;
            };
            let serving = holders.iter().any(|h| h.serving);
            let role = if serving {
                "serving certificate"
            } else {
                "CA certificate"
            };
            let also = if holders.len() > 1 {
                let rest: Vec<&str> = holders[1..].iter().map(|h| h.describe.as_str()).collect();
                format!(" (also in {})", rest.join(", "))
            } else {
                String::new()
            };
            let consequence = match (severity, serving) {
                (Severity::Warning, _) => {
                    "once it lapses the API server cannot call the injector".to_owned()
                }
                (_, true) => "the API server rejects the injector with \"x509: certificate has expired or is not yet valid\"".to_owned(),
                (_, false) => "the API server no longer trusts certificates it signed (\"x509: certificate signed by unknown authority\")".to_owned(),
            };
            let message = format!(
                "{role} \"{}\" in {}{also} {when}: {consequence}",
                cert.subject, primary.describe
            );
            let evidence = holders
                .iter()
                .map(|h| {
                    Evidence::new(
                        format!("{} notAfter", h.field),
                        format!(
                            "{} (notBefore {})",
                            cert.not_after.rfc3339, cert.not_before.rfc3339
                        ),
                        format!(
                            "valid at {} and for more than {} days",
                            crate::pki::Time::from_unix(ctx.now_unix).rfc3339,
                            ctx.cert_warn_days
                        ),
                        &h.origin,
                    )
                })
                .collect();
            out.push(Finding {
                check: "cert-expiry".to_owned(),
                severity,
                object: primary.object.clone(),
                message,
                evidence,
                fix: fix(primary),
            });
        }
        Ok(())
    }
}

/// Every certificate the injection machinery depends on, once each (by fingerprint), with
/// every place it was found: the injectors' serving certificates, the mesh roots and CA
/// Secrets of each control plane, and the webhooks' caBundles. `cert-expiry` reports on them;
/// `meshdoctor serve` exports their expiry.
pub fn mesh_certificates(ctx: &CheckContext<'_>) -> Result<Vec<(CertInfo, Vec<Holder>)>, Skip> {
    let webhooks = required_mesh_webhooks(ctx)?;
    let mut found: Vec<(CertInfo, Vec<Holder>)> = Vec::new();
    let mut add = |cert: &CertInfo, holder: Holder| match found
        .iter_mut()
        .find(|(c, _)| c.sha256_fingerprint == cert.sha256_fingerprint)
    {
        Some((_, holders)) => {
            if !holders.iter().any(|h| h.describe == holder.describe) {
                holders.push(holder);
            }
        }
        None => found.push((cert.clone(), vec![holder])),
    };

    // Control-plane objects first, so that a certificate is reported where it is issued.
    let mut planes: Vec<(MeshKind, String)> = Vec::new();
    for w in &webhooks {
        if let Some(svc) = w.service()
            && !planes.contains(&(w.mesh, svc.namespace.clone()))
        {
            planes.push((w.mesh, svc.namespace));
        }
    }
    for (mesh, ns) in &planes {
        let serving = serving_cert(ctx.state, *mesh, ns);
        let mut sources: Vec<(CertSource, bool)> = Vec::new();
        if let Some(s) = serving.clone() {
            sources.push((s, true));
        }
        if let Ok(root) = mesh_root(ctx.state, *mesh, ns) {
            sources.push((root, false));
        }
        if *mesh == MeshKind::Istio {
            sources.extend(istio_ca_secrets(ctx, ns).into_iter().map(|s| (s, false)));
        }
        for (src, is_serving) in sources {
            let certificate = (src.kind == "Secret")
                .then(|| {
                    ctx.state
                        .secrets
                        .get(src.namespace.as_deref(), &src.name)
                        .and_then(|s| s.obj.metadata.annotations.as_ref())
                        .and_then(|a| a.get("cert-manager.io/certificate-name"))
                        .cloned()
                })
                .flatten();
            for (i, cert) in src.certs.iter().enumerate() {
                add(
                    cert,
                    Holder {
                        object: ObjectRef::new(src.kind, src.namespace.as_deref(), &src.name),
                        describe: src.describe(),
                        field: src.field(),
                        origin: src.origin.clone(),
                        // Only the leaf of a serving chain is the serving certificate.
                        serving: is_serving && i == 0,
                        mesh: *mesh,
                        plane: ns.clone(),
                        certificate: certificate.clone(),
                    },
                );
            }
        }
    }
    for w in &webhooks {
        let Ok(bundle) = webhook_bundle(w.ca_bundle()) else {
            continue;
        };
        for cert in &bundle.certs {
            add(
                cert,
                Holder {
                    object: ObjectRef::new("MutatingWebhookConfiguration", None, w.configuration),
                    describe: format!("caBundle of {}", w.configuration),
                    field: w.field("clientConfig.caBundle"),
                    origin: w.origin.clone(),
                    serving: false,
                    mesh: w.mesh,
                    plane: w
                        .service()
                        .map_or_else(|| "istio-system".to_owned(), |s| s.namespace),
                    certificate: None,
                },
            );
        }
    }
    Ok(found)
}

/// Istio's CA Secrets in the control-plane namespace, beyond the root already read: the
/// plugged-in `cacerts` (every certificate key) and the self-signed `istio-ca-secret`.
fn istio_ca_secrets(ctx: &CheckContext<'_>, ns: &str) -> Vec<CertSource> {
    let mut out = Vec::new();
    for (name, keys) in [
        (
            "cacerts",
            &["root-cert.pem", "ca-cert.pem", "cert-chain.pem"][..],
        ),
        ("istio-ca-secret", &["ca-cert.pem"][..]),
    ] {
        let Some(sec) = ctx.state.secrets.get(Some(ns), name) else {
            continue;
        };
        for key in keys {
            let Some(pem) = secret_value(&sec.obj, key) else {
                continue;
            };
            if let Ok(bundle) = crate::pki::parse_pem_bundle(&pem) {
                out.push(CertSource {
                    kind: "Secret",
                    namespace: Some(ns.to_owned()),
                    name: name.to_owned(),
                    key: (*key).to_owned(),
                    origin: sec.origin.clone(),
                    pem,
                    certs: bundle.certs,
                });
            }
        }
    }
    out
}

fn days(n: i64, suffix: &str) -> String {
    match n {
        0 => "less than a day ".to_owned() + suffix,
        1 => format!("1 day {suffix}"),
        n => format!("{n} days {suffix}"),
    }
}

fn days_left_text(n: i64) -> String {
    match n {
        0 => "less than a day".to_owned(),
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    }
}

/// One command that re-issues the certificate where it lives.
fn fix(h: &Holder) -> String {
    let ns = h.plane.as_str();
    if let Some(cert) = &h.certificate {
        return format!("cmctl renew -n {ns} {cert}");
    }
    match (h.mesh, h.object.kind.as_str(), h.object.name.as_str()) {
        (MeshKind::Linkerd, "ConfigMap", _) => {
            // Identity trust anchors: rotation is a documented multi-step procedure.
            "linkerd upgrade --identity-trust-anchors-file=new-anchors.pem | kubectl apply -f -"
                .to_owned()
        }
        // The chart re-renders the injector certificate and caBundle together.
        (MeshKind::Linkerd, _, _) => "linkerd upgrade | kubectl apply -f -".to_owned(),
        (MeshKind::Istio, "Secret", "cacerts") => format!(
            "kubectl -n {ns} create secret generic cacerts --from-file=ca-cert.pem --from-file=ca-key.pem --from-file=root-cert.pem --from-file=cert-chain.pem --dry-run=client -o yaml | kubectl apply -f - && kubectl -n {ns} rollout restart deployment -l app=istiod"
        ),
        (MeshKind::Istio, "Secret", "istio-ca-secret") => format!(
            "kubectl -n {ns} delete secret istio-ca-secret && kubectl -n {ns} rollout restart deployment -l app=istiod"
        ),
        (MeshKind::Istio, "Secret", name) => format!(
            "kubectl -n {ns} delete secret {name} && kubectl -n {ns} rollout restart deployment -l app=istiod"
        ),
        (MeshKind::Istio, _, _) => {
            format!("kubectl -n {ns} rollout restart deployment -l app=istiod")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::machinery::testing::{NOW, istio_mwc, run};
    use super::*;
    use crate::pki::testgen;
    use base64::Engine as _;

    const DAY: i64 = 86_400;

    fn bundle_valid(not_before: i64, not_after: i64) -> Vec<Finding> {
        let ca = testgen::ca_valid("mesh root", not_before, not_after);
        let b64 = base64::engine::general_purpose::STANDARD.encode(ca.cert_pem);
        let mwc = istio_mwc("inj", "istiod", "").replace(
            "path: /inject}",
            &format!("path: /inject}}\n    caBundle: {b64}"),
        );
        run(&CertExpiry, &mwc).unwrap()
    }

    #[test]
    fn windows_map_to_severities() {
        assert!(bundle_valid(NOW - DAY, NOW + 31 * DAY).is_empty());
        let f = bundle_valid(NOW - DAY, NOW + 10 * DAY + 5);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(
            f[0].message.contains("expires in 10 days"),
            "{}",
            f[0].message
        );
        let f = bundle_valid(NOW - 10 * DAY, NOW - 2 * DAY);
        assert_eq!(f[0].severity, Severity::Error);
        assert!(
            f[0].message
                .contains("CA certificate \"CN=mesh root\" in caBundle of inj expired 2 days ago"),
            "{}",
            f[0].message
        );
        let f = bundle_valid(NOW + 3 * DAY, NOW + 300 * DAY);
        assert_eq!(f[0].severity, Severity::Error);
        assert!(
            f[0].message.contains("is not valid until"),
            "{}",
            f[0].message
        );
        assert_eq!(f[0].object.to_string(), "mutatingwebhookconfiguration/inj");
    }
}
