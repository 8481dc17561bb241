//! CMS SignedData (RFC 5652) as RFC 8572 and RFC 8366 use it: signed conveyed information and
//! vouchers, certificates-only bags for owner certificates and trust anchors, and unsigned
//! ContentInfo where RFC 8572 allows unsigned data.

use ::cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use ::cms::content_info::{CmsVersion, ContentInfo};
use ::cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, OctetStringRef, SetOfVec, UtcTime};
use der::{Any, Decode, Encode, Tag, Tagged};
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use webpki::aws_lc_rs as algs;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

use crate::cert::Cert;
use crate::error::{CmsError, PkiError};
use crate::key::{KeyAlgorithm, SigningKey};
use crate::oid;
use crate::pkcs11::{Pkcs11Key, Pkcs11Uri};

/// A key with the certificate chain that vouches for it (signer's certificate first).
#[derive(Debug)]
pub struct Signer {
    key: SignerKey,
    chain: Vec<Cert>,
}

/// The private half of a [`Signer`]: a key in memory (read from a file) or one a PKCS#11 token
/// holds.
#[derive(Debug)]
pub enum SignerKey {
    /// A key in memory.
    Memory(SigningKey),
    /// A key on a PKCS#11 token (checked against the certificate when it was opened).
    Pkcs11(Pkcs11Key),
}

impl Signer {
    /// Pairs `key` with `chain`, whose first certificate must be the key's.
    pub fn new(key: impl Into<SignerKey>, chain: Vec<Cert>) -> Result<Self, PkiError> {
        let key = key.into();
        let leaf = chain.first().ok_or(PkiError::NoPemObject {
            expected: "CERTIFICATE",
        })?;
        if let SignerKey::Memory(key) = &key
            && leaf.public_key_der()? != key.public_key_der()
        {
            return Err(PkiError::Key(format!(
                "the key does not belong to {}",
                leaf.subject()
            )));
        }
        Ok(Self { key, chain })
    }

    /// Opens the key `uri` names on a PKCS#11 token for `chain` (signer's certificate first);
    /// the token signs a probe that the certificate's public key must verify.
    pub fn pkcs11(uri: &Pkcs11Uri, chain: Vec<Cert>) -> Result<Self, PkiError> {
        let leaf = chain.first().ok_or(PkiError::NoPemObject {
            expected: "CERTIFICATE",
        })?;
        let key = Pkcs11Key::open(uri, &leaf.public_key_der()?).map_err(|e| match e {
            PkiError::Key(reason) => {
                PkiError::Key(format!("{reason} (the certificate is {})", leaf.subject()))
            }
            other => other,
        })?;
        Ok(Self {
            key: SignerKey::Pkcs11(key),
            chain,
        })
    }

    /// The signer's own certificate.
    pub fn cert(&self) -> &Cert {
        // `new` guarantees a non-empty chain.
        &self.chain[0]
    }

    /// The chain, signer's certificate first.
    pub fn chain(&self) -> &[Cert] {
        &self.chain
    }

    /// The signing key.
    pub fn key(&self) -> &SignerKey {
        &self.key
    }
}

impl SignerKey {
    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            Self::Memory(key) => key.algorithm(),
            Self::Pkcs11(key) => key.algorithm(),
        }
    }

    /// Signs `message`; ECDSA signatures are DER-encoded, as CMS carries them.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        match self {
            Self::Memory(key) => key.sign(message),
            Self::Pkcs11(key) => key.sign(message),
        }
    }
}

impl From<SigningKey> for SignerKey {
    fn from(key: SigningKey) -> Self {
        Self::Memory(key)
    }
}

impl From<Pkcs11Key> for SignerKey {
    fn from(key: Pkcs11Key) -> Self {
        Self::Pkcs11(key)
    }
}

/// What a verifier trusts.
#[derive(Debug, Clone, Copy)]
pub struct TrustPolicy<'a> {
    /// Trust anchors: the signer must chain to one of them (or be one).
    pub anchors: &'a [Cert],
    /// Certificates delivered beside the signed data (e.g. an owner-certificate bag) that may
    /// complete the path.
    pub extra_certificates: &'a [Cert],
    /// The time at which certificates must be valid.
    pub at: OffsetDateTime,
}

/// Signed content that verified.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The encapsulated content type.
    pub content_type: ObjectIdentifier,
    /// The content, exactly as signed.
    pub content: Vec<u8>,
    /// The certificate of the key that signed.
    pub signer: Cert,
}

/// Signs `content` as a SignedData of `content_type`, with content-type, message-digest and
/// signing-time attributes and the signer's chain included.
pub fn sign(
    content_type: ObjectIdentifier,
    content: &[u8],
    signer: &Signer,
) -> Result<Vec<u8>, CmsError> {
    let key = signer.key();
    let algorithm = key.algorithm();
    let digest_alg = AlgorithmIdentifierOwned {
        oid: algorithm.digest_oid(),
        parameters: None,
    };
    let digest = digest(algorithm.digest_oid(), content)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let signed_attrs: SetOfVec<Attribute> = vec![
        attribute(oid::ATTR_CONTENT_TYPE, Any::encode_from(&content_type)?)?,
        attribute(
            oid::ATTR_MESSAGE_DIGEST,
            Any::new(Tag::OctetString, digest)?,
        )?,
        attribute(
            oid::ATTR_SIGNING_TIME,
            Any::encode_from(&UtcTime::from_unix_duration(now)?)?,
        )?,
    ]
    .try_into()?;
    let signature = key
        .sign(&signed_attrs.to_der()?)
        .map_err(|e| CmsError::Signing(e.to_string()))?;
    let cert = signer.cert().x509();
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate.issuer.clone(),
            serial_number: cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: digest_alg.clone(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: algorithm.signature_oid(),
            parameters: (algorithm == KeyAlgorithm::Rsa2048).then(Any::null),
        },
        signature: OctetString::new(signature)?,
        unsigned_attrs: None,
    };
    let signed_data = SignedData {
        // RFC 5652 §5.1: version 3 when the content is not id-data.
        version: if content_type == oid::ID_DATA {
            CmsVersion::V1
        } else {
            CmsVersion::V3
        },
        digest_algorithms: vec![digest_alg].try_into()?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: content_type,
            econtent: Some(Any::new(Tag::OctetString, content.to_vec())?),
        },
        certificates: Some(certificate_set(signer.chain())?),
        crls: None,
        signer_infos: SignerInfos(vec![signer_info].try_into()?),
    };
    content_info(oid::ID_SIGNED_DATA, Any::encode_from(&signed_data)?)
}

/// A certificates-only ("degenerate") SignedData carrying `certs`: the form of RFC 8572's
/// owner-certificate and trust-anchor leaves.
pub fn certificates_only(certs: &[Cert]) -> Result<Vec<u8>, CmsError> {
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::new(),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: oid::ID_DATA,
            econtent: None,
        },
        certificates: Some(certificate_set(certs)?),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::new()),
    };
    content_info(oid::ID_SIGNED_DATA, Any::encode_from(&signed_data)?)
}

/// An unsigned ContentInfo of `content_type` around `content` (RFC 8572 §3.1 allows this for
/// conveyed information from a trusted server).
pub fn unsigned(content_type: ObjectIdentifier, content: &[u8]) -> Result<Vec<u8>, CmsError> {
    content_info(content_type, Any::new(Tag::OctetString, content.to_vec())?)
}

/// What a CMS ContentInfo holds, before any verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope {
    /// A SignedData whose encapsulated content has this type.
    Signed {
        /// The encapsulated content type.
        content_type: ObjectIdentifier,
    },
    /// An unsigned ContentInfo of this type with its content.
    Unsigned {
        /// The content type.
        content_type: ObjectIdentifier,
        /// The content.
        content: Vec<u8>,
    },
}

/// Looks inside a ContentInfo without verifying anything.
pub fn open(der: &[u8]) -> Result<Envelope, CmsError> {
    let ci = ContentInfo::from_der(der)?;
    if ci.content_type == oid::ID_SIGNED_DATA {
        let sd = ci.content.decode_as::<SignedData>()?;
        return Ok(Envelope::Signed {
            content_type: sd.encap_content_info.econtent_type,
        });
    }
    Ok(Envelope::Unsigned {
        content_type: ci.content_type,
        content: octets(&ci.content)?.to_vec(),
    })
}

/// The certificates a SignedData carries (any SignedData; for a certificates-only bag these
/// are its whole content).
pub fn read_certificates(der: &[u8]) -> Result<Vec<Cert>, CmsError> {
    let sd = signed_data(der)?;
    certificates(&sd)
}

/// Verifies a SignedData whose content type is one of `expected`, signed by a key whose
/// certificate chains to `policy.anchors`, and returns its content.
pub fn verify(
    der: &[u8],
    expected: &[ObjectIdentifier],
    policy: &TrustPolicy<'_>,
) -> Result<Verified, CmsError> {
    let sd = signed_data(der)?;
    let content_type = sd.encap_content_info.econtent_type;
    if !expected.contains(&content_type) {
        return Err(CmsError::UnexpectedContentType {
            expected: expected.first().copied().unwrap_or(oid::ID_DATA),
            got: content_type,
        });
    }
    let content = octets(
        sd.encap_content_info
            .econtent
            .as_ref()
            .ok_or(CmsError::NoContent)?,
    )?;
    let [signer_info] = sd.signer_infos.0.as_slice() else {
        return Err(CmsError::SignerCount(sd.signer_infos.0.len()));
    };
    let mut certs = certificates(&sd)?;
    certs.extend(policy.extra_certificates.iter().cloned());
    let signer = find_signer(&certs, &signer_info.sid)?;

    let message = match &signer_info.signed_attrs {
        Some(attrs) => {
            check_signed_attributes(attrs, content_type, signer_info.digest_alg.oid, content)?;
            attrs.to_der()?
        }
        // Without signed attributes the signature covers the content itself, which RFC 5652
        // allows only for id-data.
        None if content_type == oid::ID_DATA => content.to_vec(),
        None => return Err(CmsError::NoSignedAttributes),
    };
    check_signature(&signer, signer_info, &message)?;
    check_trusted(&signer, &certs, policy)?;
    Ok(Verified {
        content_type,
        content: content.to_vec(),
        signer,
    })
}

/// Checks that `cert` chains to one of `policy.anchors` (or is one), using the policy's extra
/// certificates as intermediates.
pub fn verify_certificate(cert: &Cert, policy: &TrustPolicy<'_>) -> Result<(), CmsError> {
    check_trusted(cert, policy.extra_certificates, policy)
}

fn signed_data(der: &[u8]) -> Result<SignedData, CmsError> {
    let ci = ContentInfo::from_der(der)?;
    if ci.content_type != oid::ID_SIGNED_DATA {
        return Err(CmsError::UnexpectedContentType {
            expected: oid::ID_SIGNED_DATA,
            got: ci.content_type,
        });
    }
    Ok(ci.content.decode_as::<SignedData>()?)
}

fn content_info(content_type: ObjectIdentifier, content: Any) -> Result<Vec<u8>, CmsError> {
    Ok(ContentInfo {
        content_type,
        content,
    }
    .to_der()?)
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, CmsError> {
    Ok(Attribute {
        oid,
        values: vec![value].try_into()?,
    })
}

fn certificate_set(certs: &[Cert]) -> Result<CertificateSet, CmsError> {
    let choices = certs
        .iter()
        .map(|c| CertificateChoices::Certificate(c.x509().clone()))
        .collect::<Vec<_>>();
    Ok(CertificateSet(choices.try_into()?))
}

/// The most certificates a SignedData may carry. A signer's chain, or an owner's certificate
/// with its intermediates, is a handful; a set of hundreds is a path-building bomb (each
/// candidate tried against each other costs a signature check) that would cost a device
/// seconds of CPU before its refusal.
pub const MAX_CERTIFICATES: usize = 16;

fn certificates(sd: &SignedData) -> Result<Vec<Cert>, CmsError> {
    let Some(set) = &sd.certificates else {
        return Ok(Vec::new());
    };
    if set.0.len() > MAX_CERTIFICATES {
        return Err(CmsError::TooManyCertificates {
            count: set.0.len(),
            max: MAX_CERTIFICATES,
        });
    }
    set.0
        .iter()
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(cert) => Some(cert),
            CertificateChoices::Other(_) => None,
        })
        .map(|cert| Ok(Cert::from_der(cert.to_der()?)?))
        .collect()
}

fn octets(any: &Any) -> Result<&[u8], CmsError> {
    if any.tag() != Tag::OctetString {
        return Err(CmsError::Malformed(der::Error::from(
            der::ErrorKind::TagUnexpected {
                expected: Some(Tag::OctetString),
                actual: any.tag(),
            },
        )));
    }
    Ok(OctetStringRef::try_from(any)?.as_bytes())
}

fn find_signer(certs: &[Cert], sid: &SignerIdentifier) -> Result<Cert, CmsError> {
    certs
        .iter()
        .find(|cert| {
            let tbs = &cert.x509().tbs_certificate;
            match sid {
                SignerIdentifier::IssuerAndSerialNumber(ias) => {
                    tbs.issuer == ias.issuer && tbs.serial_number == ias.serial_number
                }
                SignerIdentifier::SubjectKeyIdentifier(ski) => {
                    matches!(tbs.get::<SubjectKeyIdentifier>(), Ok(Some((_, own))) if own == *ski)
                }
            }
        })
        .cloned()
        .ok_or(CmsError::SignerCertificateMissing)
}

fn check_signed_attributes(
    attrs: &SetOfVec<Attribute>,
    content_type: ObjectIdentifier,
    digest_oid: ObjectIdentifier,
    content: &[u8],
) -> Result<(), CmsError> {
    let single = |oid: ObjectIdentifier, name: &'static str| -> Result<&Any, CmsError> {
        let mut found = attrs.iter().filter(|a| a.oid == oid);
        match (found.next(), found.next()) {
            (Some(attr), None) if attr.values.len() == 1 => attr
                .values
                .iter()
                .next()
                .ok_or(CmsError::BadSignedAttribute(name)),
            _ => Err(CmsError::BadSignedAttribute(name)),
        }
    };
    let signed_type = single(oid::ATTR_CONTENT_TYPE, "content-type")?
        .decode_as::<ObjectIdentifier>()
        .map_err(|_| CmsError::BadSignedAttribute("content-type"))?;
    if signed_type != content_type {
        return Err(CmsError::ContentTypeMismatch);
    }
    let signed_digest = single(oid::ATTR_MESSAGE_DIGEST, "message-digest")?
        .decode_as::<OctetStringRef<'_>>()
        .map_err(|_| CmsError::BadSignedAttribute("message-digest"))?;
    let actual = digest(digest_oid, content)?;
    // Not secret: both values are public, so no constant-time comparison is needed.
    if signed_digest.as_bytes() != actual.as_slice() {
        return Err(CmsError::DigestMismatch);
    }
    Ok(())
}

fn check_signature(signer: &Cert, info: &SignerInfo, message: &[u8]) -> Result<(), CmsError> {
    check_signed(
        signer,
        (info.signature_algorithm.oid, info.digest_alg.oid),
        message,
        info.signature.as_bytes(),
    )
}

/// Checks that `signature` over `message` was made with the key of `signer`, by the algorithm
/// named by `(signature algorithm, digest algorithm)` (see [`verification_algorithms`]).
pub(crate) fn check_signed(
    signer: &Cert,
    (algorithm, digest): (ObjectIdentifier, ObjectIdentifier),
    message: &[u8],
    signature: &[u8],
) -> Result<(), CmsError> {
    let candidates = verification_algorithms(algorithm, digest)?;
    let ee = webpki::EndEntityCert::try_from(signer.as_certificate_der())
        .map_err(CmsError::Untrusted)?;
    candidates
        .iter()
        .any(|alg| ee.verify_signature(*alg, message, signature).is_ok())
        .then_some(())
        .ok_or(CmsError::BadSignature)
}

type Algorithms = [&'static dyn SignatureVerificationAlgorithm; 2];

static EC_SHA256: Algorithms = [algs::ECDSA_P256_SHA256, algs::ECDSA_P384_SHA256];
static EC_SHA384: Algorithms = [algs::ECDSA_P256_SHA384, algs::ECDSA_P384_SHA384];
static EC_SHA512: Algorithms = [algs::ECDSA_P256_SHA512, algs::ECDSA_P384_SHA512];
static RSA_SHA256: Algorithms = [
    algs::RSA_PKCS1_2048_8192_SHA256,
    algs::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
];
static RSA_SHA384: Algorithms = [
    algs::RSA_PKCS1_2048_8192_SHA384,
    algs::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
];
static RSA_SHA512: Algorithms = [
    algs::RSA_PKCS1_2048_8192_SHA512,
    algs::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
];

/// The verification algorithms a SignerInfo may mean; the signer's key type picks one of them.
/// Signers name either a combined algorithm (`ecdsa-with-SHA256`) or the bare key algorithm
/// with a separate digest (OpenSSL writes `rsaEncryption` + SHA-256).
fn verification_algorithms(
    signature: ObjectIdentifier,
    digest: ObjectIdentifier,
) -> Result<&'static Algorithms, CmsError> {
    const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    Ok(match (signature, digest) {
        (oid::ECDSA_WITH_SHA256, _) | (EC_PUBLIC_KEY, oid::SHA256) => &EC_SHA256,
        (oid::ECDSA_WITH_SHA384, _) | (EC_PUBLIC_KEY, oid::SHA384) => &EC_SHA384,
        (oid::ECDSA_WITH_SHA512, _) | (EC_PUBLIC_KEY, oid::SHA512) => &EC_SHA512,
        (oid::SHA256_WITH_RSA, _) | (oid::RSA_ENCRYPTION, oid::SHA256) => &RSA_SHA256,
        (oid::SHA384_WITH_RSA, _) | (oid::RSA_ENCRYPTION, oid::SHA384) => &RSA_SHA384,
        (oid::SHA512_WITH_RSA, _) | (oid::RSA_ENCRYPTION, oid::SHA512) => &RSA_SHA512,
        _ => return Err(CmsError::UnsupportedAlgorithm(signature)),
    })
}

fn digest(algorithm: ObjectIdentifier, content: &[u8]) -> Result<Vec<u8>, CmsError> {
    use aws_lc_rs::digest;
    let alg = match algorithm {
        oid::SHA256 => &digest::SHA256,
        oid::SHA384 => &digest::SHA384,
        oid::SHA512 => &digest::SHA512,
        other => return Err(CmsError::UnsupportedAlgorithm(other)),
    };
    Ok(digest::digest(alg, content).as_ref().to_vec())
}

/// Accepts any extended key usage: CMS signers are identified by their chain, not by EKU.
struct AnyUsage;

impl webpki::ExtendedKeyUsageValidator for AnyUsage {
    fn validate(&self, iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for purpose in iter {
            purpose?;
        }
        Ok(())
    }
}

fn check_trusted(signer: &Cert, certs: &[Cert], policy: &TrustPolicy<'_>) -> Result<(), CmsError> {
    // A pinned-domain-cert may be the owner certificate itself (RFC 8366): then there is no
    // path to build, only the validity period to check.
    if policy.anchors.contains(signer) {
        return signer
            .is_valid_at(policy.at)
            .then_some(())
            .ok_or(CmsError::SignerNotValidNow);
    }
    let anchors = policy
        .anchors
        .iter()
        .map(|a| webpki::anchor_from_trusted_cert(a.as_certificate_der()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CmsError::Untrusted)?;
    let intermediates: Vec<CertificateDer<'_>> = certs
        .iter()
        .filter(|c| *c != signer)
        .map(|c| c.as_certificate_der().clone())
        .collect();
    let ee = webpki::EndEntityCert::try_from(signer.as_certificate_der())
        .map_err(CmsError::Untrusted)?;
    let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(policy.at.unix_timestamp()).unwrap_or(0),
    ));
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &intermediates,
        at,
        AnyUsage,
        None,
        None,
    )
    .map(|_| ())
    .map_err(CmsError::Untrusted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authority::CertificateAuthority;

    struct Owner {
        ca: CertificateAuthority,
        signer: Signer,
    }

    fn owner(alg: KeyAlgorithm) -> Owner {
        let ca = CertificateAuthority::new_root("Owner CA", "Customer", alg).unwrap();
        let (cert, key) = ca.issue_signer("Owner signer", "Customer", alg).unwrap();
        let signer = Signer::new(key, vec![cert, ca.cert().clone()]).unwrap();
        Owner { ca, signer }
    }

    fn policy(anchors: &[Cert]) -> TrustPolicy<'_> {
        TrustPolicy {
            anchors,
            extra_certificates: &[],
            at: OffsetDateTime::now_utc(),
        }
    }

    #[test]
    fn signed_content_verifies_for_every_key_type() {
        for alg in KeyAlgorithm::ALL {
            let o = owner(alg);
            let der = sign(oid::ID_CT_SZTP_CONVEYED_INFO_JSON, b"{\"a\":1}", &o.signer).unwrap();
            let anchors = [o.ca.cert().clone()];
            let v = verify(
                &der,
                &[oid::ID_CT_SZTP_CONVEYED_INFO_JSON],
                &policy(&anchors),
            )
            .unwrap();
            assert_eq!(v.content, b"{\"a\":1}");
            assert_eq!(&v.signer, o.signer.cert());
            assert_eq!(
                open(&der).unwrap(),
                Envelope::Signed {
                    content_type: oid::ID_CT_SZTP_CONVEYED_INFO_JSON
                }
            );
        }
    }

    #[test]
    fn a_changed_byte_anywhere_in_the_content_fails() {
        let o = owner(KeyAlgorithm::EcdsaP256);
        let content = b"<redirect-information/>";
        let der = sign(oid::ID_CT_SZTP_CONVEYED_INFO_XML, content, &o.signer).unwrap();
        let at = der
            .windows(content.len())
            .position(|w| w == content)
            .unwrap();
        let anchors = [o.ca.cert().clone()];
        let mut tampered = der.clone();
        tampered[at + 3] ^= 1;
        let err = verify(
            &tampered,
            &[oid::ID_CT_SZTP_CONVEYED_INFO_XML],
            &policy(&anchors),
        );
        assert!(matches!(err, Err(CmsError::DigestMismatch)), "{err:?}");
    }

    #[test]
    fn another_owner_or_content_type_is_refused() {
        let (a, b) = (
            owner(KeyAlgorithm::EcdsaP256),
            owner(KeyAlgorithm::EcdsaP256),
        );
        let der = sign(oid::ID_CT_SZTP_CONVEYED_INFO_JSON, b"{}", &a.signer).unwrap();
        let b_anchor = [b.ca.cert().clone()];
        let err = verify(
            &der,
            &[oid::ID_CT_SZTP_CONVEYED_INFO_JSON],
            &policy(&b_anchor),
        );
        assert!(matches!(err, Err(CmsError::Untrusted(_))), "{err:?}");
        let a_anchor = [a.ca.cert().clone()];
        let err = verify(
            &der,
            &[oid::ID_CT_SZTP_CONVEYED_INFO_XML],
            &policy(&a_anchor),
        );
        assert!(
            matches!(err, Err(CmsError::UnexpectedContentType { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn the_chain_may_come_from_a_separate_bag() {
        let root = CertificateAuthority::new_root("Root", "C", KeyAlgorithm::EcdsaP256).unwrap();
        let sub = root
            .new_subordinate("Sub", "C", KeyAlgorithm::EcdsaP256)
            .unwrap();
        let (cert, key) = sub
            .issue_signer("Signer", "C", KeyAlgorithm::EcdsaP256)
            .unwrap();
        let signer = Signer::new(key, vec![cert]).unwrap();
        let der = sign(oid::ID_CT_ANIMA_JSON_VOUCHER, b"{}", &signer).unwrap();
        let anchors = [root.cert().clone()];
        assert!(verify(&der, &[oid::ID_CT_ANIMA_JSON_VOUCHER], &policy(&anchors)).is_err());
        let bag = certificates_only(&[sub.cert().clone()]).unwrap();
        let extra = read_certificates(&bag).unwrap();
        let p = TrustPolicy {
            extra_certificates: &extra,
            ..policy(&anchors)
        };
        assert!(verify(&der, &[oid::ID_CT_ANIMA_JSON_VOUCHER], &p).is_ok());
    }

    #[test]
    fn a_signer_that_is_the_anchor_verifies_while_valid() {
        let o = owner(KeyAlgorithm::EcdsaP256);
        let der = sign(oid::ID_CT_SZTP_CONVEYED_INFO_JSON, b"{}", &o.signer).unwrap();
        let anchors = [o.signer.cert().clone()];
        assert!(
            verify(
                &der,
                &[oid::ID_CT_SZTP_CONVEYED_INFO_JSON],
                &policy(&anchors)
            )
            .is_ok()
        );
        let later = TrustPolicy {
            at: OffsetDateTime::now_utc() + time::Duration::days(365 * 30),
            ..policy(&anchors)
        };
        let err = verify(&der, &[oid::ID_CT_SZTP_CONVEYED_INFO_JSON], &later);
        assert!(matches!(err, Err(CmsError::SignerNotValidNow)), "{err:?}");
    }

    #[test]
    fn bags_and_unsigned_content_round_trip() {
        let o = owner(KeyAlgorithm::EcdsaP384);
        let bag = certificates_only(o.signer.chain()).unwrap();
        let mut certs = read_certificates(&bag).unwrap();
        certs.sort_by_key(|c| c.subject());
        assert_eq!(certs.len(), 2);
        let der = unsigned(oid::ID_CT_SZTP_CONVEYED_INFO_JSON, b"{}").unwrap();
        assert_eq!(
            open(&der).unwrap(),
            Envelope::Unsigned {
                content_type: oid::ID_CT_SZTP_CONVEYED_INFO_JSON,
                content: b"{}".to_vec()
            }
        );
        assert!(verify(&der, &[oid::ID_CT_SZTP_CONVEYED_INFO_JSON], &policy(&[])).is_err());
    }

    #[test]
    fn a_set_of_too_many_certificates_is_refused_before_any_is_tried() {
        let root = CertificateAuthority::new_root("Root", "C", KeyAlgorithm::EcdsaP256).unwrap();
        let bomb: Vec<Cert> = (0..=MAX_CERTIFICATES)
            .map(|i| {
                root.issue_signer(&format!("Signer {i}"), "C", KeyAlgorithm::EcdsaP256)
                    .unwrap()
                    .0
            })
            .collect();
        let fits = &bomb[..MAX_CERTIFICATES];
        assert_eq!(
            read_certificates(&certificates_only(fits).unwrap())
                .unwrap()
                .len(),
            MAX_CERTIFICATES
        );
        assert!(matches!(
            read_certificates(&certificates_only(&bomb).unwrap()),
            Err(CmsError::TooManyCertificates { count, .. }) if count == MAX_CERTIFICATES + 1
        ));
    }

    #[test]
    fn garbage_never_panics() {
        for bytes in [
            &b""[..],
            b"\x30",
            b"\x30\x80",
            b"\x30\x03\x06\x01\x00",
            &[0xff; 64],
        ] {
            assert!(verify(bytes, &[oid::ID_DATA], &policy(&[])).is_err());
            assert!(read_certificates(bytes).is_err());
            assert!(open(bytes).is_err());
        }
    }
}
