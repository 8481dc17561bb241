//! Online backups of a SQLite database and their restore (`ztp backup`, `ztp restore`).
//!
//! A backup is SQLite's online backup API copying every page in one step, under one read
//! transaction: a consistent snapshot, while the server goes on writing (WAL lets writers
//! continue beside a reader). A restore checks the copy first (SQLite's integrity check, a ztp
//! database at a migration this ztp knows), then replaces the database file in one rename,
//! keeping the one it replaces beside it.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use sqlx::sqlite::SqliteConnectOptions;

use super::MIGRATIONS;

/// A backup or a restore failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The database is not SQLite (PostgreSQL has its own tools: `pg_dump`, `pg_restore`).
    #[error("{0} is not a SQLite database: back PostgreSQL up with pg_dump (docs/operations.md)")]
    NotSqlite(String),
    /// SQLite refused.
    #[error("{path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// The copy is damaged.
    #[error("{path} fails SQLite's integrity check: {detail}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What the check said.
        detail: String,
    },
    /// The copy is not a ztp database, or one a newer ztp migrated.
    #[error("{path}: {reason}")]
    NotRestorable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file could not be written or moved.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The latest migration it has.
    pub migration: i64,
    /// Its devices.
    pub devices: i64,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The file of the SQLite database at `url`.
pub fn database_file(url: &str) -> Result<PathBuf, BackupError> {
    if !url.starts_with("sqlite:") {
        return Err(BackupError::NotSqlite(redacted(url)));
    }
    let options =
        SqliteConnectOptions::from_str(url).map_err(|_| BackupError::NotSqlite(redacted(url)))?;
    Ok(options.get_filename().to_owned())
}

/// Copies the database `source` (in use or not) to `target` (a new file, mode 0600), as one
/// consistent snapshot.
pub fn backup(source: &Path, target: &Path) -> Result<Snapshot, BackupError> {
    let sqlite = |path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Sqlite { path, source }
    };
    if target.exists() {
        return Err(BackupError::Io {
            path: target.to_owned(),
            source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        });
    }
    let from = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sqlite(source))?;
    let partial = target.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    {
        let mut to = Connection::open(&partial).map_err(sqlite(&partial))?;
        copy_all(&from, &mut to).map_err(sqlite(source))?;
        // A single file, whatever the source's journal mode.
        to.pragma_update(None, "journal_mode", "DELETE")
            .map_err(sqlite(&partial))?;
    }
    restrict(&partial)?;
    let snapshot = inspect(&partial)?;
    rename(&partial, target)?;
    Ok(snapshot)
}

/// Every page of `from` into `to` in one step: one read transaction, one snapshot. A writer
/// holding the database locked at that moment (SQLite answers busy) is waited for, a bounded
/// number of times.
fn copy_all(from: &Connection, to: &mut Connection) -> Result<(), rusqlite::Error> {
    let backup = Backup::new(from, to)?;
    for _ in 0..BUSY_TRIES {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            _ => std::thread::sleep(BUSY_WAIT),
        }
    }
    Err(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
        Some("the database stayed busy".into()),
    ))
}

/// How often, and how long each time, a backup waits for a database that is busy.
const BUSY_TRIES: u32 = 200;
const BUSY_WAIT: Duration = Duration::from_millis(50);

/// Checks that `copy` is an intact ztp database this ztp can open, and what it holds.
pub fn inspect(copy: &Path) -> Result<Snapshot, BackupError> {
    let sqlite = |source| BackupError::Sqlite {
        path: copy.to_owned(),
        source,
    };
    let not = |reason: &str| BackupError::NotRestorable {
        path: copy.to_owned(),
        reason: reason.to_owned(),
    };
    let connection =
        Connection::open_with_flags(copy, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite)?;
    let check: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(sqlite)?;
    if check != "ok" {
        return Err(BackupError::Damaged {
            path: copy.to_owned(),
            detail: check,
        });
    }
    let migration: Option<i64> = connection
        .query_row("SELECT MAX(version) FROM _sqlx_migrations", [], |row| {
            row.get(0)
        })
        .map_err(|_| not("not a ztp database (it has no migrations table)"))?;
    let migration = migration.ok_or_else(|| not("not a ztp database (no migration applied)"))?;
    if !MIGRATIONS.iter().any(|m| m.version == migration) {
        return Err(not(&format!(
            "a newer ztp made it (migration {migration}, unknown to this ztp): restore it with \
             that release"
        )));
    }
    let devices = connection
        .query_row("SELECT COUNT(*) FROM devices", [], |row| row.get(0))
        .map_err(sqlite)?;
    let bytes = std::fs::metadata(copy)
        .map_err(|source| BackupError::Io {
            path: copy.to_owned(),
            source,
        })?
        .len();
    Ok(Snapshot {
        migration,
        devices,
        bytes,
    })
}

/// Replaces the database `target` with the checked `copy`; the database replaced is kept as
/// `<target>.before-restore` (returned), its WAL and shared-memory files removed. The server
/// must be stopped (the caller holds the data directory's lock).
pub fn restore(copy: &Path, target: &Path) -> Result<(Snapshot, Option<PathBuf>), BackupError> {
    let snapshot = inspect(copy)?;
    let staged = target.with_extension("restoring");
    std::fs::copy(copy, &staged).map_err(|source| BackupError::Io {
        path: staged.clone(),
        source,
    })?;
    restrict(&staged)?;
    sync(&staged)?;
    let kept = if target.exists() {
        // Whatever the replaced database's WAL held is part of what it was: checkpoint it in.
        if let Ok(old) = Connection::open(target) {
            let _ = old.pragma_update(None, "wal_checkpoint", "TRUNCATE");
        }
        let kept = PathBuf::from(format!("{}.before-restore", target.display()));
        rename(target, &kept)?;
        Some(kept)
    } else {
        None
    };
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", target.display()));
    }
    rename(&staged, target)?;
    Ok((snapshot, kept))
}

fn rename(from: &Path, to: &Path) -> Result<(), BackupError> {
    std::fs::rename(from, to).map_err(|source| BackupError::Io {
        path: to.to_owned(),
        source,
    })
}

fn sync(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(|source| BackupError::Io {
            path: path.to_owned(),
            source,
        })
}

/// Readable by its owner only: a backup holds what the database holds.
fn restrict(path: &Path) -> Result<(), BackupError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        BackupError::Io {
            path: path.to_owned(),
            source,
        }
    })
}

/// A database URL without its password.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}
