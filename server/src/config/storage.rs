//! `[database]` and `[secrets]`: where ztp keeps its state, and the master key that seals the
//! secrets in it.
//!
//! Owns those two sections; imports [`crate::store`] for the store's options.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[database]`: which database (a sqlx URL, SQLite in the data directory by default), its
/// pool and its durability.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// A sqlx database URL; default `sqlite://<data_dir>/ztp.sqlite`.
    pub url: Option<String>,
    /// Connections in the pool.
    pub max_connections: Option<u32>,
    /// SQLite: `full` (every commit synced to disk before a device is answered) or `normal`
    /// (synced at checkpoints: safe against a ztp crash, not against power loss).
    pub synchronous: crate::store::Synchronous,
    /// `apply` (missing migrations are applied when ztp starts; on PostgreSQL under an advisory
    /// lock) or `verify` (ztp refuses to start until `ztp migrate` applied them: for several
    /// instances upgraded by a deployment step).
    pub migrations: crate::store::schema::Migrations,
    /// Seconds a statement waits for a database connection (reconnecting when the database
    /// went away) before the request fails as unavailable (a device gets 503 and Retry-After).
    pub acquire_timeout_secs: Option<u64>,
}

impl DatabaseConfig {
    /// How the store opens the database.
    pub fn options(&self) -> crate::store::Options {
        crate::store::Options {
            max_connections: self.max_connections.unwrap_or(8),
            synchronous: self.synchronous,
            migrations: self.migrations,
            acquire_timeout: std::time::Duration::from_secs(self.acquire_timeout_secs.unwrap_or(5)),
        }
    }
}

/// `[secrets]`: the master key is kept outside the database, in a file or in the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// The master key file (base64 of 32 bytes, mode 0600), created on first start unless
    /// `master_key` is given. `ztp secrets rotate` replaces it.
    pub master_key_file: PathBuf,
    /// The master key itself (base64), instead of the file: meant for `ZTP_SECRETS__MASTER_KEY`
    /// from a secret store, not for a configuration file.
    pub master_key: Option<String>,
    /// Previous master keys (base64) that still open secrets during a rotation of
    /// `master_key`; ztp re-seals everything under the current key when it starts.
    pub previous_master_keys: Vec<String>,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self {
            master_key_file: PathBuf::from("master-key"),
            master_key: None,
            previous_master_keys: Vec::new(),
        }
    }
}
