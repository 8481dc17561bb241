//! The listeners' addresses, bound first: a port in use (or an address not this machine's) is
//! reported, with the option that changes it, before anything is written to the data
//! directory. And the data directory's lock, which a running `ztp serve` holds so that the
//! commands that must not run beside it (`ztp secrets rotate`, `ztp restore`) can tell.
//!
//! May import: `config` (part of the composition root).

use std::fs::{File, OpenOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tokio::net::{TcpListener, TcpSocket};

use super::StartupError;
use crate::config::Config;

/// Pending connections a listener queues before `accept` takes them (what
/// `TcpListener::bind` sets).
const BACKLOG: u32 = 1024;

/// The sockets of the listeners `config` configures, bound and listening.
pub(super) struct Sockets {
    pub(super) device: TcpListener,
    pub(super) proxy: Option<TcpListener>,
    pub(super) admin: TcpListener,
}

impl Sockets {
    /// Binds every listener's address.
    pub(super) fn bind(config: &Config) -> Result<Self, StartupError> {
        let proxy = match &config.device_api.proxy {
            Some(proxy) => Some(listen(
                proxy.listen,
                "device API behind a proxy",
                "device_api.proxy.listen",
            )?),
            None => None,
        };
        Ok(Self {
            device: listen(
                config.device_api.listen,
                "device API",
                "device_api.listen or --listen",
            )?,
            proxy,
            admin: listen(
                config.admin_api.listen,
                "admin API",
                "admin_api.listen or --admin-listen",
            )?,
        })
    }
}

/// A socket listening on `addr` (address reuse on, as servers restart onto connections still
/// in TIME_WAIT), for the listener called `what`, configured by `option`.
fn listen(
    addr: SocketAddr,
    what: &'static str,
    option: &'static str,
) -> Result<TcpListener, StartupError> {
    let bind_error = |source| StartupError::Bind {
        what,
        addr,
        option,
        source,
    };
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(bind_error)?;
    socket.set_reuseaddr(true).map_err(bind_error)?;
    socket.bind(addr).map_err(bind_error)?;
    socket.listen(BACKLOG).map_err(bind_error)
}

/// The lock on a data directory (`ztp.lock` in it): shared by the servers running on it,
/// alone for a command that must not run beside them; released when the process ends however
/// it ends.
#[derive(Debug)]
pub struct DataDirLock {
    _held: File,
}

/// The data directory is in use by a running `ztp serve`.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error(
        "{} is in use by a running `ztp serve`, or by a command that must run alone (the lock \
         is {}): stop it first",
        dir.display(),
        file.display()
    )]
    InUse {
        /// The data directory.
        dir: PathBuf,
        /// Its lock file.
        file: PathBuf,
    },
    /// The lock file could not be opened.
    #[error("opening {}: {source}", file.display())]
    Open {
        /// The lock file.
        file: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl DataDirLock {
    /// Takes the lock of the data directory `dir` (which exists) as a server: shared, since
    /// several instances may share one data directory on PostgreSQL; refused only while a
    /// command that must run alone holds it.
    pub fn serving(dir: &Path) -> Result<Self, LockError> {
        Self::take(dir, File::try_lock_shared)
    }

    /// Takes the lock of the data directory `dir` alone, or says that a `ztp serve` holds it.
    pub fn alone(dir: &Path) -> Result<Self, LockError> {
        Self::take(dir, File::try_lock)
    }

    fn take(
        dir: &Path,
        lock: fn(&File) -> Result<(), std::fs::TryLockError>,
    ) -> Result<Self, LockError> {
        let file = dir.join("ztp.lock");
        let held = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&file)
            .map_err(|source| LockError::Open {
                file: file.clone(),
                source,
            })?;
        match lock(&held) {
            Ok(()) => Ok(Self { _held: held }),
            Err(std::fs::TryLockError::WouldBlock) => Err(LockError::InUse {
                dir: dir.to_owned(),
                file,
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(LockError::Open { file, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_share_a_data_directory_and_a_command_that_runs_alone_waits_for_none() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::serving(dir.path()).unwrap();
        let second = DataDirLock::serving(dir.path()).unwrap();
        let refused = DataDirLock::alone(dir.path()).unwrap_err();
        assert!(matches!(refused, LockError::InUse { .. }), "{refused}");
        assert!(refused.to_string().contains("stop it first"), "{refused}");
        drop((first, second));
        let alone = DataDirLock::alone(dir.path()).unwrap();
        assert!(DataDirLock::serving(dir.path()).is_err());
        drop(alone);
    }
}
