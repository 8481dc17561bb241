//! `ztp secrets`: the master key that seals secrets in the database. Also the loading of that key
//! for `ztp serve`.
//!
//! Rotation (`ztp secrets rotate`, with the server stopped): a new key is written beside the
//! current one as `<file>.new`, every secret is re-sealed under it in one transaction, then the
//! current file becomes `<file>.previous` and the new one takes its name. A rotation interrupted
//! at any point leaves both keys where `ztp serve` finds them, and its start-up pass finishes
//! the re-sealing.
//!
//! The private keys `ztp serve` reads from files (the manufacturer's voucher- and
//! license-signing keys, the device listener's TLS key) can be sealed under the same master key
//! (`ztp secrets seal-keys`); a rotation re-seals those that are.

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
        SecretsCommand::SealKeys(args) => {
            let config = load(&args)?;
            let secrets = secret_box(&config)?;
            for file in key_files(&config) {
                let state = if file.seal(&secrets, false)? {
                    "sealed"
                } else {
                    "already sealed"
                };
                println!("{} ({}): {state}", file.path.display(), file.field);
            }
            let m = &config.manufacturer;
            for (field, location) in [
                ("manufacturer.masa_key", &m.masa_key),
                ("manufacturer.license_key", &m.license_key),
            ] {
                if location.file().is_none() {
                    println!("{location} ({field}): on a PKCS#11 token, nothing to seal");
                }
            }
            Ok(())
        }
    }
}

fn load(args: &ServeArgs) -> anyhow::Result<Config> {
    Ok(Config::load(
        args.config.as_deref(),
        &Overrides {
            data_dir: args.data_dir.clone(),
            ..Overrides::default()
        },
    )?)
}

/// A private key file `ztp serve` reads: the configuration key that names it (the sealed
/// form is bound to it) and where it is.
#[derive(Debug, Clone)]
pub struct KeyFile {
    /// The configuration key, e.g. `manufacturer.masa_key`.
    pub field: &'static str,
    /// The file.
    pub path: PathBuf,
}

/// The private key files `ztp serve` reads, each plain PEM or sealed under the master key. Keys
/// on an HSM (a `pkcs11:` URI) are not files: they are neither read nor sealed.
pub fn key_files(config: &Config) -> Vec<KeyFile> {
    let file = |field, path: &PathBuf| KeyFile {
        field,
        path: config.path(path),
    };
    let m = &config.manufacturer;
    [
        ("manufacturer.masa_key", m.masa_key.file()),
        ("manufacturer.license_key", m.license_key.file()),
        ("device_api.tls_key", Some(&config.device_api.tls_key)),
        (
            "device_api.alternative_tls_key",
            config.device_api.alternative_tls_key.as_ref(),
        ),
    ]
    .into_iter()
    .filter_map(|(field, path)| Some(file(field, path?)))
    .collect()
}

impl KeyFile {
    /// The key's PEM text, opened with `secrets` if the file is sealed.
    pub fn read(&self, secrets: &SecretBox) -> anyhow::Result<String> {
        let content = self.content()?;
        if secrets::sealed_key_file_value(&content).is_none() {
            tracing::warn!(
                path = %self.path.display(),
                "private key file {} is not sealed under the master key: `ztp secrets seal-keys` \
                 seals it",
                self.field
            );
        }
        secrets
            .open_key_file(self.field, &content)
            .with_context(|| format!("opening {} ({})", self.path.display(), self.field))
    }

    fn content(&self) -> anyhow::Result<String> {
        fs::read_to_string(&self.path).with_context(|| format!("reading {}", self.path.display()))
    }

    /// Seals the file under the current master key unless it already is (with `only_sealed`,
    /// a plain file is left as it is): the sealed content is written beside it (mode 0600),
    /// synced, and renamed over it. Whether the file changed.
    fn seal(&self, secrets: &SecretBox, only_sealed: bool) -> anyhow::Result<bool> {
        let content = self.content()?;
        let sealed = secrets::sealed_key_file_value(&content);
        if sealed.is_some_and(|value| !secrets.needs_sealing(value))
            || (only_sealed && sealed.is_none())
        {
            return Ok(false);
        }
        let pem = secrets
            .open_key_file(self.field, &content)
            .with_context(|| format!("opening {} ({})", self.path.display(), self.field))?;
        anyhow::ensure!(
            pem.contains("PRIVATE KEY-----"),
            "{} ({}) holds no PEM private key",
            self.path.display(),
            self.field
        );
        let sealed = secrets.seal_key_file(self.field, &pem)?;
        let next = sibling(&self.path, "sealing");
        // A leftover from an interrupted run is ours to replace.
        let _ = fs::remove_file(&next);
        // The sealed file keeps the owner, group and mode of the one it replaces, so that the
        // service account reads it as before (a root shell sealing a key of group `ztp`).
        let before =
            fs::metadata(&self.path).with_context(|| format!("reading {}", self.path.display()))?;
        let write = || -> std::io::Result<()> {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            secrets::write_private_file(&next, sealed.as_bytes())?;
            std::os::unix::fs::chown(&next, Some(before.uid()), Some(before.gid()))?;
            fs::set_permissions(&next, fs::Permissions::from_mode(before.mode() & 0o7777))?;
            fs::rename(&next, &self.path)
        };
        write().with_context(|| format!("sealing {}", self.path.display()))?;
        Ok(true)
    }
}

async fn rotate(args: &ServeArgs) -> anyhow::Result<()> {
    let config = load(args)?;
    anyhow::ensure!(
        config.secrets.master_key.is_none(),
        "the master key comes from the configuration (ZTP_SECRETS__MASTER_KEY): rotate it there \
         (`ztp secrets new-key`, old key into previous_master_keys, restart)"
    );
    // A running server keeps the old key in memory and would answer 500 for every secret
    // sealed under the new one: refused while it runs (its lock on the data directory).
    let _lock = crate::startup::DataDirLock::alone(&config.data_dir)?;
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
    let rotated = SecretBox::new(&next, &known_keys(&file, &[current])?)?;
    // Sealed key files first: each is replaced whole, and until the key files are renamed
    // both keys open everything.
    let mut files = 0;
    for key_file in key_files(&config) {
        files += usize::from(key_file.seal(&rotated, true)?);
    }
    let store = Store::open(&config.database_url(), 1, rotated)
        .await
        .context("opening the database")?;
    let resealed = store.reseal_secrets().await?;
    let previous = sibling(&file, "previous");
    fs::rename(&file, &previous)
        .with_context(|| format!("moving {} to {}", file.display(), previous.display()))?;
    fs::rename(&next_path, &file)
        .with_context(|| format!("moving {} to {}", next_path.display(), file.display()))?;
    println!(
        "re-sealed {resealed} secret(s) and {files} private key file(s) under the new master key \
         in {}; the old key is in {} (delete it once backups taken under it are no longer \
         needed)",
        file.display(),
        previous.display()
    );
    Ok(())
}

/// The master key `ztp serve` seals with, and every key that may still open secrets. The key
/// file is created on first start.
pub fn secret_box(config: &Config) -> anyhow::Result<SecretBox> {
    open_secret_box(config, true)
}

/// [`secret_box`] without writing anything: where no master key exists yet, a key of the
/// moment, which opens no sealed file (a check's, not a start's).
pub fn existing_secret_box(config: &Config) -> anyhow::Result<SecretBox> {
    open_secret_box(config, false)
}

fn open_secret_box(config: &Config, create: bool) -> anyhow::Result<SecretBox> {
    let file = config.path(&config.secrets.master_key_file);
    let current = match &config.secrets.master_key {
        Some(text) => secrets::parse_key(text).context("secrets.master_key")?,
        None if file.exists() => secrets::read_key_file(&file)?,
        None if !create => secrets::generate_key()?,
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
