//! RESTCONF request bodies a device sends the server: `get-bootstrapping-data` and
//! `report-progress` input, in XML and JSON. Byte 0 picks the document and encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ztp_fuzz::{encoding, round_trip};
use ztp_yang::{GetBootstrappingDataInput, ReportProgressInput};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let encoding = encoding(selector);
    if selector & 2 == 0 {
        round_trip::<GetBootstrappingDataInput>(encoding, body);
    } else {
        round_trip::<ReportProgressInput>(encoding, body);
    }
});
