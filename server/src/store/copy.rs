//! `ztp db copy`: an installation's data copied from one database to another (the embedded
//! SQLite to PostgreSQL, or back), in one transaction on the target, then verified: each
//! table's row count and a checksum of its rows read back from the target must equal the
//! source's.
//!
//! The target must hold no data (its migrations are applied by opening it). Values are copied
//! as stored: sealed secrets stay sealed under the same master key, ids keep their values, and
//! on PostgreSQL each identity column continues after the highest id copied.

use aws_lc_rs::digest::{SHA256, digest};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::{Backend, Store, StoreError};

/// Every table of ztp's schema, in an order that copies a row after the rows it refers to.
pub const TABLES: [&str; 15] = [
    "customers",
    "redirect_targets",
    "response_rules",
    "devices",
    "events",
    "progress_reports",
    "nms_connections",
    "registrations",
    "license_pools",
    "licenses",
    "license_shortages",
    "api_tokens",
    "audit_log",
    "webhooks",
    "webhook_deliveries",
];

/// What a table holds, as copying reads and writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Text,
    Blob,
}

/// One table as copied: its rows, and the checksum of their values (independent of order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedTable {
    /// The table.
    pub table: &'static str,
    /// Rows copied.
    pub rows: u64,
    /// The rows' checksum (hex), the same at source and target.
    pub checksum: String,
}

/// A copy failed its verification or could not start.
fn refused(reason: String) -> StoreError {
    StoreError::Corrupt {
        what: "copy",
        reason,
    }
}

/// Copies every table of `from` into `to` (which must hold no data) and verifies the copy.
pub async fn copy(from: &Store, to: &Store) -> Result<Vec<CopiedTable>, StoreError> {
    for table in TABLES {
        if count(to, table).await? > 0 {
            return Err(refused(format!(
                "the target's {table} holds rows: copy into an empty database"
            )));
        }
    }
    let mut tx = to.pool().begin().await?;
    let mut copied = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let columns = columns(to, table).await?;
        let rows = read(from.pool(), table, &columns).await?;
        let checksum = checksum(&rows, &columns)?;
        for row in &rows {
            insert(&mut tx, table, &columns, row).await?;
        }
        let identity = columns
            .iter()
            .any(|(c, k)| c == "id" && *k == Kind::Integer);
        if to.backend() == Backend::Postgres && identity {
            continue_identity(&mut tx, table).await?;
        }
        copied.push(CopiedTable {
            table,
            rows: u64::try_from(rows.len()).unwrap_or(u64::MAX),
            checksum,
        });
    }
    tx.commit().await?;
    verify(to, &copied).await?;
    Ok(copied)
}

/// Reads each table back from `to`: its count and checksum must be the copy's.
async fn verify(to: &Store, copied: &[CopiedTable]) -> Result<(), StoreError> {
    for expected in copied {
        let columns = columns(to, expected.table).await?;
        let rows = read(to.pool(), expected.table, &columns).await?;
        let checksum = checksum(&rows, &columns)?;
        let count = u64::try_from(rows.len()).unwrap_or(u64::MAX);
        if (count, &checksum) != (expected.rows, &expected.checksum) {
            return Err(refused(format!(
                "{}: the source has {} rows (checksum {}), the target {count} ({checksum})",
                expected.table, expected.rows, expected.checksum
            )));
        }
    }
    Ok(())
}

async fn count(store: &Store, table: &str) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(store.pool())
            .await?,
    )
}

/// The columns of `table` in `store`'s schema, with what they hold.
async fn columns(store: &Store, table: &str) -> Result<Vec<(String, Kind)>, StoreError> {
    let sql = match store.backend() {
        Backend::Sqlite => "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
        Backend::Postgres => {
            "SELECT CAST(column_name AS TEXT) AS name, CAST(data_type AS TEXT) AS type \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    let rows = sqlx::query(sql).bind(table).fetch_all(store.pool()).await?;
    rows.iter()
        .map(|row| {
            let name: String = row.try_get("name")?;
            let declared: String = row.try_get("type")?;
            let declared = declared.to_ascii_lowercase();
            let kind = if declared.contains("int") {
                Kind::Integer
            } else if declared.contains("blob") || declared.contains("bytea") {
                Kind::Blob
            } else if declared.contains("text") || declared.contains("char") {
                Kind::Text
            } else {
                return Err(refused(format!("{table}.{name}: unknown type {declared}")));
            };
            Ok((name, kind))
        })
        .collect()
}

/// One value as copied.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Integer(Option<i64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
}

async fn read(
    pool: &sqlx::AnyPool,
    table: &str,
    columns: &[(String, Kind)],
) -> Result<Vec<Vec<Value>>, StoreError> {
    let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
    let sql = format!("SELECT {} FROM {table}", names.join(", "));
    let rows: Vec<AnyRow> = sqlx::query(AssertSqlSafe(sql)).fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            columns
                .iter()
                .map(|(name, kind)| {
                    Ok(match kind {
                        Kind::Integer => Value::Integer(row.try_get(name.as_str())?),
                        Kind::Text => Value::Text(row.try_get(name.as_str())?),
                        Kind::Blob => Value::Blob(row.try_get(name.as_str())?),
                    })
                })
                .collect()
        })
        .collect()
}

async fn insert(
    connection: &mut AnyConnection,
    table: &str,
    columns: &[(String, Kind)],
    row: &[Value],
) -> Result<(), StoreError> {
    let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
    let placeholders: Vec<String> = (1..=columns.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        placeholders.join(", ")
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for value in row {
        query = match value {
            Value::Integer(n) => query.bind(*n),
            Value::Text(text) => query.bind(text.clone()),
            Value::Blob(bytes) => query.bind(bytes.clone()),
        };
    }
    query.execute(connection).await?;
    Ok(())
}

/// Has the identity column `id` of `table` continue after the highest id copied.
async fn continue_identity(connection: &mut AnyConnection, table: &str) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT CAST(setval(pg_get_serial_sequence('{table}', 'id'), \
           COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false) AS BIGINT)"
    );
    sqlx::query(AssertSqlSafe(sql)).execute(connection).await?;
    Ok(())
}

/// The rows' checksum, whatever their order: the wrapping sum of each row's SHA-256 (its
/// first 16 bytes), as hex.
fn checksum(rows: &[Vec<Value>], columns: &[(String, Kind)]) -> Result<String, StoreError> {
    let mut sum: u128 = 0;
    for row in rows {
        let mut text = String::new();
        for ((name, _), value) in columns.iter().zip(row) {
            text.push_str(name);
            text.push('=');
            text.push_str(&format!("{value:?}"));
            text.push('\u{1f}');
        }
        let hash = digest(&SHA256, text.as_bytes());
        let first: [u8; 16] = hash.as_ref()[..16]
            .try_into()
            .map_err(|_| refused("a digest shorter than 16 bytes".into()))?;
        sum = sum.wrapping_add(u128::from_be_bytes(first));
    }
    Ok(format!("{sum:032x}"))
}

#[cfg(test)]
mod tests {
    use super::{Kind, Value, checksum, copy};
    use crate::store::testing::{add_device, new_customer, sqlite_store, store};

    #[test]
    fn the_checksum_ignores_order_and_sees_any_changed_value() {
        let columns = [
            ("id".to_owned(), Kind::Integer),
            ("name".to_owned(), Kind::Text),
        ];
        let row =
            |id: i64, name: &str| vec![Value::Integer(Some(id)), Value::Text(Some(name.into()))];
        let rows = [row(1, "a"), row(2, "b")];
        let swapped = [row(2, "b"), row(1, "a")];
        let changed = [row(1, "a"), row(2, "c")];
        let nulled = [
            row(1, "a"),
            vec![Value::Integer(Some(2)), Value::Text(None)],
        ];
        let sum = checksum(&rows, &columns).unwrap();
        assert_eq!(sum, checksum(&swapped, &columns).unwrap());
        assert_ne!(sum, checksum(&changed, &columns).unwrap());
        assert_ne!(sum, checksum(&nulled, &columns).unwrap());
        assert_ne!(sum, checksum(&rows[..1], &columns).unwrap());
    }

    #[tokio::test]
    async fn a_copy_holds_every_row_and_a_second_one_is_refused() {
        let (from, _source) = sqlite_store().await;
        from.insert_customer(&new_customer("acme")).await.unwrap();
        add_device(&from, "SN-1", "acme").await;
        add_device(&from, "SN-2", "acme").await;
        let (to, _target) = store().await;
        let copied = copy(&from, &to).await.unwrap();
        let rows = |table: &str| copied.iter().find(|t| t.table == table).unwrap().rows;
        assert_eq!((rows("customers"), rows("devices")), (1, 2));
        assert_eq!(
            to.device("SN-2").await.unwrap(),
            from.device("SN-2").await.unwrap()
        );
        let refused = copy(&from, &to).await.unwrap_err();
        assert!(refused.to_string().contains("empty database"), "{refused}");
    }
}
