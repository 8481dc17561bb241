//! The device certificate a TLS-terminating proxy forwards in a header, in the forms proxies
//! write it:
//!
//! - URL-encoded PEM, the leaf first and any intermediates after it: nginx's
//!   `$ssl_client_escaped_cert` (the leaf), Traefik's and others' chains;
//! - Envoy's `x-forwarded-client-cert`: `key=value` pairs separated by `;`, one element per
//!   proxy separated by `,`; the last element is the nearest proxy's, and its `Chain` (the
//!   whole chain, leaf first) or else its `Cert` (the leaf) is the device's, URL-encoded PEM;
//! - base64 DER of the leaf: HAProxy's `%[ssl_c_der,base64]`.
//!
//! PEM may also arrive plain (not URL-encoded) where a proxy folds its lines into spaces or
//! tabs. The chain is only parsed here, not judged: it is verified by the device verifier
//! exactly as a handshake's.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use percent_encoding::percent_decode_str;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Certificates of one forwarded chain at most (a device's chain is two or three long).
pub(crate) const MAX_CHAIN: usize = 8;

/// Why a forwarded certificate header was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Not ASCII text.
    #[error("the header is not text")]
    NotText,
    /// Envoy's header without `Cert` or `Chain` in its last element.
    #[error("the last element of the header has neither Cert nor Chain")]
    NoCertificate,
    /// Neither PEM nor base64 DER.
    #[error("the header holds neither PEM nor base64 DER certificates")]
    Unreadable,
    /// PEM that does not parse.
    #[error("the header's PEM does not parse: {0}")]
    Pem(String),
    /// More certificates than a device's chain has.
    #[error("the header holds more than {MAX_CHAIN} certificates")]
    TooLong,
}

/// The chain (leaf first) of a certificate header's `value`.
pub fn chain(value: &[u8]) -> Result<Vec<CertificateDer<'static>>, HeaderError> {
    let text = std::str::from_utf8(value)
        .map_err(|_| HeaderError::NotText)?
        .trim();
    let encoded = match envoy_certificate(text) {
        Some(found) => found?,
        None => text,
    };
    let decoded = percent_decode_str(encoded)
        .decode_utf8()
        .map_err(|_| HeaderError::NotText)?;
    let chain = if decoded.contains("-----BEGIN") {
        pem_chain(&decoded)?
    } else {
        let der = BASE64
            .decode(decoded.trim())
            .map_err(|_| HeaderError::Unreadable)?;
        vec![CertificateDer::from(der)]
    };
    if chain.len() > MAX_CHAIN {
        return Err(HeaderError::TooLong);
    }
    Ok(chain)
}

/// The certificates of PEM `text`, whose line breaks a proxy may have folded into spaces.
fn pem_chain(text: &str) -> Result<Vec<CertificateDer<'static>>, HeaderError> {
    let unfolded = unfold(text);
    let chain = CertificateDer::pem_slice_iter(unfolded.as_bytes())
        .take(MAX_CHAIN + 1)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| HeaderError::Pem(e.to_string()))?;
    if chain.is_empty() {
        return Err(HeaderError::Pem("no CERTIFICATE block".to_owned()));
    }
    Ok(chain)
}

/// PEM with each block's boundaries and base64 on lines of their own again.
fn unfold(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(begin) = rest.find("-----BEGIN ") {
        let Some(end) = rest[begin..].find("-----END ") else {
            break;
        };
        let block = &rest[begin..begin + end];
        let Some(header_end) = block[11..].find("-----").map(|i| 11 + i + 5) else {
            break;
        };
        out.push_str(&block[..header_end]);
        out.push('\n');
        for word in block[header_end..].split_ascii_whitespace() {
            out.push_str(word);
            out.push('\n');
        }
        let footer = &rest[begin + end..];
        let footer_end = footer[9..]
            .find("-----")
            .map_or(footer.len(), |i| 9 + i + 5);
        out.push_str(&footer[..footer_end]);
        out.push('\n');
        rest = &footer[footer_end..];
    }
    out
}

/// The URL-encoded certificate of Envoy's header: `None` when `text` is not that header,
/// else its last element's `Chain`, or else its `Cert`.
fn envoy_certificate(text: &str) -> Option<Result<&str, HeaderError>> {
    // Base64 has `=` only as padding, at its end; Envoy's pairs have one inside.
    if text.contains("-----BEGIN") || !text.trim_end_matches('=').contains('=') {
        return None;
    }
    let last = split_unquoted(text, ',').pop()?;
    let mut cert = None;
    let mut chain = None;
    for pair in split_unquoted(last, ';') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        match key.trim().to_ascii_lowercase().as_str() {
            "cert" => cert = Some(value),
            "chain" => chain = Some(value),
            _ => {}
        }
    }
    Some(chain.or(cert).ok_or(HeaderError::NoCertificate))
}

/// `text` split at each `separator` outside double quotes (where `\` escapes).
fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

    /// Two "certificates": the header is only parsed here, so any bytes stand for DER.
    fn certificates() -> (Vec<u8>, Vec<u8>) {
        (
            b"the device's leaf certificate, DER".repeat(20),
            b"the issuing CA's certificate, DER".repeat(20),
        )
    }

    fn pem(der: &[u8]) -> String {
        let body = BASE64.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }

    fn escaped(text: &str) -> String {
        utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
    }

    #[test]
    fn every_form_proxies_write_gives_the_chain_leaf_first() {
        let (leaf, issuer) = certificates();
        let both = format!("{}{}", pem(&leaf), pem(&issuer));
        let forms = [
            // nginx: $ssl_client_escaped_cert.
            (escaped(&pem(&leaf)), 1),
            (escaped(&both), 2),
            // Lines folded into spaces, not encoded.
            (pem(&leaf).replace('\n', " "), 1),
            // Envoy, Chain preferred to Cert, the nearest proxy's element last.
            (
                format!(
                    "By=spiffe://far;Cert=\"{}\",By=spiffe://near;Hash=ab;Cert=\"{}\";\
                     Chain=\"{}\";Subject=\"CN=x,O=y\"",
                    escaped(&pem(&issuer)),
                    escaped(&pem(&leaf)),
                    escaped(&both)
                ),
                2,
            ),
            (format!("Hash=ab;Cert={}", escaped(&pem(&leaf))), 1),
            // HAProxy: base64 DER.
            (BASE64.encode(&leaf), 1),
        ];
        for (value, length) in forms {
            let chain = chain(value.as_bytes()).unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(chain.len(), length, "{value}");
            assert_eq!(
                chain[0].as_ref(),
                leaf.as_slice(),
                "{value}: the leaf first"
            );
        }
    }

    #[test]
    fn what_is_no_certificate_is_refused_with_its_reason() {
        let (leaf, _) = certificates();
        let many = pem(&leaf).repeat(MAX_CHAIN + 1);
        let cases: [(&[u8], HeaderError); 5] = [
            (b"\xff\xfe", HeaderError::NotText),
            (b"Hash=ab;Subject=\"CN=x\"", HeaderError::NoCertificate),
            (b"not a certificate!", HeaderError::Unreadable),
            (
                b"-----BEGIN CERTIFICATE-----\nAAA\n",
                HeaderError::Pem(String::new()),
            ),
            (many.as_bytes(), HeaderError::TooLong),
        ];
        for (value, expected) in cases {
            let error = chain(value).unwrap_err();
            match expected {
                HeaderError::Pem(_) => assert!(matches!(error, HeaderError::Pem(_)), "{error}"),
                expected => assert_eq!(error, expected),
            }
        }
    }
}
