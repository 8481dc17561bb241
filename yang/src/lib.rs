//! YANG modules ztp speaks and typed XML/JSON documents built on them.
//!
//! Pure: no I/O apart from [`modules::write_all`].
//!
//! # Layout
//!
//! - [`modules`]: the YANG module texts (IETF and ztp's own), embedded, with namespaces.
//! - [`encoding`]: [`Encoding`] (XML or JSON) and the [`Document`] trait every document
//!   implements: `to_xml`/`to_json`, `from_xml`/`from_json`, `encode`/`decode`, `validate`.
//! - [`error`]: [`DecodeError`] (why bytes are not a document) and [`ValidationError`] (why a
//!   value breaks a schema constraint).
//! - [`bootstrap`]: `get-bootstrapping-data` input and output (with the license augment).
//! - [`progress`]: `report-progress` input and the 27 progress types.
//! - [`conveyed`]: conveyed information, redirect or onboarding.
//! - [`csr`]: RFC 9646's CSR support, CSR and csr-request in the bootstrap exchange.
//! - [`registration`]: the device registration document uploaded to NMSes.
//! - [`licenses`]: the node-locked license bundle.
//! - [`restconf_errors`]: `ietf-restconf:errors` documents.
//! - [`library`]: the YANG library (RFC 8525) of the device API.
//!
//! # Example
//!
//! ```
//! use ztp_yang::{BootstrapServer, ConveyedInformation, Document, Encoding, RedirectInformation};
//!
//! let redirect = ConveyedInformation::Redirect(RedirectInformation {
//!     bootstrap_servers: vec![BootstrapServer::new("nms.customer.example")],
//! });
//! let json = redirect.encode_checked(Encoding::Json)?;
//! assert_eq!(
//!     json,
//!     r#"{"ietf-sztp-conveyed-info:redirect-information":{"bootstrap-server":[{"address":"nms.customer.example","port":443}]}}"#
//! );
//! assert_eq!(ConveyedInformation::from_json(json.as_bytes())?, redirect);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Internals: `tree` (schema-neutral data tree and the strict member reader), `xml` and `json`
//! (the two wire encodings to and from the tree), `types` (YANG types: binary, date-and-time,
//! hex-string, inet:host, identityrefs).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod binary;
pub mod bootstrap;
pub mod conveyed;
pub mod csr;
pub mod encoding;
pub mod error;
mod json;
pub mod library;
pub mod licenses;
pub mod modules;
pub mod progress;
pub mod registration;
pub mod restconf_errors;
mod tree;
mod types;
mod xml;

pub use binary::Binary;
pub use bootstrap::{
    GetBootstrappingDataInput, GetBootstrappingDataOutput, Nonce, Ownership, ReportingLevel,
};
pub use conveyed::{
    BootImage, BootstrapServer, Configuration, ConfigurationHandling, ConveyedInformation,
    HashAlgorithm, ImageVerification, OnboardingInformation, RedirectInformation,
};
pub use csr::{Csr, CsrFormat, CsrMessage, CsrRequest, CsrSupport, InputWithCsr};
pub use encoding::{DEFAULT_MAX_INPUT, Document, Encoding};
pub use error::{DecodeError, ValidationError};
pub use library::YangLibrary;
pub use licenses::{License, LicenseBundle, LicenseType, NodeLock};
pub use modules::Module;
pub use progress::{ProgressType, ReportProgressInput, SshHostKey};
pub use registration::DeviceRegistration;
pub use restconf_errors::{ErrorInfo, ErrorTag, ErrorType, RestconfError, RestconfErrors};
