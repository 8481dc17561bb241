//! Connections of the devices' path to SQLite, used by plain calls on the calling thread.
//!
//! sqlx runs each SQLite connection on a thread of its own, and every statement crosses to that
//! thread and back. Under a surge of devices those thread switches cost more CPU than the
//! statements (docs/benchmarks.md, "Tuning constants"). So the device path uses connections of its own on the same database file: reads run
//! inline, on the request's thread, from a small pool of connections (a lookup by primary key
//! in the page cache takes microseconds, less than one thread switch), and the journal's writer
//! thread owns one connection for its transactions. Everything else (administration, the
//! outboxes) stays on sqlx. Both drivers run the same SQL: a `$N` parameter is a named
//! parameter to SQLite, bound here by its name.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::types::ToSql;
use rusqlite::{Connection, OpenFlags};

use crate::store::{StoreError, Synchronous};

/// Read connections kept open between reads.
const IDLE_READERS: usize = 8;

/// How long a statement waits for another connection's write lock (sqlx's default too).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Statements each connection keeps prepared.
const PREPARED_STATEMENTS: usize = 32;

/// Opens connections to one SQLite database file, configured like the sqlx pool's.
pub(crate) struct Connections {
    path: PathBuf,
    synchronous: Synchronous,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("path", &self.path)
            .field("synchronous", &self.synchronous)
            .finish_non_exhaustive()
    }
}

impl Connections {
    /// Connections to the database file at `path`, whose commits reach the disk as
    /// `synchronous` says.
    pub(crate) fn new(path: PathBuf, synchronous: Synchronous) -> Self {
        Self {
            path,
            synchronous,
            readers: Mutex::new(Vec::new()),
        }
    }

    /// A new connection: write-ahead log (set on the file by the store), foreign keys
    /// enforced, the store's sync level, waiting for locks instead of failing, and temporary
    /// data in memory. The device path's statements are small, but each one in the journal's
    /// transaction keeps a statement journal (to undo just that statement should it fail);
    /// kept in memory it grows by the kilobyte, where one that may spill to a file is
    /// allocated 64 KiB at a time, and freeing a block that large makes glibc's allocator
    /// consolidate its free lists.
    pub(crate) fn connect(&self) -> Result<Connection, StoreError> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        let synchronous = match self.synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        connection.pragma_update(None, "synchronous", synchronous)?;
        connection.pragma_update(None, "temp_store", "MEMORY")?;
        connection.set_prepared_statement_cache_capacity(PREPARED_STATEMENTS);
        Ok(connection)
    }

    /// Runs `read` on a connection of the pool (opened when none is idle), on this thread.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = lock(&self.readers).pop();
        let connection = match idle {
            Some(connection) => connection,
            None => self.connect()?,
        };
        let result = read(&connection);
        let mut readers = lock(&self.readers);
        // One left inside a transaction (a failed rollback) would hold its snapshot: closed.
        if readers.len() < IDLE_READERS && connection.is_autocommit() {
            readers.push(connection);
        }
        result
    }

    /// The rows `sql` selects with `$1`, `$2`, … bound to `values`, each mapped by `map`; run
    /// inline like [`Connections::read`].
    pub(crate) fn rows<T>(
        &self,
        sql: &str,
        values: &[&dyn ToSql],
        map: impl FnMut(&rusqlite::Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.read(|connection| rows_on(connection, sql, values, map))
    }
}

/// Runs `read` on `connection` in one read transaction, so that its statements see one
/// snapshot of the database; `BEGIN` and `ROLLBACK` are kept prepared like the statements
/// (rusqlite's transactions parse theirs anew each time).
pub(crate) fn snapshot_on<T>(
    connection: &Connection,
    read: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    connection.prepare_cached("BEGIN")?.execute([])?;
    let result = read(connection);
    let ended = connection
        .prepare_cached("ROLLBACK")
        .and_then(|mut rollback| rollback.execute([]));
    let value = result?;
    ended?;
    Ok(value)
}

/// The rows `sql` selects on `connection` with `$1`, `$2`, … bound to `values`, each mapped by
/// `map`; the statement is kept prepared.
pub(crate) fn rows_on<T>(
    connection: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
    mut map: impl FnMut(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = connection.prepare_cached(sql)?;
    let mut rows = statement.query(numbered(values).as_slice())?;
    let mut mapped = Vec::new();
    while let Some(row) = rows.next()? {
        mapped.push(map(row)?);
    }
    Ok(mapped)
}

/// Runs `sql` on `connection` with `$1`, `$2`, … bound to `values`: the rows it changed. The
/// statement is kept prepared.
pub(crate) fn execute_on(
    connection: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
) -> Result<usize, StoreError> {
    Ok(connection
        .prepare_cached(sql)?
        .execute(numbered(values).as_slice())?)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Named parameters `$1`, `$2`, … as SQLite binds them, from values in order.
pub(crate) fn numbered<'a>(values: &'a [&'a dyn ToSql]) -> Vec<(&'static str, &'a dyn ToSql)> {
    const NAMES: [&str; 12] = [
        "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12",
    ];
    assert!(values.len() <= NAMES.len(), "more parameters than names");
    NAMES.iter().copied().zip(values.iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_bind_by_name_wherever_they_stand() {
        let dir = tempfile::tempdir().unwrap();
        let connections = Connections::new(dir.path().join("d.sqlite"), Synchronous::Full);
        // The file is the store's to create; here, by hand.
        Connection::open(dir.path().join("d.sqlite")).unwrap();
        let (first, second) = (2_i64, "b".to_owned());
        let value: String = connections
            .read(|c| {
                Ok(c.query_row(
                    "SELECT $2 || $1 || $2",
                    numbered(&[&first, &second]).as_slice(),
                    |row| row.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(value, "b2b");
    }
}
