//! Ownership vouchers (RFC 8366): byte 0 even, the JSON a voucher carries; odd, a signed
//! voucher verified against the seeds' manufacturer anchor and checked for the seeds' device.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ztp_certs::Voucher;
use ztp_fuzz::{NONCE, SERIAL, TRUST};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let voucher = if selector & 1 == 0 {
        Voucher::from_json(body)
    } else {
        Voucher::verify(body, &TRUST.manufacturer, TRUST.at)
    };
    let Ok(voucher) = voucher else {
        return;
    };
    let nonce = (selector & 2 != 0).then_some(&NONCE[..]);
    let _ = voucher.check_applies(SERIAL, None, nonce, TRUST.at);
    let _ = voucher.pinned_domain_cert();
    let json = voucher.to_json().expect("a decoded voucher encodes");
    let again = Voucher::from_json(json.as_bytes()).expect("an encoded voucher decodes");
    assert_eq!(again, voucher, "the JSON trip changed it: {json}");
});
