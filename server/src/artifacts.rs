//! The signed artifacts of a bootstrap response (RFC 8572 §3): conveyed information, the owner
//! certificate bag and the ownership voucher. Pure functions over keys and documents.
//!
//! May import: `domain`.

use const_oid::ObjectIdentifier;
use time::{Duration, OffsetDateTime};
use ztp_certs::{
    Cert, CmsError, Pkcs11Uri, Serial, Signer, SigningKey, Voucher, VoucherError, cms, oid,
};
use ztp_yang::{
    Binary, ConveyedInformation, Document, Encoding, Nonce, OnboardingInformation, ValidationError,
};

/// Building an artifact failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// The conveyed information breaks a rule of its YANG module.
    #[error("conveyed information is invalid: {0}")]
    Invalid(#[from] ValidationError),
    /// CMS could not be built.
    #[error(transparent)]
    Cms(#[from] CmsError),
    /// The voucher could not be built.
    #[error(transparent)]
    Voucher(#[from] VoucherError),
}

/// An owner's signing material: the CA that vouchers pin, the signer of conveyed information,
/// and the owner-certificate bag (built once: it does not change per request).
#[derive(Debug)]
pub struct OwnerCredentials {
    ca: Cert,
    signer: Signer,
    owner_certificate: Binary,
}

impl OwnerCredentials {
    /// Pairs the owner's CA with its signer, whose chain must lead to that CA.
    pub fn new(ca: Cert, signer: Signer) -> Result<Self, ArtifactError> {
        let policy = cms::TrustPolicy {
            anchors: std::slice::from_ref(&ca),
            extra_certificates: signer.chain(),
            at: OffsetDateTime::now_utc(),
        };
        cms::verify_certificate(signer.cert(), &policy)?;
        // The bag holds the owner certificate and its chain up to and including the pinned
        // domain certificate, which RFC 8572 §3.2 allows and Cisco IOS-XE's recipe includes.
        let mut bag: Vec<Cert> = signer.chain().to_vec();
        if !bag.contains(&ca) {
            bag.push(ca.clone());
        }
        let owner_certificate = Binary::from(cms::certificates_only(&bag)?);
        Ok(Self {
            ca,
            signer,
            owner_certificate,
        })
    }

    /// The owner CA: the voucher's pinned-domain-cert.
    pub fn ca(&self) -> &Cert {
        &self.ca
    }

    /// The signer of conveyed information.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The `owner-certificate` artifact: a certificates-only CMS.
    pub fn owner_certificate(&self) -> &Binary {
        &self.owner_certificate
    }
}

/// The CMS content type of conveyed information in `encoding`.
pub fn conveyed_content_type(encoding: Encoding) -> ObjectIdentifier {
    match encoding {
        Encoding::Xml => oid::ID_CT_SZTP_CONVEYED_INFO_XML,
        Encoding::Json => oid::ID_CT_SZTP_CONVEYED_INFO_JSON,
    }
}

/// The `conveyed-information` artifact: `info` encoded in `encoding`, signed by `signer`, or
/// unsigned when there is none.
pub fn conveyed_information(
    info: &ConveyedInformation,
    encoding: Encoding,
    signer: Option<&Signer>,
) -> Result<Vec<u8>, ArtifactError> {
    let content = info.encode_checked(encoding)?;
    let content_type = conveyed_content_type(encoding);
    Ok(match signer {
        Some(signer) => cms::sign(content_type, content.as_bytes(), signer)?,
        None => cms::unsigned(content_type, content.as_bytes())?,
    })
}

/// The `ownership-voucher` artifact for `serial`, pinning the owner's CA, signed by the MASA:
/// valid for `validity` from `now`, or bound to the device's `nonce` instead when it sent one.
/// With `idevid_issuer` (the authority key identifier of the device's IDevID) it applies only
/// to a device of that serial whose IDevID that CA issued.
pub fn ownership_voucher(
    masa: &Signer,
    serial: &Serial,
    idevid_issuer: Option<&[u8]>,
    owner_ca: &Cert,
    now: OffsetDateTime,
    validity: Duration,
    nonce: Option<&Nonce>,
) -> Result<Vec<u8>, ArtifactError> {
    let mut voucher = Voucher::new(
        serial.as_str(),
        owner_ca,
        now,
        now + validity,
        nonce.map(Nonce::as_bytes),
    );
    voucher.idevid_issuer = idevid_issuer.map(<[u8]>::to_vec);
    Ok(voucher.sign(masa)?)
}

/// An owner's signer from its stored key and chain: the key as PEM, or as a `pkcs11:` URI
/// (RFC 7512) of a key on an HSM whose module is one of `modules` (the manufacturer's list: an
/// administrator naming a library ztp would load is refused otherwise).
pub fn owner_signer(
    key: &str,
    chain: Vec<Cert>,
    modules: &[std::path::PathBuf],
) -> Result<Signer, String> {
    if Pkcs11Uri::is_uri(key) {
        let uri: Pkcs11Uri = key.parse().map_err(|e| format!("{e}"))?;
        if !modules.iter().any(|m| m == uri.module_path()) {
            return Err(format!(
                "the PKCS#11 module {} is not one of manufacturer.owner_key_modules",
                uri.module_path().display()
            ));
        }
        return Signer::pkcs11(&uri, chain).map_err(|e| e.to_string());
    }
    let key = SigningKey::from_pem(key).map_err(|e| e.to_string())?;
    Signer::new(key, chain).map_err(|e| e.to_string())
}

/// A redirect target's trust anchor as RFC 8572 carries it: a certificates-only CMS of the
/// PEM chain.
pub fn trust_anchor_bag(pem: &str) -> Result<Vec<u8>, String> {
    let chain = Cert::chain_from_pem(pem).map_err(|e| e.to_string())?;
    if chain.is_empty() {
        return Err("no certificate".into());
    }
    cms::certificates_only(&chain).map_err(|e| e.to_string())
}

/// Parses onboarding information given as RFC 7951 JSON.
pub fn parse_onboarding(json: &serde_json::Value) -> Result<OnboardingInformation, String> {
    let text = json.to_string();
    match ConveyedInformation::decode(Encoding::Json, text.as_bytes()) {
        Ok(ConveyedInformation::Onboarding(info)) => Ok(info),
        Ok(ConveyedInformation::Redirect(_)) => {
            Err("expected onboarding-information, got redirect-information".into())
        }
        Err(e) => Err(e.to_string()),
    }
}
