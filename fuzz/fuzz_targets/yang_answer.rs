//! The documents the agent reads from a server's answer: `get-bootstrapping-data` output,
//! conveyed information, license bundles and RESTCONF errors, in XML and JSON. Byte 0 picks the
//! encoding (bit 0) and the document (bits 1-2).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ztp_fuzz::{encoding, round_trip};
use ztp_yang::{ConveyedInformation, GetBootstrappingDataOutput, LicenseBundle, RestconfErrors};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let encoding = encoding(selector);
    match (selector >> 1) & 3 {
        0 => round_trip::<GetBootstrappingDataOutput>(encoding, body),
        1 => round_trip::<ConveyedInformation>(encoding, body),
        2 => round_trip::<LicenseBundle>(encoding, body),
        _ => round_trip::<RestconfErrors>(encoding, body),
    }
});
