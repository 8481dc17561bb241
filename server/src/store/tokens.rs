//! Admin API tokens: role, scope, expiry, revocation, and a digest instead of the token.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, corrupt, now_ms};
use crate::domain::access::Role;

/// A token as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Id (the public part of the token).
    pub id: String,
    /// What it is for.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The customer it is limited to.
    pub customer: Option<String>,
    /// Lowercase hex SHA-256 of the token.
    pub digest: String,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Expires (Unix ms).
    pub expires_at: Option<i64>,
    /// Revoked (Unix ms).
    pub revoked_at: Option<i64>,
    /// Last used (Unix ms).
    pub last_used_at: Option<i64>,
}

macro_rules! token_columns {
    () => {
        "id, name, role, customer, digest, created_at, expires_at, revoked_at, last_used_at"
    };
}

fn token(row: &AnyRow) -> Result<TokenRecord, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(TokenRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: role.parse().map_err(corrupt("token role"))?,
        customer: row.try_get("customer")?,
        digest: row.try_get("digest")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

impl Store {
    /// Stores a new token (its digest).
    pub async fn insert_token(&self, t: &TokenRecord) -> Result<TokenRecord, StoreError> {
        if let Some(customer) = &t.customer {
            self.require_customer(customer).await?;
        }
        let row = sqlx::query(concat!(
            "INSERT INTO api_tokens (id, name, role, customer, digest, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
            token_columns!()
        ))
        .bind(&t.id)
        .bind(&t.name)
        .bind(t.role.as_str())
        .bind(&t.customer)
        .bind(&t.digest)
        .bind(now_ms())
        .bind(t.expires_at)
        .fetch_all(self.pool())
        .await
        .and_then(super::only_returned)
        .map_err(super::conflict("token", &t.id))?;
        token(&row)
    }

    /// One token.
    pub async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            " FROM api_tokens WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(token)
        .transpose()
    }

    /// Every token, by id.
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            " FROM api_tokens ORDER BY id"
        ))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(token)
        .collect()
    }

    /// Revokes a token.
    pub async fn revoke_token(&self, id: &str) -> Result<TokenRecord, StoreError> {
        sqlx::query(concat!(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 \
             RETURNING ",
            token_columns!()
        ))
        .bind(id)
        .bind(now_ms())
        .fetch_all(self.pool())
        .await
        .map(super::first_returned)?
        .as_ref()
        .map(token)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound {
            what: "token",
            key: id.to_owned(),
        })
    }

    /// Notes that a token was used.
    pub async fn token_used(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
