//! The device identity a certificate names: its serial number and, where the certificate says
//! so, its product id (together a UDI).
//!
//! Every value here comes from a certificate a device presents, and a serial later becomes a
//! database key and part of a file name on a customer's NMS. So the rules are strict: a serial is
//! 1 to 64 characters from `A–Z a–z 0–9 - . _`, beginning with a letter or digit; anything else
//! is refused with an [`IdentityError`], never repaired.

use std::fmt;
use std::str::FromStr;

use der::asn1::{Ia5StringRef, OctetStringRef, PrintableStringRef, Utf8StringRef};
use der::{Decode, Tag, Tagged};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use crate::cert::Cert;
use crate::error::IdentityError;
use crate::oid;

/// Longest serial ztp accepts.
pub const MAX_SERIAL_LEN: usize = 64;
/// Longest product id ztp accepts.
pub const MAX_PRODUCT_ID_LEN: usize = 64;
/// Longest raw attribute value ztp will even look at.
const MAX_ATTRIBUTE_LEN: usize = 256;

/// A device serial number, checked to be safe as a key and as part of a file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(String);

impl Serial {
    /// Checks `value` against the serial rules.
    pub fn parse(value: &str) -> Result<Self, IdentityError> {
        check_token(value, "serial number", MAX_SERIAL_LEN, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')
        })?;
        Ok(Self(value.to_owned()))
    }

    /// The serial as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Serial {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for Serial {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A product id (hardware model), as in a Cisco-style UDI `PID:C9300-24T SN:FCW2129G03A`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProductId(String);

impl ProductId {
    /// Checks `value` against the product id rules: 1 to 64 characters from
    /// `A–Z a–z 0–9 - . _ / +`, beginning with a letter or digit.
    pub fn parse(value: &str) -> Result<Self, IdentityError> {
        check_token(value, "product id", MAX_PRODUCT_ID_LEN, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/' | '+')
        })?;
        Ok(Self(value.to_owned()))
    }

    /// The product id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProductId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where in a device certificate the serial number is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SerialSource {
    /// The subject's X.520 `serialNumber` attribute (802.1AR's recommendation), either a bare
    /// serial or a UDI `PID:<product> SN:<serial>`.
    #[default]
    #[serde(rename = "serial-number")]
    SubjectSerialNumber,
    /// The subject's common name.
    CommonName,
    /// The `hwSerialNum` of a subjectAltName otherName `hardwareModuleName` (RFC 4108).
    HardwareModuleName,
}

impl SerialSource {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SubjectSerialNumber => "serial-number",
            Self::CommonName => "common-name",
            Self::HardwareModuleName => "hardware-module-name",
        }
    }
}

impl FromStr for SerialSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::SubjectSerialNumber,
            Self::CommonName,
            Self::HardwareModuleName,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| {
            format!(
                "unknown serial source {s:?}: use serial-number, common-name or \
                     hardware-module-name"
            )
        })
    }
}

impl fmt::Display for SerialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a device is, by its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The serial number.
    pub serial: Serial,
    /// The product id, when the certificate carries a UDI.
    pub product_id: Option<ProductId>,
}

impl DeviceIdentity {
    /// Reads the identity from `cert` at `source`.
    pub fn from_certificate(cert: &Cert, source: SerialSource) -> Result<Self, IdentityError> {
        let subject = &cert.x509().tbs_certificate.subject;
        match source {
            SerialSource::SubjectSerialNumber => {
                let value =
                    subject_attribute(subject, oid::AT_SERIAL_NUMBER, "subject serialNumber")?;
                Self::from_serial_number_attribute(&value)
            }
            SerialSource::CommonName => {
                let value = subject_attribute(subject, oid::AT_COMMON_NAME, "subject common name")?;
                Ok(Self {
                    serial: Serial::parse(&value)?,
                    product_id: None,
                })
            }
            SerialSource::HardwareModuleName => {
                let serial = hardware_module_serial(cert)?;
                Ok(Self {
                    serial: Serial::parse(&serial)?,
                    product_id: None,
                })
            }
        }
    }

    /// Interprets a subject serialNumber value: a bare serial, or a UDI whose space-separated
    /// `KEY:value` fields include `SN` and may include `PID` (and `VID`, which is ignored).
    pub fn from_serial_number_attribute(value: &str) -> Result<Self, IdentityError> {
        if !value.contains(':') {
            return Ok(Self {
                serial: Serial::parse(value)?,
                product_id: None,
            });
        }
        let malformed = || IdentityError::MalformedUdi(printable_prefix(value));
        let (mut serial, mut product_id) = (None, None);
        for field in value.split(' ').filter(|f| !f.is_empty()) {
            let (key, field_value) = field.split_once(':').ok_or_else(malformed)?;
            let slot = match key {
                "SN" => &mut serial,
                "PID" => &mut product_id,
                "VID" => continue,
                _ => return Err(malformed()),
            };
            if slot.replace(field_value).is_some() {
                return Err(malformed());
            }
        }
        Ok(Self {
            serial: Serial::parse(serial.ok_or_else(malformed)?)?,
            product_id: product_id.map(ProductId::parse).transpose()?,
        })
    }
}

impl fmt::Display for DeviceIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.product_id {
            Some(pid) => write!(f, "PID:{pid} SN:{}", self.serial),
            None => f.write_str(self.serial.as_str()),
        }
    }
}

fn check_token(
    value: &str,
    what: &'static str,
    max: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<(), IdentityError> {
    if value.is_empty() {
        return Err(IdentityError::Empty(what));
    }
    if value.len() > max {
        return Err(IdentityError::TooLong {
            what,
            len: value.len(),
            max,
        });
    }
    if let Some(ch) = value.chars().find(|c| !allowed(*c)) {
        return Err(IdentityError::ForbiddenCharacter { what, ch });
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(IdentityError::BadStart(what));
    }
    Ok(())
}

/// The first value of attribute `oid` in `name`, as text.
fn subject_attribute(
    name: &x509_cert::name::Name,
    oid: const_oid::ObjectIdentifier,
    what: &'static str,
) -> Result<String, IdentityError> {
    let value = name
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == oid)
        .map(|atv| &atv.value)
        .ok_or(IdentityError::Missing(what))?;
    if value.value().len() > MAX_ATTRIBUTE_LEN {
        return Err(IdentityError::TooLong {
            what,
            len: value.value().len(),
            max: MAX_ATTRIBUTE_LEN,
        });
    }
    let text = match value.tag() {
        Tag::PrintableString => PrintableStringRef::try_from(value).map(|s| s.as_str().to_owned()),
        Tag::Utf8String => Utf8StringRef::try_from(value).map(|s| s.as_str().to_owned()),
        Tag::Ia5String => Ia5StringRef::try_from(value).map(|s| s.as_str().to_owned()),
        _ => return Err(IdentityError::NotAString(what)),
    };
    text.map_err(|_| IdentityError::NotAString(what))
}

/// `HardwareModuleName ::= SEQUENCE { hwType OBJECT IDENTIFIER, hwSerialNum OCTET STRING }`.
#[derive(der::Sequence)]
struct HardwareModuleName<'a> {
    hw_type: const_oid::ObjectIdentifier,
    hw_serial_num: OctetStringRef<'a>,
}

fn hardware_module_serial(cert: &Cert) -> Result<String, IdentityError> {
    const WHAT: &str = "hardwareModuleName serial";
    let san = cert
        .x509()
        .tbs_certificate
        .get::<SubjectAltName>()
        .map_err(|e| IdentityError::MalformedExtension(e.to_string()))?
        .ok_or(IdentityError::Missing("subjectAltName hardwareModuleName"))?
        .1;
    let other = san
        .0
        .iter()
        .find_map(|name| match name {
            GeneralName::OtherName(other) if other.type_id == oid::ON_HARDWARE_MODULE_NAME => {
                Some(other)
            }
            _ => None,
        })
        .ok_or(IdentityError::Missing("subjectAltName hardwareModuleName"))?;
    // The otherName value is `[0] EXPLICIT`; x509-cert hands us the inner SEQUENCE.
    let hmn = other
        .value
        .decode_as::<HardwareModuleName<'_>>()
        .map_err(|e| IdentityError::MalformedExtension(e.to_string()))?;
    let bytes = hmn.hw_serial_num.as_bytes();
    if bytes.len() > MAX_ATTRIBUTE_LEN {
        return Err(IdentityError::TooLong {
            what: WHAT,
            len: bytes.len(),
            max: MAX_ATTRIBUTE_LEN,
        });
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| IdentityError::NotAString(WHAT))
}

/// The start of a refused value, safe to put in an error message.
fn printable_prefix(value: &str) -> String {
    value
        .chars()
        .take(80)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Encodes a subjectAltName extension value holding one `hardwareModuleName` otherName.
pub(crate) fn hardware_module_name_san(
    hw_type: const_oid::ObjectIdentifier,
    serial: &Serial,
) -> Result<Vec<u8>, der::Error> {
    use der::Encode;
    let inner = HardwareModuleName {
        hw_type,
        hw_serial_num: OctetStringRef::new(serial.as_str().as_bytes())?,
    };
    let value = der::Any::from_der(&inner.to_der()?)?;
    let san = SubjectAltName(vec![GeneralName::OtherName(
        x509_cert::ext::pkix::name::OtherName {
            type_id: oid::ON_HARDWARE_MODULE_NAME,
            value,
        },
    )]);
    san.to_der()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn udi_yields_product_id_and_serial_never_the_pid_as_serial() {
        let id =
            DeviceIdentity::from_serial_number_attribute("PID:C9300-24T SN:FCW2129G03A").unwrap();
        assert_eq!(id.serial.as_str(), "FCW2129G03A");
        assert_eq!(id.product_id.unwrap().as_str(), "C9300-24T");
        let id = DeviceIdentity::from_serial_number_attribute("SN:ABC123 PID:ISR4451-X/K9 VID:V01")
            .unwrap();
        assert_eq!(id.serial.as_str(), "ABC123");
        assert_eq!(id.product_id.unwrap().as_str(), "ISR4451-X/K9");
    }

    #[test]
    fn malformed_udis_are_refused() {
        for bad in [
            "PID:C9300",
            "PID:A SN:B SN:C",
            "FOO:1 SN:2",
            "PID:A SN:",
            "SN:../x",
        ] {
            assert!(
                DeviceIdentity::from_serial_number_attribute(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn hostile_serials_are_refused_with_a_reason() {
        assert_eq!(
            Serial::parse(""),
            Err(IdentityError::Empty("serial number"))
        );
        assert!(matches!(
            Serial::parse(&"A".repeat(65)),
            Err(IdentityError::TooLong { .. })
        ));
        for (bad, ch) in [
            ("../../etc/passwd", '/'),
            ("a/b", '/'),
            ("a\0b", '\0'),
            ("a\nb", '\n'),
        ] {
            assert_eq!(
                Serial::parse(bad),
                Err(IdentityError::ForbiddenCharacter {
                    what: "serial number",
                    ch
                })
            );
        }
        assert_eq!(
            Serial::parse(".."),
            Err(IdentityError::BadStart("serial number"))
        );
        assert_eq!(
            Serial::parse("-rf"),
            Err(IdentityError::BadStart("serial number"))
        );
        assert!(Serial::parse("FCW2129G03A").is_ok());
        assert!(Serial::parse("SN-0001.a_b").is_ok());
    }

    proptest! {
        #[test]
        fn an_accepted_serial_is_a_safe_file_name(s in "\\PC{0,80}") {
            if let Ok(serial) = Serial::parse(&s) {
                let v = serial.as_str();
                prop_assert!(!v.is_empty() && v.len() <= MAX_SERIAL_LEN);
                prop_assert!(!v.contains('/') && !v.contains('\\') && !v.starts_with('.'));
                prop_assert!(v.chars().all(|c| c.is_ascii_graphic()));
            }
        }

        #[test]
        fn udi_parsing_never_panics(s in "\\PC{0,120}") {
            let _ = DeviceIdentity::from_serial_number_attribute(&s);
        }
    }
}
