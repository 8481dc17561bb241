//! The PostgreSQL backend: opening the database, its migrations, and the devices' path over
//! sqlx ([`DevicePath`]).
//!
//! Reads take one round trip each: the calling device, its owner's revision and its licenses
//! come in one statement (one snapshot). The journal's writer has a connection of its own on a
//! runtime of its own thread ([`batch`]). Migrations run under sqlx's advisory lock, so
//! instances starting together apply each migration once.

use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use ztp_certs::Serial;

use crate::store::columns::{Column, Columns};
use crate::store::device_path::{BatchWriter, DevicePath, Read};
use crate::store::{
    CallingDevice, LicenseRecord, Options, RegistrationRecord, StoreError, devices, licenses,
    registrations, schema,
};

mod batch;
mod bulk;
mod writes;

pub(crate) static MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// The devices' path on PostgreSQL.
#[derive(Debug)]
pub(crate) struct Postgres {
    pool: AnyPool,
    url: String,
}

/// Connects to the PostgreSQL database at `url`, applies or verifies the migrations and
/// returns sqlx's pool beside the devices' path, as `options` say.
pub(crate) async fn open(url: &str, options: &Options) -> Result<(AnyPool, Postgres), StoreError> {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect(url)
        .await?;
    schema::prepare(&MIGRATIONS, &pool, options.migrations).await?;
    let path = Postgres {
        pool: pool.clone(),
        url: url.to_owned(),
    };
    Ok((pool, path))
}

/// The calling device with its owner's revision and its licenses (`l_`-prefixed columns, one
/// row per license, or one row of nulls without any), in one statement.
const CALLING_DEVICE: &str = "SELECT d.serial, d.model, d.customer, d.certificate_pin, d.state, \
       d.state_changed_at, d.last_contact_at, d.created_at, c.revision AS owner_revision, \
       l.id AS l_id, l.pool_id AS l_pool_id, l.serial AS l_serial, \
       l.product_id AS l_product_id, l.state AS l_state, l.issued_at AS l_issued_at, \
       l.revoked_at AS l_revoked_at, l.revoke_reason AS l_revoke_reason, \
       l.replaced_by AS l_replaced_by, \
       v.cms AS v_cms, v.expires_at AS v_expires_at, v.idevid_issuer AS v_idevid_issuer \
     FROM devices d \
     LEFT JOIN customers c ON c.name = d.customer \
     LEFT JOIN imported_vouchers v ON v.serial = d.serial \
     LEFT JOIN licenses l ON l.serial = d.serial \
     WHERE d.serial = $1 ORDER BY l.issued_at, l.id";

/// The columns of a row whose names carry a prefix (a joined table's, aliased).
struct Prefixed<'r, R> {
    row: &'r R,
    prefix: &'static str,
}

impl<R: Columns> Columns for Prefixed<'_, R> {
    fn column<T: Column>(&self, name: &str) -> Result<T, StoreError> {
        self.row.column(&format!("{}{name}", self.prefix))
    }
}

fn calling_device(rows: &[AnyRow]) -> Result<Option<CallingDevice>, StoreError> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut licenses = Vec::new();
    for row in rows {
        let license: Option<String> = row.column("l_id")?;
        if license.is_some() {
            licenses.push(licenses::license(&Prefixed { row, prefix: "l_" })?);
        }
    }
    Ok(Some(CallingDevice {
        device: devices::device(first)?,
        owner_revision: first.column("owner_revision")?,
        licenses,
        imported_voucher: devices::ImportedVoucher::from_columns(first)?,
    }))
}

impl DevicePath for Postgres {
    fn calling_device<'a>(&'a self, serial: &'a Serial) -> Read<'a, Option<CallingDevice>> {
        Box::pin(async move {
            let rows = sqlx::query(CALLING_DEVICE)
                .bind(serial.as_str())
                .fetch_all(&self.pool)
                .await?;
            calling_device(&rows)
        })
    }

    fn licenses_of<'a>(&'a self, serial: &'a str) -> Read<'a, Vec<LicenseRecord>> {
        Box::pin(async move {
            sqlx::query(licenses::LICENSES_OF)
                .bind(serial)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(licenses::license)
                .collect()
        })
    }

    fn registration_for<'a>(
        &'a self,
        serial: &'a Serial,
        customer: &'a str,
        connection: &'a str,
    ) -> Read<'a, Option<RegistrationRecord>> {
        Box::pin(async move {
            sqlx::query(registrations::REGISTRATION_FOR)
                .bind(serial.as_str())
                .bind(customer)
                .bind(connection)
                .fetch_optional(&self.pool)
                .await?
                .as_ref()
                .map(registrations::record)
                .transpose()
        })
    }

    fn writer(&self) -> Box<dyn BatchWriter> {
        Box::new(batch::PgWriter::new(self.url.clone()))
    }
}
