//! One SSH connection with one SFTP channel to an NMS: pinned host key, authentication, atomic
//! uploads.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use russh::client::{self, Handle};
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect};
use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, Packet, StatusCode};
use tokio::net::{TcpStream, lookup_host};
use tracing::{debug, info, warn};

use crate::endpoint::{AddressFilter, Auth, Endpoint};
use crate::error::{AuthMethod, Error, InvalidInput, Step};
use crate::file_name::check_remote_name;
use crate::fingerprint::Fingerprint;

/// OpenSSH's atomic rename-over extension.
const POSIX_RENAME: &str = "posix-rename@openssh.com";
/// OpenSSH's fsync extension, used so that a renamed file is on disk.
const FSYNC: &str = "fsync@openssh.com";
/// Size of one SFTP write; every server accepts 32 KiB.
const WRITE_CHUNK: usize = 32 * 1024;

/// An authenticated SSH connection to one endpoint with an SFTP channel open.
///
/// Obtained with [`Session::connect`]. After an error the session may be unusable; callers that
/// keep sessions (see [`Pool`](crate::Pool)) drop it and connect again.
pub struct Session {
    handle: Handle<HostKeyCheck>,
    sftp: RawSftpSession,
    endpoint: Endpoint,
    posix_rename: bool,
    fsync: bool,
}

impl Session {
    /// Connects, checks the server's host key against [`Endpoint::pins`] before authenticating,
    /// authenticates and starts SFTP.
    ///
    /// A host key that matches no pin gives [`Error::HostKeyMismatch`] and the connection is
    /// dropped before any credential is sent; refused credentials give
    /// [`Error::AuthRejected`]. Each step is bounded by [`Endpoint::timeouts`].
    #[tracing::instrument(name = "nms_connect", skip_all, fields(address = %endpoint.address()))]
    pub async fn connect(endpoint: &Endpoint) -> Result<Self, Error> {
        let tcp = tcp_connect(
            &endpoint.host,
            endpoint.port,
            &endpoint.address_filter,
            endpoint.timeouts.connect,
        )
        .await?;
        let (mut handle, presented) =
            handshake(tcp, &endpoint.pins, endpoint.timeouts.connect).await?;
        authenticate(&mut handle, endpoint).await?;
        let session = start_sftp(handle, endpoint).await?;
        info!(%presented, user = %endpoint.username, "connected to NMS");
        Ok(session)
    }

    /// Writes `bytes` to `name` in the endpoint's directory, atomically.
    ///
    /// The content goes to a hidden temporary file (`.<name>.<random>.tmp`) first, which then
    /// replaces `<name>` in one rename (`posix-rename@openssh.com`; servers without it get a
    /// remove and a plain rename). Readers see the old file or the new one, never a part. On
    /// failure the temporary file is removed if possible. Delivering the same name and content
    /// again leaves the same single file.
    ///
    /// `name` must pass [`check_remote_name`]; [`file_name`](crate::file_name()) makes such names
    /// from device serials.
    pub async fn upload(&mut self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        check_remote_name(name)?;
        let target = self.endpoint.remote_path(name);
        let temp = self
            .endpoint
            .remote_path(&format!(".{name}.{}.tmp", random_suffix()));
        let result = self.write_then_rename(&temp, &target, bytes).await;
        match &result {
            Ok(()) => debug!(path = %target, bytes = bytes.len(), "uploaded"),
            // A server that stopped answering will not answer a removal either; the session is
            // discarded and the hidden temporary file is left behind.
            Err(Error::Timeout { .. }) => {}
            Err(_) if self.handle.is_closed() => {}
            Err(_) => {
                // Best effort: the error that matters is the one already in hand.
                let removal = self.sftp.remove(temp.clone());
                if let Err(e) = self.op("remove", &temp, removal).await {
                    debug!(path = %temp, error = %e, "temporary file not removed");
                }
            }
        }
        result
    }

    /// Removes `name` from the endpoint's directory.
    pub async fn remove(&mut self, name: &str) -> Result<(), Error> {
        check_remote_name(name)?;
        let path = self.endpoint.remote_path(name);
        self.op("remove", &path, self.sftp.remove(path.clone()))
            .await
            .map(drop)
    }

    /// Whether the connection is known to be gone. A session that is not closed can still fail
    /// on its next request.
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Ends the SFTP channel and the connection politely.
    pub async fn close(self) -> Result<(), Error> {
        // The SFTP stream closing is only a courtesy before the disconnect.
        let _ = self.sftp.close_session();
        let after = self.endpoint.timeouts.operation;
        match tokio::time::timeout(
            after,
            self.handle
                .disconnect(Disconnect::ByApplication, "delivery finished", "en"),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(Error::Ssh {
                step: Step::Disconnect,
                source,
            }),
            Err(_) => Err(Error::Timeout {
                step: Step::Disconnect,
                after,
            }),
        }
    }

    async fn write_then_rename(&self, temp: &str, target: &str, bytes: &[u8]) -> Result<(), Error> {
        let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::EXCLUDE;
        let handle = self
            .op(
                "open",
                temp,
                self.sftp
                    .open(temp.to_owned(), flags, FileAttributes::empty()),
            )
            .await?
            .handle;
        let written = self.write_all(&handle, temp, bytes).await;
        let closed = self.op("close", temp, self.sftp.close(handle)).await;
        written?;
        closed?;
        self.rename_over(temp, target).await
    }

    async fn write_all(&self, handle: &str, path: &str, bytes: &[u8]) -> Result<(), Error> {
        let mut offset = 0u64;
        for chunk in bytes.chunks(WRITE_CHUNK) {
            self.op(
                "write",
                path,
                self.sftp.write(handle.to_owned(), offset, chunk.to_vec()),
            )
            .await?;
            offset += chunk.len() as u64;
        }
        if self.fsync {
            self.op("fsync", path, self.sftp.fsync(handle.to_owned()))
                .await?;
        }
        Ok(())
    }

    async fn rename_over(&self, temp: &str, target: &str) -> Result<(), Error> {
        if self.posix_rename {
            let mut data = Vec::with_capacity(8 + temp.len() + target.len());
            put_ssh_string(&mut data, temp);
            put_ssh_string(&mut data, target);
            let reply = self
                .op(
                    "posix-rename",
                    target,
                    self.sftp.extended(POSIX_RENAME, data),
                )
                .await?;
            return match reply {
                Packet::Status(status) if status.status_code == StatusCode::Ok => Ok(()),
                Packet::Status(status) => Err(Error::Sftp {
                    operation: "posix-rename",
                    path: target.to_owned(),
                    source: SftpError::Status(status),
                }),
                _ => Err(Error::Sftp {
                    operation: "posix-rename",
                    path: target.to_owned(),
                    source: SftpError::UnexpectedPacket,
                }),
            };
        }
        // Plain SFTP rename refuses an existing target on OpenSSH-like servers: make room
        // first. Not atomic, which is why the extension is preferred.
        if self
            .op("rename", target, self.sftp.rename(temp, target))
            .await
            .is_ok()
        {
            return Ok(());
        }
        warn!(path = %target, "server lacks {POSIX_RENAME}; replacing by remove and rename");
        match self
            .op("remove", target, self.sftp.remove(target.to_owned()))
            .await
        {
            Ok(_) => {}
            Err(Error::Sftp {
                source: SftpError::Status(status),
                ..
            }) if status.status_code == StatusCode::NoSuchFile => {}
            Err(e) => return Err(e),
        }
        self.op("rename", target, self.sftp.rename(temp, target))
            .await
            .map(drop)
    }

    /// Runs one SFTP request under the operation time limit.
    async fn op<T>(
        &self,
        operation: &'static str,
        path: &str,
        request: impl Future<Output = Result<T, SftpError>>,
    ) -> Result<T, Error> {
        let after = self.endpoint.timeouts.operation;
        match tokio::time::timeout(after, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(SftpError::Timeout)) | Err(_) => Err(Error::Timeout {
                step: Step::SftpOperation,
                after,
            }),
            Ok(Err(source)) => Err(Error::Sftp {
                operation,
                path: path.to_owned(),
                source,
            }),
        }
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("address", &self.endpoint.address())
            .field("posix_rename", &self.posix_rename)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Connects to an SSH server at an address `filter` admits, reads the fingerprint of the host
/// key it presents and disconnects without authenticating.
///
/// An admin helper: compare the result with the fingerprint the NMS administrator gave you
/// (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the server). It is **not** a trust
/// decision; pinning whatever a server presents on first contact would let anyone in the
/// network path impersonate the NMS.
pub async fn presented_fingerprint(
    host: &str,
    port: u16,
    filter: &AddressFilter,
    timeout: Duration,
) -> Result<Fingerprint, Error> {
    let tcp = tcp_connect(host, port, filter, timeout).await?;
    let check = HostKeyCheck::new(Vec::new());
    let presented = Arc::clone(&check.presented);
    let outcome = run_handshake(tcp, check, timeout).await;
    if let Some(fingerprint) = presented.get() {
        return Ok(*fingerprint);
    }
    match outcome {
        Err(e) => Err(e),
        // Unreachable in practice: with no pins the check refuses every key.
        Ok(_) => Err(Error::Ssh {
            step: Step::Handshake,
            source: russh::Error::UnknownKey,
        }),
    }
}

/// Resolves `host`, keeps the addresses `filter` admits and opens a TCP connection to the first
/// of them that accepts, all within `timeout`. When the filter refuses every address, nothing
/// is connected to.
pub(crate) async fn tcp_connect(
    host: &str,
    port: u16,
    filter: &AddressFilter,
    timeout: Duration,
) -> Result<TcpStream, Error> {
    let address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let connect = async {
        let connect_error = |source| Error::Connect {
            address: address.clone(),
            source,
        };
        let resolved: Vec<SocketAddr> = lookup_host((host, port))
            .await
            .map_err(connect_error)?
            .collect();
        let mut refusals: Vec<String> = Vec::new();
        let admitted: Vec<SocketAddr> = resolved
            .into_iter()
            .filter(|a| match filter.check(a.ip()) {
                Ok(()) => true,
                Err(reason) => {
                    if !refusals.contains(&reason) {
                        refusals.push(reason);
                    }
                    false
                }
            })
            .collect();
        if admitted.is_empty() && !refusals.is_empty() {
            return Err(Error::AddressNotAllowed {
                address: address.clone(),
                reason: refusals.join("; "),
            });
        }
        TcpStream::connect(&admitted[..])
            .await
            .map_err(connect_error)
    };
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(tcp)) => {
            // Small request/response exchanges: do not wait for Nagle.
            let _ = tcp.set_nodelay(true);
            Ok(tcp)
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::Timeout {
            step: Step::TcpConnect,
            after: timeout,
        }),
    }
}

/// Runs the SSH handshake, accepting only a host key in `pins`; returns the connection and the
/// fingerprint of the (pinned) key the server presented.
pub(crate) async fn handshake(
    tcp: TcpStream,
    pins: &[Fingerprint],
    timeout: Duration,
) -> Result<(Handle<HostKeyCheck>, Fingerprint), Error> {
    if pins.is_empty() {
        return Err(InvalidInput::NoPins.into());
    }
    let check = HostKeyCheck::new(pins.to_vec());
    let presented = Arc::clone(&check.presented);
    let outcome = run_handshake(tcp, check, timeout).await;
    match (presented.get(), outcome) {
        (Some(fingerprint), _) if !fingerprint.is_pinned(pins) => Err(Error::HostKeyMismatch {
            presented: *fingerprint,
            pins: pins.to_vec(),
        }),
        (Some(fingerprint), Ok(handle)) => Ok((handle, *fingerprint)),
        (None, Ok(_)) => Err(Error::Ssh {
            step: Step::Handshake,
            source: russh::Error::UnknownKey,
        }),
        (_, Err(e)) => Err(e),
    }
}

async fn run_handshake(
    tcp: TcpStream,
    check: HostKeyCheck,
    timeout: Duration,
) -> Result<Handle<HostKeyCheck>, Error> {
    let config = Arc::new(client::Config {
        nodelay: true,
        ..client::Config::default()
    });
    match tokio::time::timeout(timeout, client::connect_stream(config, tcp, check)).await {
        Ok(Ok(handle)) => Ok(handle),
        Ok(Err(source)) => Err(Error::Ssh {
            step: Step::Handshake,
            source,
        }),
        Err(_) => Err(Error::Timeout {
            step: Step::Handshake,
            after: timeout,
        }),
    }
}

/// Authenticates with the endpoint's credentials within its auth time limit.
pub(crate) async fn authenticate(
    handle: &mut Handle<HostKeyCheck>,
    endpoint: &Endpoint,
) -> Result<(), Error> {
    let after = endpoint.timeouts.auth;
    let user = endpoint.username.clone();
    let attempt = async {
        match &endpoint.auth {
            Auth::Password(password) => handle
                .authenticate_password(user, password.clone())
                .await
                .map(|result| (AuthMethod::Password, result)),
            Auth::Key(key) => {
                let key = key.private_key();
                let hash = if key.algorithm().is_rsa() {
                    // `None` (server-sig-algs not announced) means legacy ssh-rsa.
                    handle.best_supported_rsa_hash().await?.flatten()
                } else {
                    None
                };
                handle
                    .authenticate_publickey(user, PrivateKeyWithHashAlg::new(key, hash))
                    .await
                    .map(|result| (AuthMethod::PublicKey, result))
            }
        }
    };
    match tokio::time::timeout(after, attempt).await {
        Ok(Ok((_, result))) if result.success() => Ok(()),
        Ok(Ok((method, _))) => Err(Error::AuthRejected { method }),
        Ok(Err(source)) => Err(Error::Ssh {
            step: Step::Authentication,
            source,
        }),
        Err(_) => Err(Error::Timeout {
            step: Step::Authentication,
            after,
        }),
    }
}

/// Opens a session channel, starts the SFTP subsystem and learns the server's extensions.
pub(crate) async fn start_sftp(
    handle: Handle<HostKeyCheck>,
    endpoint: &Endpoint,
) -> Result<Session, Error> {
    let after = endpoint.timeouts.operation;
    let start = async {
        let mut channel = handle
            .channel_open_session()
            .await
            .map_err(|source| Error::Ssh {
                step: Step::SftpStart,
                source,
            })?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(|source| Error::Ssh {
                step: Step::SftpStart,
                source,
            })?;
        loop {
            match channel.wait().await {
                Some(ChannelMsg::Success) => break,
                Some(ChannelMsg::Failure) | None => return Err(Error::SftpUnavailable),
                Some(_) => {}
            }
        }
        let sftp = RawSftpSession::new(channel.into_stream());
        // The library's own per-request limit, in whole seconds; `op` applies the exact one.
        sftp.set_timeout(after.as_secs().max(1) + 1);
        let version = sftp.init().await.map_err(|source| Error::Sftp {
            operation: "init",
            path: String::new(),
            source,
        })?;
        Ok((sftp, version))
    };
    let (sftp, version) = match tokio::time::timeout(after, start).await {
        Ok(started) => started?,
        Err(_) => {
            return Err(Error::Timeout {
                step: Step::SftpStart,
                after,
            });
        }
    };
    let posix_rename = version.extensions.contains_key(POSIX_RENAME);
    let fsync = version.extensions.contains_key(FSYNC);
    debug!(
        address = %endpoint.address(),
        version = version.version,
        posix_rename,
        fsync,
        "sftp session started"
    );
    Ok(Session {
        handle,
        sftp,
        endpoint: endpoint.clone(),
        posix_rename,
        fsync,
    })
}

/// The russh client handler: records the presented host key and accepts it only if pinned.
pub(crate) struct HostKeyCheck {
    pins: Vec<Fingerprint>,
    presented: Arc<OnceLock<Fingerprint>>,
}

impl HostKeyCheck {
    fn new(pins: Vec<Fingerprint>) -> Self {
        Self {
            pins,
            presented: Arc::new(OnceLock::new()),
        }
    }
}

impl client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let presented = Fingerprint::of_presented(server_public_key);
        // Only the first key exchange's key is recorded; later ones are checked all the same.
        let _ = self.presented.set(presented);
        let pinned = presented.is_pinned(&self.pins);
        if !pinned && !self.pins.is_empty() {
            warn!(%presented, "host key matches no pin; disconnecting before authentication");
        }
        Ok(pinned)
    }
}

/// Appends an SSH `string` (big-endian u32 length, then the bytes).
fn put_ssh_string(out: &mut Vec<u8>, value: &str) {
    // SFTP paths come from checked names and configuration; a path over 4 GiB cannot be built.
    let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value.as_bytes());
}

/// 16 hex digits, unique enough that concurrent uploads of one name never share a temp file.
pub(crate) fn random_suffix() -> String {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // Without randomness a counter and the clock still keep this process's names apart.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed) ^ (u64::from(nanos) << 32);
        bytes = n.to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_strings_are_length_prefixed() {
        let mut out = Vec::new();
        put_ssh_string(&mut out, "ab");
        put_ssh_string(&mut out, "");
        assert_eq!(out, [0, 0, 0, 2, b'a', b'b', 0, 0, 0, 0]);
    }

    #[test]
    fn suffixes_differ() {
        let a = random_suffix();
        assert_eq!(a.len(), 16);
        assert_ne!(a, random_suffix());
    }
}
