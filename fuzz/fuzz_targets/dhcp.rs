//! DHCP option 143/136 values (RFC 8572 §8) as a device's DHCP client hands them over, and the
//! hex text `ztp dhcp-option` reads; a decoded value encodes back to the same octets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ztp::dhcp;

fuzz_target!(|data: &[u8]| {
    if let Ok(uris) = dhcp::decode(data) {
        assert_eq!(dhcp::encode(&uris).ok().as_deref(), Some(data));
        let _ = (dhcp::frame_v4(data), dhcp::frame_v6(data));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = dhcp::parse_hex(text);
        let _ = dhcp::BootstrapUri::parse(text);
    }
});
