//! Error types, one per concern, each variant named for what happened.

use std::time::Duration;

use crate::fingerprint::Fingerprint;

/// A value given to the connector (a fingerprint, file name or key) was refused.
///
/// These come from configuration or from device data, never from the network, and retrying does
/// not help: the input must change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidInput {
    /// A host key fingerprint is not in the OpenSSH form `SHA256:<43 characters of base64>`.
    #[error("invalid host key fingerprint: {0}")]
    Fingerprint(String),
    /// A remote file name is not one plain, visible file name of safe characters.
    #[error("invalid remote file name: {0}")]
    FileName(String),
    /// A private key could not be read from OpenSSH PEM, or cannot be used.
    #[error("unusable private key: {0}")]
    PrivateKey(String),
    /// An endpoint has no host key pins: the connector never trusts a host key it was not given.
    #[error("endpoint has no host key pins; ask the NMS administrator for the SHA256 fingerprint")]
    NoPins,
}

/// One network step of a delivery, as named in errors and probe reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Opening the TCP connection.
    TcpConnect,
    /// SSH version exchange, key exchange and the host key check.
    Handshake,
    /// Password or public key authentication.
    Authentication,
    /// Opening the session channel and starting the SFTP subsystem.
    SftpStart,
    /// An SFTP request (open, write, close, rename, remove).
    SftpOperation,
    /// Saying goodbye.
    Disconnect,
}

impl Step {
    /// A short human name for the step.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TcpConnect => "tcp connect",
            Self::Handshake => "ssh handshake",
            Self::Authentication => "authentication",
            Self::SftpStart => "sftp start",
            Self::SftpOperation => "sftp operation",
            Self::Disconnect => "disconnect",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The authentication method that the server refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// Password authentication.
    Password,
    /// Public key authentication.
    PublicKey,
}

/// Delivering to an NMS failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input was refused before anything was sent.
    #[error(transparent)]
    InvalidInput(#[from] InvalidInput),
    /// Every address the host resolves to was refused by the endpoint's
    /// [`AddressFilter`](crate::AddressFilter): no connection was attempted.
    #[error("not connecting to {address}: {reason}")]
    AddressNotAllowed {
        /// `host:port` as configured.
        address: String,
        /// Why each address was refused.
        reason: String,
    },
    /// The TCP connection could not be opened (refused, unreachable, name not resolved).
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// `host:port` as configured.
        address: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A network step did not finish within its time limit.
    #[error("{step} timed out after {after:?}")]
    Timeout {
        /// Which step.
        step: Step,
        /// The limit that was exceeded.
        after: Duration,
    },
    /// The server presented a host key that matches none of the pins. Nothing was sent to it
    /// beyond the key exchange: no user name, no password, no signature, no file.
    #[error(
        "host key mismatch: the server presented {presented}, expected one of [{}]",
        fmt_pins(pins)
    )]
    HostKeyMismatch {
        /// The fingerprint of the key the server presented.
        presented: Fingerprint,
        /// The pins it was checked against.
        pins: Vec<Fingerprint>,
    },
    /// The server refused the credentials.
    #[error("{}", match method {
        AuthMethod::Password => "authentication failed: password rejected",
        AuthMethod::PublicKey => "authentication failed: public key not accepted",
    })]
    AuthRejected {
        /// The method that was tried.
        method: AuthMethod,
    },
    /// The SSH connection failed (protocol error, connection lost, channel refused).
    #[error("ssh {step} failed: {source}")]
    Ssh {
        /// Which step.
        step: Step,
        /// What russh reported.
        source: russh::Error,
    },
    /// The SFTP server refused or failed a request.
    #[error("sftp {operation} {path:?} failed: {source}")]
    Sftp {
        /// The request: "open", "write", "close", "rename", "remove", "init", ...
        operation: &'static str,
        /// The remote path concerned (empty when none).
        path: String,
        /// What the SFTP client reported (a remote status or a transport error).
        source: russh_sftp::client::error::Error,
    },
    /// The SFTP subsystem could not be started on the server.
    #[error("the server did not start the sftp subsystem")]
    SftpUnavailable,
    /// The pool was closed with [`Pool::close`](crate::Pool::close).
    #[error("the session pool is closed")]
    PoolClosed,
    /// A key could not be generated or encoded.
    #[error("key generation failed: {0}")]
    KeyGeneration(String),
}

impl Error {
    /// Whether the same delivery may succeed later without anyone changing the configuration
    /// (network trouble, timeouts, a restarting server), as opposed to errors that need an
    /// administrator (wrong pins, rejected credentials, invalid names).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::InvalidInput(_)
            | Self::HostKeyMismatch { .. }
            | Self::AuthRejected { .. }
            | Self::KeyGeneration(_)
            | Self::PoolClosed => false,
            // Like an unreachable host: the name may resolve elsewhere later, or the filter's
            // owner allow the address.
            Self::AddressNotAllowed { .. }
            | Self::Connect { .. }
            | Self::Timeout { .. }
            | Self::Ssh { .. }
            | Self::Sftp { .. }
            | Self::SftpUnavailable => true,
        }
    }
}

fn fmt_pins(pins: &[Fingerprint]) -> String {
    pins.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
