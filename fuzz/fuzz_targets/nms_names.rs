//! Text that names things on the NMS side: pinned SSH host key fingerprints (`SHA256:…`),
//! remote file names derived from serials, and the OpenSSH public keys a device reports.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ztp::agent::host_key::parse_public_keys;
use ztp_certs::Serial;
use ztp_nms_connector::{Fingerprint, check_remote_name, file_name};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(fingerprint) = Fingerprint::parse(text) {
        // Strict parsing: the only text of a fingerprint is the one it prints.
        assert_eq!(fingerprint.to_string(), text);
    }
    // A serial the rules admit names a file that passes the connector's own check.
    if let Ok(serial) = Serial::parse(text) {
        let name = file_name(&serial);
        assert_eq!(name, format!("{text}.xml"));
        assert!(check_remote_name(&name).is_ok());
    }
    let _ = check_remote_name(text);
    let _ = parse_public_keys(text);
});
