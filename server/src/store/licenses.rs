//! Entitlement pools, the node-locked licenses allocated from them, and shortages.
//!
//! A counted pool is never over-allocated: a license is inserted only in the transaction whose
//! conditional `UPDATE … SET allocated = allocated + 1 WHERE allocated < seats` succeeded, and a
//! unique index allows one active license per device and pool.

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::columns::Columns;
use super::{Store, StoreError, conflict, corrupt, now_ms};
use crate::domain::licensing::{Scope, Term, Terms};

/// An entitlement pool as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRecord {
    /// Key.
    pub id: i64,
    /// The owner.
    pub customer: String,
    /// Name, unique per customer.
    pub name: String,
    /// Feature tag.
    pub feature: String,
    /// Type and dates.
    pub terms: Terms,
    /// Seats (`None`: uncounted).
    pub seats: Option<u32>,
    /// Active licenses.
    pub allocated: u32,
    /// Which devices draw from it.
    pub scope: Scope,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last changed (Unix ms).
    pub updated_at: i64,
}

/// A pool to create.
#[derive(Debug, Clone)]
pub struct NewPool {
    /// The owner.
    pub customer: String,
    /// Name.
    pub name: String,
    /// Feature tag.
    pub feature: String,
    /// Type and dates.
    pub terms: Terms,
    /// Seats (`None`: uncounted).
    pub seats: Option<u32>,
    /// Scope.
    pub scope: Scope,
}

/// A license's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenseState {
    /// Conveyed to its device.
    Active,
    /// Revoked (or moved to a replacement device); its seat went back to the pool.
    Revoked,
}

/// A license as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseRecord {
    /// The license id.
    pub id: String,
    /// Its pool.
    pub pool_id: i64,
    /// The device it is locked to.
    pub serial: String,
    /// The device's product id.
    pub product_id: String,
    /// Active or revoked.
    pub state: LicenseState,
    /// First issued (Unix ms): the start of an evaluation.
    pub issued_at: i64,
    /// Revoked (Unix ms).
    pub revoked_at: Option<i64>,
    /// Why.
    pub revoke_reason: Option<String>,
    /// RMA: the license that replaced it.
    pub replaced_by: Option<String>,
}

/// A license to allocate to a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLicense {
    /// Its id.
    pub id: String,
    /// The pool whose seat it takes.
    pub pool_id: i64,
    /// The device.
    pub serial: String,
    /// The device's product id.
    pub product_id: String,
}

/// The outcome of an allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allocation {
    /// The device has this license (new, or allocated earlier by another request).
    Granted(LicenseRecord),
    /// Every seat is taken; `first` when the device was not short of this pool before.
    NoSeat {
        /// The device's shortage in this pool is new.
        first: bool,
    },
}

macro_rules! pool_columns {
    () => {
        "id, customer, name, feature, license_type, seats, allocated, starts_at, ends_at, \
         evaluation_days, scope_kind, scope_values, created_at, updated_at"
    };
}

macro_rules! license_columns {
    () => {
        "id, pool_id, serial, product_id, state, issued_at, revoked_at, revoke_reason, replaced_by"
    };
}

/// A device's licenses, active and revoked, oldest first (`$1` serial): the devices' path.
pub(super) const LICENSES_OF: &str = concat!(
    "SELECT ",
    license_columns!(),
    " FROM licenses WHERE serial = $1 ORDER BY issued_at, id"
);

// The statements of an allocation (see `Journal::allocate`); `$1` pool, `$2` serial.

/// The device's active license from the pool.
pub(super) const HELD_LICENSE: &str = concat!(
    "SELECT ",
    license_columns!(),
    " FROM licenses WHERE pool_id = $1 AND serial = $2 AND state = 'active'"
);

/// Takes a seat if one is free (atomic on every backend: the guard against over-allocation).
pub(super) const TAKE_SEAT: &str = "UPDATE license_pools SET allocated = allocated + 1 \
     WHERE id = $1 AND (seats IS NULL OR allocated < seats)";

/// Records the device's shortage in the pool at `$3` (no row: it was recorded before).
pub(super) const FIRST_SHORTAGE: &str = "INSERT INTO license_shortages \
       (pool_id, serial, first_at, last_at) VALUES ($1, $2, $3, $3) \
     ON CONFLICT (pool_id, serial) DO NOTHING";

/// Marks the device's recorded shortage in the pool as seen again at `$3`.
pub(super) const LATER_SHORTAGE: &str =
    "UPDATE license_shortages SET last_at = $3 WHERE pool_id = $1 AND serial = $2";

/// Grants license `$1` from pool `$2` to serial `$3` (`$4` product, `$5` now).
pub(super) const GRANT_LICENSE: &str = concat!(
    "INSERT INTO licenses (id, pool_id, serial, product_id, state, issued_at) \
     VALUES ($1, $2, $3, $4, 'active', $5) RETURNING ",
    license_columns!()
);

/// Clears the device's shortage in the pool.
pub(super) const CLEAR_SHORTAGE: &str =
    "DELETE FROM license_shortages WHERE pool_id = $1 AND serial = $2";

/// A stored time in Unix milliseconds as a date.
pub fn time_of(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A date as stored, in Unix milliseconds.
pub fn ms_of(time: OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn count(value: Option<i64>, what: &'static str) -> Result<Option<u32>, StoreError> {
    value
        .map(|v| u32::try_from(v).map_err(|e| corrupt(what)(e.to_string())))
        .transpose()
}

fn pool(row: &AnyRow) -> Result<PoolRecord, StoreError> {
    let term: String = row.try_get("license_type")?;
    let scope_kind: String = row.try_get("scope_kind")?;
    let scope_values: String = row.try_get("scope_values")?;
    let values = scope_values.split_whitespace().map(str::to_owned).collect();
    let scope = match scope_kind.as_str() {
        "models" => Scope::Models(values),
        "serials" => Scope::Serials(values),
        other => return Err(corrupt("license pool scope")(other.to_owned())),
    };
    let allocated: i64 = row.try_get("allocated")?;
    Ok(PoolRecord {
        id: row.try_get("id")?,
        customer: row.try_get("customer")?,
        name: row.try_get("name")?,
        feature: row.try_get("feature")?,
        terms: Terms {
            term: term.parse::<Term>().map_err(corrupt("license type"))?,
            starts_at: row.try_get::<Option<i64>, _>("starts_at")?.map(time_of),
            ends_at: row.try_get::<Option<i64>, _>("ends_at")?.map(time_of),
            evaluation_days: count(row.try_get("evaluation_days")?, "evaluation days")?,
        },
        seats: count(row.try_get("seats")?, "seats")?,
        allocated: count(Some(allocated), "allocated seats")?.unwrap_or(0),
        scope,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) fn license(row: &impl Columns) -> Result<LicenseRecord, StoreError> {
    let state: String = row.column("state")?;
    Ok(LicenseRecord {
        id: row.column("id")?,
        pool_id: row.column("pool_id")?,
        serial: row.column("serial")?,
        product_id: row.column("product_id")?,
        state: match state.as_str() {
            "active" => LicenseState::Active,
            "revoked" => LicenseState::Revoked,
            other => return Err(corrupt("license state")(other.to_owned())),
        },
        issued_at: row.column("issued_at")?,
        revoked_at: row.column("revoked_at")?,
        revoke_reason: row.column("revoke_reason")?,
        replaced_by: row.column("replaced_by")?,
    })
}

/// Which active licenses to revoke.
enum Revoke<'a> {
    /// This one.
    License(&'a str),
    /// Every one of this device.
    Device(&'a str),
}

/// Revokes the matching active licenses in `tx`; returns them.
async fn revoke_active(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    which: Revoke<'_>,
    reason: &str,
) -> Result<Vec<LicenseRecord>, StoreError> {
    let (id, serial) = match which {
        Revoke::License(id) => (Some(id), None),
        Revoke::Device(serial) => (None, Some(serial)),
    };
    sqlx::query(concat!(
        "UPDATE licenses SET state = 'revoked', revoked_at = $3, revoke_reason = $4 \
         WHERE state = 'active' AND ($1 IS NULL OR id = $1) AND ($2 IS NULL OR serial = $2) \
         RETURNING ",
        license_columns!()
    ))
    .bind(id)
    .bind(serial)
    .bind(now_ms())
    .bind(reason)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(license)
    .collect()
}

fn scope_columns(scope: &Scope) -> (&'static str, String) {
    match scope {
        Scope::Models(models) => ("models", models.join(" ")),
        Scope::Serials(serials) => ("serials", serials.join(" ")),
    }
}

impl Store {
    /// Creates a pool.
    pub async fn insert_license_pool(&self, new: &NewPool) -> Result<PoolRecord, StoreError> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        super::customers::bump(&mut tx, &new.customer).await?;
        let (scope_kind, scope_values) = scope_columns(&new.scope);
        let row = sqlx::query(concat!(
            "INSERT INTO license_pools (customer, name, feature, license_type, seats, allocated, \
               starts_at, ends_at, evaluation_days, scope_kind, scope_values, created_at, \
               updated_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $9, $10, $11, $11) RETURNING ",
            pool_columns!()
        ))
        .bind(&new.customer)
        .bind(&new.name)
        .bind(&new.feature)
        .bind(new.terms.term.as_str())
        .bind(new.seats.map(i64::from))
        .bind(new.terms.starts_at.map(ms_of))
        .bind(new.terms.ends_at.map(ms_of))
        .bind(new.terms.evaluation_days.map(i64::from))
        .bind(scope_kind)
        .bind(scope_values)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict("license pool", &new.name))?;
        tx.commit().await?;
        pool(&row)
    }

    /// A customer's pools, by name.
    pub async fn license_pools(&self, customer: &str) -> Result<Vec<PoolRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            pool_columns!(),
            " FROM license_pools WHERE customer = $1 ORDER BY name"
        ))
        .bind(customer)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(pool)
        .collect()
    }

    /// Every customer's pools, by customer and name (the metrics' seats).
    pub async fn all_license_pools(&self) -> Result<Vec<PoolRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            pool_columns!(),
            " FROM license_pools ORDER BY customer, name"
        ))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(pool)
        .collect()
    }

    /// One pool.
    pub async fn license_pool(&self, customer: &str, name: &str) -> Result<PoolRecord, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            pool_columns!(),
            " FROM license_pools WHERE customer = $1 AND name = $2"
        ))
        .bind(customer)
        .bind(name)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(pool)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound {
            what: "license pool",
            key: format!("{customer}/{name}"),
        })
    }

    /// Changes a pool's seats (never below what is allocated) and terms (renewal).
    pub async fn update_license_pool(
        &self,
        customer: &str,
        name: &str,
        seats: Option<u32>,
        terms: &Terms,
    ) -> Result<PoolRecord, StoreError> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(concat!(
            "UPDATE license_pools SET seats = $3, license_type = $4, starts_at = $5, \
               ends_at = $6, evaluation_days = $7, updated_at = $8 \
             WHERE customer = $1 AND name = $2 AND ($3 IS NULL OR allocated <= $3) \
             RETURNING ",
            pool_columns!()
        ))
        .bind(customer)
        .bind(name)
        .bind(seats.map(i64::from))
        .bind(terms.term.as_str())
        .bind(terms.starts_at.map(ms_of))
        .bind(terms.ends_at.map(ms_of))
        .bind(terms.evaluation_days.map(i64::from))
        .bind(now_ms())
        .fetch_optional(&mut *tx)
        .await?;
        match row {
            Some(row) => {
                super::customers::bump(&mut tx, customer).await?;
                tx.commit().await?;
                pool(&row)
            }
            None => {
                drop(tx);
                let current = self.license_pool(customer, name).await?;
                Err(StoreError::InUse {
                    what: "license pool",
                    key: format!("{customer}/{name}"),
                    reason: format!(
                        "{} seats are allocated; revoke licenses before shrinking below that",
                        current.allocated
                    ),
                })
            }
        }
    }

    /// Every license of a device, active and revoked.
    pub async fn licenses_of(&self, serial: &str) -> Result<Vec<LicenseRecord>, StoreError> {
        self.device_path().licenses_of(serial).await
    }

    /// The active licenses of a customer's pools.
    pub async fn active_licenses(&self, customer: &str) -> Result<Vec<LicenseRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            license_columns!(),
            " FROM licenses WHERE state = 'active' AND pool_id IN \
               (SELECT id FROM license_pools WHERE customer = $1) \
             ORDER BY serial, id"
        ))
        .bind(customer)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(license)
        .collect()
    }

    /// Revokes the active license `id`; its seat goes back to the pool.
    pub async fn revoke_license(
        &self,
        id: &str,
        reason: &str,
    ) -> Result<LicenseRecord, StoreError> {
        let mut tx = self.pool().begin().await?;
        let revoked = revoke_active(&mut tx, Revoke::License(id), reason)
            .await?
            .pop()
            .ok_or_else(|| StoreError::NotFound {
                what: "active license",
                key: id.to_owned(),
            })?;
        sqlx::query("UPDATE license_pools SET allocated = allocated - 1 WHERE id = $1")
            .bind(revoked.pool_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// RMA: moves every active license of device `from` to its replacement `to` (of
    /// `product_id`) in one transaction: each old license is revoked and points at its
    /// successor, which keeps the pool, the seat and the issue time (an evaluation goes on
    /// counting). Returns the new licenses.
    pub async fn transfer_licenses(
        &self,
        from: &str,
        to: &str,
        product_id: &str,
        mut new_id: impl FnMut() -> String,
    ) -> Result<Vec<LicenseRecord>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let moved = revoke_active(
            &mut tx,
            Revoke::Device(from),
            &format!("RMA: replaced by {to}"),
        )
        .await?;
        let mut created = Vec::with_capacity(moved.len());
        for old in &moved {
            let id = new_id();
            let row = sqlx::query(concat!(
                "INSERT INTO licenses (id, pool_id, serial, product_id, state, issued_at) \
                 VALUES ($1, $2, $3, $4, 'active', $5) RETURNING ",
                license_columns!()
            ))
            .bind(&id)
            .bind(old.pool_id)
            .bind(to)
            .bind(product_id)
            .bind(old.issued_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(conflict(
                "license of the replacement in pool",
                &old.pool_id.to_string(),
            ))?;
            sqlx::query("UPDATE licenses SET replaced_by = $2 WHERE id = $1")
                .bind(&old.id)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM license_shortages WHERE pool_id = $1 AND serial = $2")
                .bind(old.pool_id)
                .bind(to)
                .execute(&mut *tx)
                .await?;
            created.push(license(&row)?);
        }
        tx.commit().await?;
        Ok(created)
    }

    /// How many devices each of a customer's pools is short of, by pool id.
    pub async fn license_shortages(&self, customer: &str) -> Result<Vec<(i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.pool_id, COUNT(*) AS devices FROM license_shortages s \
             JOIN license_pools p ON p.id = s.pool_id WHERE p.customer = $1 \
             GROUP BY s.pool_id",
        )
        .bind(customer)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("pool_id")?, row.try_get("devices")?)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
