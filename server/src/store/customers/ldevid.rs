//! Where a customer's devices' LDevIDs come from (RFC 9646): the stored setting, and the
//! re-sealing of ztp's LDevID CA keys with the other secrets.

use sqlx::{Any, Row, Transaction};

use super::ldevid_key_field;
use crate::store::{Store, StoreError};

/// Where a customer's devices' LDevIDs come from (RFC 9646), off by default.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum LdevidIssuer {
    /// No LDevIDs: a device's CSR support is not taken up.
    #[default]
    Off,
    /// ztp's own CA of the customer.
    ZtpCa,
    /// The operator's issuer command (`[ldevid] command`).
    Command,
}

impl LdevidIssuer {
    /// The stored (and wire) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::ZtpCa => "ztp-ca",
            Self::Command => "command",
        }
    }

    pub(super) fn parse(s: &str) -> Option<Self> {
        [Self::Off, Self::ZtpCa, Self::Command]
            .into_iter()
            .find(|i| i.as_str() == s)
    }
}

impl Store {
    /// Customers' LDevID CA keys not sealed under the current master key, re-sealed.
    pub(in crate::store) async fn reseal_ldevid_keys(
        &self,
        tx: &mut Transaction<'_, Any>,
    ) -> Result<usize, StoreError> {
        let mut resealed = 0;
        let rows = sqlx::query(
            "SELECT name, ldevid_ca_key_pem FROM customers WHERE ldevid_ca_key_pem IS NOT NULL",
        )
        .fetch_all(&mut **tx)
        .await?;
        for row in rows {
            let name: String = row.try_get("name")?;
            let stored: String = row.try_get("ldevid_ca_key_pem")?;
            if let Some(sealed) = self.resealed(&ldevid_key_field(&name), &stored)? {
                sqlx::query("UPDATE customers SET ldevid_ca_key_pem = $2 WHERE name = $1")
                    .bind(&name)
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
    use super::*;
    use crate::store::CustomerUpdate;
    use crate::store::testing::{new_customer, store};

    #[tokio::test]
    async fn the_issuer_and_ca_are_stored_with_the_key_sealed() {
        let (store, _dir) = store().await;
        let created = store.insert_customer(&new_customer("acme")).await.unwrap();
        assert_eq!(created.ldevid_issuer, LdevidIssuer::Off, "off by default");
        assert_eq!(created.ldevid_ca, None);
        let ca = ("CA PEM".to_owned(), "KEY PEM".to_owned());
        let updated = store
            .update_customer(
                "acme",
                &CustomerUpdate {
                    ldevid_issuer: Some(LdevidIssuer::ZtpCa),
                    ldevid_ca: Some(ca.clone()),
                    ..CustomerUpdate::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(updated.ldevid_issuer, LdevidIssuer::ZtpCa);
        assert_eq!(updated.ldevid_ca, Some(ca.clone()), "the key opens again");
        let sealed: String =
            sqlx::query_scalar("SELECT ldevid_ca_key_pem FROM customers WHERE name = 'acme'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert!(!sealed.contains("KEY PEM"), "sealed at rest: {sealed}");
        let updated = store
            .update_customer(
                "acme",
                &CustomerUpdate {
                    ldevid_issuer: Some(LdevidIssuer::Command),
                    ..CustomerUpdate::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (updated.ldevid_issuer, updated.ldevid_ca),
            (LdevidIssuer::Command, Some(ca)),
            "the CA stays for a switch back"
        );
        assert_eq!(updated.revision, 3, "each change bumps the revision");
        assert_eq!(LdevidIssuer::parse("ztp-ca"), Some(LdevidIssuer::ZtpCa));
        assert_eq!(LdevidIssuer::parse("on"), None);

        // A key written in plain text (as before sealing) is sealed by the re-sealing pass.
        sqlx::query("UPDATE customers SET ldevid_ca_key_pem = 'legacy' WHERE name = 'acme'")
            .execute(store.pool())
            .await
            .unwrap();
        assert!(store.reseal_secrets().await.unwrap() >= 1);
        let sealed: String =
            sqlx::query_scalar("SELECT ldevid_ca_key_pem FROM customers WHERE name = 'acme'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_ne!(sealed, "legacy");
        let opened = store.customer("acme").await.unwrap().unwrap().ldevid_ca;
        assert_eq!(opened.map(|(_, key)| key).as_deref(), Some("legacy"));
    }
}
