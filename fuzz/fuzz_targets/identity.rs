//! Who a device is: byte 0 even, an IDevID (DER) read at each place a serial may be, with the
//! facts the server shows of a certificate; odd, a subject serialNumber value (bare serial or
//! UDI) and the serial and product id parsers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ztp_certs::{Cert, DeviceIdentity, ProductId, Serial, SerialSource};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    if selector & 1 == 0 {
        let Ok(cert) = Cert::from_der(body.to_vec()) else {
            return;
        };
        for source in [
            SerialSource::SubjectSerialNumber,
            SerialSource::CommonName,
            SerialSource::HardwareModuleName,
        ] {
            if let Ok(identity) = DeviceIdentity::from_certificate(&cert, source) {
                let _ = identity.to_string();
            }
        }
        let _ = (cert.subject(), cert.issuer(), cert.serial_number_hex());
        let _ = (cert.not_before(), cert.not_after(), cert.is_ca());
        let _ = (
            cert.public_key_der(),
            cert.signed_part_der(),
            cert.fingerprint(),
        );
    } else if let Ok(text) = std::str::from_utf8(body) {
        if let Ok(identity) = DeviceIdentity::from_serial_number_attribute(text) {
            // What an identity prints, it reads back as itself.
            let again = DeviceIdentity::from_serial_number_attribute(&identity.to_string());
            assert_eq!(again.ok(), Some(identity));
        }
        let _ = (Serial::parse(text), ProductId::parse(text));
        let _ = text.parse::<SerialSource>();
    }
});
