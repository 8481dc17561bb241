//! Why [`App::build`](super::App::build) refused to start: one variant per step, each with the
//! words the operator reads (`ztp serve` prints the chain of causes).

use std::net::SocketAddr;
use std::path::PathBuf;

use ztp_certs::{PkiError, RoleError};

use crate::auth::device::TrustError;
use crate::store::StoreError;
use crate::tls::TlsError;

/// An error that `ztp serve`'s command line module returns (the master key and the private key
/// files are loaded there, for `ztp secrets` as well): its whole chain of causes.
pub type CommandError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Starting the server failed: the data directory, the trust material, the database or a
/// listener. Nothing is left running when [`App::build`](super::App::build) returns one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The data directory (or the development PKI, the sample inventory, the admin token in it)
    /// could not be prepared.
    #[error(transparent)]
    Seed(#[from] super::seed::SeedError),
    /// The master key could not be loaded or created, or a private key file it seals did not
    /// open (the message names the file and its configuration key).
    #[error(transparent)]
    Secrets(CommandError),
    /// The database did not open or migrate.
    #[error("opening the database")]
    OpenStore(#[source] StoreError),
    /// Secrets sealed under an earlier master key could not be re-sealed under the current one.
    #[error("sealing secrets under the master key")]
    Reseal(#[source] StoreError),
    /// The trust anchors, intermediates or CRLs of device certificates did not load.
    #[error("loading the manufacturer trust anchors and CRLs")]
    DeviceTrust(#[source] TrustError),
    /// A certificate or key file of the manufacturer's PKI did not read or parse.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// A certificate file named by the configuration did not parse as a PEM chain.
    #[error("reading {}", path.display())]
    Certificate {
        /// The file.
        path: PathBuf,
        /// Why it did not parse.
        #[source]
        source: PkiError,
    },
    /// The voucher-signing (MASA) key does not match its certificate chain.
    #[error("loading the voucher-signing (MASA) key")]
    MasaSigner(#[source] PkiError),
    /// The license-signing key does not match its certificate chain.
    #[error("loading the license-signing key")]
    LicenseSigner(#[source] PkiError),
    /// The device listener's TLS certificate or key did not load.
    #[error("loading the device API's TLS certificate")]
    Tls(#[source] TlsError),
    /// The admin listener's TLS certificate, key or client CA did not load.
    #[error(
        "loading the admin API's TLS certificate (admin_api.tls_certificate, tls_key, client_ca)"
    )]
    AdminTls(#[source] TlsError),
    /// One role's key of the manufacturer's PKI could pass for another's.
    #[error(
        "the manufacturer's certificates let one role's key pass for another's \
         (manufacturer.trust_anchors, masa_certificate, license_certificate, \
         device_api.tls_certificate): docs/pki.md shows which CA issues what (only a \
         development PKI made before roles had CAs of their own is fixed by moving its \
         directory away, which has ztp make a new one)"
    )]
    Roles(#[source] RoleError),
    /// A metric family could not be registered (a name taken twice: a defect of this build).
    #[error(transparent)]
    Metrics(#[from] crate::telemetry::metrics::MetricsError),
    /// Another `ztp serve` uses the data directory.
    #[error(transparent)]
    Locked(#[from] super::sockets::LockError),
    /// `[device_api.proxy]` does not describe a usable proxy listener.
    #[error("device_api.proxy: {0}")]
    Proxy(String),
    /// A listener's address could not be bound (in use, not this machine's, not permitted).
    #[error("listening for the {what} on {addr} (set another with {option})")]
    Bind {
        /// Which listener: `device API`, `device API behind a proxy` or `admin API`.
        what: &'static str,
        /// The configured address.
        addr: SocketAddr,
        /// The configuration key (and flag) that sets it.
        option: &'static str,
        /// Why it could not be bound.
        #[source]
        source: std::io::Error,
    },
}
