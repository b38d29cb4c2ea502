//! Splits PEM text into labelled blocks the way Go's `encoding/pem` reads them.
//!
//! We scan blocks ourselves instead of using `rustls-pki-types` or `x509_parser::pem`: both drop
//! unknown labels or block positions, and a diagnosis needs "block 2 (line 24) is a PRIVATE KEY"
//! and "block 3 never ends". The rules follow Go because the API server decodes `caBundle` with
//! Go: `-----BEGIN <label>-----` must start a line, trailing spaces/tabs/CR are ignored, spaces
//! and tabs inside the body are removed, the END line must repeat the label, and the body is
//! standard base64 with padding where non-zero trailing bits are tolerated.

use base64::Engine as _;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};

/// Go's `base64.StdEncoding` accepts non-zero trailing bits; the `base64` crate's STANDARD does
/// not, so build the lenient twin.
pub(crate) const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// One decoded PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBlock {
    /// 1-based position among all blocks of the input.
    pub index: usize,
    /// 1-based line of the BEGIN marker.
    pub line: usize,
    /// The label between `BEGIN ` and `-----`, e.g. `CERTIFICATE` or `RSA PRIVATE KEY`.
    pub label: String,
    /// The decoded body.
    pub der: Vec<u8>,
}

/// Why PEM text could not be split into blocks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    #[error("no PEM block found (expected a line \"-----BEGIN CERTIFICATE-----\")")]
    NoBlock,
    #[error("PEM block {block} (line {line}): missing \"-----END {label}-----\"")]
    Unterminated {
        block: usize,
        line: usize,
        label: String,
    },
    #[error("PEM block {block} (line {line}): BEGIN {label} is closed by END {end_label}")]
    MismatchedEnd {
        block: usize,
        line: usize,
        label: String,
        end_label: String,
    },
    #[error("PEM block {block} (line {line}): invalid base64 in the body: {reason}")]
    Base64 {
        block: usize,
        line: usize,
        reason: String,
    },
    #[error("PEM block {block} (line {line}): not a certificate: {reason}")]
    NotACertificate {
        block: usize,
        line: usize,
        reason: String,
    },
    #[error("no CERTIFICATE block (found only: {})", .labels.join(", "))]
    NoCertificate { labels: Vec<String> },
}

/// Splits `bytes` into PEM blocks. Text outside blocks is ignored (as Go does); a block that is
/// started but broken is an error naming the block.
pub fn pem_blocks(bytes: &[u8]) -> Result<Vec<PemBlock>, PemError> {
    let mut blocks = Vec::new();
    // (index, begin line, label, body) of the block being read.
    let mut open: Option<(usize, usize, String, Vec<u8>)> = None;
    for (n, raw) in lines(bytes).enumerate() {
        let line_no = n + 1;
        let line = trim_end(raw);
        if let Some(label) = marker(line, b"-----BEGIN ") {
            if let Some((block, line, label, _)) = open.take() {
                return Err(PemError::Unterminated { block, line, label });
            }
            open = Some((blocks.len() + 1, line_no, label, Vec::new()));
            continue;
        }
        let Some((block, begin, label, body)) = open.as_mut() else {
            continue;
        };
        if let Some(end_label) = marker(line, b"-----END ") {
            if end_label != *label {
                return Err(PemError::MismatchedEnd {
                    block: *block,
                    line: *begin,
                    label: label.clone(),
                    end_label,
                });
            }
            let der = GO_STD.decode(&body[..]).map_err(|e| PemError::Base64 {
                block: *block,
                line: *begin,
                reason: e.to_string(),
            })?;
            blocks.push(PemBlock {
                index: *block,
                line: *begin,
                label: std::mem::take(label),
                der,
            });
            open = None;
            continue;
        }
        body.extend(line.iter().filter(|b| **b != b' ' && **b != b'\t'));
    }
    if let Some((block, line, label, _)) = open {
        return Err(PemError::Unterminated { block, line, label });
    }
    if blocks.is_empty() {
        return Err(PemError::NoBlock);
    }
    Ok(blocks)
}

/// Returns only the CERTIFICATE blocks of `pem`, re-encoded canonically (64-column base64, `\n`
/// line ends). Everything else, private keys above all, is dropped; nothing of the input text is
/// copied, so a key cannot leak through odd formatting. Unreadable input gives an empty string.
pub fn public_certs_only(pem: &str) -> String {
    let Ok(blocks) = pem_blocks(pem.as_bytes()) else {
        return String::new();
    };
    blocks
        .iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| encode_pem("CERTIFICATE", &b.der))
        .collect()
}

/// Encodes one block as PEM with 64-column lines, like Go's `pem.Encode`.
pub fn encode_pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    // The base64 alphabet is ASCII, so splitting on byte boundaries is safe.
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Lines split on `\n`, `\r\n` or a lone `\r`.
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .iter()
            .position(|b| *b == b'\n' || *b == b'\r')
            .unwrap_or(rest.len());
        let line = rest.get(..end).unwrap_or_default();
        let sep = match rest.get(end..end + 2) {
            Some(b"\r\n") => 2,
            _ if end < rest.len() => 1,
            _ => 0,
        };
        let next = end + sep;
        rest = rest.get(next..).unwrap_or_default();
        Some(line)
    })
}

fn trim_end(line: &[u8]) -> &[u8] {
    let keep = line
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r'))
        .map_or(0, |i| i + 1);
    line.get(..keep).unwrap_or_default()
}

/// The label of a `<prefix><label>-----` line.
fn marker(line: &[u8], prefix: &[u8]) -> Option<String> {
    let label = line.strip_prefix(prefix)?.strip_suffix(b"-----")?;
    Some(String::from_utf8_lossy(label).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_on_every_newline_style() {
        let got: Vec<&[u8]> = lines(b"a\nb\r\nc\rd").collect();
        assert_eq!(got, vec![&b"a"[..], b"b", b"c", b"d"]);
        let got: Vec<&[u8]> = lines(b"a\n\nb\r\n").collect();
        assert_eq!(got, vec![&b"a"[..], b"", b"b"]);
    }

    #[test]
    fn reads_blocks_with_labels_positions_and_junk_between() {
        let text = "junk\n-----BEGIN FOO-----\nAAEC\n-----END FOO-----\r\n\r\n\
                    -----BEGIN BAR BAZ-----  \r\n AQ == \r\n-----END BAR BAZ-----";
        let blocks = pem_blocks(text.as_bytes()).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!((blocks[0].index, blocks[0].line), (1, 2));
        assert_eq!(blocks[0].label, "FOO");
        assert_eq!(blocks[0].der, vec![0, 1, 2]);
        assert_eq!((blocks[1].index, blocks[1].line), (2, 6));
        assert_eq!(blocks[1].label, "BAR BAZ");
        assert_eq!(blocks[1].der, vec![1]);
    }

    #[test]
    fn go_tolerates_nonzero_trailing_bits() {
        // "AB==" has non-zero bits after the first byte; Go's StdEncoding still decodes it.
        let blocks = pem_blocks(b"-----BEGIN X-----\nAB==\n-----END X-----\n").unwrap();
        assert_eq!(blocks[0].der, vec![0]);
    }

    #[test]
    fn broken_blocks_are_located_errors() {
        assert_eq!(pem_blocks(b"hello").unwrap_err(), PemError::NoBlock);
        assert_eq!(pem_blocks(b"").unwrap_err(), PemError::NoBlock);
        let e = pem_blocks(b"-----BEGIN A-----\nAA==\n-----END A-----\n-----BEGIN B-----\nAA==\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "PEM block 2 (line 4): missing \"-----END B-----\""
        );
        let e = pem_blocks(b"-----BEGIN A-----\nAA==\n-----END B-----\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "PEM block 1 (line 1): BEGIN A is closed by END B"
        );
        let e = pem_blocks(b"\n-----BEGIN A-----\nA!A=\n-----END A-----\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("PEM block 1 (line 2): invalid base64 in the body: "),
            "{e}"
        );
        let e = pem_blocks(b"-----BEGIN A-----\n-----BEGIN B-----\n").unwrap_err();
        assert!(matches!(e, PemError::Unterminated { block: 1, .. }), "{e}");
    }

    #[test]
    fn begin_must_start_the_line_like_go() {
        // Go's pem.Decode only finds BEGIN at the start of a line.
        assert_eq!(
            pem_blocks(b"  -----BEGIN A-----\nAA==\n  -----END A-----\n").unwrap_err(),
            PemError::NoBlock
        );
    }

    #[test]
    fn public_certs_only_drops_keys_and_reencodes() {
        let text = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n\
                    -----BEGIN CERTIFICATE-----\r\nAAEC\r\n-----END CERTIFICATE-----\r\n\
                    -----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0\n-----END RSA PRIVATE KEY-----\n";
        let out = public_certs_only(text);
        assert_eq!(
            out,
            "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n"
        );
        assert!(!out.contains("c2VjcmV0"));
        assert_eq!(public_certs_only("not pem"), "");
        // A broken block anywhere means nothing is copied at all.
        assert_eq!(
            public_certs_only(
                "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nc2Vj\n"
            ),
            ""
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
                                         der in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = pem_blocks(&bytes);
            let _ = public_certs_only(&String::from_utf8_lossy(&bytes));
            // Our encoder's output always reads back to the same bytes.
            let blocks = pem_blocks(encode_pem("CERTIFICATE", &der).as_bytes()).unwrap();
            proptest::prop_assert_eq!(&blocks[0].der, &der);
        }
    }

    #[test]
    fn encode_wraps_at_64_columns() {
        let out = encode_pem("X", &[0u8; 60]);
        let body: Vec<&str> = out.lines().collect();
        assert_eq!(body.len(), 4);
        assert_eq!(body[1].len(), 64);
        assert_eq!(body[2].len(), 16);
    }
}
