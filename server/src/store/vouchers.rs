//! Ownership vouchers ztp did not sign, imported per device and served as they are.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, corrupt, now_ms};

/// An imported voucher as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedVoucherRecord {
    /// The device.
    pub serial: String,
    /// The voucher: its CMS SignedData (DER), byte for byte as imported.
    pub cms: Vec<u8>,
    /// The subject of the MASA certificate that signed it.
    pub masa: String,
    /// When it expires (Unix ms); none: it does not.
    pub expires_at: Option<i64>,
    /// The `idevid-issuer` it names (lowercase hex of a key identifier), if any.
    pub idevid_issuer: Option<String>,
    /// When it was imported (Unix ms); set by the store.
    pub imported_at: i64,
}

macro_rules! voucher_columns {
    () => {
        "serial, cms, masa, expires_at, idevid_issuer, imported_at"
    };
}

fn voucher(row: &AnyRow) -> Result<ImportedVoucherRecord, StoreError> {
    let cms: String = row.try_get("cms")?;
    Ok(ImportedVoucherRecord {
        serial: row.try_get("serial")?,
        cms: STANDARD
            .decode(cms)
            .map_err(|e| corrupt("imported voucher")(e.to_string()))?,
        masa: row.try_get("masa")?,
        expires_at: row.try_get("expires_at")?,
        idevid_issuer: row.try_get("idevid_issuer")?,
        imported_at: row.try_get("imported_at")?,
    })
}

impl Store {
    /// Stores `voucher` as its device's imported voucher, in place of any earlier one.
    pub async fn put_imported_voucher(
        &self,
        voucher: &ImportedVoucherRecord,
    ) -> Result<ImportedVoucherRecord, StoreError> {
        let mut tx = self.pool().begin().await?;
        let known = sqlx::query("SELECT serial FROM devices WHERE serial = $1")
            .bind(&voucher.serial)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(StoreError::NotFound {
                what: "device",
                key: voucher.serial.clone(),
            });
        }
        sqlx::query("DELETE FROM imported_vouchers WHERE serial = $1")
            .bind(&voucher.serial)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(concat!(
            "INSERT INTO imported_vouchers (serial, cms, masa, expires_at, idevid_issuer, \
             imported_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
            voucher_columns!()
        ))
        .bind(&voucher.serial)
        .bind(STANDARD.encode(&voucher.cms))
        .bind(&voucher.masa)
        .bind(voucher.expires_at)
        .bind(&voucher.idevid_issuer)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        self::voucher(&row)
    }

    /// The device's imported voucher, if it has one.
    pub async fn imported_voucher(
        &self,
        serial: &str,
    ) -> Result<Option<ImportedVoucherRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            voucher_columns!(),
            " FROM imported_vouchers WHERE serial = $1"
        ))
        .bind(serial)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(voucher)
        .transpose()
    }

    /// Removes the device's imported voucher; whether it had one.
    pub async fn delete_imported_voucher(&self, serial: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM imported_vouchers WHERE serial = $1")
            .bind(serial)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }
}

/// `bytes` as lowercase hex, as an `idevid_issuer` is stored.
pub fn lower_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
