//! The agent's checks of a server's answer (RFC 8572 §5.4) as the seeds' device: byte 0 even,
//! `verify_response` over conveyed information, owner certificate and voucher (the rest of the
//! input split by `ztp_fuzz::split`; no ownership when both of those are empty); odd,
//! `check_licenses` over a license bundle. Bit 1 picks the nonce sent (or the bundle's
//! encoding), bit 2 whether the server was authenticated.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ztp::agent::licenses::{Holder, check_licenses};
use ztp::agent::verify::{DeviceTrust, IdevidIssuer, verify_response};
use ztp_fuzz::{NONCE, PRODUCT_ID, SERIAL, TRUST, encoding, split};
use ztp_yang::{GetBootstrappingDataOutput, Ownership};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    if selector & 1 == 1 {
        let holder = Holder {
            serial: SERIAL,
            product_id: Some(PRODUCT_ID),
            at: TRUST.at,
        };
        let checked = check_licenses(body, encoding(selector >> 1), &TRUST.license, holder);
        let _ = (checked.accepted_json(), checked.refused_json());
        return;
    }
    let [conveyed, owner_certificate, voucher] = split::<3>(body);
    let ownership = (!owner_certificate.is_empty() || !voucher.is_empty()).then(|| Ownership {
        owner_certificate: owner_certificate.to_vec().into(),
        ownership_voucher: voucher.to_vec().into(),
    });
    let output = GetBootstrappingDataOutput {
        conveyed_information: conveyed.to_vec().into(),
        ownership,
        ..Default::default()
    };
    let trust = DeviceTrust {
        voucher_anchors: &TRUST.manufacturer,
        idevid_issuer: IdevidIssuer::Of(None),
        server_authenticated: selector & 4 != 0,
        at: TRUST.at,
    };
    let nonce = (selector & 2 != 0).then_some(&NONCE[..]);
    let _ = verify_response(&output, SERIAL, nonce, &trust);
});
