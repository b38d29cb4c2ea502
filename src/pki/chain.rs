//! Would the API server trust a webhook's serving certificate, and why not.
//!
//! The decision comes from `rustls-webpki` (path building, serverAuth EKU, SAN matching,
//! signature algorithms). The checks run in the order Go's `Certificate.Verify` runs them —
//! leaf validity window, then host name, then the chain — so the failure we report is the one
//! the API server reports, and [`ChainError::go_message`] rebuilds its text. The reverse,
//! [`classify_go_tls_error`], maps an API server error message back to a failure kind so a
//! server-side error can be attributed to a check.

use std::time::Duration;

use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::pem::PemError;
use super::{CertInfo, Time, parse_pem_bundle};

/// Why a serving certificate chain is not trusted for a host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("serving certificate: {0}")]
    Pem(#[from] PemError),
    #[error("caBundle: no usable CA certificate")]
    NoAnchors,
    #[error("serving certificate: host {host:?} is not a valid DNS name or IP address")]
    InvalidHost { host: String },
    #[error("serving certificate: expired at {} (now {})", .not_after.rfc3339, .now.rfc3339)]
    Expired { not_after: Time, now: Time },
    #[error("serving certificate: not valid before {} (now {})", .not_before.rfc3339, .now.rfc3339)]
    NotYetValid { not_before: Time, now: Time },
    #[error("serving certificate: not valid for {host:?} (it is valid for: {})", names_or_none(.names))]
    NotValidForName {
        host: String,
        /// DNS and IP SANs of the certificate.
        names: Vec<String>,
        /// The subject CN, when the certificate has no SANs (Go ignores CN since 1.15).
        legacy_common_name: Option<String>,
    },
    #[error("serving certificate: not signed by any caBundle certificate (its issuer is {issuer}){}",
        .hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    UnknownIssuer {
        issuer: String,
        hint: Option<IssuerHint>,
    },
    #[error("serving certificate: extended key usage does not allow server authentication")]
    IncompatibleUsage,
    #[error("serving certificate: signature algorithm {algorithm} is not accepted")]
    InsecureAlgorithm { algorithm: String },
    #[error("serving certificate: rejected by path validation: {0}")]
    Other(String),
}

/// Why the CA that looked like the issuer (same subject name) did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerHint {
    /// Same name, different key: the classic stale or replaced `caBundle`.
    #[error("a caBundle CA named {candidate:?} has the right name but a different key")]
    DifferentKey {
        candidate: String,
        /// Go's wording of the signature failure for the candidate's key type.
        go_error: &'static str,
    },
    #[error("the caBundle CA named {candidate:?} expired at {}", .not_after.rfc3339)]
    Expired { candidate: String, not_after: Time },
    #[error("the caBundle CA named {candidate:?} is not valid before {}", .not_before.rfc3339)]
    NotYetValid { candidate: String, not_before: Time },
}

fn names_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "no names".to_owned()
    } else {
        names.join(", ")
    }
}

/// The kind of TLS failure, shared by our verdicts and the API server's error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsFailure {
    /// `x509: certificate signed by unknown authority` — the `caBundle` does not match.
    UnknownAuthority,
    /// `x509: certificate has expired or is not yet valid`.
    ExpiredOrNotYetValid,
    /// `x509: certificate is valid for ..., not ...` and its variants.
    NameMismatch,
    /// `x509: certificate specifies an incompatible key usage`.
    IncompatibleUsage,
}

impl ChainError {
    /// The failure kind, if this is a TLS verification failure (not an input error).
    pub fn tls_failure(&self) -> Option<TlsFailure> {
        match self {
            Self::Expired { .. } | Self::NotYetValid { .. } => {
                Some(TlsFailure::ExpiredOrNotYetValid)
            }
            Self::NotValidForName { .. } => Some(TlsFailure::NameMismatch),
            Self::UnknownIssuer { .. } | Self::InsecureAlgorithm { .. } => {
                Some(TlsFailure::UnknownAuthority)
            }
            Self::IncompatibleUsage => Some(TlsFailure::IncompatibleUsage),
            Self::Pem(_) | Self::NoAnchors | Self::InvalidHost { .. } | Self::Other(_) => None,
        }
    }

    /// The error text Go's `crypto/x509` gives for this failure, as the API server prints it
    /// after `failed calling webhook "...": ... Post "https://...": tls: failed to verify
    /// certificate: `. `None` for failures that have no single Go equivalent.
    pub fn go_message(&self) -> Option<String> {
        Some(match self {
            Self::Expired { not_after, now } => format!(
                "x509: certificate has expired or is not yet valid: current time {} is after {}",
                now.rfc3339, not_after.rfc3339
            ),
            Self::NotYetValid { not_before, now } => format!(
                "x509: certificate has expired or is not yet valid: current time {} is before {}",
                now.rfc3339, not_before.rfc3339
            ),
            Self::NotValidForName {
                host,
                names,
                legacy_common_name,
            } => go_hostname_message(host, names, legacy_common_name.as_deref()),
            Self::UnknownIssuer { hint, .. } => {
                let mut s = "x509: certificate signed by unknown authority".to_owned();
                let because = match hint {
                    Some(IssuerHint::DifferentKey {
                        candidate,
                        go_error,
                    }) => Some(((*go_error).to_owned(), candidate)),
                    Some(IssuerHint::Expired {
                        candidate,
                        not_after,
                    }) => Some((
                        format!(
                            "x509: certificate has expired or is not yet valid: current time \
                             <now> is after {}",
                            not_after.rfc3339
                        ),
                        candidate,
                    )),
                    Some(IssuerHint::NotYetValid {
                        candidate,
                        not_before,
                    }) => Some((
                        format!(
                            "x509: certificate has expired or is not yet valid: current time \
                             <now> is before {}",
                            not_before.rfc3339
                        ),
                        candidate,
                    )),
                    None => None,
                };
                if let Some((err, candidate)) = because {
                    s.push_str(&format!(
                        " (possibly because of {err:?} while trying to verify candidate \
                         authority certificate {candidate:?})"
                    ));
                }
                s
            }
            Self::InsecureAlgorithm { algorithm } => format!(
                "x509: certificate signed by unknown authority (possibly because of \
                 \"x509: cannot verify signature: insecure algorithm {algorithm}\")"
            ),
            Self::IncompatibleUsage => {
                "x509: certificate specifies an incompatible key usage".to_owned()
            }
            Self::Pem(_) | Self::NoAnchors | Self::InvalidHost { .. } | Self::Other(_) => {
                return None;
            }
        })
    }
}

/// Go's `HostnameError.Error()` wording.
fn go_hostname_message(host: &str, names: &[String], legacy_cn: Option<&str>) -> String {
    if names.is_empty() && legacy_cn.is_some_and(|cn| cn.eq_ignore_ascii_case(host)) {
        return "x509: certificate relies on legacy Common Name field, use SANs instead".to_owned();
    }
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    let valid: Vec<&String> = names
        .iter()
        .filter(|n| n.parse::<std::net::IpAddr>().is_ok() == is_ip)
        .collect();
    if is_ip && valid.is_empty() {
        return format!(
            "x509: cannot validate certificate for {host} because it doesn't contain any IP SANs"
        );
    }
    if valid.is_empty() {
        return format!("x509: certificate is not valid for any names, but wanted to match {host}");
    }
    let valid: Vec<&str> = valid.iter().map(|s| s.as_str()).collect();
    format!(
        "x509: certificate is valid for {}, not {host}",
        valid.join(", ")
    )
}

/// Reads an API server / Go TLS error message (e.g. a `FailedCreate` event or a dry-run
/// rejection) and says which TLS failure it reports, if any.
pub fn classify_go_tls_error(message: &str) -> Option<TlsFailure> {
    if message.contains("x509: certificate signed by unknown authority") {
        Some(TlsFailure::UnknownAuthority)
    } else if message.contains("x509: certificate has expired or is not yet valid") {
        Some(TlsFailure::ExpiredOrNotYetValid)
    } else if message.contains("x509: certificate is valid for ")
        || message.contains("x509: certificate is not valid for any names")
        || message.contains("x509: certificate relies on legacy Common Name field")
        || (message.contains("x509: cannot validate certificate for")
            && message.contains("doesn't contain any IP SANs"))
    {
        Some(TlsFailure::NameMismatch)
    } else if message.contains("x509: certificate specifies an incompatible key usage") {
        Some(TlsFailure::IncompatibleUsage)
    } else {
        None
    }
}

/// Checks that the serving chain (leaf first, then any intermediates, as the webhook server
/// sends it) is trusted by `anchors` (the `caBundle`) for `host` (`<svc>.<ns>.svc`, or the host
/// of `clientConfig.url`) at `now_unix`, as the API server's TLS client would.
///
/// Trust anchors outside their validity window are set aside first, because Go rejects them
/// while webpki does not check anchor dates; if that leaves the leaf without an issuer, the
/// error carries the hint Go would print.
pub fn verify_serving_cert(
    serving_chain_pem: &[u8],
    anchors: &[CertInfo],
    host: &str,
    now_unix: i64,
) -> Result<(), ChainError> {
    let chain = parse_pem_bundle(serving_chain_pem)?.certs;
    let Some((leaf, intermediates)) = chain.split_first() else {
        return Err(PemError::NoCertificate { labels: Vec::new() }.into());
    };
    let now = Time::from_unix(now_unix);

    // 1. Leaf validity window (Go checks it before anything else).
    if now_unix < leaf.not_before.unix {
        return Err(ChainError::NotYetValid {
            not_before: leaf.not_before.clone(),
            now,
        });
    }
    if now_unix > leaf.not_after.unix {
        return Err(ChainError::Expired {
            not_after: leaf.not_after.clone(),
            now,
        });
    }

    // 2. Host name.
    let server_name = ServerName::try_from(host).map_err(|_| ChainError::InvalidHost {
        host: host.to_owned(),
    })?;
    let leaf_der = CertificateDer::from(leaf.der.as_slice());
    let end_entity =
        EndEntityCert::try_from(&leaf_der).map_err(|e| ChainError::Other(format!("{e:?}")))?;
    if end_entity
        .verify_is_valid_for_subject_name(&server_name)
        .is_err()
    {
        let names = leaf.names();
        return Err(ChainError::NotValidForName {
            host: host.to_owned(),
            legacy_common_name: if names.is_empty() {
                leaf.common_name.clone()
            } else {
                None
            },
            names,
        });
    }

    // 3. The chain, against the anchors that are inside their validity window.
    if anchors.is_empty() {
        return Err(ChainError::NoAnchors);
    }
    let current: Vec<&CertInfo> = anchors
        .iter()
        .filter(|a| a.not_before.unix <= now_unix && now_unix <= a.not_after.unix)
        .collect();
    let anchor_ders: Vec<CertificateDer<'_>> = current
        .iter()
        .map(|a| CertificateDer::from(a.der.as_slice()))
        .collect();
    let trust: Vec<TrustAnchor<'_>> = anchor_ders
        .iter()
        .filter_map(|d| webpki::anchor_from_trusted_cert(d).ok())
        .collect();
    if trust.is_empty() && current.len() == anchors.len() {
        return Err(ChainError::NoAnchors);
    }
    let intermediate_ders: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(c.der.as_slice()))
        .collect();
    let time = UnixTime::since_unix_epoch(Duration::from_secs(
        u64::try_from(now_unix).unwrap_or_default(),
    ));
    let result = end_entity.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &trust,
        &intermediate_ders,
        time,
        KeyUsage::server_auth(),
        None,
        None,
    );
    match result {
        Ok(_) => Ok(()),
        Err(e) => Err(map_webpki_error(&e, &chain, anchors, now_unix)),
    }
}

fn map_webpki_error(
    e: &webpki::Error,
    chain: &[CertInfo],
    anchors: &[CertInfo],
    now_unix: i64,
) -> ChainError {
    use webpki::Error as W;
    match e {
        W::UnknownIssuer | W::InvalidSignatureForPublicKey => {
            // The top of the chain as sent is the certificate that needed an anchor.
            let top = chain.last();
            ChainError::UnknownIssuer {
                issuer: top.map(|c| c.issuer.clone()).unwrap_or_default(),
                hint: top.and_then(|c| issuer_hint(c, anchors, now_unix)),
            }
        }
        W::RequiredEkuNotFoundContext(_) => ChainError::IncompatibleUsage,
        W::UnsupportedSignatureAlgorithmContext(_)
        | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => ChainError::InsecureAlgorithm {
            algorithm: chain
                .iter()
                .map(|c| c.signature_algorithm.as_str())
                .find(|a| a.contains("sha1") || a.contains("SHA1"))
                .or_else(|| chain.first().map(|c| c.signature_algorithm.as_str()))
                .unwrap_or_default()
                .to_owned(),
        },
        other => ChainError::Other(format!("{other:?}")),
    }
}

/// Go names a candidate by CN, else first O, else `serial:<decimal>`.
fn go_candidate_name(cert: &X509Certificate<'_>) -> String {
    let first = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
        it.next().and_then(|a| a.as_str().ok()).map(str::to_owned)
    };
    first(&mut cert.subject().iter_common_name())
        .filter(|s| !s.is_empty())
        .or_else(|| first(&mut cert.subject().iter_organization()))
        .unwrap_or_else(|| format!("serial:{}", cert.tbs_certificate.serial))
}

/// Finds an anchor whose subject is `cert`'s issuer and says why it did not work.
fn issuer_hint(cert: &CertInfo, anchors: &[CertInfo], now_unix: i64) -> Option<IssuerHint> {
    let (_, child) = X509Certificate::from_der(&cert.der).ok()?;
    let issuer_raw = child.issuer().as_raw();
    anchors.iter().find_map(|a| {
        let (_, parsed) = X509Certificate::from_der(&a.der).ok()?;
        if parsed.subject().as_raw() != issuer_raw {
            return None;
        }
        let candidate = go_candidate_name(&parsed);
        Some(if now_unix > a.not_after.unix {
            IssuerHint::Expired {
                candidate,
                not_after: a.not_after.clone(),
            }
        } else if now_unix < a.not_before.unix {
            IssuerHint::NotYetValid {
                candidate,
                not_before: a.not_before.clone(),
            }
        } else {
            IssuerHint::DifferentKey {
                candidate,
                go_error: go_signature_error(&parsed),
            }
        })
    })
}

/// Go's error text when a signature does not verify under the candidate's key.
fn go_signature_error(candidate: &X509Certificate<'_>) -> &'static str {
    match candidate
        .public_key()
        .algorithm
        .algorithm
        .to_id_string()
        .as_str()
    {
        "1.2.840.10045.2.1" => "x509: ECDSA verification failure",
        "1.3.101.112" => "x509: Ed25519 verification failure",
        _ => "crypto/rsa: verification error",
    }
}

#[cfg(test)]
mod tests {
    use super::super::testgen::{self, DAY, NOW};
    use super::*;

    const HOST: &str = "istiod.istio-system.svc";

    fn certs(pem: &str) -> Vec<CertInfo> {
        parse_pem_bundle(pem.as_bytes()).unwrap().certs
    }

    #[test]
    fn right_ca_verifies() {
        let ca = testgen::ca("mesh root");
        let (leaf, _) = testgen::serving(&ca, &[HOST], NOW - DAY, NOW + 90 * DAY);
        verify_serving_cert(leaf.as_bytes(), &certs(&ca.cert_pem), HOST, NOW).unwrap();
        // A bundle with a wrong CA first and the right one second also works.
        let other = testgen::ca("other");
        let bundle = certs(&format!("{}{}", other.cert_pem, ca.cert_pem));
        verify_serving_cert(leaf.as_bytes(), &bundle, HOST, NOW).unwrap();
    }

    #[test]
    fn intermediate_sent_by_the_server_verifies() {
        let root = testgen::ca("root");
        let mid = testgen::intermediate(&root, "issuing");
        let (leaf, _) = testgen::serving(&mid, &[HOST], NOW - DAY, NOW + DAY);
        let chain = format!("{leaf}{}", mid.cert_pem);
        verify_serving_cert(chain.as_bytes(), &certs(&root.cert_pem), HOST, NOW).unwrap();
        let e =
            verify_serving_cert(leaf.as_bytes(), &certs(&root.cert_pem), HOST, NOW).unwrap_err();
        assert_eq!(e.tls_failure(), Some(TlsFailure::UnknownAuthority), "{e}");
    }

    #[test]
    fn wrong_ca_is_unknown_authority() {
        let ca = testgen::ca("mesh root");
        let (leaf, _) = testgen::serving(&ca, &[HOST], NOW - DAY, NOW + DAY);
        let wrong = testgen::ca("someone else");
        let e =
            verify_serving_cert(leaf.as_bytes(), &certs(&wrong.cert_pem), HOST, NOW).unwrap_err();
        assert_eq!(
            e,
            ChainError::UnknownIssuer {
                issuer: "CN=mesh root".into(),
                hint: None
            }
        );
        assert_eq!(
            e.go_message().as_deref(),
            Some("x509: certificate signed by unknown authority")
        );
        assert_eq!(
            e.to_string(),
            "serving certificate: not signed by any caBundle certificate (its issuer is CN=mesh root)"
        );
    }

    #[test]
    fn same_name_new_key_gets_gos_hint() {
        // The rotated-CA case: the caBundle still holds the old CA with the same name.
        let old = testgen::ca("cluster.local");
        let new = testgen::ca("cluster.local");
        let (leaf, _) = testgen::serving(&new, &[HOST], NOW - DAY, NOW + DAY);
        let e = verify_serving_cert(leaf.as_bytes(), &certs(&old.cert_pem), HOST, NOW).unwrap_err();
        assert_eq!(
            e.go_message().as_deref(),
            Some(
                "x509: certificate signed by unknown authority (possibly because of \
                 \"x509: ECDSA verification failure\" while trying to verify candidate \
                 authority certificate \"cluster.local\")"
            )
        );
        assert_eq!(
            classify_go_tls_error(&e.go_message().unwrap()),
            Some(TlsFailure::UnknownAuthority)
        );
    }

    #[test]
    fn expired_anchor_is_set_aside_like_go() {
        let ca = testgen::ca_valid("old root", NOW - 400 * DAY, NOW - DAY);
        let (leaf, _) = testgen::serving(&ca, &[HOST], NOW - 10 * DAY, NOW + DAY);
        let e = verify_serving_cert(leaf.as_bytes(), &certs(&ca.cert_pem), HOST, NOW).unwrap_err();
        assert!(
            matches!(&e, ChainError::UnknownIssuer { hint: Some(IssuerHint::Expired { candidate, .. }), .. } if candidate == "old root"),
            "{e:?}"
        );
        assert_eq!(e.tls_failure(), Some(TlsFailure::UnknownAuthority));
    }

    #[test]
    fn expired_and_not_yet_valid_leaf() {
        let ca = testgen::ca("root");
        let (leaf, _) = testgen::serving(&ca, &[HOST], NOW - 100 * DAY, NOW - 10 * DAY);
        let e = verify_serving_cert(leaf.as_bytes(), &certs(&ca.cert_pem), HOST, NOW).unwrap_err();
        assert!(matches!(e, ChainError::Expired { .. }), "{e:?}");
        assert_eq!(
            e.go_message().as_deref(),
            Some(
                "x509: certificate has expired or is not yet valid: current time \
                 2025-06-15T15:06:40Z is after 2025-06-05T15:06:40Z"
            )
        );
        assert_eq!(
            e.to_string(),
            "serving certificate: expired at 2025-06-05T15:06:40Z (now 2025-06-15T15:06:40Z)"
        );
        // Expiry wins over a wrong name and a wrong CA, as in Go.
        let wrong = testgen::ca("x");
        let e = verify_serving_cert(leaf.as_bytes(), &certs(&wrong.cert_pem), "x.svc", NOW)
            .unwrap_err();
        assert_eq!(e.tls_failure(), Some(TlsFailure::ExpiredOrNotYetValid));

        let (future, _) = testgen::serving(&ca, &[HOST], NOW + DAY, NOW + 9 * DAY);
        let e =
            verify_serving_cert(future.as_bytes(), &certs(&ca.cert_pem), HOST, NOW).unwrap_err();
        assert!(matches!(e, ChainError::NotYetValid { .. }), "{e:?}");
        assert!(
            e.go_message()
                .unwrap()
                .contains("is before 2025-06-16T15:06:40Z")
        );
    }

    #[test]
    fn wrong_san_lists_the_names() {
        let ca = testgen::ca("root");
        let (leaf, _) = testgen::serving(
            &ca,
            &[
                "istiod.istio-system.svc",
                "istiod.istio-system.svc.cluster.local",
            ],
            NOW - DAY,
            NOW + DAY,
        );
        let e = verify_serving_cert(
            leaf.as_bytes(),
            &certs(&ca.cert_pem),
            "istiod.default.svc",
            NOW,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "serving certificate: not valid for \"istiod.default.svc\" (it is valid for: \
             istiod.istio-system.svc, istiod.istio-system.svc.cluster.local)"
        );
        assert_eq!(
            e.go_message().as_deref(),
            Some(
                "x509: certificate is valid for istiod.istio-system.svc, \
                 istiod.istio-system.svc.cluster.local, not istiod.default.svc"
            )
        );
        // Wrong name is reported before a wrong CA, as in Go.
        let wrong = testgen::ca("x");
        let e = verify_serving_cert(leaf.as_bytes(), &certs(&wrong.cert_pem), "a.svc", NOW)
            .unwrap_err();
        assert_eq!(e.tls_failure(), Some(TlsFailure::NameMismatch));
    }

    #[test]
    fn ip_hosts_and_cn_only_certs() {
        let ca = testgen::ca("root");
        let (leaf, _) = testgen::serving(&ca, &["127.0.0.1"], NOW - DAY, NOW + DAY);
        verify_serving_cert(leaf.as_bytes(), &certs(&ca.cert_pem), "127.0.0.1", NOW).unwrap();
        let e = verify_serving_cert(leaf.as_bytes(), &certs(&ca.cert_pem), "10.0.0.1", NOW)
            .unwrap_err();
        assert_eq!(
            e.go_message().as_deref(),
            Some("x509: certificate is valid for 127.0.0.1, not 10.0.0.1")
        );

        let (dns_only, _) = testgen::serving(&ca, &[HOST], NOW - DAY, NOW + DAY);
        let e = verify_serving_cert(dns_only.as_bytes(), &certs(&ca.cert_pem), "10.0.0.1", NOW)
            .unwrap_err();
        assert_eq!(
            e.go_message().as_deref(),
            Some(
                "x509: cannot validate certificate for 10.0.0.1 because it doesn't contain any IP SANs"
            )
        );

        // CN-only certificate (morvencao/kube-sidecar-injector#18): rejected since Go 1.15.
        let mut params = testgen::serving_params(&[], NOW - DAY, NOW + DAY);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, HOST);
        let (cn_only, _) = testgen::sign(&ca, &params);
        let e =
            verify_serving_cert(cn_only.as_bytes(), &certs(&ca.cert_pem), HOST, NOW).unwrap_err();
        assert_eq!(
            e.go_message().as_deref(),
            Some("x509: certificate relies on legacy Common Name field, use SANs instead")
        );
        assert_eq!(e.tls_failure(), Some(TlsFailure::NameMismatch));
    }

    #[test]
    fn client_only_eku_is_incompatible_usage() {
        let ca = testgen::ca("root");
        let mut params = testgen::serving_params(&[HOST], NOW - DAY, NOW + DAY);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let (leaf, _) = testgen::sign(&ca, &params);
        let e = verify_serving_cert(leaf.as_bytes(), &certs(&ca.cert_pem), HOST, NOW).unwrap_err();
        assert_eq!(e, ChainError::IncompatibleUsage);
        assert_eq!(
            classify_go_tls_error(&e.go_message().unwrap()),
            Some(TlsFailure::IncompatibleUsage)
        );
    }

    #[test]
    fn input_errors() {
        let ca = testgen::ca("root");
        let (leaf, key) = testgen::serving(&ca, &[HOST], NOW - DAY, NOW + DAY);
        assert_eq!(
            verify_serving_cert(leaf.as_bytes(), &[], HOST, NOW).unwrap_err(),
            ChainError::NoAnchors
        );
        let e = verify_serving_cert(key.as_bytes(), &certs(&ca.cert_pem), HOST, NOW).unwrap_err();
        assert_eq!(
            e.to_string(),
            "serving certificate: no CERTIFICATE block (found only: PRIVATE KEY)"
        );
        let e = verify_serving_cert(leaf.as_bytes(), &certs(&ca.cert_pem), "bad host!", NOW)
            .unwrap_err();
        assert!(matches!(e, ChainError::InvalidHost { .. }), "{e:?}");
        assert_eq!(e.go_message(), None);
        assert_eq!(e.tls_failure(), None);
    }

    #[test]
    fn classifies_real_api_server_messages() {
        let seed = "Internal error occurred: failed calling admission webhook \
            \"sidecar-injector.istio.io\": Post https://istio-sidecar-injector.istio-system.svc:443/inject: \
            x509: certificate signed by unknown authority (possibly because of \"crypto/rsa: \
            verification error\" while trying to verify candidate authority certificate \
            \"Kubernetes.cluster.local\")";
        assert_eq!(
            classify_go_tls_error(seed),
            Some(TlsFailure::UnknownAuthority)
        );
        let expired = "failed calling webhook \"namespace.sidecar-injector.istio.io\": failed to \
            call webhook: Post \"https://istiod.istio-system.svc:443/inject?timeout=10s\": tls: \
            failed to verify certificate: x509: certificate has expired or is not yet valid: \
            current time 2025-06-15T15:06:40Z is after 2025-06-05T15:06:40Z";
        assert_eq!(
            classify_go_tls_error(expired),
            Some(TlsFailure::ExpiredOrNotYetValid)
        );
        assert_eq!(
            classify_go_tls_error("x509: certificate is valid for a.svc, not b.svc"),
            Some(TlsFailure::NameMismatch)
        );
        assert_eq!(classify_go_tls_error("context deadline exceeded"), None);
    }
}
