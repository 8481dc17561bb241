//! The database's schema: the backend's migrations, applied when the store opens or only
//! verified (when an operator applies them with `ztp migrate`, as a step of a deployment with
//! several instances). A database that a newer ztp migrated is refused either way, with a
//! message that says so, rather than served by code that does not know its tables.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sqlx::migrate::{Migrate, MigrateError, Migrator};
use sqlx::{AnyPool, AssertSqlSafe};

use super::StoreError;

/// What opening the store does about migrations the database lacks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Migrations {
    /// Applies them (the single-node default). On PostgreSQL under an advisory lock, so that
    /// instances starting together apply each migration once.
    #[default]
    Apply,
    /// Refuses to open the store until they are applied (by `ztp migrate`).
    Verify,
}

/// Applies or verifies `migrator`'s migrations on `pool`, as `migrations` says.
pub(super) async fn prepare(
    migrator: &Migrator,
    pool: &AnyPool,
    migrations: Migrations,
) -> Result<(), StoreError> {
    let mut connection = pool.acquire().await?;
    connection
        .ensure_migrations_table(&migrator.table_name)
        .await?;
    let applied: BTreeSet<i64> = connection
        .list_applied_migrations(&migrator.table_name)
        .await?
        .into_iter()
        .map(|m| m.version)
        .collect();
    drop(connection);
    if let Some(&version) = applied.iter().find(|&&v| !migrator.version_exists(v)) {
        return Err(StoreError::NewerDatabase { version });
    }
    match migrations {
        Migrations::Apply => migrator.run(pool).await.map_err(|e| match e {
            // A newer ztp migrated it meanwhile.
            MigrateError::VersionMissing(version) => StoreError::NewerDatabase { version },
            other => other.into(),
        }),
        Migrations::Verify => match migrator.iter().find(|m| !applied.contains(&m.version)) {
            Some(pending) => Err(StoreError::PendingMigrations {
                version: pending.version,
            }),
            None => Ok(()),
        },
    }
}

/// The migrations the database at `url` lacks (version, description), oldest first, found
/// without changing anything: a SQLite file that does not exist lacks them all and is not
/// created.
pub async fn pending(url: &str) -> Result<Vec<(i64, String)>, StoreError> {
    let migrator = if url.starts_with("sqlite:") {
        let file = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url)?
            .get_filename()
            .to_owned();
        if !file.exists() {
            return Ok(list(&super::sqlite::MIGRATIONS, &BTreeSet::new()));
        }
        &super::sqlite::MIGRATIONS
    } else {
        &super::postgres::MIGRATIONS
    };
    sqlx::any::install_default_drivers();
    let read_only = url.replace("mode=rwc", "mode=ro");
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&read_only)
        .await?;
    // No migrations table yet: none applied.
    let applied: BTreeSet<i64> = sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!(
        "SELECT version FROM {} WHERE success",
        migrator.table_name
    )))
    .fetch_all(&pool)
    .await
    .map(|versions| versions.into_iter().collect())
    .unwrap_or_default();
    pool.close().await;
    Ok(list(migrator, &applied))
}

fn list(migrator: &Migrator, applied: &BTreeSet<i64>) -> Vec<(i64, String)> {
    migrator
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .map(|m| (m.version, m.description.to_string()))
        .collect()
}

/// The latest migration the database has, if any.
pub(super) async fn version(
    pool: &AnyPool,
    migrator: &Migrator,
) -> Result<Option<i64>, StoreError> {
    let mut connection = pool.acquire().await?;
    let applied = connection
        .list_applied_migrations(&migrator.table_name)
        .await?;
    Ok(applied.iter().map(|m| m.version).max())
}

#[cfg(test)]
mod tests {
    use super::Migrations;
    use crate::store::testing::Scratch;
    use crate::store::{Options, Store, StoreError};

    fn secrets() -> crate::secrets::SecretBox {
        let key = crate::secrets::generate_key().unwrap();
        crate::secrets::SecretBox::new(&key, &[]).unwrap()
    }

    async fn open(scratch: &Scratch, migrations: Migrations) -> Result<Store, StoreError> {
        let options = Options {
            migrations,
            ..Options::new(2)
        };
        Store::open_with(&scratch.url, secrets(), options).await
    }

    #[tokio::test]
    async fn a_database_a_newer_ztp_migrated_is_refused_with_what_to_do() {
        let scratch = Scratch::new().await;
        let store = open(&scratch, Migrations::Apply).await.unwrap();
        assert_eq!(
            store.schema_version().await.unwrap(),
            store.known_schema_version()
        );
        sqlx::query(
            "INSERT INTO _sqlx_migrations \
               (version, description, success, checksum, execution_time) \
             VALUES ($1, 'from a newer ztp', $2, $3, 0)",
        )
        .bind(99_991_231_000_001_i64)
        .bind(true)
        .bind(vec![0_u8])
        .execute(store.pool())
        .await
        .unwrap();
        drop(store);
        for migrations in [Migrations::Apply, Migrations::Verify] {
            let refused = open(&scratch, migrations).await.unwrap_err();
            assert!(
                matches!(refused, StoreError::NewerDatabase { version } if version == 99_991_231_000_001),
                "{refused:?}"
            );
            assert!(refused.to_string().contains("newer ztp"), "{refused}");
        }
    }

    #[tokio::test]
    async fn verify_refuses_a_database_without_the_migrations_until_they_are_applied() {
        let scratch = Scratch::new().await;
        let refused = open(&scratch, Migrations::Verify).await.unwrap_err();
        assert!(
            matches!(refused, StoreError::PendingMigrations { .. }),
            "{refused:?}"
        );
        assert!(refused.to_string().contains("ztp migrate"), "{refused}");
        open(&scratch, Migrations::Apply).await.unwrap();
        let store = open(&scratch, Migrations::Verify).await.unwrap();
        assert_eq!(
            store.schema_version().await.unwrap(),
            store.known_schema_version()
        );
    }
}
