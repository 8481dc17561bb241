//! Devices' activation codes: an Argon2id hash each (never the code), and whether the code is
//! the device's only factor.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, now_ms};

/// A device's activation code as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationCodeRecord {
    /// The device.
    pub serial: String,
    /// The code's Argon2id hash (a PHC string).
    pub hash: String,
    /// Whether the code alone authenticates the device (it has no IDevID); otherwise it is a
    /// second factor beside the IDevID.
    pub only_factor: bool,
    /// When it was set (Unix ms); set by the store.
    pub created_at: i64,
}

fn record(row: &AnyRow) -> Result<ActivationCodeRecord, StoreError> {
    let only: String = row.try_get("only_factor")?;
    Ok(ActivationCodeRecord {
        serial: row.try_get("serial")?,
        hash: row.try_get("hash")?,
        only_factor: only == "yes",
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Sets the device's activation code (its hash), in place of any earlier one.
    pub async fn put_activation_code(
        &self,
        code: &ActivationCodeRecord,
    ) -> Result<ActivationCodeRecord, StoreError> {
        let mut tx = self.pool().begin().await?;
        let known = sqlx::query("SELECT serial FROM devices WHERE serial = $1")
            .bind(&code.serial)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(StoreError::NotFound {
                what: "device",
                key: code.serial.clone(),
            });
        }
        sqlx::query("DELETE FROM activation_codes WHERE serial = $1")
            .bind(&code.serial)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "INSERT INTO activation_codes (serial, hash, only_factor, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING serial, hash, only_factor, created_at",
        )
        .bind(&code.serial)
        .bind(&code.hash)
        .bind(if code.only_factor { "yes" } else { "no" })
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        record(&row)
    }

    /// The device's activation code, if it has one.
    pub async fn activation_code(
        &self,
        serial: &str,
    ) -> Result<Option<ActivationCodeRecord>, StoreError> {
        sqlx::query(
            "SELECT serial, hash, only_factor, created_at FROM activation_codes \
             WHERE serial = $1",
        )
        .bind(serial)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(record)
        .transpose()
    }

    /// Removes the device's activation code; whether it had one.
    pub async fn delete_activation_code(&self, serial: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM activation_codes WHERE serial = $1")
            .bind(serial)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }
}
