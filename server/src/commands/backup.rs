//! `ztp backup` and `ztp restore`: an online, consistent copy of a SQLite installation's
//! database, and its return. PostgreSQL has its own tools (`pg_dump`, `pg_restore`: see
//! docs/operations.md); the master key is backed up apart from the database, as the secrets it
//! seals are in it.

use anyhow::Context;

use crate::cli::{BackupArgs, Installation, RestoreArgs};
use crate::config::{Config, Overrides};
use crate::startup::DataDirLock;
use crate::store::backup;

/// The configuration of `installation`.
pub(super) fn load(installation: &Installation) -> anyhow::Result<Config> {
    Ok(Config::load(
        installation.config.as_deref(),
        &Overrides {
            data_dir: installation.data_dir.clone(),
            ..Overrides::default()
        },
    )?)
}

/// Runs `ztp backup`: copies the database, in use or not, to a new file.
pub fn run_backup(args: &BackupArgs) -> anyhow::Result<()> {
    let config = load(&args.installation)?;
    let database = backup::database_file(&config.database_url())?;
    anyhow::ensure!(
        database.exists(),
        "{} does not exist: nothing to back up",
        database.display()
    );
    let snapshot = backup::backup(&database, &args.file)
        .with_context(|| format!("backing {} up", database.display()))?;
    super::output::print(&format!(
        "backed up {} to {}: {} devices, migration {}, {} bytes (mode 0600; the master key is \
         not in it: keep {} apart)\n",
        database.display(),
        args.file.display(),
        snapshot.devices,
        snapshot.migration,
        snapshot.bytes,
        config.path(&config.secrets.master_key_file).display(),
    ))
}

/// Runs `ztp restore`: checks the copy, then puts it in place of the database, with the
/// server stopped.
pub fn run_restore(args: &RestoreArgs) -> anyhow::Result<()> {
    let config = load(&args.installation)?;
    let database = backup::database_file(&config.database_url())?;
    let snapshot = backup::inspect(&args.file)?;
    let _lock = DataDirLock::alone(&config.data_dir)?;
    let (_, kept) = backup::restore(&args.file, &database)
        .with_context(|| format!("restoring {}", database.display()))?;
    let kept = kept
        .map(|path| format!("; the database it replaced is {}", path.display()))
        .unwrap_or_default();
    super::output::print(&format!(
        "restored {} from {}: {} devices, migration {}{kept}\n",
        database.display(),
        args.file.display(),
        snapshot.devices,
        snapshot.migration,
    ))
}
