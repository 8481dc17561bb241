//! The roles keys play in zero-touch provisioning, and the rules that keep one role's key from
//! passing for another's.
//!
//! A device trusts a voucher because its signer chains to the manufacturer, a license bundle
//! likewise, and a server because its TLS certificate does. If one CA anchored every role,
//! any key under it (another device's IDevID, the TLS server's key, the license signer) could
//! sign a voucher that hands the device to whoever holds it. So each role is proved by an
//! anchor of its own: the CA that issues voucher signers issues nothing else, and so on. This
//! module holds the checks both sides make:
//!
//! - of a signer, at every signature: [`check_signer`] (an end entity that may sign data, and
//!   for the manufacturer's signers, no TLS certificate);
//! - of a configuration, once at start: [`shared_anchor`] (no anchor serves two roles) and
//!   [`chains_to`] (a key of one role does not chain to another role's anchors).

use std::fmt;

use const_oid::ObjectIdentifier;
use time::OffsetDateTime;

use crate::cert::Cert;
use crate::cms::{self, TrustPolicy};
use crate::oid;

/// What a key is trusted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A device's identity (IDevID), for TLS client authentication.
    DeviceIdentity,
    /// The manufacturer's voucher signer (MASA).
    VoucherSigner,
    /// The manufacturer's license signer.
    LicenseSigner,
    /// The bootstrap server's TLS certificate.
    TlsServer,
    /// An owner's signer of conveyed information.
    OwnerSigner,
}

impl Role {
    /// The role's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::DeviceIdentity => "device identity (IDevID)",
            Self::VoucherSigner => "voucher signer",
            Self::LicenseSigner => "license signer",
            Self::TlsServer => "TLS server",
            Self::OwnerSigner => "owner signer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A certificate may not sign in the role asked of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoleError {
    /// A CA certificate signed content: content signers are end entities.
    #[error("{subject} is a CA certificate and cannot sign as a {role}")]
    CertificateAuthority {
        /// The signer's subject.
        subject: String,
        /// The role it signed in.
        role: Role,
    },
    /// The key usage extension does not allow digital signatures.
    #[error("{subject} may not make digital signatures (key usage), so not as a {role}")]
    NoDigitalSignature {
        /// The signer's subject.
        subject: String,
        /// The role it signed in.
        role: Role,
    },
    /// A TLS certificate (serverAuth or clientAuth extended key usage) signed as one of the
    /// manufacturer's signers: the bootstrap server's key or a device's IDevID.
    #[error("{subject} is a TLS certificate ({purpose}) and cannot sign as a {role}")]
    TlsCertificate {
        /// The signer's subject.
        subject: String,
        /// The TLS purpose it names.
        purpose: &'static str,
        /// The role it signed in.
        role: Role,
    },
    /// An extension that decides the role cannot be read.
    #[error("{subject}: unreadable extended key usage extension")]
    Unreadable {
        /// The signer's subject.
        subject: String,
    },
    /// One certificate (by its key) anchors two roles, so a key of one passes for the other.
    #[error(
        "{subject} is a trust anchor of both the {first} and the {second}: \
         a key of one would pass for the other; give each role its own CA"
    )]
    SharedAnchor {
        /// The anchor's subject.
        subject: String,
        /// One role.
        first: Role,
        /// The other role.
        second: Role,
    },
    /// A key of one role chains to another role's anchors.
    #[error(
        "the {role} {subject} chains to the {anchored}'s trust anchors: \
         its key would pass for a {anchored}; give each role its own CA"
    )]
    CrossedRoles {
        /// The certificate's subject.
        subject: String,
        /// Its role.
        role: Role,
        /// The role whose anchors it chains to.
        anchored: Role,
    },
    /// Two roles' certificates are issued by the same CA, which therefore anchors both.
    #[error(
        "the {first} and the {second} are both issued by {issuer}: \
         a device anchoring one would accept the other; give each role its own CA"
    )]
    SharedIssuer {
        /// The common issuer.
        issuer: String,
        /// One role.
        first: Role,
        /// The other role.
        second: Role,
    },
    /// Two roles use the same key.
    #[error("the {first} and the {second} use the same key")]
    SharedKey {
        /// One role.
        first: Role,
        /// The other role.
        second: Role,
    },
}

/// Checks that `signer` may sign content as `role`: an end entity whose key usage allows
/// digital signatures; the manufacturer's voucher and license signers moreover carry no TLS
/// purpose, so that neither the server's TLS key nor a device's IDevID signs in their place
/// even under a misconfigured anchor.
pub fn check_signer(signer: &Cert, role: Role) -> Result<(), RoleError> {
    let subject = || signer.subject();
    if signer.is_ca() {
        return Err(RoleError::CertificateAuthority {
            subject: subject(),
            role,
        });
    }
    if !signer.may_sign_data() {
        return Err(RoleError::NoDigitalSignature {
            subject: subject(),
            role,
        });
    }
    if matches!(role, Role::VoucherSigner | Role::LicenseSigner) {
        let usages = signer
            .extended_key_usages()
            .ok_or_else(|| RoleError::Unreadable { subject: subject() })?;
        if let Some(purpose) = usages.iter().find_map(|usage| tls_purpose(*usage)) {
            return Err(RoleError::TlsCertificate {
                subject: subject(),
                purpose,
                role,
            });
        }
    }
    Ok(())
}

fn tls_purpose(usage: ObjectIdentifier) -> Option<&'static str> {
    match usage {
        oid::ID_KP_SERVER_AUTH => Some("serverAuth"),
        oid::ID_KP_CLIENT_AUTH => Some("clientAuth"),
        _ => None,
    }
}

/// The first certificate that is an anchor of both lists (the same key counts as the same
/// anchor, however it is certified).
pub fn shared_anchor<'a>(first: &'a [Cert], second: &[Cert]) -> Option<&'a Cert> {
    first.iter().find(|a| {
        second
            .iter()
            .any(|b| match (a.public_key_der(), b.public_key_der()) {
                (Ok(a), Ok(b)) => a == b,
                _ => a == &b,
            })
    })
}

/// Checks that no certificate anchors two of `roles`.
pub fn distinct_anchors(roles: &[(Role, &[Cert])]) -> Result<(), RoleError> {
    for (i, (first, a)) in roles.iter().enumerate() {
        for (second, b) in &roles[i + 1..] {
            if let Some(anchor) = shared_anchor(a, b) {
                return Err(RoleError::SharedAnchor {
                    subject: anchor.subject(),
                    first: *first,
                    second: *second,
                });
            }
        }
    }
    Ok(())
}

/// Whether `leaf` (with `intermediates`) chains to one of `anchors` at `at`.
pub fn chains_to(
    leaf: &Cert,
    intermediates: &[Cert],
    anchors: &[Cert],
    at: OffsetDateTime,
) -> bool {
    if anchors.is_empty() {
        return false;
    }
    let policy = TrustPolicy {
        anchors,
        extra_certificates: intermediates,
        at,
    };
    cms::verify_certificate(leaf, &policy).is_ok()
}

/// The certificates of the manufacturer's roles, as a bootstrap server is configured with them.
#[derive(Debug, Clone, Copy)]
pub struct ManufacturerRoles<'a> {
    /// The anchors device IDevIDs must chain to.
    pub device_anchors: &'a [Cert],
    /// Intermediate CAs of device IDevIDs.
    pub device_intermediates: &'a [Cert],
    /// The voucher signer's chain, leaf first.
    pub voucher_signer: &'a [Cert],
    /// The license signer's chain, leaf first.
    pub license_signer: &'a [Cert],
    /// The TLS server certificate chain, leaf first.
    pub tls_server: &'a [Cert],
}

impl ManufacturerRoles<'_> {
    /// Checks that no role's key can pass for another's: the voucher signer, the license
    /// signer and the TLS server are each issued by a CA of their own (which devices anchor
    /// for that role alone), none of them by a CA that issues IDevIDs, none of them chains to
    /// the device anchors, and no two share a key.
    pub fn check(&self, at: OffsetDateTime) -> Result<(), RoleError> {
        let signers = [
            (Role::VoucherSigner, self.voucher_signer),
            (Role::LicenseSigner, self.license_signer),
            (Role::TlsServer, self.tls_server),
        ];
        let leaves: Vec<(Role, &Cert, &[Cert])> = signers
            .iter()
            .filter_map(|(role, chain)| chain.split_first().map(|(leaf, up)| (*role, leaf, up)))
            .collect();
        for (role, leaf, up) in &leaves {
            let intermediates = [*up, self.device_intermediates].concat();
            if chains_to(leaf, &intermediates, self.device_anchors, at) {
                return Err(RoleError::CrossedRoles {
                    subject: leaf.subject(),
                    role: *role,
                    anchored: Role::DeviceIdentity,
                });
            }
            let idevid_issuers = self.device_anchors.iter().chain(self.device_intermediates);
            if let Some(ca) = idevid_issuers
                .into_iter()
                .find(|ca| ca.subject() == leaf.issuer())
            {
                return Err(RoleError::SharedIssuer {
                    issuer: ca.subject(),
                    first: *role,
                    second: Role::DeviceIdentity,
                });
            }
        }
        for (i, (first, a, _)) in leaves.iter().enumerate() {
            for (second, b, _) in &leaves[i + 1..] {
                if a.issuer() == b.issuer() {
                    return Err(RoleError::SharedIssuer {
                        issuer: a.issuer(),
                        first: *first,
                        second: *second,
                    });
                }
                if a.public_key_der().ok() == b.public_key_der().ok() {
                    return Err(RoleError::SharedKey {
                        first: *first,
                        second: *second,
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authority::{CertificateAuthority, IdevidSpec, SerialPlacement};
    use crate::identity::{ProductId, Serial};
    use crate::key::KeyAlgorithm;

    const ALG: KeyAlgorithm = KeyAlgorithm::EcdsaP256;

    fn root() -> CertificateAuthority {
        CertificateAuthority::new_root("Root", "Mfg", ALG).unwrap()
    }

    fn idevid(ca: &CertificateAuthority) -> Cert {
        let spec = IdevidSpec {
            serial: Serial::parse("SN-1").unwrap(),
            model: ProductId::parse("uCPE-100").unwrap(),
            placement: SerialPlacement::SerialNumber,
            hardware_module_name: false,
            key_algorithm: ALG,
        };
        ca.issue_idevid(&spec).unwrap().0
    }

    #[test]
    fn a_signing_certificate_signs_in_every_content_role() {
        let (signer, _) = root().issue_signer("Signer", "Mfg", ALG).unwrap();
        for role in [Role::VoucherSigner, Role::LicenseSigner, Role::OwnerSigner] {
            assert_eq!(check_signer(&signer, role), Ok(()), "{role}");
        }
    }

    #[test]
    fn a_tls_server_certificate_signs_neither_vouchers_nor_licenses() {
        let (tls, _) = root().issue_tls_server(&["localhost".into()], ALG).unwrap();
        for role in [Role::VoucherSigner, Role::LicenseSigner] {
            assert!(
                matches!(
                    check_signer(&tls, role),
                    Err(RoleError::TlsCertificate {
                        purpose: "serverAuth",
                        ..
                    })
                ),
                "{role}"
            );
        }
    }

    #[test]
    fn a_key_whose_usage_forbids_signatures_signs_no_content() {
        let mut params = rcgen::CertificateParams::new(vec!["x".to_owned()]).unwrap();
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyEncipherment];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = Cert::from_der(params.self_signed(&key).unwrap().der().to_vec()).unwrap();
        assert!(matches!(
            check_signer(&cert, Role::OwnerSigner),
            Err(RoleError::NoDigitalSignature { .. })
        ));
    }

    #[test]
    fn a_ca_certificate_signs_no_content() {
        let ca = root();
        let sub = ca.new_subordinate("Sub", "Mfg", ALG).unwrap();
        assert!(matches!(
            check_signer(sub.cert(), Role::VoucherSigner),
            Err(RoleError::CertificateAuthority { .. })
        ));
    }

    #[test]
    fn an_idevid_signs_no_voucher_when_it_names_a_tls_purpose_or_forbids_signatures() {
        let device = idevid(&root());
        let verdict = check_signer(&device, Role::VoucherSigner);
        // The IDevID profile names clientAuth; were it issued without, its key usage still
        // decides. Either way, it is refused.
        assert!(
            matches!(
                verdict,
                Err(RoleError::TlsCertificate { .. } | RoleError::NoDigitalSignature { .. })
            ),
            "{verdict:?}"
        );
    }

    #[test]
    fn one_anchor_of_two_roles_is_refused() {
        let (a, b) = (root(), root());
        let first = [a.cert().clone()];
        let other = [b.cert().clone()];
        let again = [b.cert().clone(), a.cert().clone()];
        assert!(
            distinct_anchors(&[(Role::VoucherSigner, &first), (Role::TlsServer, &other)]).is_ok()
        );
        assert!(matches!(
            distinct_anchors(&[
                (Role::VoucherSigner, &first),
                (Role::TlsServer, &other),
                (Role::LicenseSigner, &again),
            ]),
            Err(RoleError::SharedAnchor {
                first: Role::VoucherSigner,
                second: Role::LicenseSigner,
                ..
            })
        ));
    }

    struct Manufacturer {
        root: CertificateAuthority,
        idevid_ca: CertificateAuthority,
        voucher: Vec<Cert>,
        license: Vec<Cert>,
        tls: Vec<Cert>,
    }

    fn manufacturer() -> Manufacturer {
        let root = root();
        let idevid_ca = root.new_subordinate("IDevID CA", "Mfg", ALG).unwrap();
        let signer = |name: &str| {
            let ca = root
                .new_subordinate(&format!("{name} CA"), "Mfg", ALG)
                .unwrap();
            let (cert, _) = ca.issue_signer(name, "Mfg", ALG).unwrap();
            vec![cert, ca.cert().clone()]
        };
        let (voucher, license) = (signer("Voucher"), signer("License"));
        let (tls, _) = root.issue_tls_server(&["localhost".into()], ALG).unwrap();
        Manufacturer {
            idevid_ca,
            voucher,
            license,
            tls: vec![tls],
            root,
        }
    }

    fn roles<'a>(m: &'a Manufacturer, device_anchors: &'a [Cert]) -> ManufacturerRoles<'a> {
        ManufacturerRoles {
            device_anchors,
            device_intermediates: &[],
            voucher_signer: &m.voucher,
            license_signer: &m.license,
            tls_server: &m.tls,
        }
    }

    #[test]
    fn a_manufacturer_with_a_ca_per_role_passes() {
        let m = manufacturer();
        let anchors = [m.idevid_ca.cert().clone()];
        assert_eq!(roles(&m, &anchors).check(OffsetDateTime::now_utc()), Ok(()));
    }

    #[test]
    fn device_anchors_that_also_anchor_a_signer_are_refused() {
        let m = manufacturer();
        let anchors = [m.root.cert().clone()];
        assert!(matches!(
            roles(&m, &anchors).check(OffsetDateTime::now_utc()),
            Err(RoleError::CrossedRoles {
                anchored: Role::DeviceIdentity,
                ..
            })
        ));
    }

    #[test]
    fn signers_that_share_an_issuer_are_refused() {
        let m = manufacturer();
        let anchors = [m.idevid_ca.cert().clone()];
        // The license signer issued by the voucher signers' CA.
        let (cert, _) = m.root.issue_signer("License", "Mfg", ALG).unwrap();
        let (tls_issued_license, voucher_issued_license) =
            (vec![cert], vec![m.voucher[0].clone(), m.voucher[1].clone()]);
        for license in [tls_issued_license, voucher_issued_license] {
            let crossed = ManufacturerRoles {
                license_signer: &license,
                ..roles(&m, &anchors)
            };
            assert!(
                matches!(
                    crossed.check(OffsetDateTime::now_utc()),
                    Err(RoleError::SharedIssuer { .. } | RoleError::SharedKey { .. })
                ),
                "{}",
                license[0].issuer()
            );
        }
        // A voucher signer issued by the IDevID CA.
        let (cert, _) = m.idevid_ca.issue_signer("Voucher", "Mfg", ALG).unwrap();
        let voucher = [cert];
        let crossed = ManufacturerRoles {
            voucher_signer: &voucher,
            ..roles(&m, &anchors)
        };
        assert!(matches!(
            crossed.check(OffsetDateTime::now_utc()),
            Err(RoleError::CrossedRoles { .. } | RoleError::SharedIssuer { .. })
        ));
    }

    #[test]
    fn chains_to_follows_intermediates_to_an_anchor() {
        let root = root();
        let idevid_ca = root.new_subordinate("IDevID CA", "Mfg", ALG).unwrap();
        let device = idevid(&idevid_ca);
        let at = OffsetDateTime::now_utc();
        let chain = [idevid_ca.cert().clone()];
        assert!(chains_to(&device, &chain, &[root.cert().clone()], at));
        assert!(chains_to(&device, &[], &[idevid_ca.cert().clone()], at));
        assert!(!chains_to(&device, &[], &[root.cert().clone()], at));
        assert!(!chains_to(&device, &chain, &[], at));
    }
}
