//! How an issued LDevID reaches the device: in the onboarding information's `configuration`,
//! as an `ietf-keystore` (RFC 9642) asymmetric key named [`KEY_NAME`] whose private key is the
//! device's own (`hidden-private-key`: it made the key and never sent it), with the public key
//! of the CSR and the certificate chain as `cert-data` (a certificates-only CMS, the
//! `end-entity-cert-cms` of `ietf-crypto-types`, the same structure as RFC 8572's
//! `owner-certificate`).
//!
//! The owner's configuration stays as it is and the keystore is added to it: as one more
//! top-level element to an XML configuration, as one more member of a JSON configuration's
//! top-level object (or one more entry of its keystore's key list). A configuration in any
//! other form (CLI text) cannot carry it; [`can_carry`] says so before a CSR is asked for.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use ztp_certs::{Cert, cms};
use ztp_yang::{Configuration, ConfigurationHandling, Encoding, OnboardingInformation};

/// The keystore name of the key and certificate ztp conveys.
pub const KEY_NAME: &str = "ldevid";
const KEYSTORE_NS: &str = "urn:ietf:params:xml:ns:yang:ietf-keystore";
const CRYPTO_TYPES_NS: &str = "urn:ietf:params:xml:ns:yang:ietf-crypto-types";

/// Why a certificate cannot be conveyed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConveyanceError {
    /// The configuration is neither XML nor a JSON object.
    #[error(
        "the onboarding configuration is neither XML nor a JSON object, so it cannot carry a keystore"
    )]
    OpaqueConfiguration,
    /// The JSON configuration's keystore is not shaped as RFC 9642 says.
    #[error(
        "the onboarding configuration's ietf-keystore:keystore is not an RFC 7951 keystore: {0}"
    )]
    BadKeystore(&'static str),
    /// The chain could not be wrapped.
    #[error("the certificate chain could not be wrapped in CMS: {0}")]
    Cms(String),
}

/// The form of a configuration, from its first byte.
fn form(info: &OnboardingInformation, default: Encoding) -> Option<Encoding> {
    let Some(configuration) = &info.configuration else {
        return Some(default);
    };
    match configuration.data.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => Some(Encoding::Xml),
        Some(b'{') => Some(Encoding::Json),
        None => Some(default),
        Some(_) => None,
    }
}

/// Whether `info` can carry an LDevID (its configuration is absent, XML or JSON).
pub fn can_carry(info: &OnboardingInformation) -> bool {
    form(info, Encoding::Xml).is_some()
}

/// `info` with the LDevID (`chain`, for the public key `spki`) added to its configuration; a
/// configuration made for it is in `encoding` and merged.
pub fn with_ldevid(
    info: &OnboardingInformation,
    chain: &[Cert],
    spki: &[u8],
    encoding: Encoding,
) -> Result<OnboardingInformation, ConveyanceError> {
    let form = form(info, encoding).ok_or(ConveyanceError::OpaqueConfiguration)?;
    let cert_data =
        cms::certificates_only(chain).map_err(|e| ConveyanceError::Cms(e.to_string()))?;
    let (public_key, cert_data) = (BASE64.encode(spki), BASE64.encode(cert_data));
    let existing = info.configuration.as_ref();
    let old = existing.map_or(&[][..], |c| c.data.as_slice());
    let data = match form {
        Encoding::Xml => {
            let mut data = String::from_utf8_lossy(old).trim_end().to_owned();
            data.push_str(&xml_keystore(&public_key, &cert_data));
            data.into_bytes()
        }
        Encoding::Json => json_with_keystore(old, &public_key, &cert_data)?,
    };
    let mut info = info.clone();
    info.configuration = Some(Configuration {
        handling: existing.map_or(ConfigurationHandling::Merge, |c| c.handling),
        data,
    });
    Ok(info)
}

fn xml_keystore(public_key: &str, cert_data: &str) -> String {
    format!(
        "<keystore xmlns=\"{KEYSTORE_NS}\"><asymmetric-keys><asymmetric-key>\
         <name>{KEY_NAME}</name>\
         <public-key-format xmlns:ct=\"{CRYPTO_TYPES_NS}\">ct:subject-public-key-info-format</public-key-format>\
         <public-key>{public_key}</public-key>\
         <hidden-private-key/>\
         <certificates><certificate><name>{KEY_NAME}</name><cert-data>{cert_data}</cert-data></certificate></certificates>\
         </asymmetric-key></asymmetric-keys></keystore>"
    )
}

fn json_key(public_key: &str, cert_data: &str) -> Value {
    json!({
        "name": KEY_NAME,
        "public-key-format": "ietf-crypto-types:subject-public-key-info-format",
        "public-key": public_key,
        "hidden-private-key": [null],
        "certificates": {"certificate": [{"name": KEY_NAME, "cert-data": cert_data}]}
    })
}

fn json_with_keystore(
    old: &[u8],
    public_key: &str,
    cert_data: &str,
) -> Result<Vec<u8>, ConveyanceError> {
    let mut config = if old.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(old).map_err(|_| ConveyanceError::OpaqueConfiguration)?
    };
    let Value::Object(top) = &mut config else {
        return Err(ConveyanceError::OpaqueConfiguration);
    };
    let key = json_key(public_key, cert_data);
    match top.get_mut("ietf-keystore:keystore") {
        None => {
            top.insert(
                "ietf-keystore:keystore".into(),
                json!({"asymmetric-keys": {"asymmetric-key": [key]}}),
            );
        }
        Some(keystore) => {
            let keys = keystore
                .as_object_mut()
                .ok_or(ConveyanceError::BadKeystore("not an object"))?
                .entry("asymmetric-keys")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .ok_or(ConveyanceError::BadKeystore(
                    "asymmetric-keys is not an object",
                ))?
                .entry("asymmetric-key")
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .ok_or(ConveyanceError::BadKeystore("asymmetric-key is not a list"))?;
            if keys.iter().any(|k| k["name"] == KEY_NAME) {
                return Err(ConveyanceError::BadKeystore(
                    "it already has a key named ldevid",
                ));
            }
            keys.push(key);
        }
    }
    Ok(config.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ztp_certs::{CertificateAuthority, KeyAlgorithm};

    fn chain() -> (Vec<Cert>, Vec<u8>) {
        let ca = CertificateAuthority::new_root("t", "t", KeyAlgorithm::EcdsaP256).unwrap();
        let (leaf, key) = ca
            .issue_signer("leaf", "t", KeyAlgorithm::EcdsaP256)
            .unwrap();
        (vec![leaf, ca.cert().clone()], key.public_key_der())
    }

    fn info(data: Option<&str>) -> OnboardingInformation {
        OnboardingInformation {
            configuration: data.map(|d| Configuration {
                handling: ConfigurationHandling::Replace,
                data: d.as_bytes().to_vec(),
            }),
            ..OnboardingInformation::default()
        }
    }

    #[test]
    fn xml_configuration_gets_a_keystore_element_after_its_own() {
        let (chain, spki) = chain();
        let out = with_ldevid(
            &info(Some("<system xmlns=\"urn:x\"/>\n")),
            &chain,
            &spki,
            Encoding::Json,
        )
        .unwrap();
        let config = out.configuration.unwrap();
        assert_eq!(config.handling, ConfigurationHandling::Replace);
        let text = String::from_utf8(config.data).unwrap();
        assert!(text.starts_with("<system xmlns=\"urn:x\"/><keystore xmlns=\"urn:ietf:params:xml:ns:yang:ietf-keystore\">"), "{text}");
        assert!(text.contains(&BASE64.encode(&spki)));
        let cms = BASE64.encode(cms::certificates_only(&chain).unwrap());
        assert!(
            text.contains(&format!("<cert-data>{cms}</cert-data>")),
            "{text}"
        );
    }

    #[test]
    fn json_configuration_gets_a_keystore_member_or_a_key_in_its_keystore() {
        let (chain, spki) = chain();
        let out = with_ldevid(
            &info(Some(r#"{"acme:system":{"hostname":"r1"}}"#)),
            &chain,
            &spki,
            Encoding::Xml,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out.configuration.unwrap().data).unwrap();
        assert_eq!(v["acme:system"]["hostname"], "r1");
        assert_eq!(
            v["ietf-keystore:keystore"]["asymmetric-keys"]["asymmetric-key"][0]["name"],
            KEY_NAME
        );
        let own =
            r#"{"ietf-keystore:keystore":{"asymmetric-keys":{"asymmetric-key":[{"name":"ssh"}]}}}"#;
        let out = with_ldevid(&info(Some(own)), &chain, &spki, Encoding::Xml).unwrap();
        let v: Value = serde_json::from_slice(&out.configuration.unwrap().data).unwrap();
        let keys = &v["ietf-keystore:keystore"]["asymmetric-keys"]["asymmetric-key"];
        assert_eq!(
            (keys[0]["name"].as_str(), keys[1]["name"].as_str()),
            (Some("ssh"), Some(KEY_NAME))
        );
    }

    #[test]
    fn no_configuration_gets_one_in_the_conveyed_encoding() {
        let (chain, spki) = chain();
        let out = with_ldevid(&info(None), &chain, &spki, Encoding::Json).unwrap();
        let config = out.configuration.unwrap();
        assert_eq!(config.handling, ConfigurationHandling::Merge);
        assert!(config.data.starts_with(b"{\"ietf-keystore:keystore\""));
    }

    #[test]
    fn cli_text_cannot_carry_it() {
        let (chain, spki) = chain();
        let cli = info(Some("hostname r1\n"));
        assert!(!can_carry(&cli));
        assert!(can_carry(&info(None)));
        assert!(matches!(
            with_ldevid(&cli, &chain, &spki, Encoding::Xml),
            Err(ConveyanceError::OpaqueConfiguration)
        ));
    }
}
