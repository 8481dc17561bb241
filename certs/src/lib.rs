//! ztp's public-key infrastructure: the manufacturer's and the owners' certificates, device
//! identities, ownership vouchers and CMS signatures.
//!
//! Everything here is a pure function over DER, PEM and keys, except [`dev_pki`], which writes
//! a development PKI to a directory. Certificates are generated with rcgen and read with
//! x509-cert; CMS structures come from the `cms` crate; signatures are made and checked with
//! aws-lc-rs (the same provider rustls uses), and certificate paths are validated by
//! rustls-webpki.
//!
//! # Layout
//! - [`key`]: key pairs ([`KeyAlgorithm`], [`SigningKey`]) and the signature algorithms CMS names.
//! - [`cert`]: [`Cert`], a parsed certificate with the facts ztp shows and checks.
//! - [`authority`]: [`CertificateAuthority`] and the certificate profiles ztp issues
//!   (root and issuing CAs, IDevIDs, signers, TLS servers) and CRLs.
//! - [`identity`]: [`DeviceIdentity`], the serial (and product id) a device certificate names.
//! - [`pkcs11`]: [`Pkcs11Key`], a signing key held by an HSM and named by RFC 7512 URI
//!   ([`Pkcs11Uri`]); the one module that loads a library and reads a (PIN) file.
//! - [`cms`]: SignedData signing, certificate bags and verification against trust anchors.
//! - [`voucher`]: RFC 8366 ownership vouchers, signed and verified.
//! - [`dev_pki`]: a complete development PKI on disk.
//! - [`role`]: the roles keys play (voucher, license, TLS, device, owner) and the checks that
//!   keep one role's key from passing for another's.
//! - [`oid`]: the object identifiers of RFC 8572, RFC 8366 and friends.
//! - [`error`]: the error types, one per concern.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod authority;
pub mod cert;
pub mod cms;
pub mod crl;
pub mod dev_pki;
pub mod error;
pub mod identity;
pub mod key;
pub mod oid;
pub mod pkcs11;
pub mod role;
pub mod voucher;

pub use crate::cms::{Signer, SignerKey, TrustPolicy, Verified};
pub use authority::{CertificateAuthority, IdevidSpec, Revocation, SerialPlacement};
pub use cert::{Cert, Fingerprint};
pub use error::{CmsError, IdentityError, PkiError, VoucherError};
pub use identity::{DeviceIdentity, ProductId, Serial, SerialSource};
pub use key::{KeyAlgorithm, SigningKey};
pub use pkcs11::{Pkcs11Key, Pkcs11Uri};
pub use role::{Role, RoleError};
pub use voucher::{Assertion, Voucher};
