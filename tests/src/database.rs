//! Which database the servers of a test run keep their state in: each data directory's SQLite
//! file (the default), or, when [`POSTGRES`] names a PostgreSQL server, a database of each data
//! directory's own on that server, so that the same tests run on both backends.
//!
//! A data directory's database is named after a digest of its path and created on first use;
//! a server started again on the same directory finds its state there, as it would in the
//! directory's file. `scripts/test` drops them all (`ztp_e2e_*`) when the run ends.

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::process::Command;

/// The variable that puts the run on PostgreSQL: the URL of an existing database on the
/// server (e.g. `postgres://postgres@127.0.0.1:5432/test`), which the harness connects to in
/// order to create the tests' databases.
pub const POSTGRES: &str = "ZTP_TEST_POSTGRES";

/// The PostgreSQL server this run keeps state in, if any.
pub fn postgres() -> Option<String> {
    std::env::var(POSTGRES).ok().filter(|url| !url.is_empty())
}

/// Whether this run keeps state in PostgreSQL. A test of SQLite's own ways (its file on
/// disk, a full disk under its write-ahead log) returns early on PostgreSQL, saying so: it ran
/// on SQLite in the run before.
pub fn on_postgres() -> bool {
    postgres().is_some()
}

/// The database URL of `data_dir` on the PostgreSQL server `server`, created if missing.
fn postgres_database(server: &str, data_dir: &Path) -> String {
    let mut digest = std::collections::hash_map::DefaultHasher::new();
    std::path::absolute(data_dir)
        .unwrap_or_else(|_| data_dir.to_owned())
        .hash(&mut digest);
    let name = format!("ztp_e2e_{:016x}", digest.finish());
    let psql = |sql: &str| {
        let output = Command::new("psql")
            .args([server, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("psql runs (Debian's postgresql-client; scripts/test installs it)");
        assert!(
            output.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    if psql(&format!(
        "SELECT 1 FROM pg_database WHERE datname = '{name}'"
    ))
    .is_empty()
    {
        psql(&format!("CREATE DATABASE {name}"));
    }
    let base = server.rsplit_once('/').map_or(server, |(base, _)| base);
    format!("{base}/{name}")
}

/// The configuration variables that put a server (or a `ztp` command) on `data_dir` on this
/// run's database: none on SQLite, where the data directory's file is the default;
/// `ZTP_DATABASE__URL` on PostgreSQL.
pub fn variables(data_dir: &Path) -> Vec<(String, String)> {
    match postgres() {
        Some(server) => vec![(
            "ZTP_DATABASE__URL".to_owned(),
            postgres_database(&server, data_dir),
        )],
        None => Vec::new(),
    }
}

/// Everything the database of `data_dir` holds, as stored, to search for what must never be
/// stored in clear: on SQLite, each file of the database (`ztp.sqlite` and its write-ahead log
/// and shared memory); on PostgreSQL, a `pg_dump` of the data directory's database. Each with
/// a name for messages.
pub fn contents(data_dir: &Path) -> Vec<(String, Vec<u8>)> {
    if let Some(server) = postgres() {
        let url = postgres_database(&server, data_dir);
        let output = Command::new("pg_dump")
            .arg(&url)
            .output()
            .expect("pg_dump runs (Debian's postgresql-client)");
        assert!(
            output.status.success(),
            "pg_dump {url}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return vec![(format!("pg_dump {url}"), output.stdout)];
    }
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(data_dir)
        .expect("data directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("ztp.sqlite"))
        })
        .map(|path| {
            let bytes = std::fs::read(&path).expect("database file");
            (path.display().to_string(), bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no ztp.sqlite in {}", data_dir.display());
    files
}

/// Whether `needle` occurs in any of `contents` ([`contents`]): the name of the first that
/// holds it.
pub fn holding<'a>(contents: &'a [(String, Vec<u8>)], needle: &[u8]) -> Option<&'a str> {
    contents
        .iter()
        .find(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle))
        .map(|(name, _)| name.as_str())
}

/// Runs `statements` with `psql` on the database of `data_dir` (PostgreSQL only): the rows
/// they print, unaligned, one per line.
fn psql(data_dir: &Path, statements: &[String]) -> String {
    let server = postgres().expect("a PostgreSQL run");
    let url = postgres_database(&server, data_dir);
    let mut command = Command::new("psql");
    command.args([url.as_str(), "-qAt", "-v", "ON_ERROR_STOP=1"]);
    for statement in statements {
        command.args(["-c", statement]);
    }
    let output = command.output().expect("psql runs");
    assert!(
        output.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The first column of the first row `sql` selects from the database of `data_dir`, as text
/// (read-only on SQLite).
pub fn scalar(data_dir: &Path, sql: &str) -> String {
    if on_postgres() {
        return psql(data_dir, &[sql.to_owned()]).trim().to_owned();
    }
    let connection = sqlite(data_dir);
    let value: rusqlite::types::Value = connection
        .query_row(sql, [], |row| row.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    match value {
        rusqlite::types::Value::Null => String::new(),
        rusqlite::types::Value::Integer(n) => n.to_string(),
        rusqlite::types::Value::Real(x) => x.to_string(),
        rusqlite::types::Value::Text(text) => text,
        rusqlite::types::Value::Blob(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn sqlite(data_dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(
        data_dir.join("ztp.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the database read-only")
}

/// Every row of every table of the database of `data_dir` but the tables `skip`, without the
/// columns whose names contain one of `volatile`, as text in a stable order: what a test
/// compares before and after a request that must change nothing.
pub fn snapshot(data_dir: &Path, skip: &[&str], volatile: &[&str]) -> String {
    let tables = if on_postgres() {
        postgres_columns(data_dir)
    } else {
        sqlite_columns(data_dir)
    };
    let kept = tables
        .into_iter()
        .filter(|(table, _)| !skip.contains(&table.as_str()) && !table.starts_with('_'))
        .map(|(table, columns)| {
            let columns: Vec<String> = columns
                .into_iter()
                .filter(|c| !volatile.iter().any(|v| c.contains(v)))
                .collect();
            (table, columns)
        })
        .filter(|(_, columns)| !columns.is_empty());
    let statements: Vec<String> = kept
        .map(|(table, columns)| {
            let row = columns
                .iter()
                .map(|c| format!("'{c}=' || COALESCE(CAST(\"{c}\" AS TEXT), 'null')"))
                .collect::<Vec<_>>()
                .join(" || ' ' || ");
            format!("SELECT '{table} ' || {row} AS line FROM \"{table}\" ORDER BY line")
        })
        .collect();
    if on_postgres() {
        return psql(data_dir, &statements);
    }
    let connection = sqlite(data_dir);
    let mut out = String::new();
    for statement in statements {
        let mut prepared = connection.prepare(&statement).expect(&statement);
        let lines = prepared
            .query_map([], |row| row.get::<_, String>(0))
            .expect(&statement);
        for line in lines {
            out.push_str(&line.expect("a row"));
            out.push('\n');
        }
    }
    out
}

/// Each table of the SQLite database of `data_dir` with its columns.
fn sqlite_columns(data_dir: &Path) -> Vec<(String, Vec<String>)> {
    let connection = sqlite(data_dir);
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .and_then(|mut s| s.query_map([], |row| row.get(0))?.collect())
        .expect("the tables");
    tables
        .into_iter()
        .filter(|t| !t.starts_with("sqlite_"))
        .map(|table| {
            let columns = connection
                .prepare(&format!(
                    "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
                ))
                .and_then(|mut s| s.query_map([], |row| row.get(0))?.collect())
                .expect("the columns");
            (table, columns)
        })
        .collect()
}

/// Each table of the PostgreSQL database of `data_dir` with its columns.
fn postgres_columns(data_dir: &Path) -> Vec<(String, Vec<String>)> {
    let listed = psql(
        data_dir,
        &[
            "SELECT table_name || ' ' || string_agg(column_name, ' ' ORDER BY ordinal_position) \
           FROM information_schema.columns WHERE table_schema = 'public' \
           GROUP BY table_name ORDER BY table_name"
                .to_owned(),
        ],
    );
    listed
        .lines()
        .filter_map(|line| {
            let mut words = line.split(' ').map(str::to_owned);
            let table = words.next()?;
            Some((table, words.collect()))
        })
        .collect()
}
