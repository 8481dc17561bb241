//! Bulk device import: a batch of idempotent upserts written in one transaction that is opened,
//! written and committed inside [`Store::write_import_batch`]. The importer gathers a batch in
//! memory first, so no transaction (and no SQLite write lock) is ever held while an import
//! waits for its client.

use std::collections::BTreeMap;

use super::{NewDevice, Store, StoreError, now_ms};

/// Devices to write together, and the serials they add to serial-drawn license pools.
#[derive(Debug, Default)]
pub struct ImportBatch {
    /// Devices to add, or whose model, owner and pin to update (their onboarding state stays).
    /// Their owners must exist (checked by the caller: a failed statement would abort the
    /// whole transaction on PostgreSQL).
    pub devices: Vec<NewDevice>,
    /// Serials to add to each serial-drawn pool, by pool id; only serials the pool does not
    /// list yet.
    pub pool_joins: BTreeMap<i64, Vec<String>>,
}

impl ImportBatch {
    /// Devices in the batch.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Whether the batch holds no device.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }
}

impl Store {
    /// Writes `batch` in one transaction: all of it or (on an error) none of it.
    pub async fn write_import_batch(&self, batch: &ImportBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        let now = now_ms();
        for device in &batch.devices {
            sqlx::query(
                "INSERT INTO devices (serial, model, customer, certificate_pin, state, \
                   state_changed_at, created_at) VALUES ($1, $2, $3, $4, 'shipped', $5, $5) \
                 ON CONFLICT (serial) DO UPDATE SET model = excluded.model, \
                   customer = excluded.customer, certificate_pin = excluded.certificate_pin",
            )
            .bind(&device.serial)
            .bind(&device.model)
            .bind(&device.customer)
            .bind(&device.certificate_pin)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        for (pool_id, serials) in &batch.pool_joins {
            if serials.is_empty() {
                continue;
            }
            sqlx::query(
                "UPDATE license_pools SET scope_values = TRIM(scope_values || ' ' || $2), \
                   updated_at = $3 WHERE id = $1 AND scope_kind = 'serials'",
            )
            .bind(pool_id)
            .bind(serials.join(" "))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            // Who the pool covers is part of what answering the owner's devices depends on.
            sqlx::query(
                "UPDATE customers SET revision = revision + 1, updated_at = $2 \
                 WHERE name = (SELECT customer FROM license_pools WHERE id = $1)",
            )
            .bind(pool_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{new_customer, store};

    fn device(serial: &str, model: &str, customer: &str) -> NewDevice {
        NewDevice {
            serial: serial.into(),
            model: model.into(),
            customer: Some(customer.into()),
            certificate_pin: None,
        }
    }

    #[tokio::test]
    async fn batches_are_idempotent_upserts_and_a_failed_one_leaves_nothing() {
        let (store, _dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        let batch = ImportBatch {
            devices: vec![device("SN-1", "m1", "acme")],
            ..ImportBatch::default()
        };
        store.write_import_batch(&batch).await.unwrap();
        store.write_import_batch(&batch).await.unwrap();
        let batch = ImportBatch {
            devices: vec![device("SN-1", "m2", "acme")],
            ..ImportBatch::default()
        };
        store.write_import_batch(&batch).await.unwrap();
        assert_eq!(store.device("SN-1").await.unwrap().unwrap().model, "m2");

        // The second device's owner does not exist: the first is not kept either.
        let batch = ImportBatch {
            devices: vec![device("SN-2", "m1", "acme"), device("SN-3", "m1", "ghost")],
            ..ImportBatch::default()
        };
        assert!(store.write_import_batch(&batch).await.is_err());
        assert!(store.device("SN-2").await.unwrap().is_none());
    }
}
