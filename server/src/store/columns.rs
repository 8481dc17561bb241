//! Result rows as the record mappings read them, whichever driver returned them: sqlx's `Any`
//! rows (administration, the outboxes) and the SQLite device path's rows ([`super::sqlite`]),
//! so that each table's mapping from columns to its record is written once.

use crate::store::StoreError;

/// A result row of either driver, for the record mappings both share.
pub(crate) trait Columns {
    /// The value of column `name`.
    fn column<T: Column>(&self, name: &str) -> Result<T, StoreError>;
}

/// A column type both drivers decode.
pub(crate) trait Column:
    for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + rusqlite::types::FromSql
{
}

impl<T> Column for T where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + rusqlite::types::FromSql
{
}

impl Columns for sqlx::any::AnyRow {
    fn column<T: Column>(&self, name: &str) -> Result<T, StoreError> {
        Ok(sqlx::Row::try_get(self, name)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn column<T: Column>(&self, name: &str) -> Result<T, StoreError> {
        Ok(self.get(name)?)
    }
}
