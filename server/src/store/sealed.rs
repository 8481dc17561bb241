//! The sealed columns of the database: sealing and opening through the store's
//! [`SecretBox`](crate::secrets::SecretBox), and the pass that seals what is not sealed under
//! the current master key (values written before sealing existed, or under a previous key).

use sqlx::{Any, Row, Transaction};

use super::customers::signer_key_field;
use super::nms::{password_field, private_key_field};
use super::webhooks::secret_field;
use super::{Store, StoreError};

impl Store {
    pub(super) fn seal(&self, field: &str, plaintext: &str) -> Result<String, StoreError> {
        Ok(self.secrets.seal(field, plaintext)?)
    }

    pub(super) fn open_secret(&self, field: &str, stored: &str) -> Result<String, StoreError> {
        Ok(self.secrets.open(field, stored)?)
    }

    /// Re-seals, in one transaction, every secret not sealed under the current master key.
    /// Returns how many were re-sealed.
    pub async fn reseal_secrets(&self) -> Result<usize, StoreError> {
        let mut tx = self.pool().begin().await?;
        // Write first (see `store::customers`): take the write lock before reading.
        sqlx::query("UPDATE customers SET name = name WHERE 0 = 1")
            .execute(&mut *tx)
            .await?;
        let resealed = self.reseal_signer_keys(&mut tx).await?
            + self.reseal_nms_credentials(&mut tx).await?
            + self.reseal_webhook_secrets(&mut tx).await?
            + self.reseal_ldevid_keys(&mut tx).await?;
        tx.commit().await?;
        Ok(resealed)
    }

    /// The stored `value` of `field` sealed under the current master key, or `None` when it
    /// already is.
    pub(super) fn resealed(&self, field: &str, stored: &str) -> Result<Option<String>, StoreError> {
        if !self.secrets.needs_sealing(stored) {
            return Ok(None);
        }
        Ok(Some(self.seal(field, &self.open_secret(field, stored)?)?))
    }

    /// Customers' signer keys.
    async fn reseal_signer_keys(&self, tx: &mut Transaction<'_, Any>) -> Result<usize, StoreError> {
        let mut resealed = 0;
        let customers = sqlx::query("SELECT name, signer_key_pem FROM customers")
            .fetch_all(&mut **tx)
            .await?;
        for row in customers {
            let name: String = row.try_get("name")?;
            let stored: String = row.try_get("signer_key_pem")?;
            if let Some(sealed) = self.resealed(&signer_key_field(&name), &stored)? {
                sqlx::query("UPDATE customers SET signer_key_pem = $2 WHERE name = $1")
                    .bind(&name)
                    .bind(sealed)
                    .execute(&mut **tx)
                    .await?;
                resealed += 1;
            }
        }
        Ok(resealed)
    }

    /// NMS connections' passwords and private keys.
    async fn reseal_nms_credentials(
        &self,
        tx: &mut Transaction<'_, Any>,
    ) -> Result<usize, StoreError> {
        let mut resealed = 0;
        let connections =
            sqlx::query("SELECT customer, name, password, private_key_pem FROM nms_connections")
                .fetch_all(&mut **tx)
                .await?;
        for row in connections {
            let customer: String = row.try_get("customer")?;
            let name: String = row.try_get("name")?;
            let password: Option<String> = row.try_get("password")?;
            let key: Option<String> = row.try_get("private_key_pem")?;
            let password = match password {
                Some(stored) => self.resealed(&password_field(&customer, &name), &stored)?,
                None => None,
            };
            let key = match key {
                Some(stored) => self.resealed(&private_key_field(&customer, &name), &stored)?,
                None => None,
            };
            if password.is_none() && key.is_none() {
                continue;
            }
            sqlx::query(
                "UPDATE nms_connections SET password = COALESCE($3, password), \
                   private_key_pem = COALESCE($4, private_key_pem) \
                 WHERE customer = $1 AND name = $2",
            )
            .bind(&customer)
            .bind(&name)
            .bind(&password)
            .bind(&key)
            .execute(&mut **tx)
            .await?;
            resealed += usize::from(password.is_some()) + usize::from(key.is_some());
        }
        Ok(resealed)
    }

    /// Webhooks' HMAC secrets.
    async fn reseal_webhook_secrets(
        &self,
        tx: &mut Transaction<'_, Any>,
    ) -> Result<usize, StoreError> {
        let mut resealed = 0;
        let webhooks = sqlx::query("SELECT id, customer, name, secret FROM webhooks")
            .fetch_all(&mut **tx)
            .await?;
        for row in webhooks {
            let stored: String = row.try_get("secret")?;
            let field = secret_field(
                &row.try_get::<String, _>("customer")?,
                &row.try_get::<String, _>("name")?,
            );
            if let Some(sealed) = self.resealed(&field, &stored)? {
                sqlx::query("UPDATE webhooks SET secret = $2 WHERE id = $1")
                    .bind(row.try_get::<i64, _>("id")?)
                    .bind(sealed)
                    .execute(&mut **tx)
                    .await?;
                resealed += 1;
            }
        }
        Ok(resealed)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::StoreError;
    use crate::store::testing::{new_customer, store};

    #[tokio::test]
    async fn secrets_are_sealed_per_row_and_legacy_plaintext_gets_sealed() {
        let (store, _dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        store.insert_customer(&new_customer("other")).await.unwrap();
        let raw = || async {
            sqlx::query_scalar::<_, String>(
                "SELECT signer_key_pem FROM customers WHERE name = 'acme'",
            )
            .fetch_one(store.pool())
            .await
            .unwrap()
        };
        assert!(raw().await.starts_with("ztp-sealed:v1:"));
        let acme = store.customer("acme").await.unwrap().unwrap();
        assert_eq!(acme.signer_key_pem, "key");

        // A value written before sealing existed reads as it is and is sealed by the pass.
        sqlx::query("UPDATE customers SET signer_key_pem = 'legacy' WHERE name = 'acme'")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(store.reseal_secrets().await.unwrap(), 1);
        assert_eq!(
            store.reseal_secrets().await.unwrap(),
            0,
            "nothing left to seal"
        );
        assert!(raw().await.starts_with("ztp-sealed:v1:"));
        let acme = store.customer("acme").await.unwrap().unwrap();
        assert_eq!(acme.signer_key_pem, "legacy");

        // A sealed value copied into another row does not open there.
        sqlx::query("UPDATE customers SET signer_key_pem = $1 WHERE name = 'other'")
            .bind(raw().await)
            .execute(store.pool())
            .await
            .unwrap();
        assert!(matches!(
            store.customer("other").await,
            Err(StoreError::Secret(_))
        ));
    }

    #[tokio::test]
    async fn webhook_secrets_are_sealed_and_resealed_too() {
        use crate::domain::notice::Notice;
        use crate::store::webhooks::NewWebhook;
        let (store, _dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        let hook = NewWebhook {
            customer: "acme".into(),
            name: "ops".into(),
            url: "https://hooks.acme.example/".into(),
            notices: Notice::ALL.to_vec(),
            ca_pem: None,
            secret: "whsec_plain".into(),
            enabled: true,
        };
        store.insert_webhook(&hook).await.unwrap();
        let raw = || async {
            sqlx::query_scalar::<_, String>("SELECT secret FROM webhooks")
                .fetch_one(store.pool())
                .await
                .unwrap()
        };
        assert!(raw().await.starts_with("ztp-sealed:v1:"));
        sqlx::query("UPDATE webhooks SET secret = 'legacy'")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(store.reseal_secrets().await.unwrap(), 1);
        assert!(raw().await.starts_with("ztp-sealed:v1:"));
        assert_eq!(store.webhook("acme", "ops").await.unwrap().secret, "legacy");
    }
}
