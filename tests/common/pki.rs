//! Test-time PKI: real CAs and serving certificates generated with rcgen, so no key material is
//! committed. Shared by the `pki` unit tests (via `#[path]`) and integration tests / fixture
//! builders (`#[path = "common/pki.rs"] mod pki_gen;` or `mod common;` with `pub mod pki;`).
// Each including crate uses a different subset of these helpers; `expect(dead_code)` would fail
// in the crates that use them all, so this one `allow` is deliberate.
#![allow(dead_code)]

use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A fixed "now" for tests (2025-06-15T15:06:40Z), so results never depend on the clock.
pub const NOW: i64 = 1_750_000_000;
pub const DAY: i64 = 86_400;

/// A CA: its certificate and key as PEM, and the issuer handle to sign with.
pub struct TestCa {
    pub cert_pem: String,
    pub key_pem: String,
    pub issuer: Issuer<'static, KeyPair>,
}

/// Sets the validity window from unix seconds (rcgen takes `time::OffsetDateTime`; going through
/// `date_time_ymd` avoids a direct dependency on `time`).
pub fn set_validity(params: &mut CertificateParams, not_before: i64, not_after: i64) {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let at = |unix: i64| {
        let d = Duration::from_secs(unix.unsigned_abs());
        if unix >= 0 { epoch + d } else { epoch - d }
    };
    params.not_before = at(not_before);
    params.not_after = at(not_after);
}

/// A self-signed CA named `CN=<name>`, valid from 10 days before [`NOW`] for ten years.
pub fn ca(name: &str) -> TestCa {
    ca_valid(name, NOW - 10 * DAY, NOW + 3650 * DAY)
}

/// A self-signed CA with the given validity window (unix seconds).
pub fn ca_valid(name: &str, not_before: i64, not_after: i64) -> TestCa {
    let params = ca_params(name, not_before, not_after);
    let key = KeyPair::generate().expect("generate CA key");
    let cert = params.self_signed(&key).expect("self-sign CA");
    TestCa {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        issuer: Issuer::new(params, key),
    }
}

/// An intermediate CA named `CN=<name>` signed by `parent`.
pub fn intermediate(parent: &TestCa, name: &str) -> TestCa {
    let params = ca_params(name, NOW - 10 * DAY, NOW + 3650 * DAY);
    let key = KeyPair::generate().expect("generate intermediate key");
    let cert = params
        .signed_by(&key, &parent.issuer)
        .expect("sign intermediate");
    TestCa {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        issuer: Issuer::new(params, key),
    }
}

fn ca_params(name: &str, not_before: i64, not_after: i64) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, not_before, not_after);
    params
}

/// Parameters of a webhook serving certificate: SANs `names` (IP literals become IP SANs),
/// `CN=<first name>`, EKU serverAuth, the given validity window. Adjust them and [`sign`] for
/// odd cases (wrong EKU, no SAN).
pub fn serving_params(names: &[&str], not_before: i64, not_after: i64) -> CertificateParams {
    let owned: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(owned).expect("valid SANs");
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(first) = names.first() {
        params.distinguished_name.push(DnType::CommonName, *first);
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    set_validity(&mut params, not_before, not_after);
    params
}

/// Signs `params` with `ca` and a fresh key: `(cert_pem, key_pem)`.
pub fn sign(ca: &TestCa, params: &CertificateParams) -> (String, String) {
    let key = KeyPair::generate().expect("generate leaf key");
    let cert = params.signed_by(&key, &ca.issuer).expect("sign leaf");
    (cert.pem(), key.serialize_pem())
}

/// A serving certificate for `names` signed by `ca`: `(cert_pem, key_pem)`.
pub fn serving(ca: &TestCa, names: &[&str], not_before: i64, not_after: i64) -> (String, String) {
    sign(ca, &serving_params(names, not_before, not_after))
}
