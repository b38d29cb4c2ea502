//! The webhook `clientConfig.caBundle` field: decoding it and the runbook's md5 fingerprints.
//!
//! The field is PEM bytes; in YAML/JSON it is written as base64 of those bytes, and k8s-openapi's
//! `ByteString` hands over the decoded bytes. [`decode_ca_bundle`] accepts either and says which
//! it saw, so a caller holding decoded bytes can tell a double-encoded field (the API server
//! would reject it) from a good one.

use base64::Engine as _;
use md5::{Digest as _, Md5};

use super::pem::{GO_STD, PemError};
use super::{CertInfo, parse_pem_bundle};

/// What the given `caBundle` bytes were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaBundleEncoding {
    /// PEM text, as the API server stores the field.
    Pem,
    /// Base64 of PEM text, as the field appears in YAML/JSON. If the caller passed bytes that were
    /// already decoded once (k8s-openapi `ByteString`), the field is base64-encoded twice and the
    /// API server cannot use it.
    Base64,
}

/// A decoded `caBundle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaBundle {
    pub encoding: CaBundleEncoding,
    /// The PEM bytes the API server works with (after base64 decoding, when there was base64).
    pub pem: Vec<u8>,
    pub certs: Vec<CertInfo>,
    /// Labels of non-certificate PEM blocks (the API server ignores them).
    pub other_labels: Vec<String>,
}

/// Why a `caBundle` value yields no certificate. Byte offsets are 0-based, as in Go's
/// `illegal base64 data at input byte N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaBundleError {
    #[error("caBundle: empty")]
    Empty,
    #[error("caBundle: invalid base64 at byte {offset} ({found:?})")]
    InvalidBase64 { offset: usize, found: char },
    #[error("caBundle: invalid base64: {reason}")]
    Base64 { reason: String },
    #[error("caBundle: not PEM: the bytes are a DER certificate; the field needs PEM text")]
    Der,
    #[error("caBundle: not PEM: base64-encoded twice (decoding once more gives PEM)")]
    DoubleBase64,
    #[error("caBundle: {0}")]
    Pem(#[from] PemError),
}

/// Decodes a `caBundle` given as PEM bytes or as base64 text of PEM (newlines in the base64 are
/// ignored, as Go's decoder does; other whitespace is an error).
pub fn decode_ca_bundle(field: &[u8]) -> Result<CaBundle, CaBundleError> {
    let trimmed = field.trim_ascii();
    if trimmed.is_empty() {
        return Err(CaBundleError::Empty);
    }
    if has_pem_begin(field) {
        return from_pem(CaBundleEncoding::Pem, field.to_vec());
    }
    if CertInfo::from_der(trimmed).is_ok() {
        return Err(CaBundleError::Der);
    }
    let pem = decode_base64(trimmed)?;
    if pem.trim_ascii().is_empty() {
        return Err(CaBundleError::Empty);
    }
    if !has_pem_begin(&pem) {
        if CertInfo::from_der(&pem).is_ok() {
            return Err(CaBundleError::Der);
        }
        if decode_base64(pem.trim_ascii()).is_ok_and(|twice| has_pem_begin(&twice)) {
            return Err(CaBundleError::DoubleBase64);
        }
    }
    from_pem(CaBundleEncoding::Base64, pem)
}

fn from_pem(encoding: CaBundleEncoding, pem: Vec<u8>) -> Result<CaBundle, CaBundleError> {
    let bundle = parse_pem_bundle(&pem)?;
    Ok(CaBundle {
        encoding,
        pem,
        certs: bundle.certs,
        other_labels: bundle.other_labels,
    })
}

fn has_pem_begin(bytes: &[u8]) -> bool {
    bytes.starts_with(b"-----BEGIN ")
        || bytes
            .windows(12)
            .any(|w| w == b"\n-----BEGIN " || w == b"\r-----BEGIN ")
}

/// Standard base64 as Go's `StdEncoding` reads it: `\r` and `\n` skipped, padding required,
/// non-zero trailing bits tolerated. Errors point at the byte of the original text.
fn decode_base64(text: &[u8]) -> Result<Vec<u8>, CaBundleError> {
    let mut kept = Vec::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len());
    for (i, b) in text.iter().enumerate() {
        if *b != b'\r' && *b != b'\n' {
            kept.push(*b);
            origin.push(i);
        }
    }
    GO_STD.decode(&kept).map_err(|e| match e {
        base64::DecodeError::InvalidByte(at, byte) => CaBundleError::InvalidBase64 {
            offset: origin.get(at).copied().unwrap_or(at),
            found: char::from(byte),
        },
        other => CaBundleError::Base64 {
            reason: other.to_string(),
        },
    })
}

/// The md5 the Istio runbook compares: `kubectl get mutatingwebhookconfiguration X -o
/// jsonpath='{.webhooks[0].clientConfig.caBundle}' | md5sum` (and the same for a Secret's
/// `{.data.root-cert\.pem}`). Both print the API server's base64 of `raw` with no trailing
/// newline, so this is md5 of that text. `raw` is the decoded field, e.g. [`CaBundle::pem`].
pub fn runbook_md5(raw: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(raw);
    hex::encode(Md5::digest(text.as_bytes()))
}

/// The md5 of the decoded bytes: what `... caBundle}' | base64 -d | md5sum`, `md5sum
/// root-cert.pem`, or `kubectl get configmap istio-ca-root-cert -o
/// jsonpath='{.data.root-cert\.pem}' | md5sum` print. Equal md5s mean byte-identical PEM;
/// different ones can still be the same certificates (compare with `bundle_fingerprint`).
pub fn runbook_md5_decoded(raw: &[u8]) -> String {
    hex::encode(Md5::digest(raw))
}

#[cfg(test)]
mod tests {
    use super::super::testgen;
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn accepts_pem_bytes_and_base64_text() {
        let a = testgen::ca("a");
        let b = testgen::ca("b");
        let pem = format!("{}{}", a.cert_pem, b.cert_pem);

        let raw = decode_ca_bundle(pem.as_bytes()).unwrap();
        assert_eq!(raw.encoding, CaBundleEncoding::Pem);
        assert_eq!(raw.certs.len(), 2);
        assert_eq!(raw.pem, pem.as_bytes());

        let text = b64(pem.as_bytes());
        let dec = decode_ca_bundle(text.as_bytes()).unwrap();
        assert_eq!(dec.encoding, CaBundleEncoding::Base64);
        assert_eq!(dec.certs, raw.certs);
        assert_eq!(dec.pem, raw.pem);

        // A YAML block scalar may wrap the base64; Go skips the newlines.
        let wrapped: String = text
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\r\n", String::from_utf8_lossy(c)))
            .collect();
        assert_eq!(decode_ca_bundle(wrapped.as_bytes()).unwrap().certs.len(), 2);
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(decode_ca_bundle(b"").unwrap_err(), CaBundleError::Empty);
        assert_eq!(
            decode_ca_bundle(b" \n\t").unwrap_err(),
            CaBundleError::Empty
        );

        let e = decode_ca_bundle(b"LS0tLS1CRUdJTi!tLS0t").unwrap_err();
        assert_eq!(e.to_string(), "caBundle: invalid base64 at byte 14 ('!')");
        // Offsets count the original text, newlines included.
        let e = decode_ca_bundle(b"LS0t\nLS1C\nRU!").unwrap_err();
        assert_eq!(
            e,
            CaBundleError::InvalidBase64 {
                offset: 12,
                found: '!'
            }
        );
        let e = decode_ca_bundle(b"LS0tL").unwrap_err();
        assert!(matches!(e, CaBundleError::Base64 { .. }), "{e}");

        let e = decode_ca_bundle(b64(b"hello world").as_bytes()).unwrap_err();
        assert_eq!(e, CaBundleError::Pem(PemError::NoBlock));
        assert_eq!(
            e.to_string(),
            "caBundle: no PEM block found (expected a line \"-----BEGIN CERTIFICATE-----\")"
        );

        let ca = testgen::ca("a");
        let garbage = format!(
            "{}-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n",
            ca.cert_pem
        );
        let e = decode_ca_bundle(b64(garbage.as_bytes()).as_bytes()).unwrap_err();
        assert!(
            e.to_string().starts_with("caBundle: PEM block 2 (line "),
            "{e}"
        );

        let e = decode_ca_bundle(ca.key_pem.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "caBundle: no CERTIFICATE block (found only: PRIVATE KEY)"
        );
    }

    #[test]
    fn der_and_double_encoding_are_recognised() {
        let ca = testgen::ca("a");
        let der = parse_pem_bundle(ca.cert_pem.as_bytes()).unwrap().certs[0]
            .der
            .clone();
        assert_eq!(decode_ca_bundle(&der).unwrap_err(), CaBundleError::Der);
        assert_eq!(
            decode_ca_bundle(b64(&der).as_bytes()).unwrap_err(),
            CaBundleError::Der
        );
        // ByteString holds the once-decoded bytes; if those are base64 text, the Helm chart
        // encoded twice. Once-decoded text is still accepted as base64 and flagged by encoding.
        let once = b64(ca.cert_pem.as_bytes());
        assert_eq!(
            decode_ca_bundle(once.as_bytes()).unwrap().encoding,
            CaBundleEncoding::Base64
        );
        let twice = b64(once.as_bytes());
        assert_eq!(
            decode_ca_bundle(twice.as_bytes()).unwrap_err(),
            CaBundleError::DoubleBase64
        );
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = decode_ca_bundle(&bytes);
            let _ = decode_ca_bundle(b64(&bytes).as_bytes());
        }
    }

    #[test]
    fn runbook_md5_matches_md5sum_of_kubectl_output() {
        // `printf '%s' "$(printf 'hello\n' | base64)" | md5sum` and `printf 'hello\n' | md5sum`.
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(b"hello\n"),
            "aGVsbG8K"
        );
        assert_eq!(runbook_md5(b"hello\n"), "6b70b3a2e20c0f3fe876d8a107b7753d");
        assert_eq!(
            runbook_md5_decoded(b"hello\n"),
            "b1946ac92492d2347c6235b4d2611184"
        );
    }
}
