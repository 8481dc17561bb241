//! `ztp secrets`: the master key that seals secrets in the database. Also the loading of that key
//! for `ztp serve`.
//!
//! Rotation (`ztp secrets rotate`, with the server stopped): a new key is written beside the
//! current one as `<file>.new`, every secret is re-sealed under it in one transaction, then the
//! current file becomes `<file>.previous` and the new one takes its name. A rotation interrupted
//! at any point leaves both keys where `ztp serve` finds them, and its start-up pass finishes
//! the re-sealing.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{SecretsCommand, ServeArgs};
use crate::config::{Config, Overrides};
use crate::secrets::{self, KEY_LEN, SecretBox};
use crate::store::Store;

/// Runs a `ztp secrets` command.
pub fn run(command: SecretsCommand) -> anyhow::Result<()> {
    match command {
        SecretsCommand::NewKey => {
            use base64::Engine;
            let key = secrets::generate_key()?;
            println!("{}", base64::engine::general_purpose::STANDARD.encode(key));
            Ok(())
        }
        SecretsCommand::Rotate(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(rotate(&args))
        }
    }
}

async fn rotate(args: &ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(
        args.config.as_deref(),
        &Overrides {
            data_dir: args.data_dir.clone(),
            ..Overrides::default()
        },
    )?;
    anyhow::ensure!(
        config.secrets.master_key.is_none(),
        "the master key comes from the configuration (ZTP_SECRETS__MASTER_KEY): rotate it there \
         (`ztp secrets new-key`, old key into previous_master_keys, restart)"
    );
    let file = config.path(&config.secrets.master_key_file);
    let current = secrets::read_key_file(&file)?;
    let next_path = sibling(&file, "new");
    if next_path.exists() {
        anyhow::bail!(
            "{} exists: an earlier rotation did not finish; start `ztp serve` once (it completes \
             the re-sealing), then move it over {} by hand",
            next_path.display(),
            file.display()
        );
    }
    let next = secrets::generate_key()?;
    secrets::write_key_file(&next_path, &next)?;
    let store = Store::open(
        &config.database_url(),
        1,
        SecretBox::new(&next, &known_keys(&file, &[current])?)?,
    )
    .await
    .context("opening the database")?;
    let resealed = store.reseal_secrets().await?;
    let previous = sibling(&file, "previous");
    fs::rename(&file, &previous)
        .with_context(|| format!("moving {} to {}", file.display(), previous.display()))?;
    fs::rename(&next_path, &file)
        .with_context(|| format!("moving {} to {}", next_path.display(), file.display()))?;
    println!(
        "re-sealed {resealed} secret(s) under the new master key in {}; the old key is in {} \
         (delete it once backups taken under it are no longer needed)",
        file.display(),
        previous.display()
    );
    Ok(())
}

/// The master key `ztp serve` seals with, and every key that may still open secrets. The key
/// file is created on first start.
pub fn secret_box(config: &Config) -> anyhow::Result<SecretBox> {
    let file = config.path(&config.secrets.master_key_file);
    let current = match &config.secrets.master_key {
        Some(text) => secrets::parse_key(text).context("secrets.master_key")?,
        None if file.exists() => secrets::read_key_file(&file)?,
        None => {
            let key = secrets::generate_key()?;
            secrets::write_key_file(&file, &key)?;
            tracing::warn!(
                path = %file.display(),
                "created the master key that seals secrets in the database: back it up apart \
                 from the database; without it those secrets are lost"
            );
            key
        }
    };
    let mut previous = config
        .secrets
        .previous_master_keys
        .iter()
        .map(|k| secrets::parse_key(k).context("secrets.previous_master_keys"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    previous.extend(known_keys(&file, &[])?);
    Ok(SecretBox::new(&current, &previous)?)
}

/// `extra` plus the keys a rotation leaves beside the key file (`.new`, `.previous`).
fn known_keys(file: &Path, extra: &[[u8; KEY_LEN]]) -> anyhow::Result<Vec<[u8; KEY_LEN]>> {
    let mut keys = extra.to_vec();
    for suffix in ["new", "previous"] {
        let path = sibling(file, suffix);
        if path.exists() {
            keys.push(secrets::read_key_file(&path)?);
        }
    }
    Ok(keys)
}

fn sibling(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> Config {
        Config {
            data_dir: dir.to_owned(),
            ..Config::default()
        }
    }

    #[test]
    fn the_first_start_creates_the_key_and_an_interrupted_rotation_keeps_both_keys_usable() {
        let dir = tempfile::tempdir().unwrap();
        let first = secret_box(&config(dir.path())).unwrap();
        let old = secrets::read_key_file(&dir.path().join("master-key")).unwrap();
        let sealed_old = first.seal("f", "under the old key").unwrap();

        // A rotation stopped after writing the new key (and maybe re-sealing with it).
        let new = secrets::generate_key().unwrap();
        secrets::write_key_file(&dir.path().join("master-key.new"), &new).unwrap();
        let sealed_new = SecretBox::new(&new, &[])
            .unwrap()
            .seal("f", "under the new key")
            .unwrap();
        let loaded = secret_box(&config(dir.path())).unwrap();
        assert_eq!(loaded.open("f", &sealed_old).unwrap(), "under the old key");
        assert_eq!(loaded.open("f", &sealed_new).unwrap(), "under the new key");
        assert_eq!(
            loaded.current_key_id(),
            SecretBox::new(&old, &[]).unwrap().current_key_id(),
            "the key file still names the current key"
        );
    }
}
