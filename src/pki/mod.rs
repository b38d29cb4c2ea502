//! PEM and X.509 handling: parse bundles, fingerprints, chains and expiry.
//!
//! This backs the certificate checks (`cabundle-empty`, `cabundle-mismatch`, `cert-expiry`,
//! `cert-chain`) and the attribution of the API server's TLS errors. Details come from
//! `x509-parser`; "would the API server trust this serving certificate" comes from
//! `rustls-webpki`, which rejects what Go's `crypto/x509` rejects for a webhook (path, time,
//! serverAuth EKU, SAN, SHA-1). Go-compatible PEM splitting lives in [`pem`], the webhook
//! `caBundle` field in [`cabundle`], chain verification in [`chain`].

pub mod cabundle;
pub mod chain;
pub mod pem;

#[cfg(test)]
#[path = "../../tests/common/pki.rs"]
pub(crate) mod testgen;

use std::collections::BTreeSet;

use sha2::{Digest as _, Sha256};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer as _, X509Certificate};

pub use cabundle::{CaBundle, CaBundleEncoding, CaBundleError, decode_ca_bundle};
pub use cabundle::{runbook_md5, runbook_md5_decoded};
pub use chain::{ChainError, TlsFailure, classify_go_tls_error, verify_serving_cert};
pub use pem::{PemError, public_certs_only};

/// A point in time as both unix seconds (for arithmetic) and RFC 3339 UTC text (for people).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Time {
    pub unix: i64,
    pub rfc3339: String,
}

impl Time {
    /// The time at `unix` seconds. Years outside 0..=9999 fall back to `@<seconds>`.
    pub fn from_unix(unix: i64) -> Self {
        let rfc3339 = match x509_parser::time::ASN1Time::from_timestamp(unix) {
            Ok(t) => {
                let d = t.to_datetime();
                format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    d.year(),
                    u8::from(d.month()),
                    d.day(),
                    d.hour(),
                    d.minute(),
                    d.second()
                )
            }
            Err(_) => format!("@{unix}"),
        };
        Self { unix, rfc3339 }
    }
}

/// The facts about one certificate that checks and reports need.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertInfo {
    /// Subject DN as x509-parser prints it, e.g. `O=cluster.local` or `CN=istiod`.
    pub subject: String,
    pub issuer: String,
    /// The subject's first common name, if any.
    pub common_name: Option<String>,
    /// Serial as colon-separated lowercase hex, as `openssl x509 -text` prints it.
    pub serial: String,
    pub not_before: Time,
    pub not_after: Time,
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
    /// IP subject alternative names, as text.
    pub ip_addresses: Vec<String>,
    /// Basic constraints say CA:TRUE.
    pub is_ca: bool,
    /// Signature algorithm short name (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`, ...), or
    /// the dotted OID when unknown.
    pub signature_algorithm: String,
    /// Lowercase hex SHA-256 of the DER, without colons.
    pub sha256_fingerprint: String,
    #[serde(skip)]
    pub der: Vec<u8>,
}

impl CertInfo {
    /// Parses one DER certificate. Trailing bytes are an error, as in Go's `ParseCertificate`.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
        if !rest.is_empty() {
            return Err(format!(
                "{} trailing bytes after the certificate",
                rest.len()
            ));
        }
        Ok(Self::from_parsed(&cert, der))
    }

    fn from_parsed(cert: &X509Certificate<'_>, der: &[u8]) -> Self {
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(n) => dns_names.push((*n).to_owned()),
                    GeneralName::IPAddress(ip) => ip_addresses.push(ip_text(ip)),
                    _ => {}
                }
            }
        }
        let sig_oid = &cert.signature_algorithm.algorithm;
        let signature_algorithm =
            x509_parser::objects::oid2sn(sig_oid, x509_parser::objects::oid_registry())
                .map_or_else(|_| sig_oid.to_id_string(), str::to_owned);
        Self {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            common_name: cert
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_owned),
            serial: cert.raw_serial_as_string(),
            not_before: Time::from_unix(cert.validity().not_before.timestamp()),
            not_after: Time::from_unix(cert.validity().not_after.timestamp()),
            dns_names,
            ip_addresses,
            is_ca: cert.is_ca(),
            signature_algorithm,
            sha256_fingerprint: hex::encode(Sha256::digest(der)),
            der: der.to_vec(),
        }
    }

    /// The names a TLS client can match: DNS SANs, then IP SANs.
    pub fn names(&self) -> Vec<String> {
        self.dns_names
            .iter()
            .chain(&self.ip_addresses)
            .cloned()
            .collect()
    }
}

fn ip_text(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return std::net::Ipv4Addr::from(v4).to_string();
    }
    if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        return std::net::Ipv6Addr::from(v6).to_string();
    }
    hex::encode(bytes)
}

/// The certificates of a PEM text, and the labels of the other blocks it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBundle {
    pub certs: Vec<CertInfo>,
    /// Labels of non-certificate blocks, in order (e.g. `RSA PRIVATE KEY`). Their contents are
    /// never kept.
    pub other_labels: Vec<String>,
}

/// Parses every CERTIFICATE block of `bytes`. Other blocks are skipped but counted in
/// `other_labels`; a CERTIFICATE block that is not X.509 is an error naming the block. At least
/// one certificate is required.
pub fn parse_pem_bundle(bytes: &[u8]) -> Result<PemBundle, PemError> {
    let mut certs = Vec::new();
    let mut other_labels = Vec::new();
    for block in pem::pem_blocks(bytes)? {
        if block.label != "CERTIFICATE" {
            other_labels.push(block.label);
            continue;
        }
        let cert = CertInfo::from_der(&block.der).map_err(|reason| PemError::NotACertificate {
            block: block.index,
            line: block.line,
            reason,
        })?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(PemError::NoCertificate {
            labels: other_labels,
        });
    }
    Ok(PemBundle {
        certs,
        other_labels,
    })
}

/// One fingerprint for a set of certificates: SHA-256 over the sorted, de-duplicated per-cert
/// SHA-256 digests. Order, duplicates, PEM line endings and whitespace do not change it, so equal
/// values mean "the same trust", where an md5 of the text would differ.
pub fn bundle_fingerprint(certs: &[CertInfo]) -> String {
    let set: BTreeSet<[u8; 32]> = certs
        .iter()
        .map(|c| Sha256::digest(&c.der).into())
        .collect();
    let mut h = Sha256::new();
    for digest in &set {
        h.update(digest);
    }
    hex::encode(h.finalize())
}

/// How a webhook's `caBundle` relates to the mesh root certificate(s), compared as DER sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrustComparison {
    /// The same certificates (order and encoding aside).
    Identical,
    /// Every root is in the bundle, plus `extra` other certificates.
    BundleContainsRoot { extra: usize },
    /// The bundle holds some of the roots but not all (`missing` of them), e.g. mid-rotation.
    BundleWithinRoot { missing: usize },
    /// Some certificates are shared, but each side has ones the other lacks.
    Overlapping { shared: usize },
    /// No certificate in common: the bundle does not trust the mesh CA.
    Disjoint,
}

/// Compares a `caBundle` with the mesh root certificate(s).
pub fn same_trust(bundle: &[CertInfo], root: &[CertInfo]) -> TrustComparison {
    let b: BTreeSet<&[u8]> = bundle.iter().map(|c| c.der.as_slice()).collect();
    let r: BTreeSet<&[u8]> = root.iter().map(|c| c.der.as_slice()).collect();
    let shared = b.intersection(&r).count();
    if shared == 0 {
        TrustComparison::Disjoint
    } else if b == r {
        TrustComparison::Identical
    } else if shared == r.len() {
        TrustComparison::BundleContainsRoot {
            extra: b.len() - shared,
        }
    } else if shared == b.len() {
        TrustComparison::BundleWithinRoot {
            missing: r.len() - shared,
        }
    } else {
        TrustComparison::Overlapping { shared }
    }
}

/// Where a certificate stands in its validity window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expiry {
    /// Valid for `days_left` more whole days, beyond the warning window.
    Valid { days_left: i64 },
    /// Valid, but expires within the warning window (`days_left` whole days; 0 = today).
    ExpiringSoon { days_left: i64 },
    /// `not_after` has passed, `days_ago` whole days ago (0 = within the last day).
    Expired { days_ago: i64 },
    /// `not_before` is still `days_until` whole days ahead (0 = within the next day).
    NotYetValid { days_until: i64 },
}

const DAY: i64 = 86_400;

/// Classifies `cert` at `now_unix`. Like Go, the certificate is valid on both boundary seconds.
pub fn expiry_status(cert: &CertInfo, now_unix: i64, warn_within_days: u32) -> Expiry {
    if now_unix < cert.not_before.unix {
        return Expiry::NotYetValid {
            days_until: (cert.not_before.unix - now_unix).div_euclid(DAY),
        };
    }
    if now_unix > cert.not_after.unix {
        return Expiry::Expired {
            days_ago: (now_unix - cert.not_after.unix).div_euclid(DAY),
        };
    }
    let left = cert.not_after.unix - now_unix;
    let days_left = left.div_euclid(DAY);
    if left < i64::from(warn_within_days) * DAY {
        Expiry::ExpiringSoon { days_left }
    } else {
        Expiry::Valid { days_left }
    }
}

#[cfg(test)]
mod tests {
    use super::testgen::{self, DAY as TDAY, NOW};
    use super::*;

    #[test]
    fn time_formats_rfc3339() {
        assert_eq!(Time::from_unix(0).rfc3339, "1970-01-01T00:00:00Z");
        assert_eq!(
            Time::from_unix(1_700_000_000).rfc3339,
            "2023-11-14T22:13:20Z"
        );
    }

    #[test]
    fn parses_a_generated_ca_and_serving_cert() {
        let ca = testgen::ca("mesh root");
        let (pem, _key) = testgen::serving(
            &ca,
            &["istiod.istio-system.svc", "10.0.0.7"],
            NOW - TDAY,
            NOW + 90 * TDAY,
        );
        let ca_info = &parse_pem_bundle(ca.cert_pem.as_bytes()).unwrap().certs[0];
        assert!(ca_info.is_ca);
        assert_eq!(ca_info.subject, "CN=mesh root");
        assert_eq!(ca_info.common_name.as_deref(), Some("mesh root"));

        let b = parse_pem_bundle(pem.as_bytes()).unwrap();
        assert!(b.other_labels.is_empty());
        let c = &b.certs[0];
        assert!(!c.is_ca);
        assert_eq!(c.issuer, "CN=mesh root");
        assert_eq!(c.dns_names, vec!["istiod.istio-system.svc"]);
        assert_eq!(c.ip_addresses, vec!["10.0.0.7"]);
        assert_eq!(c.names(), vec!["istiod.istio-system.svc", "10.0.0.7"]);
        assert_eq!(c.not_before.unix, NOW - TDAY);
        assert_eq!(c.not_after.unix, NOW + 90 * TDAY);
        assert_eq!(c.signature_algorithm, "ecdsa-with-SHA256");
        assert_eq!(c.sha256_fingerprint.len(), 64);
        assert_eq!(c.sha256_fingerprint, hex::encode(Sha256::digest(&c.der)));
        assert!(!c.serial.is_empty());
    }

    #[test]
    fn bundle_counts_other_blocks_and_rejects_bad_certs() {
        let ca = testgen::ca("root");
        let text = format!("{}{}", ca.key_pem, ca.cert_pem);
        let b = parse_pem_bundle(text.as_bytes()).unwrap();
        assert_eq!(b.certs.len(), 1);
        assert_eq!(b.other_labels, vec!["PRIVATE KEY"]);

        let e = parse_pem_bundle(ca.key_pem.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no CERTIFICATE block (found only: PRIVATE KEY)"
        );

        let garbage = format!(
            "{}-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n",
            ca.cert_pem
        );
        let e = parse_pem_bundle(garbage.as_bytes()).unwrap_err();
        assert!(e.to_string().starts_with("PEM block 2 (line "), "{e}");
        assert!(e.to_string().contains("not a certificate"), "{e}");
    }

    #[test]
    fn bundle_fingerprint_ignores_order_duplicates_and_encoding() {
        let a = testgen::ca("a");
        let b = testgen::ca("b");
        let ab = parse_pem_bundle(format!("{}{}", a.cert_pem, b.cert_pem).as_bytes()).unwrap();
        let crlf =
            format!("{}\r\n\r\n{}{}", b.cert_pem, a.cert_pem, a.cert_pem).replace('\n', "\r\n");
        let ba = parse_pem_bundle(crlf.as_bytes()).unwrap();
        assert_eq!(ba.certs.len(), 3);
        assert_eq!(bundle_fingerprint(&ab.certs), bundle_fingerprint(&ba.certs));
        let only_a = parse_pem_bundle(a.cert_pem.as_bytes()).unwrap();
        assert_ne!(
            bundle_fingerprint(&ab.certs),
            bundle_fingerprint(&only_a.certs)
        );
        // A single-cert bundle does not reuse the cert fingerprint, so the two are never confused.
        assert_ne!(
            bundle_fingerprint(&only_a.certs),
            only_a.certs[0].sha256_fingerprint
        );
    }

    #[test]
    fn same_trust_classifies_every_relation() {
        let [a, b, c] = ["a", "b", "c"].map(|n| {
            parse_pem_bundle(testgen::ca(n).cert_pem.as_bytes())
                .unwrap()
                .certs
                .remove(0)
        });
        let set = |v: &[&CertInfo]| v.iter().map(|c| (*c).clone()).collect::<Vec<_>>();
        use TrustComparison::*;
        assert_eq!(same_trust(&set(&[&a, &b]), &set(&[&b, &a])), Identical);
        assert_eq!(
            same_trust(&set(&[&a, &b]), &set(&[&a])),
            BundleContainsRoot { extra: 1 }
        );
        assert_eq!(
            same_trust(&set(&[&a]), &set(&[&a, &b, &c])),
            BundleWithinRoot { missing: 2 }
        );
        assert_eq!(
            same_trust(&set(&[&a, &b]), &set(&[&b, &c])),
            Overlapping { shared: 1 }
        );
        assert_eq!(same_trust(&set(&[&a]), &set(&[&b])), Disjoint);
        assert_eq!(same_trust(&[], &set(&[&b])), Disjoint);
    }

    #[test]
    fn expiry_status_windows_and_boundaries() {
        let ca = testgen::ca("root");
        let (pem, _) = testgen::serving(&ca, &["x.svc"], NOW, NOW + 40 * TDAY);
        let c = parse_pem_bundle(pem.as_bytes()).unwrap().certs.remove(0);
        assert_eq!(expiry_status(&c, NOW, 30), Expiry::Valid { days_left: 40 });
        assert_eq!(
            expiry_status(&c, NOW + 10 * TDAY + 1, 30),
            Expiry::ExpiringSoon { days_left: 29 }
        );
        assert_eq!(
            expiry_status(&c, NOW + 10 * TDAY, 30),
            Expiry::Valid { days_left: 30 }
        );
        assert_eq!(
            expiry_status(&c, NOW + 40 * TDAY, 30),
            Expiry::ExpiringSoon { days_left: 0 }
        );
        assert_eq!(
            expiry_status(&c, NOW + 40 * TDAY + 1, 30),
            Expiry::Expired { days_ago: 0 }
        );
        assert_eq!(
            expiry_status(&c, NOW + 43 * TDAY + 5, 30),
            Expiry::Expired { days_ago: 3 }
        );
        assert_eq!(
            expiry_status(&c, NOW - 1, 30),
            Expiry::NotYetValid { days_until: 0 }
        );
        assert_eq!(
            expiry_status(&c, NOW - 2 * TDAY, 30),
            Expiry::NotYetValid { days_until: 2 }
        );
        assert_eq!(expiry_status(&c, NOW, 0), Expiry::Valid { days_left: 40 });
    }
}
