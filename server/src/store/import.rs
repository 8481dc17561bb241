//! Bulk device import: idempotent upserts in transactions the importer opens and commits, so
//! that a partial import commits batch by batch and an all-or-nothing one commits once or not
//! at all.

use sqlx::{Any, Transaction};

use super::{NewDevice, Store, StoreError, now_ms};

/// An import in progress: one open transaction.
#[derive(Debug)]
pub struct DeviceImport {
    tx: Transaction<'static, Any>,
    written: u64,
}

impl Store {
    /// Opens an import transaction.
    pub async fn begin_import(&self) -> Result<DeviceImport, StoreError> {
        Ok(DeviceImport {
            tx: self.pool().begin().await?,
            written: 0,
        })
    }
}

impl DeviceImport {
    /// Adds the device, or updates the model, owner and pin of the one with that serial (its
    /// onboarding state stays). The owner must exist (checked by the caller: a failed statement
    /// would abort the whole transaction on PostgreSQL).
    pub async fn upsert(&mut self, device: &NewDevice) -> Result<(), StoreError> {
        let now = now_ms();
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
        .execute(&mut *self.tx)
        .await?;
        self.written += 1;
        Ok(())
    }

    /// Adds `serials` to the serials a serial-scoped pool is drawn by (the caller passes only
    /// serials not already listed).
    pub async fn extend_pool(
        &mut self,
        pool_id: i64,
        serials: &[String],
    ) -> Result<(), StoreError> {
        if serials.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE license_pools SET scope_values = TRIM(scope_values || ' ' || $2), \
               updated_at = $3 WHERE id = $1 AND scope_kind = 'serials'",
        )
        .bind(pool_id)
        .bind(serials.join(" "))
        .bind(now_ms())
        .execute(&mut *self.tx)
        .await?;
        // Who the pool covers is part of what answering the owner's devices depends on.
        sqlx::query(
            "UPDATE customers SET revision = revision + 1, updated_at = $2 \
             WHERE name = (SELECT customer FROM license_pools WHERE id = $1)",
        )
        .bind(pool_id)
        .bind(now_ms())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Devices written in this transaction.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<(), StoreError> {
        Ok(self.tx.rollback().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{new_customer, store};

    fn device(serial: &str, model: &str) -> NewDevice {
        NewDevice {
            serial: serial.into(),
            model: model.into(),
            customer: Some("acme".into()),
            certificate_pin: None,
        }
    }

    #[tokio::test]
    async fn upserts_are_idempotent_and_a_rollback_leaves_nothing() {
        let (store, _dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        let mut import = store.begin_import().await.unwrap();
        import.upsert(&device("SN-1", "m1")).await.unwrap();
        import.upsert(&device("SN-1", "m2")).await.unwrap();
        assert_eq!(import.written(), 2);
        import.commit().await.unwrap();
        assert_eq!(store.device("SN-1").await.unwrap().unwrap().model, "m2");

        let mut import = store.begin_import().await.unwrap();
        import.upsert(&device("SN-2", "m1")).await.unwrap();
        import.rollback().await.unwrap();
        assert!(store.device("SN-2").await.unwrap().is_none());
    }
}
