//! SFTP delivery of device registration files to customer NMSes.
//!
//! The server hands a registration (a file name and its bytes) to this crate, which writes it
//! into a directory on the customer's SFTP server: the server's host key is checked against
//! fingerprints pinned by the administrator before any credential is sent, and each file appears
//! atomically (temporary hidden file, then one rename over the target).
//!
//! # Layout
//! - [`fingerprint`]: [`Fingerprint`], OpenSSH SHA-256 host key fingerprints, strictly parsed.
//! - [`endpoint`]: [`Endpoint`], one NMS account ([`Auth`], pins, directory, [`Timeouts`],
//!   the [`AddressFilter`] its host's addresses must pass).
//! - [`key`]: [`ClientKey`] and [`generate_client_key`], the connector's own ed25519 key.
//! - [`file_name`](mod@file_name): [`file_name()`], `<serial>.xml` of a device's typed serial.
//! - [`session`]: [`Session`], one connection with SFTP: connect, upload, remove, close; and
//!   [`presented_fingerprint`], an admin helper.
//! - [`pool`]: [`Pool`], bounded reusable sessions per endpoint.
//! - [`probe`](mod@probe): [`probe()`], an administrator's "test connection" with a
//!   [`ProbeReport`].
//! - [`error`]: [`Error`] and [`InvalidInput`].
//!
//! # Example
//! ```no_run
//! # async fn example(pem: &str) -> Result<(), ztp_nms_connector::Error> {
//! use ztp_nms_connector::{Auth, ClientKey, Endpoint, Fingerprint, Pool, file_name};
//!
//! let pin = Fingerprint::parse("SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s")?;
//! let key = ClientKey::from_openssh_pem(pem)?;
//! let endpoint = Endpoint::new("nms.example.net", "ztp", Auth::Key(key), vec![pin], "incoming");
//! let pool = Pool::new(endpoint, 2);
//! let serial = ztp_certs::Serial::parse("FDO1234X0AB").expect("a valid serial");
//! pool.upload(&file_name(&serial), b"<device/>").await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod endpoint;
pub mod error;
pub mod file_name;
pub mod fingerprint;
pub mod key;
pub mod pool;
pub mod probe;
pub mod session;

pub use endpoint::{AddressFilter, Auth, Endpoint, Timeouts};
pub use error::{AuthMethod, Error, InvalidInput, Step};
pub use file_name::{check_remote_name, file_name};
pub use fingerprint::Fingerprint;
pub use key::{ClientKey, generate_client_key};
pub use pool::Pool;
pub use probe::{ProbeReport, ProbeStep, StepOutcome, probe};
pub use session::{Session, presented_fingerprint};
