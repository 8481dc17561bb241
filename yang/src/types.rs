//! YANG built-in and common types (RFC 7950, RFC 6991) as ztp reads and writes them: strings,
//! `binary`, integers, `yang:date-and-time`, `yang:hex-string`, `inet:host` and identityrefs.

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD as BASE64};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::error::{DecodeError, ValidationError};
use crate::modules::{self, Module};
use crate::tree::{Node, Scalar, Value};

/// Whether `c` may appear in a YANG string (RFC 7950 §9.4: no C0 controls except tab, LF and
/// CR, no noncharacters). Surrogates cannot occur in a Rust `char`.
fn is_yang_char(c: char) -> bool {
    let u = u32::from(c);
    let control = u < 0x20 && !matches!(c, '\t' | '\n' | '\r');
    let nonchar = (0xFDD0..=0xFDEF).contains(&u) || (u & 0xFFFE) == 0xFFFE;
    !control && !nonchar
}

/// Checks a string leaf's characters and length (in characters).
pub(crate) fn check_string(
    leaf: &'static str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<(), ValidationError> {
    if !value.chars().all(is_yang_char) {
        return Err(ValidationError::InvalidString {
            leaf,
            reason: "contains characters YANG strings may not contain",
        });
    }
    let len = value.chars().count();
    if len < min {
        return Err(ValidationError::InvalidString {
            leaf,
            reason: "is too short",
        });
    }
    if len > max {
        return Err(ValidationError::InvalidString {
            leaf,
            reason: "is too long",
        });
    }
    Ok(())
}

/// Reads a `string` leaf (any length; documents check lengths in `validate`).
pub(crate) fn read_string(node: &Node) -> Result<String, DecodeError> {
    let text = node.text()?;
    if !text.chars().all(is_yang_char) {
        return Err(node.invalid("contains characters YANG strings may not contain"));
    }
    Ok(text.to_owned())
}

/// Writes a `binary` value (base64 with padding, RFC 7950 §9.8).
pub(crate) fn binary(bytes: &[u8]) -> Scalar {
    Scalar::Str(BASE64.encode(bytes))
}

/// The lenient base64 reader: padding optional, non-zero trailing bits accepted (the RFC 8572
/// examples' `base64encodedvalue==` has them). The alphabet is still strict.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Reads a `binary` leaf. Whitespace (line-wrapped base64) is ignored.
pub(crate) fn read_binary(node: &Node) -> Result<Vec<u8>, DecodeError> {
    let text = node.text()?;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    LENIENT_BASE64
        .decode(compact.as_bytes())
        .map_err(|_| DecodeError::InvalidBase64(node.name.clone()))
}

/// Reads an unsigned integer leaf of at most 32 bits within `min..=max`.
pub(crate) fn read_uint(node: &Node, min: u64, max: u64) -> Result<u64, DecodeError> {
    let text = node.number_text()?;
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(node.invalid("not an unsigned integer"));
    }
    let value: u64 = text
        .parse()
        .map_err(|_| node.invalid("not an unsigned integer"))?;
    if value < min || value > max {
        return Err(node.invalid("out of range"));
    }
    Ok(value)
}

/// Reads an enumeration leaf with `parse` (the Rust enum's `from_str`-like function).
pub(crate) fn read_enum<T>(node: &Node, parse: fn(&str) -> Option<T>) -> Result<T, DecodeError> {
    let text = node.text()?;
    parse(text.trim()).ok_or_else(|| node.invalid("not a known enumeration value"))
}

/// Formats a time as `yang:date-and-time` (RFC 3339, `Z` for UTC, fraction only if non-zero).
/// Never fails; [`check_date_time`] tells whether the result is a valid `date-and-time`.
pub(crate) fn format_date_time(t: &OffsetDateTime) -> String {
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    let offset = t.offset();
    if offset == UtcOffset::UTC {
        s.push('Z');
    } else {
        let (h, m, _) = offset.as_hms();
        let sign = if offset.is_negative() { '-' } else { '+' };
        s.push_str(&format!(
            "{sign}{:02}:{:02}",
            h.unsigned_abs(),
            m.unsigned_abs()
        ));
    }
    s
}

/// Checks that a time can be written as `yang:date-and-time`.
pub(crate) fn check_date_time(t: &OffsetDateTime) -> Result<(), ValidationError> {
    let (_, _, offset_seconds) = t.offset().as_hms();
    if !(0..=9999).contains(&t.year()) || offset_seconds != 0 {
        return Err(ValidationError::TimeOutOfRange(format!("{t}")));
    }
    Ok(())
}

/// Writes a `yang:date-and-time` leaf value.
pub(crate) fn date_time(t: &OffsetDateTime) -> Scalar {
    Scalar::Str(format_date_time(t))
}

/// Whether `s` matches the `yang:date-and-time` pattern
/// `\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[\+\-]\d{2}:\d{2})`.
fn matches_date_time_pattern(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || b[10] != b'T'
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &b[i..] {
        [b'Z'] => true,
        [b'+' | b'-', _, _, b':', _, _] => digits(i + 1..i + 3) && digits(i + 4..i + 6),
        _ => false,
    }
}

/// Reads a `yang:date-and-time` leaf.
pub(crate) fn read_date_time(node: &Node) -> Result<OffsetDateTime, DecodeError> {
    let text = node.text()?;
    if !matches_date_time_pattern(text) {
        return Err(node.invalid("not a yang:date-and-time"));
    }
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| node.invalid("not a valid date and time"))
}

/// Formats bytes as `yang:hex-string`: lowercase, colon-separated octets.
pub(crate) fn hex_string(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Reads a `yang:hex-string` leaf (either case).
pub(crate) fn read_hex_string(node: &Node) -> Result<Vec<u8>, DecodeError> {
    let text = node.text()?.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(':')
        .map(|octet| {
            if octet.len() == 2 && octet.bytes().all(|b| b.is_ascii_hexdigit()) {
                u8::from_str_radix(octet, 16).map_err(|_| node.invalid("not a yang:hex-string"))
            } else {
                Err(node.invalid("not a yang:hex-string"))
            }
        })
        .collect()
}

/// Checks an `inet:host`: an IP address or a domain name as RFC 6991's pattern allows.
pub(crate) fn check_host(host: &str) -> Result<(), ValidationError> {
    let invalid = || ValidationError::InvalidHost(host.chars().take(64).collect());
    if host.parse::<std::net::IpAddr>().is_ok() || host == "." {
        return Ok(());
    }
    if host.is_empty() || host.len() > 253 {
        return Err(invalid());
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    for label in name.split('.') {
        let bytes = label.as_bytes();
        let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
            return Err(invalid());
        };
        let ok = bytes.len() <= 63
            && (first.is_ascii_alphanumeric() || *first == b'_')
            && last.is_ascii_alphanumeric()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
        if !ok {
            return Err(invalid());
        }
    }
    Ok(())
}

/// Reads an identityref leaf and returns the identity's module and name. `own` is the module of
/// the leaf, whose identities JSON may name without a prefix (RFC 7951 §6.8).
pub(crate) fn read_identity(
    node: &Node,
    own: &'static Module,
) -> Result<(&'static Module, String), DecodeError> {
    match &node.value {
        Value::Text {
            qname: Some((ns, name)),
            ..
        } => {
            let module = modules::by_namespace(ns)
                .ok_or_else(|| node.invalid("identity is from an unknown module"))?;
            Ok((module, name.clone()))
        }
        // An unbound prefix that is a module name, as in the RFC 8572 examples (and JSON).
        Value::Text { text, qname: None } => {
            let module = text
                .trim()
                .split_once(':')
                .and_then(|(prefix, name)| Some((modules::by_name(prefix)?, name)));
            module
                .map(|(module, name)| (module, name.to_owned()))
                .ok_or_else(|| node.invalid("identity prefix is not bound"))
        }
        Value::Str(text) => match text.split_once(':') {
            Some((prefix, name)) => {
                let module = modules::by_name(prefix)
                    .ok_or_else(|| node.invalid("identity is from an unknown module"))?;
                Ok((module, name.to_owned()))
            }
            None => Ok((own, text.clone())),
        },
        _ => Err(node.shape("a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn date_time_forms() {
        assert_eq!(
            format_date_time(&datetime!(2026-11-23 10:00:00 UTC)),
            "2026-11-23T10:00:00Z"
        );
        assert_eq!(
            format_date_time(&datetime!(2026-11-23 10:00:00.25 -05:30)),
            "2026-11-23T10:00:00.25-05:30"
        );
        assert!(matches_date_time_pattern("2026-11-23T10:00:00Z"));
        assert!(matches_date_time_pattern("2026-11-23T10:00:00.123+01:00"));
        assert!(!matches_date_time_pattern("2026-11-23t10:00:00z"));
        assert!(!matches_date_time_pattern("2026-11-23T10:00:00."));
        assert!(!matches_date_time_pattern("2026-11-23T10:00:00+0100"));
        assert!(!matches_date_time_pattern("2026-11-23 10:00:00Z"));
        assert!(check_date_time(&datetime!(2026-11-23 10:00:00 +01:00:30)).is_err());
    }

    #[test]
    fn hosts() {
        for ok in [
            "sztp.example.com",
            "10.0.0.1",
            "2001:db8::1",
            "a",
            "_srv.x.",
            ".",
        ] {
            assert!(check_host(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "-a.com", "a-.com", "a..b", "é.com", "a/b"] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hex() {
        assert_eq!(hex_string(&[0x7b, 0xca, 0x01]), "7b:ca:01");
        assert_eq!(hex_string(&[]), "");
    }

    #[test]
    fn yang_chars() {
        assert!(check_string("x", "a\tb\r\nc", 0, 10).is_ok());
        assert!(check_string("x", "a\u{1}", 0, 10).is_err());
        assert!(check_string("x", "\u{FFFF}", 0, 10).is_err());
        assert!(check_string("x", "", 1, 10).is_err());
    }
}
