//! The SQLite backend (the embedded default): opening the database file, its migrations, and
//! the devices' path as plain calls into SQLite ([`DevicePath`]).
//!
//! sqlx runs each SQLite connection on a thread of its own, and every statement crosses to that
//! thread and back. Under a surge of devices those thread switches cost more CPU than the
//! statements, so the devices' path uses connections of its own on the same file
//! ([`connections`]): reads run inline on the request's thread, and the journal's writer
//! thread owns one connection for its transactions ([`batch`]). Both drivers run the same SQL.

use std::str::FromStr;
use std::sync::Arc;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use ztp_certs::Serial;

use crate::store::device_path::{BatchWriter, DevicePath, Read};
use crate::store::{
    CallingDevice, LicenseRecord, Options, RegistrationRecord, StoreError, Synchronous, devices,
    licenses, registrations, schema,
};
use connections::{rows_on, snapshot_on};

pub mod backup;
mod batch;
pub(crate) mod connections;
pub(crate) mod writes;

pub(crate) static MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// The devices' path on SQLite.
#[derive(Debug)]
pub(crate) struct Sqlite {
    connections: Arc<connections::Connections>,
}

/// Opens the SQLite database at `url` (creating it with `?mode=rwc`), applies or verifies the
/// migrations and returns sqlx's pool beside the devices' path, as `options` say. Every
/// connection of both commits as `options.synchronous` says.
pub(crate) async fn open(url: &str, options: &Options) -> Result<(AnyPool, Sqlite), StoreError> {
    let (max_connections, synchronous) = (options.max_connections, options.synchronous);
    let file = SqliteConnectOptions::from_str(url)?
        .get_filename()
        .to_owned();
    sqlx::any::install_default_drivers();
    let pragma = match synchronous {
        Synchronous::Full => "PRAGMA synchronous = FULL",
        Synchronous::Normal => "PRAGMA synchronous = NORMAL",
    };
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(options.acquire_timeout)
        .after_connect(move |connection, _| {
            Box::pin(async move {
                sqlx::query(pragma).execute(connection).await?;
                Ok(())
            })
        })
        .connect(url)
        .await?;
    // Write-ahead logging: readers never block the writer and a writer waits for the lock
    // (busy timeout) instead of failing. The mode is a property of the database file, so
    // setting it once covers every connection.
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&pool)
        .await?;
    schema::prepare(&MIGRATIONS, &pool, options.migrations).await?;
    let connections = connections::Connections::new(file, synchronous);
    Ok((
        pool,
        Sqlite {
            connections: Arc::new(connections),
        },
    ))
}

impl Sqlite {
    fn calling_device_now(&self, serial: &str) -> Result<Option<CallingDevice>, StoreError> {
        self.connections.read(|connection| {
            snapshot_on(connection, |snapshot| {
                let found = rows_on(
                    snapshot,
                    concat!(
                        "SELECT ",
                        devices::device_columns!(),
                        ", (SELECT revision FROM customers WHERE name = devices.customer) \
                         AS owner_revision, \
                         (SELECT cms FROM imported_vouchers v WHERE v.serial = devices.serial) \
                         AS v_cms, \
                         (SELECT expires_at FROM imported_vouchers v \
                          WHERE v.serial = devices.serial) AS v_expires_at, \
                         (SELECT idevid_issuer FROM imported_vouchers v \
                          WHERE v.serial = devices.serial) AS v_idevid_issuer \
                         FROM devices WHERE serial = $1"
                    ),
                    &[&serial],
                    |row| {
                        use crate::store::columns::Columns;
                        Ok((
                            devices::device(row)?,
                            row.column("owner_revision")?,
                            devices::ImportedVoucher::from_columns(row)?,
                        ))
                    },
                )?;
                let Some((device, owner_revision, imported_voucher)) = found.into_iter().next()
                else {
                    return Ok(None);
                };
                let licenses = licenses_of_on(snapshot, serial)?;
                Ok(Some(CallingDevice {
                    device,
                    owner_revision,
                    licenses,
                    imported_voucher,
                }))
            })
        })
    }
}

/// A device's licenses, oldest first, on `connection`.
fn licenses_of_on(
    connection: &rusqlite::Connection,
    serial: &str,
) -> Result<Vec<LicenseRecord>, StoreError> {
    rows_on(connection, licenses::LICENSES_OF, &[&serial], |row| {
        licenses::license(row)
    })
}

// The reads run inline when called (a lookup by key in the page cache takes microseconds,
// less than a thread switch), and the future is ready at once.
impl DevicePath for Sqlite {
    fn calling_device<'a>(&'a self, serial: &'a Serial) -> Read<'a, Option<CallingDevice>> {
        Box::pin(std::future::ready(self.calling_device_now(serial.as_str())))
    }

    fn licenses_of<'a>(&'a self, serial: &'a str) -> Read<'a, Vec<LicenseRecord>> {
        let read = self
            .connections
            .read(|connection| licenses_of_on(connection, serial));
        Box::pin(std::future::ready(read))
    }

    fn registration_for<'a>(
        &'a self,
        serial: &'a Serial,
        customer: &'a str,
        connection: &'a str,
    ) -> Read<'a, Option<RegistrationRecord>> {
        let found = self.connections.rows(
            registrations::REGISTRATION_FOR,
            &[&serial.as_str(), &customer, &connection],
            |row| registrations::record(row),
        );
        Box::pin(std::future::ready(
            found.map(|rows| rows.into_iter().next()),
        ))
    }

    fn writer(&self) -> Box<dyn BatchWriter> {
        Box::new(batch::SqliteWriter::new(Arc::clone(&self.connections)))
    }
}

#[cfg(test)]
mod tests;
