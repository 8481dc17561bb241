//! DHCP option 143 (DHCPv4) and 136 (DHCPv6): how devices learn where ztp is (RFC 8572 §8).
//!
//! Both carry the same value, a `bootstrap-server-list`: each URI preceded by its length in two
//! octets (big-endian), even in DHCPv4. A URI is `https://host[:port]` with no path: the device
//! appends the RESTCONF path itself, and devices drop or mangle URIs that carry one.
//!
//! May import: nothing else of ztp.

use std::fmt;

pub use ztp_certs::cert::colon_hex;

/// DHCPv4 option code of `OPTION_V4_SZTP_REDIRECT`.
pub const V4_CODE: u8 = 143;
/// DHCPv6 option code of `OPTION_V6_SZTP_REDIRECT`.
pub const V6_CODE: u16 = 136;

/// A bootstrap server URI, checked to be what devices accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapUri(String);

/// Why a URI or an option value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DhcpError {
    /// The URI is not `https://host[:port]`.
    #[error("{uri:?} is not a bootstrap server URI: {reason}")]
    BadUri {
        /// The refused URI.
        uri: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The URI list is empty.
    #[error("at least one bootstrap server URI is needed")]
    Empty,
    /// The option value ends in the middle of an entry.
    #[error("option value is truncated at byte {0}")]
    Truncated(usize),
    /// An entry is not UTF-8.
    #[error("URI at byte {0} is not UTF-8")]
    NotUtf8(usize),
    /// Text that should be hex octets is not.
    #[error("not hex octets: {0}")]
    NotHex(String),
}

impl BootstrapUri {
    /// Checks `uri`: scheme `https`, a host (name, IPv4 or bracketed IPv6), an optional port,
    /// and nothing after the authority but an optional `/`.
    pub fn parse(uri: &str) -> Result<Self, DhcpError> {
        let bad = |reason| DhcpError::BadUri {
            uri: uri.to_owned(),
            reason,
        };
        if uri.len() > u16::MAX as usize {
            return Err(bad("too long"));
        }
        let rest = uri
            .strip_prefix("https://")
            .ok_or_else(|| bad("the scheme must be https"))?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(bad(
                "no path, query or fragment: devices append the RESTCONF path",
            ));
        }
        if authority.contains('@') {
            return Err(bad("no user information"));
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
                if host.parse::<std::net::Ipv6Addr>().is_err() {
                    return Err(bad("not an IPv6 address inside brackets"));
                }
                (host, after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        {
            return Err(bad("the host must be a DNS name or an IP address"));
        }
        if let Some(port) = port
            && !matches!(port.parse::<u16>(), Ok(p) if p > 0)
        {
            return Err(bad("the port must be a number from 1 to 65535"));
        }
        Ok(Self(uri.to_owned()))
    }

    /// The URI.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BootstrapUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Encodes the option value (the `bootstrap-server-list`).
pub fn encode(uris: &[BootstrapUri]) -> Result<Vec<u8>, DhcpError> {
    if uris.is_empty() {
        return Err(DhcpError::Empty);
    }
    let mut value = Vec::new();
    for uri in uris {
        let bytes = uri.as_str().as_bytes();
        // `parse` bounds the length to u16::MAX.
        value.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        value.extend_from_slice(bytes);
    }
    Ok(value)
}

/// Decodes an option value into its URIs, checking each.
pub fn decode(value: &[u8]) -> Result<Vec<BootstrapUri>, DhcpError> {
    let mut uris = Vec::new();
    let mut at = 0;
    while at < value.len() {
        let len_bytes = value.get(at..at + 2).ok_or(DhcpError::Truncated(at))?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        let bytes = value
            .get(at + 2..at + 2 + len)
            .ok_or(DhcpError::Truncated(at))?;
        let text = std::str::from_utf8(bytes).map_err(|_| DhcpError::NotUtf8(at))?;
        uris.push(BootstrapUri::parse(text)?);
        at += 2 + len;
    }
    if uris.is_empty() {
        return Err(DhcpError::Empty);
    }
    Ok(uris)
}

/// The DHCPv4 option on the wire: code 143, length, value; a value over 255 octets is split
/// into several instances of the option (RFC 3396), which the client concatenates.
pub fn frame_v4(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in value.chunks(255) {
        out.push(V4_CODE);
        // chunks(255) bounds the length.
        out.push(chunk.len() as u8);
        out.extend_from_slice(chunk);
    }
    out
}

/// The DHCPv6 option on the wire: code 136, two-octet length, value.
pub fn frame_v6(value: &[u8]) -> Vec<u8> {
    let mut out = V6_CODE.to_be_bytes().to_vec();
    out.extend_from_slice(&(value.len().min(u16::MAX as usize) as u16).to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// Parses hex octets, with or without `:` or whitespace between them.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, DhcpError> {
    let digits: String = text
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '\n' | '\t'))
        .collect();
    let bad = || DhcpError::NotHex(text.chars().take(40).collect());
    if !digits.len().is_multiple_of(2) || !digits.is_ascii() {
        return Err(bad());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| bad()))
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn encodes_the_rfc_example_shape_with_a_two_octet_length() {
        let uri = BootstrapUri::parse("https://10.1.1.3:8080").unwrap();
        let value = encode(&[uri]).unwrap();
        assert_eq!(&value[..2], &[0x00, 0x15]);
        assert_eq!(&value[2..], b"https://10.1.1.3:8080");
        assert_eq!(&frame_v4(&value)[..4], &[0x8f, 0x17, 0x00, 0x15]);
        assert_eq!(
            &frame_v6(&value)[..6],
            &[0x00, 0x88, 0x00, 0x17, 0x00, 0x15]
        );
        // deploy/dhcp/ carries this value for https://ztp.example.com:8443.
        let deploy =
            encode(&[BootstrapUri::parse("https://ztp.example.com:8443").unwrap()]).unwrap();
        assert_eq!(
            colon_hex(&deploy),
            "00:1c:68:74:74:70:73:3a:2f:2f:7a:74:70:2e:65:78:61:6d:70:6c:65:2e:63:6f:6d:3a:38:34:34:33"
        );
    }

    #[test]
    fn refuses_what_devices_mishandle() {
        for bad in [
            "http://ztp.example.com",
            "https://ztp.example.com/restconf",
            "https://ztp.example.com:0",
            "https://ztp.example.com:99999",
            "https://user@ztp.example.com",
            "https://",
            "https://[::1",
            "https://[nothex]:443",
            "https://bad host",
        ] {
            assert!(BootstrapUri::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "https://ztp.example.com",
            "https://[2001:db8::1]:8443",
            "https://192.0.2.1:443/",
        ] {
            assert!(BootstrapUri::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn long_v4_values_are_split_per_rfc_3396() {
        let uris: Vec<_> = (0..12)
            .map(|i| {
                BootstrapUri::parse(&format!("https://bootstrap-{i}.example.com:8443")).unwrap()
            })
            .collect();
        let value = encode(&uris).unwrap();
        assert!(value.len() > 255);
        let framed = frame_v4(&value);
        let (mut at, mut joined) = (0, Vec::new());
        while at < framed.len() {
            assert_eq!(framed[at], V4_CODE);
            let len = usize::from(framed[at + 1]);
            joined.extend_from_slice(&framed[at + 2..at + 2 + len]);
            at += 2 + len;
        }
        assert_eq!(decode(&joined).unwrap(), uris);
    }

    #[test]
    fn malformed_values_are_refused() {
        assert_eq!(decode(&[]), Err(DhcpError::Empty));
        assert_eq!(decode(&[0x00]), Err(DhcpError::Truncated(0)));
        assert_eq!(decode(&[0x00, 0x05, b'h']), Err(DhcpError::Truncated(0)));
        assert_eq!(decode(&[0x00, 0x01, 0xff]), Err(DhcpError::NotUtf8(0)));
        assert!(parse_hex("0g").is_err());
        assert!(parse_hex("abc").is_err());
        assert_eq!(parse_hex("00:1c").unwrap(), vec![0x00, 0x1c]);
    }

    proptest! {
        #[test]
        fn decode_never_panics_and_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(uris) = decode(&bytes) {
                prop_assert_eq!(encode(&uris).unwrap(), bytes);
            }
        }
    }
}
