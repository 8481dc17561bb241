//! The audit log: an append-only record of every change made through the admin API.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, now_ms};

/// An entry to append.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NewAuditEntry {
    /// The token's id.
    pub token: String,
    /// Its role.
    pub role: String,
    /// The client's address.
    pub peer: String,
    /// `create`, `update`, `replace`, `delete` or `action`.
    pub action: String,
    /// The resource path, e.g. `/customers/acme/nms/main`.
    pub object: String,
    /// The kind of object, e.g. `nms-connection`.
    pub object_kind: String,
    /// The customer concerned, if any.
    pub customer: Option<String>,
    /// The request's fields as JSON, secrets redacted.
    pub fields: Option<String>,
    /// One line about what happened.
    pub summary: String,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Sequence number.
    pub id: i64,
    /// When (Unix ms).
    pub at: i64,
    /// What was recorded.
    #[serde(flatten)]
    pub entry: NewAuditEntry,
}

/// Which entries to read: oldest first, after id `after`, at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only objects whose path starts with this.
    pub object: Option<String>,
    /// Only this customer's.
    pub customer: Option<String>,
    /// From this time (Unix ms).
    pub since: Option<i64>,
    /// Before this time (Unix ms).
    pub until: Option<i64>,
    /// After this id (paging).
    pub after: i64,
    /// At most this many.
    pub limit: u32,
}

fn entry(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        entry: NewAuditEntry {
            token: row.try_get("token")?,
            role: row.try_get("role")?,
            peer: row.try_get("peer")?,
            action: row.try_get("action")?,
            object: row.try_get("object")?,
            object_kind: row.try_get("object_kind")?,
            customer: row.try_get("customer")?,
            fields: row.try_get("fields")?,
            summary: row.try_get("summary")?,
        },
    })
}

impl Store {
    /// Appends an entry.
    pub async fn append_audit(&self, e: &NewAuditEntry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, token, role, peer, action, object, object_kind, \
               customer, fields, summary) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(now_ms())
        .bind(&e.token)
        .bind(&e.role)
        .bind(&e.peer)
        .bind(&e.action)
        .bind(&e.object)
        .bind(&e.object_kind)
        .bind(&e.customer)
        .bind(&e.fields)
        .bind(&e.summary)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Entries matching `filter`.
    pub async fn audit_entries(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let prefix = f
            .object
            .as_ref()
            .map(|o| format!("{}%", o.replace('%', "")));
        sqlx::query(
            "SELECT id, at, token, role, peer, action, object, object_kind, customer, fields, \
               summary FROM audit_log \
             WHERE id > $1 AND ($2 IS NULL OR object LIKE $2) AND ($3 IS NULL OR customer = $3) \
               AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5) \
             ORDER BY id LIMIT $6",
        )
        .bind(f.after)
        .bind(prefix)
        .bind(&f.customer)
        .bind(f.since)
        .bind(f.until)
        .bind(i64::from(f.limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(entry)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::store;

    #[tokio::test]
    async fn entries_are_appended_filtered_and_never_changed() {
        let (store, _dir) = store().await;
        for (object, customer) in [
            ("/customers/acme/nms/main", Some("acme")),
            ("/customers/other", Some("other")),
            ("/tokens", None),
        ] {
            store
                .append_audit(&NewAuditEntry {
                    token: "bootstrap".into(),
                    role: "manufacturer-admin".into(),
                    peer: "127.0.0.1:1".into(),
                    action: "create".into(),
                    object: object.into(),
                    object_kind: "x".into(),
                    customer: customer.map(str::to_owned),
                    fields: None,
                    summary: "s".into(),
                })
                .await
                .unwrap();
        }
        let all = AuditFilter {
            limit: 10,
            ..AuditFilter::default()
        };
        assert_eq!(store.audit_entries(&all).await.unwrap().len(), 3);
        let acme = AuditFilter {
            customer: Some("acme".into()),
            ..all.clone()
        };
        assert_eq!(store.audit_entries(&acme).await.unwrap().len(), 1);
        let customers = AuditFilter {
            object: Some("/customers/".into()),
            ..all.clone()
        };
        assert_eq!(store.audit_entries(&customers).await.unwrap().len(), 2);

        for statement in [
            "UPDATE audit_log SET summary = 'x'",
            "DELETE FROM audit_log",
        ] {
            let error = sqlx::query(statement)
                .execute(store.pool())
                .await
                .unwrap_err();
            assert!(error.to_string().contains("append-only"), "{error}");
        }
        assert_eq!(store.audit_entries(&all).await.unwrap().len(), 3);
    }
}
