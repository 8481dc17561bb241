//! Customers' NMS connections: where and how device registrations are delivered.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, conflict, corrupt, now_ms};
use crate::domain::delivery::DeliveryPolicy;

/// An NMS connection as stored (with its secrets: never hand this to an API response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NmsConnectionRecord {
    /// The owning customer.
    pub customer: String,
    /// The name, unique per customer.
    pub name: String,
    /// SFTP host.
    pub host: String,
    /// SFTP port.
    pub port: u16,
    /// Account.
    pub username: String,
    /// Password, when the NMS gave one.
    pub password: Option<String>,
    /// ztp's private key for this NMS (OpenSSH PEM), when key authentication is used.
    pub private_key_pem: Option<String>,
    /// Pinned host key fingerprints (`SHA256:…`).
    pub pins: Vec<String>,
    /// Remote directory.
    pub directory: String,
    /// Delivery policy.
    pub policy: DeliveryPolicy,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last changed (Unix ms).
    pub updated_at: i64,
}

/// The columns every query of this table reads (a macro: SQL must be a literal).
macro_rules! nms_columns {
    () => {
        "customer, name, host, port, username, password, private_key_pem, pins, directory, \
         policy, created_at, updated_at"
    };
}

fn record(row: &AnyRow) -> Result<NmsConnectionRecord, StoreError> {
    let port: i32 = row.try_get("port")?;
    let pins: String = row.try_get("pins")?;
    let policy: String = row.try_get("policy")?;
    Ok(NmsConnectionRecord {
        customer: row.try_get("customer")?,
        name: row.try_get("name")?,
        host: row.try_get("host")?,
        port: u16::try_from(port).map_err(|e| corrupt("NMS port")(e.to_string()))?,
        username: row.try_get("username")?,
        password: row.try_get("password")?,
        private_key_pem: row.try_get("private_key_pem")?,
        pins: pins.split_whitespace().map(str::to_owned).collect(),
        directory: row.try_get("directory")?,
        policy: policy.parse().map_err(corrupt("NMS delivery policy"))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The sealed fields of a connection (the row's key is part of the associated data).
pub(super) fn password_field(customer: &str, name: &str) -> String {
    format!("nms_connections.password:{customer}/{name}")
}

pub(super) fn private_key_field(customer: &str, name: &str) -> String {
    format!("nms_connections.private_key_pem:{customer}/{name}")
}

fn not_found(customer: &str, name: &str) -> StoreError {
    StoreError::NotFound {
        what: "NMS connection",
        key: format!("{customer}/{name}"),
    }
}

impl Store {
    fn reveal_connection(
        &self,
        mut c: NmsConnectionRecord,
    ) -> Result<NmsConnectionRecord, StoreError> {
        if let Some(password) = &c.password {
            c.password = Some(self.open_secret(&password_field(&c.customer, &c.name), password)?);
        }
        if let Some(key) = &c.private_key_pem {
            c.private_key_pem =
                Some(self.open_secret(&private_key_field(&c.customer, &c.name), key)?);
        }
        Ok(c)
    }

    /// Adds an NMS connection, or replaces the one with that name (keeping its creation time).
    pub async fn put_nms_connection(
        &self,
        c: &NmsConnectionRecord,
    ) -> Result<NmsConnectionRecord, StoreError> {
        self.write_nms_connection(c, true).await
    }

    /// Adds an NMS connection; [`StoreError::Conflict`] if the customer has one of that name.
    pub async fn insert_nms_connection(
        &self,
        c: &NmsConnectionRecord,
    ) -> Result<NmsConnectionRecord, StoreError> {
        self.write_nms_connection(c, false).await
    }

    async fn write_nms_connection(
        &self,
        c: &NmsConnectionRecord,
        replace: bool,
    ) -> Result<NmsConnectionRecord, StoreError> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        super::customers::bump(&mut tx, &c.customer).await?;
        let row = sqlx::query(concat!(
            "INSERT INTO nms_connections (customer, name, host, port, username, password, \
             private_key_pem, pins, directory, policy, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
             ON CONFLICT (customer, name) DO UPDATE SET host = excluded.host, \
               port = excluded.port, username = excluded.username, \
               password = excluded.password, private_key_pem = excluded.private_key_pem, \
               pins = excluded.pins, directory = excluded.directory, policy = excluded.policy, \
               updated_at = excluded.updated_at \
             WHERE $12 \
             RETURNING ",
            nms_columns!()
        ))
        .bind(&c.customer)
        .bind(&c.name)
        .bind(&c.host)
        .bind(i32::from(c.port))
        .bind(&c.username)
        .bind(
            c.password
                .as_deref()
                .map(|p| self.seal(&password_field(&c.customer, &c.name), p))
                .transpose()?,
        )
        .bind(
            c.private_key_pem
                .as_deref()
                .map(|k| self.seal(&private_key_field(&c.customer, &c.name), k))
                .transpose()?,
        )
        .bind(c.pins.join(" "))
        .bind(&c.directory)
        .bind(c.policy.as_str())
        .bind(now)
        .bind(replace)
        // An upsert whose update is not allowed returns no row: the name is taken.
        .fetch_optional(&mut *tx)
        .await
        .map_err(conflict("NMS connection", &c.name))?
        .ok_or_else(|| StoreError::Conflict {
            what: "NMS connection",
            key: c.name.clone(),
        })?;
        tx.commit().await?;
        self.reveal_connection(record(&row)?)
    }

    /// One NMS connection.
    pub async fn nms_connection(
        &self,
        customer: &str,
        name: &str,
    ) -> Result<NmsConnectionRecord, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            nms_columns!(),
            " FROM nms_connections WHERE customer = $1 AND name = $2"
        ))
        .bind(customer)
        .bind(name)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(|row| self.reveal_connection(record(row)?))
        .transpose()?
        .ok_or_else(|| not_found(customer, name))
    }

    /// A customer's NMS connections, by name.
    pub async fn nms_connections(
        &self,
        customer: &str,
    ) -> Result<Vec<NmsConnectionRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            nms_columns!(),
            " FROM nms_connections WHERE customer = $1 ORDER BY name"
        ))
        .bind(customer)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| self.reveal_connection(record(row)?))
        .collect()
    }

    /// Removes an NMS connection.
    pub async fn delete_nms_connection(
        &self,
        customer: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let deleted = sqlx::query("DELETE FROM nms_connections WHERE customer = $1 AND name = $2")
            .bind(customer)
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(not_found(customer, name));
        }
        super::customers::bump(&mut tx, customer).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{new_customer, store};

    fn connection(name: &str) -> NmsConnectionRecord {
        NmsConnectionRecord {
            customer: "acme".into(),
            name: name.into(),
            host: "nms.acme.example".into(),
            port: 22,
            username: "ztp".into(),
            password: Some("secret".into()),
            private_key_pem: None,
            pins: vec![
                "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s".into(),
                "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU".into(),
            ],
            directory: "incoming".into(),
            policy: DeliveryPolicy::NmsFirst,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[tokio::test]
    async fn connections_round_trip_and_are_replaced_by_name() {
        let (store, _dir) = store().await;
        assert!(
            store.put_nms_connection(&connection("main")).await.is_err(),
            "no customer yet"
        );
        store.insert_customer(&new_customer("acme")).await.unwrap();
        let stored = store.put_nms_connection(&connection("main")).await.unwrap();
        assert_eq!(stored.pins.len(), 2);
        assert_eq!(stored.password.as_deref(), Some("secret"));

        let changed = NmsConnectionRecord {
            port: 2222,
            policy: DeliveryPolicy::Parallel,
            ..connection("main")
        };
        let replaced = store.put_nms_connection(&changed).await.unwrap();
        assert_eq!(
            (replaced.port, replaced.policy),
            (2222, DeliveryPolicy::Parallel)
        );
        assert_eq!(replaced.created_at, stored.created_at);
        assert_eq!(store.nms_connections("acme").await.unwrap().len(), 1);

        assert!(
            matches!(store.delete_customer("acme").await, Ok(())),
            "deleting a customer takes its NMS connections with it"
        );
        assert!(matches!(
            store.nms_connection("acme", "main").await,
            Err(StoreError::NotFound { .. })
        ));
    }
}
