//! Customers (device owners), their redirect targets and response rules.
//!
//! Every transaction here writes before it reads. SQLite cannot upgrade a reading transaction
//! to a writing one while another connection writes (it fails with SQLITE_BUSY at once instead
//! of waiting), so a transaction that starts with a write waits for the lock instead.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, conflict, corrupt, now_ms};
use crate::domain::response::{Profile, Rule};
pub use ldevid::LdevidIssuer;

mod ldevid;

/// A customer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    /// The name (key).
    pub name: String,
    /// The owner CA certificate (PEM): the vouchers' pinned-domain-cert.
    pub owner_ca_pem: String,
    /// The owner signing certificate and its chain (PEM).
    pub signer_chain_pem: String,
    /// The owner signing key (PEM).
    pub signer_key_pem: String,
    /// The default response profile.
    pub profile: Profile,
    /// Whether conveyed information is signed.
    pub sign: bool,
    /// Default onboarding information (RFC 7951 JSON), sent instead of redirect information.
    pub onboarding_json: Option<String>,
    /// Where the LDevIDs its devices ask for (RFC 9646) come from, if anywhere.
    pub ldevid_issuer: LdevidIssuer,
    /// ztp's LDevID CA of the customer (certificate and key, PEM), once generated.
    pub ldevid_ca: Option<(String, String)>,
    /// Bumped by every change to the customer, its targets or rules.
    pub revision: i64,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last changed (Unix ms).
    pub updated_at: i64,
}

/// A customer to create.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    /// The name.
    pub name: String,
    /// Owner CA (PEM).
    pub owner_ca_pem: String,
    /// Signing chain (PEM).
    pub signer_chain_pem: String,
    /// Signing key (PEM).
    pub signer_key_pem: String,
    /// Profile.
    pub profile: Profile,
    /// Sign conveyed information.
    pub sign: bool,
}

/// Changes to a customer; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CustomerUpdate {
    /// New profile.
    pub profile: Option<Profile>,
    /// New signing switch.
    pub sign: Option<bool>,
    /// New default onboarding information (`Some(None)` removes it).
    pub onboarding_json: Option<Option<String>>,
    /// New LDevID issuer.
    pub ldevid_issuer: Option<LdevidIssuer>,
    /// ztp's LDevID CA of the customer (certificate and key, PEM), when one is generated.
    pub ldevid_ca: Option<(String, String)>,
}

/// A redirect target as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRecord {
    /// The name, unique per customer.
    pub name: String,
    /// Host name or address.
    pub address: String,
    /// Port.
    pub port: u16,
    /// Trust anchor chain (PEM) for the target's TLS certificate.
    pub trust_anchor_pem: Option<String>,
}

/// The columns every query of this table reads (a macro: SQL must be a literal).
macro_rules! customer_columns {
    () => {
        "name, owner_ca_pem, signer_chain_pem, signer_key_pem, profile, \
                                sign, onboarding_json, ldevid_issuer, ldevid_ca_pem, \
                                ldevid_ca_key_pem, revision, created_at, updated_at"
    };
}

fn customer(row: &AnyRow) -> Result<CustomerRecord, StoreError> {
    let profile: String = row.try_get("profile")?;
    Ok(CustomerRecord {
        name: row.try_get("name")?,
        owner_ca_pem: row.try_get("owner_ca_pem")?,
        signer_chain_pem: row.try_get("signer_chain_pem")?,
        signer_key_pem: row.try_get("signer_key_pem")?,
        profile: profile.parse().map_err(corrupt("customer profile"))?,
        sign: row.try_get::<i64, _>("sign")? != 0,
        onboarding_json: row.try_get("onboarding_json")?,
        ldevid_issuer: LdevidIssuer::parse(&row.try_get::<String, _>("ldevid_issuer")?)
            .ok_or_else(|| StoreError::Corrupt {
                what: "customer LDevID issuer",
                reason: "not off, ztp-ca or command".into(),
            })?,
        ldevid_ca: match (
            row.try_get::<Option<String>, _>("ldevid_ca_pem")?,
            row.try_get::<Option<String>, _>("ldevid_ca_key_pem")?,
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            _ => None,
        },
        revision: row.try_get("revision")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn target(row: &AnyRow) -> Result<TargetRecord, StoreError> {
    let port: i32 = row.try_get("port")?;
    Ok(TargetRecord {
        name: row.try_get("name")?,
        address: row.try_get("address")?,
        port: u16::try_from(port).map_err(|e| StoreError::Corrupt {
            what: "target port",
            reason: e.to_string(),
        })?,
        trust_anchor_pem: row.try_get("trust_anchor_pem")?,
    })
}

/// The sealed field of a customer's signing key (the row's key is part of the associated data).
pub(super) fn signer_key_field(customer: &str) -> String {
    format!("customers.signer_key_pem:{customer}")
}

/// The sealed field of a customer's LDevID CA key.
pub(super) fn ldevid_key_field(customer: &str) -> String {
    format!("customers.ldevid_ca_key_pem:{customer}")
}

fn not_found(name: &str) -> StoreError {
    StoreError::NotFound {
        what: "customer",
        key: name.to_owned(),
    }
}

impl Store {
    fn reveal_customer(&self, mut c: CustomerRecord) -> Result<CustomerRecord, StoreError> {
        c.signer_key_pem = self.open_secret(&signer_key_field(&c.name), &c.signer_key_pem)?;
        if let Some((_, key)) = &mut c.ldevid_ca {
            *key = self.open_secret(&ldevid_key_field(&c.name), key)?;
        }
        Ok(c)
    }

    /// Creates a customer.
    pub async fn insert_customer(&self, new: &NewCustomer) -> Result<CustomerRecord, StoreError> {
        let now = now_ms();
        let row = sqlx::query(concat!(
            "INSERT INTO customers (name, owner_ca_pem, signer_chain_pem, signer_key_pem, \
             profile, sign, revision, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) RETURNING ",
            customer_columns!()
        ))
        .bind(&new.name)
        .bind(&new.owner_ca_pem)
        .bind(&new.signer_chain_pem)
        .bind(self.seal(&signer_key_field(&new.name), &new.signer_key_pem)?)
        .bind(new.profile.as_str())
        .bind(i64::from(new.sign))
        .bind(now)
        .fetch_all(self.pool())
        .await
        .and_then(super::only_returned)
        .map_err(conflict("customer", &new.name))?;
        self.reveal_customer(customer(&row)?)
    }

    /// The customer called `name`, if any.
    pub async fn customer(&self, name: &str) -> Result<Option<CustomerRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            customer_columns!(),
            " FROM customers WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(|row| self.reveal_customer(customer(row)?))
        .transpose()
    }

    /// The revision of customer `name` (cheap: the hot path checks it on every request).
    pub async fn customer_revision(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT revision FROM customers WHERE name = $1")
                .bind(name)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Every customer, by name.
    pub async fn customers(&self) -> Result<Vec<CustomerRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            customer_columns!(),
            " FROM customers ORDER BY name"
        ))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| self.reveal_customer(customer(row)?))
        .collect()
    }

    /// Changes a customer and bumps its revision.
    pub async fn update_customer(
        &self,
        name: &str,
        update: &CustomerUpdate,
    ) -> Result<CustomerRecord, StoreError> {
        let row = sqlx::query(concat!(
            "UPDATE customers SET \
               profile = COALESCE($2, profile), \
               sign = COALESCE($3, sign), \
               onboarding_json = CASE WHEN $4 THEN $5 ELSE onboarding_json END, \
               ldevid_issuer = COALESCE($7, ldevid_issuer), \
               ldevid_ca_pem = COALESCE($8, ldevid_ca_pem), \
               ldevid_ca_key_pem = COALESCE($9, ldevid_ca_key_pem), \
               revision = revision + 1, updated_at = $6 \
             WHERE name = $1 RETURNING ",
            customer_columns!()
        ))
        .bind(name)
        .bind(update.profile.map(Profile::as_str))
        .bind(update.sign.map(i64::from))
        .bind(update.onboarding_json.is_some())
        .bind(update.onboarding_json.clone().flatten())
        .bind(now_ms())
        .bind(update.ldevid_issuer.map(LdevidIssuer::as_str))
        .bind(update.ldevid_ca.as_ref().map(|(cert, _)| cert.clone()))
        .bind(
            update
                .ldevid_ca
                .as_ref()
                .map(|(_, key)| self.seal(&ldevid_key_field(name), key))
                .transpose()?,
        )
        .fetch_all(self.pool())
        .await
        .map(super::first_returned)?
        .ok_or_else(|| not_found(name))?;
        self.reveal_customer(customer(&row)?)
    }

    /// Replaces a customer's owner CA, signer chain and signing key (sealed), and bumps its
    /// revision: the rotation of its signing key.
    pub async fn replace_owner_credentials(
        &self,
        name: &str,
        owner_ca_pem: &str,
        signer_chain_pem: &str,
        signer_key_pem: &str,
    ) -> Result<(), StoreError> {
        let updated = sqlx::query(
            "UPDATE customers SET owner_ca_pem = $2, signer_chain_pem = $3, \
               signer_key_pem = $4, revision = revision + 1, updated_at = $5 \
             WHERE name = $1",
        )
        .bind(name)
        .bind(owner_ca_pem)
        .bind(signer_chain_pem)
        .bind(self.seal(&signer_key_field(name), signer_key_pem)?)
        .bind(now_ms())
        .execute(self.pool())
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(not_found(name));
        }
        Ok(())
    }

    /// Deletes a customer with its targets, rules and NMS connections; refused while devices
    /// belong to it.
    pub async fn delete_customer(&self, name: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        // Write first: the transaction takes the write lock before it reads (see the module).
        bump(&mut tx, name).await?;
        let devices: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE customer = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        if devices > 0 {
            return Err(StoreError::InUse {
                what: "customer",
                key: name.to_owned(),
                reason: format!("{devices} device(s) belong to it"),
            });
        }
        sqlx::query("DELETE FROM redirect_targets WHERE customer = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM response_rules WHERE customer = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM nms_connections WHERE customer = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM license_shortages WHERE pool_id IN \
             (SELECT id FROM license_pools WHERE customer = $1)",
        )
        .bind(name)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM licenses WHERE pool_id IN \
             (SELECT id FROM license_pools WHERE customer = $1)",
        )
        .bind(name)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM license_pools WHERE customer = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM customers WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A customer's redirect targets, in order.
    pub async fn targets(&self, customer: &str) -> Result<Vec<TargetRecord>, StoreError> {
        sqlx::query(
            "SELECT name, address, port, trust_anchor_pem FROM redirect_targets \
             WHERE customer = $1 ORDER BY position, name",
        )
        .bind(customer)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(target)
        .collect()
    }

    /// Adds or replaces a redirect target (a new one goes last) and bumps the revision.
    pub async fn put_target(&self, customer: &str, t: &TargetRecord) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        bump(&mut tx, customer).await?;
        sqlx::query(
            "INSERT INTO redirect_targets (customer, name, address, port, trust_anchor_pem, position) \
             VALUES ($1, $2, $3, $4, $5, \
               (SELECT COALESCE(MAX(position), 0) + 1 FROM redirect_targets WHERE customer = $1)) \
             ON CONFLICT (customer, name) DO UPDATE SET \
               address = excluded.address, port = excluded.port, \
               trust_anchor_pem = excluded.trust_anchor_pem",
        )
        .bind(customer)
        .bind(&t.name)
        .bind(&t.address)
        .bind(i32::from(t.port))
        .bind(&t.trust_anchor_pem)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a redirect target and bumps the revision.
    pub async fn delete_target(&self, customer: &str, name: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        bump(&mut tx, customer).await?;
        let deleted = sqlx::query("DELETE FROM redirect_targets WHERE customer = $1 AND name = $2")
            .bind(customer)
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound {
                what: "redirect target",
                key: format!("{customer}/{name}"),
            });
        }
        tx.commit().await?;
        Ok(())
    }

    /// A customer's response rules, in order.
    pub async fn rules(&self, customer: &str) -> Result<Vec<Rule>, StoreError> {
        sqlx::query_scalar::<_, String>(
            "SELECT rule_json FROM response_rules WHERE customer = $1 ORDER BY position",
        )
        .bind(customer)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|json| serde_json::from_str(json).map_err(|e| corrupt("response rule")(e.to_string())))
        .collect()
    }

    /// Replaces a customer's response rules (checked by the caller) and bumps the revision.
    pub async fn set_rules(&self, customer: &str, rules: &[Rule]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        bump(&mut tx, customer).await?;
        sqlx::query("DELETE FROM response_rules WHERE customer = $1")
            .bind(customer)
            .execute(&mut *tx)
            .await?;
        for (position, rule) in (1_i64..).zip(rules) {
            let json =
                serde_json::to_string(rule).map_err(|e| corrupt("response rule")(e.to_string()))?;
            sqlx::query(
                "INSERT INTO response_rules (customer, position, rule_json) VALUES ($1, $2, $3)",
            )
            .bind(customer)
            .bind(position)
            .bind(json)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Bumps a customer's revision inside `tx`, failing when it does not exist: whatever answering
/// its devices depends on (credentials, targets, rules, NMS connections, license pools) changes
/// with it, so that every server holding it as of an older revision builds it again.
pub(super) async fn bump(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    customer: &str,
) -> Result<(), StoreError> {
    let updated = sqlx::query(
        "UPDATE customers SET revision = revision + 1, updated_at = $2 WHERE name = $1",
    )
    .bind(customer)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(not_found(customer));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{new_customer, store};

    #[tokio::test]
    async fn customers_round_trip_and_every_change_bumps_the_revision() {
        let (store, _dir) = store().await;
        let created = store.insert_customer(&new_customer("acme")).await.unwrap();
        assert_eq!(created.revision, 1);
        assert!(created.sign);
        assert!(matches!(
            store.insert_customer(&new_customer("acme")).await,
            Err(StoreError::Conflict { .. })
        ));

        let target = TargetRecord {
            name: "nms".into(),
            address: "nms.acme.example".into(),
            port: 8443,
            trust_anchor_pem: None,
        };
        store.put_target("acme", &target).await.unwrap();
        store
            .put_target(
                "acme",
                &TargetRecord {
                    name: "dr".into(),
                    ..target.clone()
                },
            )
            .await
            .unwrap();
        let names: Vec<_> = store
            .targets("acme")
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["nms", "dr"], "new targets go last");
        assert_eq!(store.customer_revision("acme").await.unwrap(), Some(3));

        let updated = store
            .update_customer(
                "acme",
                &CustomerUpdate {
                    profile: Some(Profile::Strict),
                    onboarding_json: Some(Some("{}".into())),
                    ..CustomerUpdate::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(updated.profile, Profile::Strict);
        assert!(updated.sign, "untouched");
        assert_eq!(updated.onboarding_json.as_deref(), Some("{}"));
        assert_eq!(updated.revision, 4);

        let rules: Vec<Rule> =
            serde_json::from_str(r#"[{"name":"a","redirect":["nms"]},{"name":"b"}]"#).unwrap();
        store.set_rules("acme", &rules).await.unwrap();
        assert_eq!(store.rules("acme").await.unwrap(), rules);
        assert_eq!(store.customer_revision("acme").await.unwrap(), Some(5));

        store.delete_target("acme", "dr").await.unwrap();
        assert!(matches!(
            store.delete_target("acme", "dr").await,
            Err(StoreError::NotFound { .. })
        ));
        store.delete_customer("acme").await.unwrap();
        assert_eq!(store.customer("acme").await.unwrap(), None);
        assert!(store.targets("acme").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn changes_to_a_missing_customer_are_not_found() {
        let (store, _dir) = store().await;
        assert!(matches!(
            store
                .update_customer("ghost", &CustomerUpdate::default())
                .await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.set_rules("ghost", &[]).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.delete_customer("ghost").await,
            Err(StoreError::NotFound { .. })
        ));
    }
}
