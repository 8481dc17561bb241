//! What a device checks before it trusts a bootstrap response (RFC 8572 §5.4): the voucher
//! against the manufacturer, the voucher against itself, the owner certificate against the
//! voucher, and the conveyed information against the owner certificate. Nothing that fails a
//! step is used.

use time::OffsetDateTime;
use ztp_certs::cms::{self, Envelope, TrustPolicy};
use ztp_certs::role::{self, Role, RoleError};
use ztp_certs::{Cert, CmsError, PkiError, Voucher, VoucherError, oid};
use ztp_yang::{ConveyedInformation, DecodeError, Document, Encoding, GetBootstrappingDataOutput};

/// Why a device refuses a response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefusedResponse {
    /// Step 1 or 2: the voucher does not verify or is not for this device.
    #[error("ownership voucher: {0}")]
    Voucher(#[from] VoucherError),
    /// The voucher requires revocation checks of the owner's certificate, which this agent
    /// does not make (it has no revocation information for the owner's CA).
    #[error(
        "ownership voucher: it requires revocation checks of the owner certificate \
         (domain-cert-revocation-checks), which this device cannot make"
    )]
    RevocationChecksRequired,
    /// The voucher's pinned-domain-cert is not a certificate.
    #[error("pinned-domain-cert: {0}")]
    PinnedDomainCert(PkiError),
    /// Step 3: the owner certificate does not chain to the pinned domain certificate.
    #[error("owner certificate: {0}")]
    OwnerCertificate(CmsError),
    /// Step 3: the owner certificate may not sign conveyed information.
    #[error("owner certificate: {0}")]
    OwnerRole(RoleError),
    /// Step 4: the conveyed information is not signed by the owner certificate.
    #[error("conveyed information signature: {0}")]
    Signature(CmsError),
    /// The conveyed information is signed by someone other than the owner certificate.
    #[error("conveyed information is signed by {signer}, not by the owner certificate")]
    WrongSigner {
        /// The subject that signed.
        signer: String,
    },
    /// Signed conveyed information came without owner certificate and voucher.
    #[error("conveyed information is signed but the response has no owner certificate and voucher")]
    SignedWithoutOwnership,
    /// The content type is not conveyed information.
    #[error("conveyed information has content type {0}, not id-ct-sztpConveyedInfoXML/JSON")]
    ContentType(const_oid::ObjectIdentifier),
    /// Unsigned onboarding information from a server the device did not authenticate: RFC 8572
    /// §5.3 forbids acting on it.
    #[error("unsigned onboarding information from an untrusted server")]
    UnsignedOnboarding,
    /// The CMS around the conveyed information could not be parsed.
    #[error("the CMS around the conveyed information is malformed: {0}")]
    Malformed(CmsError),
    /// The conveyed information document is not valid.
    #[error("conveyed information document: {0}")]
    Document(#[from] DecodeError),
}

/// What the device trusts.
#[derive(Debug, Clone, Copy)]
pub struct DeviceTrust<'a> {
    /// The anchors of the manufacturer's voucher signers (never the anchors of other roles).
    pub voucher_anchors: &'a [Cert],
    /// The issuer of the device's IDevID, which a voucher's `idevid-issuer` must match when
    /// it carries one.
    pub idevid_issuer: IdevidIssuer<'a>,
    /// Whether the device authenticated the server's TLS certificate (a trusted server may send
    /// unsigned data; an untrusted one only unsigned redirect information).
    pub server_authenticated: bool,
    /// The device's clock.
    pub at: OffsetDateTime,
}

/// The issuer of the device's IDevID, as a voucher's `idevid-issuer` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdevidIssuer<'a> {
    /// The authority key identifier of the device's IDevID (`None`: it carries none, and a
    /// voucher naming an issuer is refused).
    Of(Option<&'a [u8]>),
    /// The device has no IDevID (it authenticates by its activation code): it cannot check a
    /// voucher's `idevid-issuer`. Every other check stands.
    NoIdevid,
}

/// A response that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedResponse {
    /// The conveyed information.
    pub information: ConveyedInformation,
    /// Its encoding (from the CMS content type).
    pub encoding: Encoding,
    /// The verified voucher and owner certificate, when the information was signed.
    pub ownership: Option<(Voucher, Cert)>,
}

/// Checks `output` as device `serial`, which sent `sent_nonce` (if any) in its request.
pub fn verify_response(
    output: &GetBootstrappingDataOutput,
    serial: &str,
    sent_nonce: Option<&[u8]>,
    trust: &DeviceTrust<'_>,
) -> Result<VerifiedResponse, RefusedResponse> {
    let Some(ownership) = &output.ownership else {
        return unsigned(&output.conveyed_information, trust);
    };
    // 1 and 2: the manufacturer's voucher, for this device.
    let voucher = Voucher::verify(
        &ownership.ownership_voucher,
        trust.voucher_anchors,
        trust.at,
    )?;
    let idevid_issuer = match trust.idevid_issuer {
        IdevidIssuer::Of(aki) => aki,
        // Nothing to compare the voucher's issuer with: the one check this device cannot make.
        IdevidIssuer::NoIdevid => voucher.idevid_issuer.as_deref(),
    };
    voucher.check_applies(serial, idevid_issuer, sent_nonce, trust.at)?;
    if voucher.domain_cert_revocation_checks == Some(true) {
        return Err(RefusedResponse::RevocationChecksRequired);
    }
    let pinned = voucher
        .pinned_domain_cert()
        .map_err(RefusedResponse::PinnedDomainCert)?;

    // 3: the owner certificate chains to the pinned domain certificate.
    let bag = cms::read_certificates(&ownership.owner_certificate)
        .map_err(RefusedResponse::OwnerCertificate)?;
    let anchors = [pinned];
    let policy = TrustPolicy {
        anchors: &anchors,
        extra_certificates: &bag,
        at: trust.at,
    };
    // The owner certificate is the end-entity certificate of the bag that chains to the
    // pinned domain certificate (or is it).
    let owner = bag
        .iter()
        .find(|cert| !cert.is_ca() && cms::verify_certificate(cert, &policy).is_ok())
        .cloned()
        .ok_or(RefusedResponse::OwnerCertificate(
            CmsError::SignerCertificateMissing,
        ))?;
    role::check_signer(&owner, Role::OwnerSigner).map_err(RefusedResponse::OwnerRole)?;

    // 4: the conveyed information is signed by that owner certificate.
    let verified = cms::verify(
        &output.conveyed_information,
        &[
            oid::ID_CT_SZTP_CONVEYED_INFO_XML,
            oid::ID_CT_SZTP_CONVEYED_INFO_JSON,
        ],
        &policy,
    )
    .map_err(RefusedResponse::Signature)?;
    if verified.signer != owner {
        return Err(RefusedResponse::WrongSigner {
            signer: verified.signer.subject(),
        });
    }
    let encoding = encoding_of(verified.content_type)?;
    let information = ConveyedInformation::decode(encoding, &verified.content)?;
    Ok(VerifiedResponse {
        information,
        encoding,
        ownership: Some((voucher, owner)),
    })
}

fn unsigned(der: &[u8], trust: &DeviceTrust<'_>) -> Result<VerifiedResponse, RefusedResponse> {
    let (content_type, content) = match cms::open(der).map_err(RefusedResponse::Malformed)? {
        Envelope::Signed { .. } => return Err(RefusedResponse::SignedWithoutOwnership),
        Envelope::Unsigned {
            content_type,
            content,
        } => (content_type, content),
    };
    let encoding = encoding_of(content_type)?;
    let information = ConveyedInformation::decode(encoding, &content)?;
    if matches!(information, ConveyedInformation::Onboarding(_)) && !trust.server_authenticated {
        return Err(RefusedResponse::UnsignedOnboarding);
    }
    Ok(VerifiedResponse {
        information,
        encoding,
        ownership: None,
    })
}

fn encoding_of(content_type: const_oid::ObjectIdentifier) -> Result<Encoding, RefusedResponse> {
    match content_type {
        oid::ID_CT_SZTP_CONVEYED_INFO_XML => Ok(Encoding::Xml),
        oid::ID_CT_SZTP_CONVEYED_INFO_JSON => Ok(Encoding::Json),
        other => Err(RefusedResponse::ContentType(other)),
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use ztp_certs::{CertificateAuthority, KeyAlgorithm, Serial, Signer};
    use ztp_yang::{BootstrapServer, Nonce, OnboardingInformation, Ownership, RedirectInformation};

    use super::*;
    use crate::artifacts::{self, OwnerCredentials};

    struct World {
        mfg_root: CertificateAuthority,
        masa: Signer,
        owner: OwnerCredentials,
    }

    fn owner_credentials(name: &str) -> OwnerCredentials {
        let ca = CertificateAuthority::new_root(name, name, KeyAlgorithm::EcdsaP256).unwrap();
        let (cert, key) = ca
            .issue_signer("signer", name, KeyAlgorithm::EcdsaP256)
            .unwrap();
        OwnerCredentials::new(ca.cert().clone(), Signer::new(key, vec![cert]).unwrap()).unwrap()
    }

    fn world() -> World {
        let mfg_root =
            CertificateAuthority::new_root("Mfg", "Mfg", KeyAlgorithm::EcdsaP256).unwrap();
        let (cert, key) = mfg_root
            .issue_signer("MASA", "Mfg", KeyAlgorithm::EcdsaP256)
            .unwrap();
        World {
            masa: Signer::new(key, vec![cert]).unwrap(),
            owner: owner_credentials("Owner"),
            mfg_root,
        }
    }

    fn redirect() -> ConveyedInformation {
        ConveyedInformation::Redirect(RedirectInformation {
            bootstrap_servers: vec![BootstrapServer::new("nms.example.net")],
        })
    }

    fn signed(
        w: &World,
        serial: &str,
        encoding: Encoding,
        nonce: Option<&Nonce>,
    ) -> GetBootstrappingDataOutput {
        let now = OffsetDateTime::now_utc();
        let serial = Serial::parse(serial).unwrap();
        GetBootstrappingDataOutput {
            conveyed_information: artifacts::conveyed_information(
                &redirect(),
                encoding,
                Some(w.owner.signer()),
            )
            .unwrap()
            .into(),
            ownership: Some(Ownership {
                owner_certificate: w.owner.owner_certificate().clone(),
                ownership_voucher: artifacts::ownership_voucher(
                    &w.masa,
                    &serial,
                    None,
                    w.owner.ca(),
                    now,
                    Duration::days(1),
                    nonce,
                )
                .unwrap()
                .into(),
            }),
            ..Default::default()
        }
    }

    fn check(
        w: &World,
        out: &GetBootstrappingDataOutput,
        serial: &str,
        nonce: Option<&[u8]>,
    ) -> Result<VerifiedResponse, RefusedResponse> {
        let anchors = [w.mfg_root.cert().clone()];
        let trust = DeviceTrust {
            voucher_anchors: &anchors,
            idevid_issuer: IdevidIssuer::Of(None),
            server_authenticated: false,
            at: OffsetDateTime::now_utc(),
        };
        verify_response(out, serial, nonce, &trust)
    }

    #[test]
    fn a_signed_response_verifies_in_both_encodings() {
        let w = world();
        for encoding in [Encoding::Xml, Encoding::Json] {
            let v = check(&w, &signed(&w, "SN-1", encoding, None), "SN-1", None).unwrap();
            assert_eq!((v.information, v.encoding), (redirect(), encoding));
            assert_eq!(v.ownership.unwrap().0.serial_number, "SN-1");
        }
    }

    #[test]
    fn a_nonce_voucher_must_carry_the_nonce_sent() {
        let w = world();
        let nonce = Nonce::new(vec![5; 16]).unwrap();
        let out = signed(&w, "SN-1", Encoding::Json, Some(&nonce));
        assert!(check(&w, &out, "SN-1", Some(&[5; 16])).is_ok());
        let err = check(&w, &out, "SN-1", Some(&[6; 16])).unwrap_err();
        assert!(
            matches!(err, RefusedResponse::Voucher(VoucherError::NonceMismatch)),
            "{err}"
        );
        // Replayed to a device that sent no nonce (after a resale, an RMA): refused.
        let err = check(&w, &out, "SN-1", None).unwrap_err();
        assert!(
            matches!(
                err,
                RefusedResponse::Voucher(VoucherError::UnsolicitedNonce)
            ),
            "{err}"
        );
    }

    #[test]
    fn a_voucher_requiring_revocation_checks_the_device_cannot_make_is_refused() {
        let w = world();
        let mut out = signed(&w, "SN-1", Encoding::Json, None);
        let now = OffsetDateTime::now_utc();
        let mut voucher = Voucher::new("SN-1", w.owner.ca(), now, now + Duration::days(1), None);
        voucher.domain_cert_revocation_checks = Some(true);
        if let Some(ownership) = out.ownership.as_mut() {
            ownership.ownership_voucher = voucher.sign(&w.masa).unwrap().into();
        }
        let err = check(&w, &out, "SN-1", None).unwrap_err();
        assert!(
            matches!(err, RefusedResponse::RevocationChecksRequired),
            "{err}"
        );
    }

    #[test]
    fn another_devices_voucher_is_refused() {
        let w = world();
        let err = check(&w, &signed(&w, "SN-2", Encoding::Json, None), "SN-1", None).unwrap_err();
        assert!(
            matches!(
                err,
                RefusedResponse::Voucher(VoucherError::SerialMismatch { .. })
            ),
            "{err}"
        );
    }

    #[test]
    fn another_manufacturers_voucher_is_refused() {
        let (w, other) = (world(), world());
        let err = check(
            &other,
            &signed(&w, "SN-1", Encoding::Json, None),
            "SN-1",
            None,
        )
        .unwrap_err();
        assert!(
            matches!(err, RefusedResponse::Voucher(VoucherError::Cms(_))),
            "{err}"
        );
    }

    /// A genuine response whose conveyed information an intruder re-signed.
    fn resigned_by_intruder(w: &World) -> (GetBootstrappingDataOutput, OwnerCredentials) {
        let mut out = signed(w, "SN-1", Encoding::Json, None);
        let intruder = owner_credentials("Intruder");
        out.conveyed_information =
            artifacts::conveyed_information(&redirect(), Encoding::Json, Some(intruder.signer()))
                .unwrap()
                .into();
        (out, intruder)
    }

    #[test]
    fn an_owner_certificate_that_does_not_match_the_voucher_is_refused() {
        let w = world();
        let (mut out, intruder) = resigned_by_intruder(&w);
        if let Some(o) = &mut out.ownership {
            o.owner_certificate = intruder.owner_certificate().clone();
        }
        let err = check(&w, &out, "SN-1", None).unwrap_err();
        assert!(matches!(err, RefusedResponse::OwnerCertificate(_)), "{err}");
    }

    #[test]
    fn conveyed_information_signed_by_another_key_is_refused() {
        let w = world();
        let (out, _) = resigned_by_intruder(&w);
        let err = check(&w, &out, "SN-1", None).unwrap_err();
        assert!(matches!(err, RefusedResponse::Signature(_)), "{err}");
    }

    #[test]
    fn unsigned_data_follows_rfc_8572_trust_rules() {
        let w = world();
        let unsigned_redirect = GetBootstrappingDataOutput {
            conveyed_information: artifacts::conveyed_information(
                &redirect(),
                Encoding::Json,
                None,
            )
            .unwrap()
            .into(),
            ..Default::default()
        };
        assert!(check(&w, &unsigned_redirect, "SN-1", None).is_ok());
        let onboarding = ConveyedInformation::Onboarding(OnboardingInformation {
            pre_configuration_script: Some(b"#!/bin/sh\n".to_vec()),
            ..Default::default()
        });
        let unsigned_onboarding = GetBootstrappingDataOutput {
            conveyed_information: artifacts::conveyed_information(&onboarding, Encoding::Xml, None)
                .unwrap()
                .into(),
            ..Default::default()
        };
        let err = check(&w, &unsigned_onboarding, "SN-1", None).unwrap_err();
        assert!(matches!(err, RefusedResponse::UnsignedOnboarding), "{err}");
        let mut signed_alone = signed(&w, "SN-1", Encoding::Json, None);
        signed_alone.ownership = None;
        assert!(matches!(
            check(&w, &signed_alone, "SN-1", None),
            Err(RefusedResponse::SignedWithoutOwnership)
        ));
    }
}
