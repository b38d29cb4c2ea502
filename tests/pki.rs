//! End-to-end use of `meshdoctor::pki` the way the certificate checks will use it: a webhook
//! configuration read through k8s-openapi (so `caBundle` arrives already base64-decoded), the
//! mesh root from a ConfigMap, and a serving certificate from the injector's Secret.

#[path = "common/pki.rs"]
mod pki_gen;

use base64::Engine as _;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use meshdoctor::pki::{self, CaBundleEncoding, CaBundleError, Expiry, TlsFailure, TrustComparison};
use pki_gen::{DAY, NOW};

const HOST: &str = "istiod.istio-system.svc";

fn webhook_with_ca_bundle(ca_bundle_b64: &str) -> MutatingWebhookConfiguration {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "istio-sidecar-injector"},
        "webhooks": [{
            "name": "namespace.sidecar-injector.istio.io",
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "clientConfig": {
                "service": {"name": "istiod", "namespace": "istio-system", "path": "/inject"},
                "caBundle": ca_bundle_b64
            }
        }]
    }))
    .expect("valid webhook configuration")
}

fn ca_bundle_bytes(mwc: &MutatingWebhookConfiguration) -> Vec<u8> {
    mwc.webhooks.as_ref().expect("webhooks")[0]
        .client_config
        .ca_bundle
        .as_ref()
        .expect("caBundle")
        .0
        .clone()
}

#[test]
fn matching_bundle_root_and_serving_cert() {
    let root = pki_gen::ca("cluster.local");
    let (serving, key) = pki_gen::serving(&root, &[HOST], NOW - DAY, NOW + 365 * DAY);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&root.cert_pem);
    let mwc = webhook_with_ca_bundle(&b64);

    let bundle = pki::decode_ca_bundle(&ca_bundle_bytes(&mwc)).expect("caBundle decodes");
    assert_eq!(
        bundle.encoding,
        CaBundleEncoding::Pem,
        "ByteString gives decoded PEM"
    );
    // The runbook's `kubectl ... -o jsonpath='{...caBundle}' | md5sum`: md5 of the base64 text.
    assert_eq!(
        pki::runbook_md5(&bundle.pem),
        pki::runbook_md5_decoded(b64.as_bytes())
    );

    // istio-ca-root-cert holds the same root, with CRLF line ends: same trust, same
    // bundle fingerprint, different md5.
    let configmap_root = root.cert_pem.replace('\n', "\r\n");
    let roots = pki::parse_pem_bundle(configmap_root.as_bytes()).expect("root parses");
    assert_eq!(
        pki::same_trust(&bundle.certs, &roots.certs),
        TrustComparison::Identical
    );
    assert_eq!(
        pki::bundle_fingerprint(&bundle.certs),
        pki::bundle_fingerprint(&roots.certs)
    );
    assert_ne!(
        pki::runbook_md5_decoded(&bundle.pem),
        pki::runbook_md5_decoded(configmap_root.as_bytes())
    );

    // The injector's Secret (tls.crt + tls.key) verifies; the snapshot keeps only the cert.
    let secret = format!("{serving}{key}");
    pki::verify_serving_cert(secret.as_bytes(), &bundle.certs, HOST, NOW).expect("trusted");
    let public = pki::public_certs_only(&secret);
    assert!(!public.contains("PRIVATE KEY"));
    assert_eq!(
        pki::parse_pem_bundle(public.as_bytes())
            .expect("cert kept")
            .certs,
        pki::parse_pem_bundle(serving.as_bytes())
            .expect("cert")
            .certs
    );

    let leaf = &pki::parse_pem_bundle(serving.as_bytes())
        .expect("cert")
        .certs[0];
    assert_eq!(
        pki::expiry_status(leaf, NOW + 340 * DAY, 30),
        Expiry::ExpiringSoon { days_left: 25 }
    );
}

#[test]
fn stale_bundle_after_ca_rotation() {
    let old = pki_gen::ca("cluster.local");
    let new = pki_gen::ca("cluster.local");
    let (serving, _) = pki_gen::serving(&new, &[HOST], NOW - DAY, NOW + DAY);
    let mwc =
        webhook_with_ca_bundle(&base64::engine::general_purpose::STANDARD.encode(&old.cert_pem));
    let bundle = pki::decode_ca_bundle(&ca_bundle_bytes(&mwc)).expect("caBundle decodes");
    let roots = pki::parse_pem_bundle(new.cert_pem.as_bytes()).expect("root");
    assert_eq!(
        pki::same_trust(&bundle.certs, &roots.certs),
        TrustComparison::Disjoint
    );
    let err = pki::verify_serving_cert(serving.as_bytes(), &bundle.certs, HOST, NOW)
        .expect_err("stale bundle");
    assert_eq!(err.tls_failure(), Some(TlsFailure::UnknownAuthority));
    let go = err.go_message().expect("go message");
    assert!(go.starts_with("x509: certificate signed by unknown authority (possibly because of"));
    assert_eq!(pki::classify_go_tls_error(&go), err.tls_failure());
}

#[test]
fn empty_and_double_encoded_bundles() {
    let mwc = webhook_with_ca_bundle("");
    assert_eq!(
        pki::decode_ca_bundle(&ca_bundle_bytes(&mwc)).expect_err("empty"),
        CaBundleError::Empty
    );
    // A Helm chart that base64-encodes an already base64-encoded PEM.
    let root = pki_gen::ca("cluster.local");
    let once = base64::engine::general_purpose::STANDARD.encode(&root.cert_pem);
    let twice = base64::engine::general_purpose::STANDARD.encode(&once);
    let bundle = pki::decode_ca_bundle(&ca_bundle_bytes(&webhook_with_ca_bundle(&twice)))
        .expect("still decodable once more");
    assert_eq!(
        bundle.encoding,
        CaBundleEncoding::Base64,
        "decoded bytes that are base64: the API server cannot use this field"
    );
}
