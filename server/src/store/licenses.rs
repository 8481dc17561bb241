//! Entitlement pools, the node-locked licenses allocated from them, and shortages.
//!
//! A counted pool is never over-allocated: a license is inserted only in the transaction whose
//! conditional `UPDATE … SET allocated = allocated + 1 WHERE allocated < seats` succeeded, and a
//! unique index allows one active license per device and pool.

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::direct::Columns;
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

/// The outcome of an allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allocation {
    /// The device has this license (new, or allocated meanwhile by a concurrent request).
    Granted(LicenseRecord),
    /// Every seat is taken.
    NoSeat,
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

fn license(row: &impl Columns) -> Result<LicenseRecord, StoreError> {
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
        // The devices' path: inline, without a thread switch (see `direct`).
        self.direct().rows(
            concat!(
                "SELECT ",
                license_columns!(),
                " FROM licenses WHERE serial = $1 ORDER BY issued_at, id"
            ),
            &[&serial],
            |row| license(row),
        )
    }

    /// Allocates a license `id` from pool `pool_id` to a device: takes a seat if one is free,
    /// clears the device's shortage in that pool. A concurrent request that allocated first
    /// wins, and its license is returned.
    pub async fn allocate_license(
        &self,
        pool_id: i64,
        serial: &str,
        product_id: &str,
        id: &str,
    ) -> Result<Allocation, StoreError> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        let seat = sqlx::query(
            "UPDATE license_pools SET allocated = allocated + 1 \
             WHERE id = $1 AND (seats IS NULL OR allocated < seats)",
        )
        .bind(pool_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if seat == 0 {
            return Ok(Allocation::NoSeat);
        }
        let inserted = sqlx::query(concat!(
            "INSERT INTO licenses (id, pool_id, serial, product_id, state, issued_at) \
             VALUES ($1, $2, $3, $4, 'active', $5) RETURNING ",
            license_columns!()
        ))
        .bind(id)
        .bind(pool_id)
        .bind(serial)
        .bind(product_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await;
        match inserted {
            Ok(row) => {
                sqlx::query("DELETE FROM license_shortages WHERE pool_id = $1 AND serial = $2")
                    .bind(pool_id)
                    .bind(serial)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Allocation::Granted(license(&row)?))
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                // The same device, in a concurrent request, got its license first.
                tx.rollback().await?;
                let existing = self
                    .licenses_of(serial)
                    .await?
                    .into_iter()
                    .find(|l| l.pool_id == pool_id && l.state == LicenseState::Active)
                    .ok_or_else(|| StoreError::Conflict {
                        what: "license",
                        key: format!("{serial} in pool {pool_id}"),
                    })?;
                Ok(Allocation::Granted(existing))
            }
            Err(e) => Err(e.into()),
        }
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

    /// Records that pool `pool_id` had no seat for a device. Returns whether this is new (the
    /// device was not short of this pool before).
    pub async fn record_license_shortage(
        &self,
        pool_id: i64,
        serial: &str,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let new = sqlx::query(
            "INSERT INTO license_shortages (pool_id, serial, first_at, last_at) \
             VALUES ($1, $2, $3, $3) ON CONFLICT (pool_id, serial) DO NOTHING",
        )
        .bind(pool_id)
        .bind(serial)
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1;
        if !new {
            sqlx::query(
                "UPDATE license_shortages SET last_at = $3 WHERE pool_id = $1 AND serial = $2",
            )
            .bind(pool_id)
            .bind(serial)
            .bind(now)
            .execute(self.pool())
            .await?;
        }
        Ok(new)
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
mod tests {
    use super::*;
    use crate::store::testing::{new_customer, store};

    fn new_pool(name: &str, seats: Option<u32>) -> NewPool {
        NewPool {
            customer: "acme".into(),
            name: name.into(),
            feature: "ESS-ED-100G-SIA3".into(),
            terms: Terms {
                term: Term::Perpetual,
                starts_at: None,
                ends_at: None,
                evaluation_days: None,
            },
            seats,
            scope: Scope::Models(vec!["uCPE-100".into()]),
        }
    }

    #[tokio::test]
    async fn pool_and_nms_changes_bump_the_owner_revision() {
        let (store, _dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        let revision = || async { store.customer_revision("acme").await.unwrap().unwrap() };
        let start = revision().await;
        store
            .insert_license_pool(&new_pool("core", Some(1)))
            .await
            .unwrap();
        assert_eq!(revision().await, start + 1, "a new pool");
        let terms = store.license_pool("acme", "core").await.unwrap().terms;
        store
            .update_license_pool("acme", "core", Some(2), &terms)
            .await
            .unwrap();
        assert_eq!(revision().await, start + 2, "a changed pool");
        let connection = crate::store::NmsConnectionRecord {
            customer: "acme".into(),
            name: "main".into(),
            host: "nms.acme.example".into(),
            port: 22,
            username: "ztp".into(),
            password: Some("secret".into()),
            private_key_pem: None,
            pins: vec!["SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s".into()],
            directory: String::new(),
            policy: crate::domain::delivery::DeliveryPolicy::Parallel,
            created_at: 0,
            updated_at: 0,
        };
        store.put_nms_connection(&connection).await.unwrap();
        assert_eq!(revision().await, start + 3, "an NMS connection");
        store.delete_nms_connection("acme", "main").await.unwrap();
        assert_eq!(revision().await, start + 4, "its removal");
        assert!(matches!(
            store
                .insert_license_pool(&NewPool {
                    customer: "nobody".into(),
                    ..new_pool("x", None)
                })
                .await,
            Err(StoreError::NotFound {
                what: "customer",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn a_counted_pool_is_never_over_allocated_even_concurrently() {
        let (store, _dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        let p = store
            .insert_license_pool(&new_pool("100g", Some(5)))
            .await
            .unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..20 {
            let store = store.clone();
            tasks.spawn(async move {
                let serial = format!("SN-{i}");
                store
                    .allocate_license(p.id, &serial, "uCPE-100", &format!("LIC-{i}"))
                    .await
                    .unwrap()
            });
        }
        let mut granted = 0;
        while let Some(outcome) = tasks.join_next().await {
            if matches!(outcome.unwrap(), Allocation::Granted(_)) {
                granted += 1;
            }
        }
        assert_eq!(granted, 5);
        assert_eq!(
            store.license_pool("acme", "100g").await.unwrap().allocated,
            5
        );
    }

    #[tokio::test]
    async fn one_active_license_per_device_and_pool() {
        let (store, _dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        let p = store
            .insert_license_pool(&new_pool("100g", None))
            .await
            .unwrap();
        let first = store
            .allocate_license(p.id, "SN-1", "uCPE-100", "LIC-A")
            .await
            .unwrap();
        let second = store
            .allocate_license(p.id, "SN-1", "uCPE-100", "LIC-B")
            .await
            .unwrap();
        assert_eq!(first, second, "the first allocation stands");
        assert_eq!(
            store.license_pool("acme", "100g").await.unwrap().allocated,
            1,
            "the losing allocation gave its seat back"
        );
    }

    #[tokio::test]
    async fn pools_shrink_only_down_to_what_is_allocated_and_record_shortages() {
        let (store, _dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        let p = store
            .insert_license_pool(&new_pool("100g", Some(1)))
            .await
            .unwrap();
        assert!(matches!(
            store.insert_license_pool(&new_pool("100g", Some(1))).await,
            Err(StoreError::Conflict { .. })
        ));
        store
            .allocate_license(p.id, "SN-1", "uCPE-100", "LIC-1")
            .await
            .unwrap();
        assert_eq!(
            store
                .allocate_license(p.id, "SN-2", "uCPE-100", "LIC-2")
                .await
                .unwrap(),
            Allocation::NoSeat
        );
        assert!(store.record_license_shortage(p.id, "SN-2").await.unwrap());
        assert!(!store.record_license_shortage(p.id, "SN-2").await.unwrap());
        assert_eq!(store.license_shortages("acme").await.unwrap(), [(p.id, 1)]);

        assert!(matches!(
            store
                .update_license_pool("acme", "100g", Some(0), &p.terms)
                .await,
            Err(StoreError::InUse { .. })
        ));
        let grown = store
            .update_license_pool("acme", "100g", Some(2), &p.terms)
            .await
            .unwrap();
        assert_eq!(grown.seats, Some(2));
        assert!(matches!(
            store
                .allocate_license(p.id, "SN-2", "uCPE-100", "LIC-2")
                .await
                .unwrap(),
            Allocation::Granted(_)
        ));
        assert!(
            store.license_shortages("acme").await.unwrap().is_empty(),
            "the shortage ended with the license"
        );
    }
}
