//! The store: ztp's database, behind one seam that each backend implements.
//!
//! Administration, the outboxes, audit and import are [`Store`]'s methods, written once: SQL
//! in the dialect every backend shares (`$N` placeholders; text, integers and booleans; times
//! as Unix milliseconds), run through sqlx's `Any` driver. The devices' path (the reads an
//! answer needs and the journal's batches) is the [`device_path::DevicePath`] a backend
//! implements its own fastest way. A backend is therefore its migrations, its way of opening
//! the database, and that implementation: SQLite, the embedded default, is `sqlite`;
//! PostgreSQL (`postgres://…`), for several instances on one database, is `postgres`.
//!
//! - [`audit`]: the append-only audit log of admin changes.
//! - [`copy`]: an installation's data copied to another database (SQLite to PostgreSQL),
//!   verified by counts and checksums.
//! - [`customers`]: owners, their redirect targets and response rules.
//! - [`devices`]: the device inventory and onboarding state.
//! - `columns`: result rows of either driver, for the record mappings both share.
//! - `device_path`: the seam of the devices' path (reads, the journal's batches).
//! - [`events`]: what happened (requests, refusals, progress reports, admin changes).
//! - [`journal`]: devices' writes (state, progress, events, license allocations),
//!   group-committed.
//! - [`licenses`]: entitlement pools, node-locked licenses, shortages.
//! - [`nms`]: customers' NMS connections (SFTP delivery of registrations).
//! - [`outbox`]: the durable outbox every queue of deliveries shares: claim with a lease,
//!   release, settle (delivered, retried, dead letter), receivers' health and status.
//! - `postgres`: the PostgreSQL backend (opening, migrations, the devices' path).
//! - [`schema`]: migrations applied or verified on open; a newer database refused.
//! - [`registrations`]: the outbox's queue of registrations to NMS connections.
//! - `sqlite`: the SQLite backend (opening, migrations, the devices' path).
//! - [`webhooks`]: customers' webhook subscriptions and the outbox's queue of their deliveries.
//!
//! May import: `domain`, `secrets` (sealed columns) and `telemetry` (the device port's gauge,
//! which the journal reads, its metrics, and the device call whose events it writes); never
//! the edges that call it.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::AnyPool;
use sqlx::migrate::MigrateError;

use crate::secrets::SecretBox;
use device_path::DevicePath;

pub mod activation_codes;
pub mod audit;
mod columns;
pub mod copy;
pub mod customers;
mod device_path;
pub mod devices;
pub mod events;
pub mod import;
pub mod journal;
pub mod licenses;
pub mod nms;
pub mod outbox;
mod postgres;
pub mod registrations;
pub mod schema;
mod sealed;
mod sqlite;
pub mod tokens;
pub mod vouchers;
pub mod webhooks;

pub use customers::{CustomerRecord, CustomerUpdate, LdevidIssuer, NewCustomer, TargetRecord};
pub use devices::{CallingDevice, DeviceRecord, DeviceUpdate, NewDevice};
pub use events::{EventFilter, EventKind, EventRecord, NewEvent, ProgressRecord};
pub use licenses::{Allocation, LicenseRecord, LicenseState, NewPool, PoolRecord};
pub use nms::NmsConnectionRecord;
pub use outbox::OutboxStatus;
pub use registrations::{NewRegistration, RegistrationFilter, RegistrationRecord};
pub use sqlite::backup;
pub use vouchers::ImportedVoucherRecord;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be reached or refused the statement.
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
    /// The database refused a statement of the devices' path (the SQLite backend's connections).
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database could not be used (the journal's batch failed, or its writer stopped).
    #[error("database: {0}")]
    Unavailable(String),
    /// A sealed secret does not open (wrong or missing master key, or tampering).
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    /// Migrations could not be applied.
    #[error("database migration: {0}")]
    Migrate(#[from] MigrateError),
    /// A newer ztp migrated the database: this one does not know its schema.
    #[error(
        "the database was migrated by a newer ztp (its migration {version} is unknown to this \
         one): run that version of ztp, or a newer one"
    )]
    NewerDatabase {
        /// The unknown migration.
        version: i64,
    },
    /// The database lacks migrations, and the store was told not to apply them.
    #[error(
        "the database lacks migration {version} (and maybe later ones): run `ztp migrate`, or \
         set database.migrations = \"apply\""
    )]
    PendingMigrations {
        /// The first missing migration.
        version: i64,
    },
    /// The URL names a database ztp has no driver for.
    #[error("unsupported database {0:?}: use sqlite://… or postgres://…")]
    Unsupported(String),
    /// The thing does not exist.
    #[error("{what} {key:?} does not exist")]
    NotFound {
        /// What kind of thing.
        what: &'static str,
        /// Its key.
        key: String,
    },
    /// The thing already exists.
    #[error("{what} {key:?} already exists")]
    Conflict {
        /// What kind of thing.
        what: &'static str,
        /// Its key.
        key: String,
    },
    /// The thing is still referred to.
    #[error("{what} {key:?} is still in use: {reason}")]
    InUse {
        /// What kind of thing.
        what: &'static str,
        /// Its key.
        key: String,
        /// By what.
        reason: String,
    },
    /// A stored value does not parse (the database was edited by hand or by a newer ztp).
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt {
        /// What was read.
        what: &'static str,
        /// Why it does not parse.
        reason: String,
    },
}

impl StoreError {
    /// Whether the database failed (unreachable, locked too long, out of space), as opposed to
    /// the request: worth a 503 and a retry.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Database(_) | Self::Sqlite(_) | Self::Unavailable(_)
        )
    }

    /// Whether the database's disk is full (`SQLITE_FULL`): nothing is written until space is
    /// freed, and then writes succeed again without a restart.
    pub fn is_disk_full(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(e)) => e.code().as_deref() == Some("13"),
            Self::Sqlite(e) => e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull),
            _ => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e)
    }
}

/// How SQLite commits reach the disk (`PRAGMA synchronous`, in WAL mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Synchronous {
    /// Every commit is on disk (the write-ahead log synced) before it returns: nothing
    /// acknowledged is lost, whether ztp, the OS or the power fails.
    #[default]
    Full,
    /// Commits are handed to the OS and synced at checkpoints: nothing acknowledged is lost
    /// when ztp crashes, but an OS crash or power loss may lose the last commits.
    Normal,
}

/// The database behind ztp.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    device_path: Arc<dyn DevicePath>,
    migrator: &'static sqlx::migrate::Migrator,
    backend: Backend,
    secrets: Arc<SecretBox>,
}

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, the embedded default.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// How the store opens its database.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Connections in the administration's pool.
    pub max_connections: u32,
    /// How SQLite's commits reach the disk (PostgreSQL: its own `synchronous_commit`).
    pub synchronous: Synchronous,
    /// Whether missing migrations are applied or refused.
    pub migrations: schema::Migrations,
    /// How long a statement waits for a connection of the pool (connecting anew when the
    /// database went away) before it fails as unavailable: a device is answered 503 then,
    /// rather than kept waiting.
    pub acquire_timeout: std::time::Duration,
}

impl Options {
    /// `max_connections`, every commit synced, migrations applied.
    pub fn new(max_connections: u32) -> Self {
        Self {
            max_connections,
            synchronous: Synchronous::Full,
            migrations: schema::Migrations::Apply,
            acquire_timeout: std::time::Duration::from_secs(5),
        }
    }
}

impl Store {
    /// Connects to `url` and applies the embedded migrations; secrets are sealed and opened
    /// with `secrets`. Commits are [`Synchronous::Full`].
    pub async fn open(
        url: &str,
        max_connections: u32,
        secrets: SecretBox,
    ) -> Result<Self, StoreError> {
        Self::open_with(url, secrets, Options::new(max_connections)).await
    }

    /// [`Store::open`] with every choice of [`Options`].
    pub async fn open_with(
        url: &str,
        secrets: SecretBox,
        options: Options,
    ) -> Result<Self, StoreError> {
        let backend = match url.split(':').next().unwrap_or_default() {
            "sqlite" => Backend::Sqlite,
            "postgres" | "postgresql" => Backend::Postgres,
            scheme => return Err(StoreError::Unsupported(scheme.to_owned())),
        };
        let (pool, device_path, migrator): (_, Arc<dyn DevicePath>, _) = match backend {
            Backend::Sqlite => {
                let (pool, path) = sqlite::open(url, &options).await?;
                (pool, Arc::new(path), &sqlite::MIGRATIONS)
            }
            Backend::Postgres => {
                let (pool, path) = postgres::open(url, &options).await?;
                (pool, Arc::new(path), &postgres::MIGRATIONS)
            }
        };
        Ok(Self {
            pool,
            device_path,
            migrator,
            backend,
            secrets: Arc::new(secrets),
        })
    }

    /// The database behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The latest migration the database has (`ztp migrate` reports it).
    pub async fn schema_version(&self) -> Result<Option<i64>, StoreError> {
        schema::version(&self.pool, self.migrator).await
    }

    /// The latest migration this ztp knows.
    pub fn known_schema_version(&self) -> Option<i64> {
        self.migrator.iter().map(|m| m.version).max()
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub(crate) fn device_path(&self) -> &dyn DevicePath {
        &*self.device_path
    }
}

/// The current time in Unix milliseconds, as the store keeps times.
pub fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// A stored time as RFC 3339 in UTC with milliseconds always written, so that times sort as
/// text too.
pub fn timestamp(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Maps a unique-key violation to [`StoreError::Conflict`].
/// The first row a statement that changes the database returned (`… RETURNING`), read after
/// the statement ran to its end: `fetch_all`, then this.
///
/// Outside a transaction SQLite commits such a statement at its last step, after the rows it
/// returns. `fetch_one` and `fetch_optional` stop at the first row, and an error of that commit
/// (a full disk, an I/O error) was lost with the statement: the caller was told of a change
/// that was never stored.
fn first_returned<T>(rows: Vec<T>) -> Option<T> {
    rows.into_iter().next()
}

/// The one row a statement that changes the database returned: [`first_returned`], for
/// statements that always return one.
fn only_returned<T>(rows: Vec<T>) -> Result<T, sqlx::Error> {
    first_returned(rows).ok_or(sqlx::Error::RowNotFound)
}

fn conflict(what: &'static str, key: &str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
            what,
            key: key.to_owned(),
        },
        _ => StoreError::Database(e),
    }
}

fn corrupt(what: &'static str) -> impl FnOnce(String) -> StoreError {
    move |reason| StoreError::Corrupt { what, reason }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::{NewCustomer, Store};
    use crate::domain::response::Profile;

    /// A customer with placeholder credentials.
    pub(crate) fn new_customer(name: &str) -> NewCustomer {
        NewCustomer {
            name: name.into(),
            owner_ca_pem: "ca".into(),
            signer_chain_pem: "chain".into(),
            signer_key_pem: "key".into(),
            profile: Profile::Standard,
            sign: true,
        }
    }

    /// Adds device `serial` (model `m`) owned by `customer`.
    pub(crate) async fn add_device(store: &Store, serial: &str, customer: &str) {
        store
            .insert_device(&super::NewDevice {
                serial: serial.into(),
                model: "m".into(),
                customer: Some(customer.into()),
                certificate_pin: None,
            })
            .await
            .unwrap();
    }

    /// A store on a scratch database: a fresh SQLite file, or a fresh PostgreSQL database
    /// when `ZTP_TEST_POSTGRES` names a server (see [`Scratch`]).
    pub(crate) async fn store() -> (Store, Scratch) {
        let scratch = Scratch::new().await;
        let key = crate::secrets::generate_key().unwrap();
        let secrets = crate::secrets::SecretBox::new(&key, &[]).unwrap();
        (
            Store::open(&scratch.url, 2, secrets).await.unwrap(),
            scratch,
        )
    }

    /// A store on a fresh SQLite file, whatever `ZTP_TEST_POSTGRES` says (for the tests of
    /// SQLite's own ways).
    pub(crate) async fn sqlite_store() -> (Store, Scratch) {
        let scratch = Scratch::sqlite();
        let key = crate::secrets::generate_key().unwrap();
        let secrets = crate::secrets::SecretBox::new(&key, &[]).unwrap();
        (
            Store::open(&scratch.url, 2, secrets).await.unwrap(),
            scratch,
        )
    }

    /// A scratch database for one test, gone when dropped: a SQLite file `t.sqlite` in a
    /// temporary directory, or, when `ZTP_TEST_POSTGRES` holds the URL of a PostgreSQL
    /// database to connect to (e.g. `postgres://postgres@127.0.0.1:5432/test`), a database of
    /// its own created on that server and dropped afterwards.
    pub(crate) struct Scratch {
        /// The scratch database's URL.
        pub(crate) url: String,
        dir: tempfile::TempDir,
        /// The server's URL and the database's name, on PostgreSQL.
        postgres: Option<(String, String)>,
    }

    impl Scratch {
        pub(crate) async fn new() -> Self {
            let Ok(server) = std::env::var("ZTP_TEST_POSTGRES") else {
                return Self::sqlite();
            };
            let mut random = [0u8; 8];
            aws_lc_rs::rand::fill(&mut random).unwrap();
            let name = format!("ztp_test_{:016x}", u64::from_le_bytes(random));
            let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
                .await
                .unwrap();
            // The name is ours: `ztp_test_` and hex digits.
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .unwrap();
            let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
            Self {
                url: format!("{base}/{name}"),
                dir: tempfile::tempdir().unwrap(),
                postgres: Some((server.clone(), name)),
            }
        }

        fn sqlite() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("t.sqlite").display()
            );
            Self {
                url,
                dir,
                postgres: None,
            }
        }

        /// A temporary directory of the test's own (on SQLite, the database file's).
        pub(crate) fn path(&self) -> &std::path::Path {
            self.dir.path()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let Some((server, name)) = self.postgres.take() else {
                return;
            };
            // On a thread of its own: the test's runtime may be the one dropping this.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let mut admin =
                        <sqlx::PgConnection as sqlx::Connection>::connect(&server).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await
                    .map(drop)
                })
            })
            .join();
            if !matches!(dropped, Ok(Ok(()))) {
                eprintln!("scratch database {} was not dropped", self.url);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Store, Synchronous};

    #[tokio::test]
    async fn every_connection_syncs_commits_as_configured() {
        let dir = tempfile::tempdir().unwrap();
        for (synchronous, pragma) in [(Synchronous::Full, 2), (Synchronous::Normal, 1)] {
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("s.sqlite").display()
            );
            let key = crate::secrets::generate_key().unwrap();
            let secrets = crate::secrets::SecretBox::new(&key, &[]).unwrap();
            let options = super::Options {
                synchronous,
                ..super::Options::new(2)
            };
            let store = Store::open_with(&url, secrets, options).await.unwrap();
            // Both connections of the pool, held at once.
            let mut a = store.pool().acquire().await.unwrap();
            let mut b = store.pool().acquire().await.unwrap();
            for connection in [&mut a, &mut b] {
                let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
                    .fetch_one(&mut **connection)
                    .await
                    .unwrap();
                assert_eq!(level, pragma, "{synchronous:?}");
            }
            drop((a, b));
            store.pool().close().await;
        }
    }
}
