//! The device inventory and each device's onboarding state.

use super::columns::Columns;
use super::licenses::LicenseRecord;
use super::{Store, StoreError, conflict, corrupt, now_ms};
use crate::domain::state::DeviceState;
use ztp_certs::Serial;

/// The statement that moves a device on by an observation (`$1` serial, `$2` now, `$3` the
/// state it moves to or null, `$4` the presented certificate's SHA-256 or null: a device pinned
/// to another certificate is left alone), with `$tail` appended. Where the observation leads
/// does not depend on the state before, so one statement does it.
macro_rules! observe_sql {
    ($($tail:literal)?) => {
        concat!(
            "UPDATE devices SET last_contact_at = $2, \
               state_changed_at = CASE WHEN $3 IS NULL OR state = $3 THEN state_changed_at \
                 ELSE $2 END, \
               state = COALESCE($3, state) \
             WHERE serial = $1 \
               AND ($4 IS NULL OR certificate_pin IS NULL OR lower(certificate_pin) = $4)"
            $(, $tail)?
        )
    };
}
pub(super) use observe_sql;

/// A device as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The serial number (key).
    pub serial: String,
    /// The hardware model (product id).
    pub model: String,
    /// The owner, if it has one yet.
    pub customer: Option<String>,
    /// The SHA-256 fingerprint (lowercase hex) its IDevID certificate must have, if pinned.
    pub certificate_pin: Option<String>,
    /// Onboarding state.
    pub state: DeviceState,
    /// When the state last changed (Unix ms).
    pub state_changed_at: i64,
    /// When it last called in (Unix ms).
    pub last_contact_at: Option<i64>,
    /// When it was imported (Unix ms).
    pub created_at: i64,
}

/// A device calling in, as answering it needs it (see [`Store::calling_device`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallingDevice {
    /// Its record.
    pub device: DeviceRecord,
    /// Its owner's revision (`None`: no owner, or the owner is gone).
    pub owner_revision: Option<i64>,
    /// Its licenses, oldest first.
    pub licenses: Vec<LicenseRecord>,
    /// The voucher imported for it, if any (its CMS, expiry and idevid-issuer).
    pub imported_voucher: Option<ImportedVoucher>,
}

/// A device's imported voucher as answering it needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedVoucher {
    /// The CMS SignedData (DER), as imported.
    pub cms: Vec<u8>,
    /// When it expires (Unix ms); none: it does not.
    pub expires_at: Option<i64>,
    /// The `idevid-issuer` it names (lowercase hex), if any.
    pub idevid_issuer: Option<String>,
}

impl ImportedVoucher {
    /// Reads the `v_`-prefixed columns of a calling device's row (all null: none).
    pub(super) fn from_columns(row: &impl Columns) -> Result<Option<Self>, StoreError> {
        use base64::Engine;
        let Some(cms) = row.column::<Option<String>>("v_cms")? else {
            return Ok(None);
        };
        Ok(Some(Self {
            cms: base64::engine::general_purpose::STANDARD
                .decode(cms)
                .map_err(|e| corrupt("imported voucher")(e.to_string()))?,
            expires_at: row.column("v_expires_at")?,
            idevid_issuer: row.column("v_idevid_issuer")?,
        }))
    }
}

/// A device to import.
#[derive(Debug, Clone)]
pub struct NewDevice {
    /// Serial number.
    pub serial: String,
    /// Model.
    pub model: String,
    /// Owner.
    pub customer: Option<String>,
    /// Certificate pin (lowercase hex SHA-256).
    pub certificate_pin: Option<String>,
}

/// Changes to a device; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct DeviceUpdate {
    /// New model.
    pub model: Option<String>,
    /// New owner.
    pub customer: Option<Option<String>>,
    /// New certificate pin.
    pub certificate_pin: Option<Option<String>>,
}

/// The columns every query of this table reads (a macro: SQL must be a literal).
macro_rules! device_columns {
    () => {
        "serial, model, customer, certificate_pin, state, state_changed_at, last_contact_at, created_at"
    };
}
pub(super) use device_columns;

pub(super) fn device(row: &impl Columns) -> Result<DeviceRecord, StoreError> {
    let state: String = row.column("state")?;
    Ok(DeviceRecord {
        serial: row.column("serial")?,
        model: row.column("model")?,
        customer: row.column("customer")?,
        certificate_pin: row.column("certificate_pin")?,
        state: state.parse().map_err(corrupt("device state"))?,
        state_changed_at: row.column("state_changed_at")?,
        last_contact_at: row.column("last_contact_at")?,
        created_at: row.column("created_at")?,
    })
}

impl Store {
    /// Imports a device (state `shipped`). Its customer must exist.
    pub async fn insert_device(&self, new: &NewDevice) -> Result<DeviceRecord, StoreError> {
        if let Some(customer) = &new.customer {
            self.require_customer(customer).await?;
        }
        let now = now_ms();
        let row = sqlx::query(concat!(
            "INSERT INTO devices (serial, model, customer, certificate_pin, state, \
             state_changed_at, created_at) VALUES ($1, $2, $3, $4, 'shipped', $5, $5) \
             RETURNING ",
            device_columns!()
        ))
        .bind(&new.serial)
        .bind(&new.model)
        .bind(&new.customer)
        .bind(&new.certificate_pin)
        .bind(now)
        .fetch_all(self.pool())
        .await
        .and_then(super::only_returned)
        .map_err(conflict("device", &new.serial))?;
        device(&row)
    }

    /// The device with `serial`, if any.
    pub async fn device(&self, serial: &str) -> Result<Option<DeviceRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            device_columns!(),
            " FROM devices WHERE serial = $1"
        ))
        .bind(serial)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(device)
        .transpose()
    }

    /// What answering a device starts with: its record, its owner's revision and its licenses,
    /// read in one transaction (one snapshot, and one start of a read: each read that follows
    /// another connection's commit starts with an empty page cache).
    pub async fn calling_device(
        &self,
        serial: &Serial,
    ) -> Result<Option<CallingDevice>, StoreError> {
        self.device_path().calling_device(serial).await
    }

    /// Devices by serial, optionally only one customer's, `limit` of them after `after`.
    pub async fn devices(
        &self,
        customer: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeviceRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            device_columns!(),
            " FROM devices \
             WHERE ($1 IS NULL OR customer = $1) AND ($2 IS NULL OR serial > $2) \
             ORDER BY serial LIMIT $3"
        ))
        .bind(customer)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(device)
        .collect()
    }

    /// How many devices there are.
    pub async fn device_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM devices")
            .fetch_one(self.pool())
            .await?)
    }

    /// Changes a device.
    pub async fn update_device(
        &self,
        serial: &str,
        update: &DeviceUpdate,
    ) -> Result<DeviceRecord, StoreError> {
        if let Some(Some(customer)) = &update.customer {
            self.require_customer(customer).await?;
        }
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(concat!(
            "UPDATE devices SET \
               model = COALESCE($2, model), \
               customer = CASE WHEN $3 THEN $4 ELSE customer END, \
               certificate_pin = CASE WHEN $5 THEN $6 ELSE certificate_pin END \
             WHERE serial = $1 RETURNING ",
            device_columns!()
        ))
        .bind(serial)
        .bind(&update.model)
        .bind(update.customer.is_some())
        .bind(update.customer.clone().flatten())
        .bind(update.certificate_pin.is_some())
        .bind(update.certificate_pin.clone().flatten())
        .fetch_all(&mut *tx)
        .await
        .map(super::first_returned)?
        .ok_or_else(|| StoreError::NotFound {
            what: "device",
            key: serial.to_owned(),
        })?;
        if update.customer.is_some() {
            // An imported voucher pins its owner's certificate: a new owner needs its own.
            sqlx::query("DELETE FROM imported_vouchers WHERE serial = $1")
                .bind(serial)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        device(&row)
    }

    /// Removes a device with its progress reports (its events stay: they are history).
    pub async fn delete_device(&self, serial: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM progress_reports WHERE serial = $1")
            .bind(serial)
            .execute(&mut *tx)
            .await?;
        for statement in [
            "DELETE FROM imported_vouchers WHERE serial = $1",
            "DELETE FROM activation_codes WHERE serial = $1",
        ] {
            sqlx::query(statement)
                .bind(serial)
                .execute(&mut *tx)
                .await?;
        }
        // A deleted device is not registered any more; what NMSes already have stays theirs.
        sqlx::query("DELETE FROM registrations WHERE serial = $1")
            .bind(serial)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM devices WHERE serial = $1")
            .bind(serial)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound {
                what: "device",
                key: serial.to_owned(),
            });
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn require_customer(&self, name: &str) -> Result<(), StoreError> {
        match self.customer_revision(name).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound {
                what: "customer",
                key: name.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::testing::{new_customer, store};

    fn new_device(serial: &str, customer: Option<&str>) -> NewDevice {
        NewDevice {
            serial: serial.into(),
            model: "uCPE-100".into(),
            customer: customer.map(Into::into),
            certificate_pin: None,
        }
    }

    #[tokio::test]
    async fn devices_belong_to_existing_customers() {
        let (store, _dir) = store().await;
        assert!(matches!(
            store.insert_device(&new_device("SN-1", Some("acme"))).await,
            Err(StoreError::NotFound {
                what: "customer",
                ..
            })
        ));
        store.insert_customer(&new_customer("acme")).await.unwrap();
        let device = store
            .insert_device(&new_device("SN-1", Some("acme")))
            .await
            .unwrap();
        assert_eq!(device.state, DeviceState::Shipped);
        assert!(matches!(
            store.insert_device(&new_device("SN-1", None)).await,
            Err(StoreError::Conflict { .. })
        ));
        assert!(matches!(
            store.delete_customer("acme").await,
            Err(StoreError::InUse { .. })
        ));

        let moved = store
            .update_device(
                "SN-1",
                &DeviceUpdate {
                    customer: Some(None),
                    certificate_pin: Some(Some("ab".repeat(32))),
                    ..DeviceUpdate::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(moved.customer, None);
        assert_eq!(moved.model, "uCPE-100");
        assert_eq!(moved.certificate_pin, Some("ab".repeat(32)));
        store.delete_customer("acme").await.unwrap();
    }

    #[tokio::test]
    async fn listing_pages_by_serial() {
        let (store, _dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        for serial in ["SN-3", "SN-1", "SN-2"] {
            store
                .insert_device(&new_device(serial, Some("acme")))
                .await
                .unwrap();
        }
        store
            .insert_device(&new_device("SN-9", None))
            .await
            .unwrap();
        let serials = |devices: Vec<DeviceRecord>| -> Vec<String> {
            devices.into_iter().map(|d| d.serial).collect()
        };
        assert_eq!(
            serials(store.devices(Some("acme"), None, 2).await.unwrap()),
            ["SN-1", "SN-2"]
        );
        assert_eq!(
            serials(store.devices(Some("acme"), Some("SN-2"), 2).await.unwrap()),
            ["SN-3"]
        );
        assert_eq!(store.devices(None, None, 10).await.unwrap().len(), 4);
        assert_eq!(store.device_count().await.unwrap(), 4);
    }
}
