//! `ztp migrate`: applies the database's migrations and exits. On PostgreSQL the migrations
//! run under an advisory lock, so a deployment may run it from several places at once; each
//! migration is applied once.

use anyhow::Context;

use super::output::print;
use crate::cli::MigrateArgs;
use crate::config::Config;
use crate::secrets::{self, SecretBox};
use crate::store::schema::Migrations;
use crate::store::{Options, Store};

/// Runs `ztp migrate` (`--dry-run`: lists what it would apply).
pub fn run(args: &MigrateArgs) -> anyhow::Result<()> {
    let config = super::backup::load(&args.installation)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if args.dry_run {
        return runtime.block_on(dry_run(&config));
    }
    runtime.block_on(migrate(&config))
}

/// Lists the migrations the database lacks, applying none.
async fn dry_run(config: &Config) -> anyhow::Result<()> {
    let pending = crate::store::schema::pending(&config.database_url()).await?;
    let mut text = match pending.len() {
        0 => "the database has every migration of this ztp: nothing to apply\n".to_owned(),
        n => format!("{n} migration(s) to apply:\n"),
    };
    for (version, description) in pending {
        text.push_str(&format!("  {version} {description}\n"));
    }
    print(&text)
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    // Migrations open no secret: a key of the moment, used for nothing.
    let secrets = SecretBox::new(&secrets::generate_key()?, &[])?;
    let options = Options {
        max_connections: 1,
        migrations: Migrations::Apply,
        ..config.database.options()
    };
    if let Some(parent) = sqlite_file_parent(&config.database_url()) {
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let store = Store::open_with(&config.database_url(), secrets, options).await?;
    let version = store.schema_version().await?;
    match version {
        Some(version) => print(&format!("the database is at migration {version}\n")),
        None => print("the database has no migrations\n"),
    }
}

/// The directory of a SQLite database file, which must exist before SQLite creates the file.
fn sqlite_file_parent(url: &str) -> Option<std::path::PathBuf> {
    let path = url.strip_prefix("sqlite://")?.split('?').next()?;
    std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(ToOwned::to_owned)
}
