//! What the fuzz targets share: the trust a fuzzed device holds, and the framing that packs
//! several byte strings into one fuzz input.
//!
//! The targets are in `fuzz_targets/`, one per decoder of outside input; `docs/fuzzing.md` says
//! what each covers. The seeds are in `seeds/<target>.txt` (one `name base64` line a seed),
//! written by `src/bin/seeds.rs` from a PKI it makes; that PKI's anchors and clock are in
//! `seeds/trust/`, so the signed seeds verify in the targets forever.
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::LazyLock;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use ztp_certs::Cert;
use ztp_yang::{Document, Encoding};

/// The manufacturer's trust anchor (the MASA's CA) the seeds' vouchers chain to.
pub const MANUFACTURER_PEM: &str = include_str!("../seeds/trust/manufacturer.pem");
/// The owner's CA (the voucher's pinned-domain-cert) the seeds' conveyed information chains to.
pub const OWNER_PEM: &str = include_str!("../seeds/trust/owner.pem");
/// The license trust anchor the seeds' license bundles chain to.
pub const LICENSE_PEM: &str = include_str!("../seeds/trust/license.pem");
/// The moment the seeds were made: every certificate of theirs is valid then.
pub const AT: &str = include_str!("../seeds/trust/at.txt");
/// The serial of the device the seeds' responses are for.
pub const SERIAL: &str = "FUZZ-SN-1";
/// Its product id.
pub const PRODUCT_ID: &str = "FUZZ-PID";
/// The nonce it sent, in the seeds whose voucher carries one.
pub const NONCE: [u8; 16] = *b"fuzz-nonce-16byt";

/// The trust a fuzzed device holds.
pub struct Trust {
    /// Manufacturer anchors, for vouchers.
    pub manufacturer: Vec<Cert>,
    /// License anchors, for license bundles.
    pub license: Vec<Cert>,
    /// Every anchor above and the owner's CA: what a generic CMS check trusts.
    pub all: Vec<Cert>,
    /// The device's clock.
    pub at: OffsetDateTime,
}

/// The trust of [`MANUFACTURER_PEM`], [`LICENSE_PEM`] and [`AT`], parsed once.
pub static TRUST: LazyLock<Trust> = LazyLock::new(|| {
    let manufacturer = Cert::from_pem(MANUFACTURER_PEM).expect("seeds/trust/manufacturer.pem");
    let license = Cert::from_pem(LICENSE_PEM).expect("seeds/trust/license.pem");
    let owner = Cert::from_pem(OWNER_PEM).expect("seeds/trust/owner.pem");
    Trust {
        all: vec![manufacturer.clone(), license.clone(), owner],
        manufacturer: vec![manufacturer],
        license: vec![license],
        at: OffsetDateTime::parse(AT.trim(), &Rfc3339).expect("seeds/trust/at.txt"),
    }
});

/// The encoding a selector byte's lowest bit names: 0 XML, 1 JSON.
pub fn encoding(selector: u8) -> Encoding {
    if selector & 1 == 0 {
        Encoding::Xml
    } else {
        Encoding::Json
    }
}

/// Decodes `bytes` as a `T`; when that succeeds, the document must survive a trip through
/// either encoding unchanged (a decoder and an encoder that disagree are a bug too).
pub fn round_trip<T: Document + PartialEq + fmt::Debug>(encoding: Encoding, bytes: &[u8]) {
    let Ok(document) = T::decode(encoding, bytes) else {
        return;
    };
    for again in [Encoding::Xml, Encoding::Json] {
        let text = document.encode(again);
        match T::decode_limited(again, text.as_bytes(), usize::MAX) {
            Ok(decoded) => assert_eq!(decoded, document, "{again:?} trip changed it: {text}"),
            Err(e) => panic!("its {again:?} encoding does not decode ({e}): {text}"),
        }
    }
}

/// Splits `data` into `N` parts: each but the last is a two-octet big-endian length and that
/// many bytes (fewer if the data ends first), the last is the rest. The inverse of [`join`].
pub fn split<const N: usize>(mut data: &[u8]) -> [&[u8]; N] {
    let mut parts = [&[][..]; N];
    for part in parts.iter_mut().take(N - 1) {
        let len = match data {
            [hi, lo, rest @ ..] => {
                data = rest;
                usize::from(u16::from_be_bytes([*hi, *lo]))
            }
            _ => {
                data = &[];
                0
            }
        };
        let (head, tail) = data.split_at(len.min(data.len()));
        *part = head;
        data = tail;
    }
    parts[N - 1] = data;
    parts
}

/// Packs `parts` as [`split`] reads them. Parts but the last must be shorter than 64 KiB.
pub fn join(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 < parts.len() {
            let len = u16::try_from(part.len()).expect("a part shorter than 64 KiB");
            out.extend_from_slice(&len.to_be_bytes());
        }
        out.extend_from_slice(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use ztp::agent::licenses::{Holder, check_licenses};
    use ztp::agent::verify::{DeviceTrust, verify_response};
    use ztp_yang::{GetBootstrappingDataOutput, Ownership};

    use super::*;

    /// The seed `name` of a target's seeds file, selector byte first.
    fn seed(file: &str, name: &str) -> Vec<u8> {
        file.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .map(|data| STANDARD.decode(data).expect("base64"))
            .unwrap_or_else(|| panic!("no seed {name}"))
    }

    #[test]
    fn the_signed_seeds_verify_with_the_committed_trust() {
        let seeds = include_str!("../seeds/agent_response.txt");
        let packed = seed(seeds, "signed-redirect");
        let [conveyed, bag, voucher] = split::<3>(&packed[1..]);
        let output = GetBootstrappingDataOutput {
            conveyed_information: conveyed.to_vec().into(),
            ownership: Some(Ownership {
                owner_certificate: bag.to_vec().into(),
                ownership_voucher: voucher.to_vec().into(),
            }),
            ..Default::default()
        };
        let trust = DeviceTrust {
            voucher_anchors: &TRUST.manufacturer,
            idevid_issuer: None,
            server_authenticated: false,
            at: TRUST.at,
        };
        verify_response(&output, SERIAL, None, &trust).expect("the response verifies");
        let holder = Holder {
            serial: SERIAL,
            product_id: Some(PRODUCT_ID),
            at: TRUST.at,
        };
        for (name, selector) in [("licenses-xml", 1), ("licenses-json", 3)] {
            let bundle = seed(seeds, name);
            let checked = check_licenses(
                &bundle[1..],
                encoding(selector >> 1),
                &TRUST.license,
                holder,
            );
            assert_eq!(
                (checked.accepted.len(), checked.refused),
                (1, vec![]),
                "{name}"
            );
        }
    }

    #[test]
    fn split_reads_what_join_wrote() {
        let packed = join(&[b"ab", b"", b"cde"]);
        assert_eq!(split::<3>(&packed), [&b"ab"[..], b"", b"cde"]);
        assert_eq!(split::<3>(&[0, 9, 1]), [&[1][..], b"", b""]);
        assert_eq!(split::<2>(&[]), [&[][..], b""]);
    }
}
