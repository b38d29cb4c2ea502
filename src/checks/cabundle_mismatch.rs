//! `cabundle-mismatch`: a mesh injector webhook's `caBundle` does not hold the mesh's CA (Istio's
//! root certificate, the Linkerd injector's CA). Compared as certificate sets, so PEM line
//! endings, order and duplicates do not matter; the runbook's md5 values are shown too.

use std::collections::BTreeMap;

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::pki::{
    CertInfo, TrustComparison, bundle_fingerprint, runbook_md5, runbook_md5_decoded, same_trust,
};

use super::machinery::{
    CertSource, MeshKind, MeshWebhook, by_configuration, cert_label, mesh_root,
    patch_from_source_command, required_mesh_webhooks, webhook_bundle, which_webhooks,
};

pub struct CabundleMismatch;

/// A webhook whose bundle does not hold the root: the bundle's certificates and PEM bytes, how
/// they compare, and the root they were compared with.
type Mismatch<'w, 'a> = (
    &'w MeshWebhook<'a>,
    Vec<CertInfo>,
    Vec<u8>,
    TrustComparison,
    CertSource,
);

impl Check for CabundleMismatch {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/cabundle-mismatch.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let webhooks = required_mesh_webhooks(ctx)?;
        let mut roots: BTreeMap<(bool, String), Result<CertSource, String>> = BTreeMap::new();
        let before = out.len();
        let mut compared = 0usize;
        let mut not_compared: Vec<String> = Vec::new();
        for (configuration, list) in by_configuration(&webhooks) {
            let mut bad: Vec<Mismatch<'_, '_>> = Vec::new();
            for w in list {
                // Empty or unloadable bundles are cabundle-empty's; URL webhooks have no
                // control-plane namespace to find the root in.
                let (Ok(bundle), Some(svc)) = (webhook_bundle(w.ca_bundle()), w.service()) else {
                    continue;
                };
                let root = roots
                    .entry((w.mesh == MeshKind::Istio, svc.namespace.clone()))
                    .or_insert_with(|| mesh_root(ctx.state, w.mesh, &svc.namespace));
                let root = match root {
                    Ok(r) => r,
                    Err(why) => {
                        if !not_compared.contains(why) {
                            not_compared.push(why.clone());
                        }
                        continue;
                    }
                };
                compared += 1;
                let cmp = same_trust(&bundle.certs, &root.certs);
                if !matches!(
                    cmp,
                    TrustComparison::Identical | TrustComparison::BundleContainsRoot { .. }
                ) {
                    bad.push((w, bundle.certs, bundle.pem, cmp, root.clone()));
                }
            }
            let Some((first, certs, pem, cmp, root)) = bad.first() else {
                continue;
            };
            let (which, _) = which_webhooks(bad.iter().map(|(w, ..)| *w));
            let bundle_fp = bundle_fingerprint(certs);
            let root_fp = bundle_fingerprint(&root.certs);
            let short = |fp: &str| fp.chars().take(12).collect::<String>();
            let what = match cmp {
                TrustComparison::Disjoint => "holds none of the certificates of".to_owned(),
                TrustComparison::BundleWithinRoot { missing } => format!(
                    "lacks {missing} of the {} certificates of",
                    root.certs.len()
                ),
                TrustComparison::Overlapping { shared } => {
                    format!("shares only {shared} certificate(s) with")
                }
                TrustComparison::Identical | TrustComparison::BundleContainsRoot { .. } => {
                    String::new()
                }
            };
            let consequence = if *cmp == TrustComparison::Disjoint {
                format!(
                    "the API server will reject the injector's certificate with \"x509: certificate signed by unknown authority\" and {}",
                    if first.fails_open() {
                        "pods start without a sidecar (failurePolicy Ignore)"
                    } else {
                        "pod creation fails (failurePolicy Fail)"
                    }
                )
            } else {
                "a serving certificate issued by the missing CA will not be trusted (a CA rotation half done?)".to_owned()
            };
            let message = format!(
                "caBundle of {which} in {configuration} {what} the {} CA in {}: bundle sha256 {}… vs {}…; {consequence}",
                first.mesh.name(),
                root.describe(),
                short(&bundle_fp),
                short(&root_fp),
            );
            let labels = |cs: &[CertInfo]| cs.iter().map(cert_label).collect::<Vec<_>>().join(", ");
            let (root_cmd, root_md5) = root.runbook_md5();
            // Show the caBundle's md5 in the form comparable with the root's: both over base64
            // text (Secret) or both over the PEM bytes (ConfigMap).
            let (bundle_cmd, bundle_md5) = if root.md5_of_base64() {
                (
                    format!("{} | md5sum", first.ca_bundle_command()),
                    runbook_md5(pem),
                )
            } else {
                (
                    format!("{} | base64 -d | md5sum", first.ca_bundle_command()),
                    runbook_md5_decoded(pem),
                )
            };
            let evidence = vec![
                Evidence::new(
                    first.field("clientConfig.caBundle"),
                    format!("bundle sha256 {bundle_fp}: {}", labels(certs)),
                    format!(
                        "bundle sha256 {root_fp}: {} (from {})",
                        labels(&root.certs),
                        root.describe()
                    ),
                    first.origin,
                ),
                Evidence::new(
                    "md5sum, as the runbook compares them",
                    format!("{bundle_md5}  ({bundle_cmd})"),
                    format!("{root_md5}  ({root_cmd})"),
                    &root.origin,
                ),
            ];
            let fix = match first.mesh {
                MeshKind::Istio => {
                    let svc = first.service();
                    let (ns, name) = svc.as_ref().map_or(("istio-system", "istiod"), |s| {
                        (s.namespace.as_str(), s.name.as_str())
                    });
                    // istiod writes the caBundle when it starts; the patch is for when it does not.
                    format!("kubectl -n {ns} rollout restart deployment {name}")
                }
                MeshKind::Linkerd => patch_from_source_command(first, root),
            };
            out.push(Finding {
                check: "cabundle-mismatch".to_owned(),
                severity: if *cmp == TrustComparison::Disjoint {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                object: ObjectRef::new("MutatingWebhookConfiguration", None, configuration),
                message,
                evidence,
                fix,
            });
        }
        if compared == 0 && !not_compared.is_empty() {
            return Err(Skip(not_compared.join("; ")));
        }
        if out.len() == before && !not_compared.is_empty() {
            return Err(Skip(format!(
                "some caBundles could not be compared: {}",
                not_compared.join("; ")
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::machinery::testing::{istio_mwc, run};
    use super::*;
    use crate::pki::testgen;
    use base64::Engine as _;

    fn with(bundle_pem: &str, root_pem: &str) -> Result<Vec<Finding>, Skip> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(bundle_pem);
        let mwc = istio_mwc("inj", "istiod", "").replace(
            "path: /inject}",
            &format!("path: /inject}}\n    caBundle: {b64}"),
        );
        let indented: String = root_pem.lines().map(|l| format!("    {l}\n")).collect();
        let yaml = format!(
            "{mwc}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: istio-ca-root-cert, namespace: istio-system}}\ndata:\n  root-cert.pem: |\n{indented}"
        );
        run(&CabundleMismatch, &yaml)
    }

    #[test]
    fn identical_or_superset_bundles_pass_partial_ones_warn_disjoint_ones_fail() {
        let (a, b, c) = (testgen::ca("a"), testgen::ca("b"), testgen::ca("c"));
        let (a, b, c) = (a.cert_pem, b.cert_pem, c.cert_pem);
        assert!(with(&a, &a).unwrap().is_empty());
        assert!(with(&format!("{b}{a}"), &a).unwrap().is_empty());

        let f = with(&a, &format!("{a}{b}")).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(
            f[0].message.contains("lacks 1 of the 2 certificates"),
            "{}",
            f[0].message
        );

        let f = with(&c, &a).unwrap();
        assert_eq!(f[0].severity, Severity::Error);
        assert!(
            f[0].message
                .contains("x509: certificate signed by unknown authority")
        );
        // The runbook's md5 pair: decoded caBundle against the ConfigMap text.
        assert!(f[0].evidence[1].observed.contains("| base64 -d | md5sum"));
        assert!(
            f[0].evidence[1]
                .expected
                .contains(&runbook_md5_decoded(a.as_bytes()))
        );
    }

    #[test]
    fn skipped_when_no_root_is_in_the_input() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(testgen::ca("a").cert_pem);
        let mwc = istio_mwc("inj", "istiod", "").replace(
            "path: /inject}",
            &format!("path: /inject}}\n    caBundle: {b64}"),
        );
        let e = run(&CabundleMismatch, &mwc).unwrap_err();
        assert!(
            e.0.contains("no Istio root certificate for istio-system"),
            "{}",
            e.0
        );
    }
}
