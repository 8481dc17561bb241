//! Entitlement pools, the node-locked licenses allocated from them, and shortages.
//!
//! A counted pool is never over-allocated: a license is inserted only in the transaction whose
//! conditional `UPDATE … SET allocated = allocated + 1 WHERE allocated < seats` succeeded, and a
//! unique index allows one active license per device and pool.

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use rusqlite::types::ToSql;

use super::direct::{Columns, execute_on, rows_on};
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

/// A device's licenses, oldest first, on `connection` (the devices' path).
pub(super) fn licenses_of_on(
    connection: &rusqlite::Connection,
    serial: &str,
) -> Result<Vec<LicenseRecord>, StoreError> {
    rows_on(
        connection,
        concat!(
            "SELECT ",
            license_columns!(),
            " FROM licenses WHERE serial = $1 ORDER BY issued_at, id"
        ),
        &[&serial],
        |row| license(row),
    )
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
        self.direct()
            .read(|connection| licenses_of_on(connection, serial))
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

/// Allocates `new` on `connection` (inside the journal's transaction, which holds the write
/// lock): the device's active license from the pool if it has one (another request allocated
/// it first), else a seat if one is free, clearing the device's shortage in the pool; when every
/// seat is taken, the shortage is recorded instead.
pub(super) fn allocate_on(
    connection: &rusqlite::Connection,
    new: &NewLicense,
) -> Result<Allocation, StoreError> {
    let held = rows_on(
        connection,
        concat!(
            "SELECT ",
            license_columns!(),
            " FROM licenses WHERE pool_id = $1 AND serial = $2 AND state = 'active'"
        ),
        &[&new.pool_id, &new.serial],
        |row| license(row),
    )?;
    if let Some(held) = held.into_iter().next() {
        return Ok(Allocation::Granted(held));
    }
    let now = now_ms();
    let seat = execute_on(
        connection,
        "UPDATE license_pools SET allocated = allocated + 1 \
         WHERE id = $1 AND (seats IS NULL OR allocated < seats)",
        &[&new.pool_id],
    )?;
    // The device's shortage in the pool, and when: `$1`, `$2`, `$3`.
    let shortage: [&dyn ToSql; 3] = [&new.pool_id, &new.serial, &now];
    if seat == 0 {
        let first = execute_on(
            connection,
            "INSERT INTO license_shortages (pool_id, serial, first_at, last_at) \
             VALUES ($1, $2, $3, $3) ON CONFLICT (pool_id, serial) DO NOTHING",
            &shortage,
        )? == 1;
        if !first {
            execute_on(
                connection,
                "UPDATE license_shortages SET last_at = $3 WHERE pool_id = $1 AND serial = $2",
                &shortage,
            )?;
        }
        return Ok(Allocation::NoSeat { first });
    }
    let granted = rows_on(
        connection,
        concat!(
            "INSERT INTO licenses (id, pool_id, serial, product_id, state, issued_at) \
             VALUES ($1, $2, $3, $4, 'active', $5) RETURNING ",
            license_columns!()
        ),
        &[&new.id, &new.pool_id, &new.serial, &new.product_id, &now],
        |row| license(row),
    )?
    .into_iter()
    .next()
    .ok_or_else(|| corrupt("license")("the insert returned no row".to_owned()))?;
    execute_on(
        connection,
        "DELETE FROM license_shortages WHERE pool_id = $1 AND serial = $2",
        &shortage[..2],
    )?;
    Ok(Allocation::Granted(granted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::journal::Journal;
    use crate::store::testing::{add_device, new_customer, store};
    use crate::store::{EventFilter, EventKind, NewEvent};

    /// Allocates `id` from `pool_id` to `serial` (a uCPE-100) through the journal, as a device
    /// request does.
    async fn allocate(journal: &Journal, pool_id: i64, serial: &str, id: &str) -> Allocation {
        let license = NewLicense {
            id: id.into(),
            pool_id,
            serial: serial.into(),
            product_id: "uCPE-100".into(),
        };
        let shortage = NewEvent {
            serial: Some(serial.into()),
            kind: EventKind::LicenseShortage,
            status: None,
            peer: None,
            detail: format!("no seat for {serial}"),
            notice: None,
        };
        journal.allocate(license, shortage).await.unwrap()
    }

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
        // Concurrent requests: the journal writes them in a few batches.
        let journal = Journal::start(&store);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..20 {
            let journal = journal.clone();
            tasks.spawn(async move {
                let serial = format!("SN-{i}");
                allocate(&journal, p.id, &serial, &format!("LIC-{i}")).await
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
    async fn a_calling_device_is_read_with_its_owner_revision_and_licenses_as_they_are_now() {
        let (store, _dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        add_device(&store, "SN-1", "acme").await;
        assert_eq!(store.calling_device("SN-GONE").await.unwrap(), None);
        let fresh = store.calling_device("SN-1").await.unwrap().unwrap();
        assert_eq!(fresh.device.serial, "SN-1");
        assert!(fresh.licenses.is_empty());
        assert_eq!(
            fresh.owner_revision,
            store.customer_revision("acme").await.unwrap()
        );
        let p = store
            .insert_license_pool(&new_pool("100g", None))
            .await
            .unwrap();
        let journal = Journal::start(&store);
        allocate(&journal, p.id, "SN-1", "LIC-A").await;
        // The read's transaction ended with it: the pooled connection, used again, sees the
        // writer's commit and the pool's revision bump.
        let later = store.calling_device("SN-1").await.unwrap().unwrap();
        let ids: Vec<&str> = later.licenses.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, ["LIC-A"]);
        assert!(later.owner_revision > fresh.owner_revision);
        store.revoke_license("LIC-A", "test").await.unwrap();
        let revoked = store.calling_device("SN-1").await.unwrap().unwrap();
        assert_eq!(revoked.licenses[0].state, LicenseState::Revoked);
    }

    #[tokio::test]
    async fn one_active_license_per_device_and_pool() {
        let (store, _dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        let p = store
            .insert_license_pool(&new_pool("100g", None))
            .await
            .unwrap();
        let journal = Journal::start(&store);
        let first = allocate(&journal, p.id, "SN-1", "LIC-A").await;
        let second = allocate(&journal, p.id, "SN-1", "LIC-B").await;
        assert_eq!(first, second, "the first allocation stands");
        // Two requests of the same device at once (in one batch, or one after the other).
        let (a, b) = tokio::join!(
            allocate(&journal, p.id, "SN-2", "LIC-C"),
            allocate(&journal, p.id, "SN-2", "LIC-D")
        );
        assert_eq!(a, b, "one license for both");
        assert_eq!(
            store.license_pool("acme", "100g").await.unwrap().allocated,
            2,
            "one seat per device"
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
        let journal = Journal::start(&store);
        allocate(&journal, p.id, "SN-1", "LIC-1").await;
        assert_eq!(
            allocate(&journal, p.id, "SN-2", "LIC-2").await,
            Allocation::NoSeat { first: true }
        );
        assert_eq!(
            allocate(&journal, p.id, "SN-2", "LIC-2").await,
            Allocation::NoSeat { first: false }
        );
        assert_eq!(store.license_shortages("acme").await.unwrap(), [(p.id, 1)]);
        let shortages = store
            .events(&EventFilter {
                kind: Some(EventKind::LicenseShortage),
                limit: 10,
                ..EventFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(shortages.len(), 1, "one shortage event per device and pool");

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
            allocate(&journal, p.id, "SN-2", "LIC-2").await,
            Allocation::Granted(_)
        ));
        assert!(
            store.license_shortages("acme").await.unwrap().is_empty(),
            "the shortage ended with the license"
        );
    }
}
