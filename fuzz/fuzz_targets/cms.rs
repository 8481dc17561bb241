//! CMS as a device receives it: `open` (what a ContentInfo holds), `read_certificates` (an
//! owner-certificate bag) and `verify` (signed data against the seeds' anchors, at their time).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ztp_certs::cms::{self, TrustPolicy};
use ztp_certs::oid;
use ztp_fuzz::TRUST;

fuzz_target!(|data: &[u8]| {
    let _ = cms::open(data);
    if let Ok(certs) = cms::read_certificates(data) {
        assert!(certs.len() <= cms::MAX_CERTIFICATES);
    }
    let policy = TrustPolicy {
        anchors: &TRUST.all,
        extra_certificates: &[],
        at: TRUST.at,
    };
    let expected = [
        oid::ID_DATA,
        oid::ID_CT_ANIMA_JSON_VOUCHER,
        oid::ID_CT_SZTP_CONVEYED_INFO_XML,
        oid::ID_CT_SZTP_CONVEYED_INFO_JSON,
    ];
    if let Ok(verified) = cms::verify(data, &expected, &policy) {
        assert!(expected.contains(&verified.content_type));
    }
});
