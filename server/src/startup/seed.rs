//! What `ztp serve` puts into its data directory before it serves: the directory itself (with
//! a `.gitignore`), the development PKI, its sample customer and devices in an empty inventory,
//! and the admin token.
//!
//! Owns the first start of a data directory; imports the store (to seed the inventory) and
//! the secrets module (to write private files), nothing of the edges.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ztp_certs::PkiError;
use ztp_certs::dev_pki::{self, DevPkiOptions, layout};

use crate::store::{NewCustomer, NewDevice, Store, StoreError, TargetRecord};

/// Preparing the data directory failed; each variant names the file or directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    /// The data directory could not be created.
    #[error("creating the data directory {}", path.display())]
    CreateDataDir {
        /// The data directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file the seeding writes (the data directory's `.gitignore`) could not be written.
    #[error("writing {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The development PKI could not be generated.
    #[error("creating the development PKI in {}", dir.display())]
    DevPki {
        /// Where it was to be.
        dir: PathBuf,
        /// Why.
        #[source]
        source: PkiError,
    },
    /// A file of the development PKI (the sample customer's CA or signer) did not read.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// The sample inventory could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The admin token file exists but holds no token.
    #[error("the admin token file {} is empty", path.display())]
    EmptyToken {
        /// The token file.
        path: PathBuf,
    },
    /// The admin token file could not be read.
    #[error("reading {}", path.display())]
    ReadToken {
        /// The token file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The system gave no randomness to make a token from.
    #[error("no randomness for the admin token")]
    NoRandomness,
    /// The admin token file could not be created.
    #[error("creating the admin token file {}", path.display())]
    WriteToken {
        /// The token file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Creates the data directory if it is missing, with a `.gitignore` of `*`: it holds secrets
/// (the master key, the admin token, a development PKI's keys) that must never be committed
/// with a checkout it happens to lie in. An existing directory is the operator's: nothing is
/// added to it.
pub fn data_dir(dir: &Path) -> Result<(), SeedError> {
    if dir.exists() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|source| SeedError::CreateDataDir {
        path: dir.to_owned(),
        source,
    })?;
    let ignore = dir.join(".gitignore");
    fs::write(
        &ignore,
        "# ztp's data directory holds secrets: never commit it.\n*\n",
    )
    .map_err(|source| SeedError::Write {
        path: ignore,
        source,
    })
}

/// Creates the development PKI when `dir` holds none, and says loudly what it is.
pub fn dev_pki(dir: &Path) -> Result<(), SeedError> {
    if !dir.join(layout::MANIFEST).exists() {
        dev_pki::generate(dir, &DevPkiOptions::default()).map_err(|source| SeedError::DevPki {
            dir: dir.to_owned(),
            source,
        })?;
    }
    tracing::warn!(
        dir = %dir.display(),
        "using a DEVELOPMENT PKI with unencrypted keys: never use it in production \
         (set dev_pki.enabled = false and configure [manufacturer] and [device_api])"
    );
    Ok(())
}

/// Puts the development PKI's sample customer (with an NMS target) and devices into an empty
/// inventory, so that a sample device can bootstrap at once; an inventory with any customer
/// or device is left as it is.
pub async fn sample_inventory(store: &Store, dir: &Path) -> Result<(), SeedError> {
    if !store.customers().await?.is_empty() || store.device_count().await? > 0 {
        return Ok(());
    }
    let options = DevPkiOptions::default();
    let name = options.customer.clone();
    let cdir = dir.join(layout::customer(&name));
    let owner_ca_pem = dev_pki::read(&cdir.join("owner-ca.pem"))?;
    store
        .insert_customer(&NewCustomer {
            name: name.clone(),
            owner_ca_pem: owner_ca_pem.clone(),
            signer_chain_pem: dev_pki::read(&cdir.join("owner-signing.pem"))?,
            signer_key_pem: dev_pki::read(&cdir.join("owner-signing.key"))?,
            profile: Default::default(),
            sign: true,
        })
        .await?;
    store
        .put_target(
            &name,
            &TargetRecord {
                name: "nms".into(),
                address: format!("nms.{name}.example"),
                port: 443,
                // The sample NMS's TLS certificate would come from the owner CA.
                trust_anchor_pem: Some(owner_ca_pem),
            },
        )
        .await?;
    for (serial, model) in &options.devices {
        if dir.join(layout::device(serial.as_str())).exists() {
            store
                .insert_device(&NewDevice {
                    serial: serial.as_str().to_owned(),
                    model: model.as_str().to_owned(),
                    customer: Some(name.clone()),
                    certificate_pin: None,
                })
                .await?;
        }
    }
    tracing::warn!(customer = %name, "put the development PKI's sample customer and devices into the empty inventory");
    Ok(())
}

/// The admin bearer token: read from `path`, or created there (mode 0600) on first start.
pub fn admin_token(path: &Path) -> Result<String, SeedError> {
    match fs::read_to_string(path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_owned()),
        Ok(_) => {
            return Err(SeedError::EmptyToken {
                path: path.to_owned(),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(SeedError::ReadToken {
                path: path.to_owned(),
                source,
            });
        }
    }
    let mut secret = [0u8; 32];
    aws_lc_rs::rand::fill(&mut secret).map_err(|_| SeedError::NoRandomness)?;
    let token = URL_SAFE_NO_PAD.encode(secret);
    crate::secrets::write_private_file(path, format!("{token}\n").as_bytes()).map_err(
        |source| SeedError::WriteToken {
            path: path.to_owned(),
            source,
        },
    )?;
    tracing::info!(path = %path.display(), "created the admin API token");
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_data_directory_ignores_its_secrets_in_git() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("ztp-data");
        data_dir(&dir).unwrap();
        let ignore = fs::read_to_string(dir.join(".gitignore")).unwrap();
        assert!(ignore.lines().any(|l| l == "*"), "{ignore}");
        // An existing directory is the operator's: nothing is added to it.
        let existing = parent.path().join("existing");
        fs::create_dir(&existing).unwrap();
        data_dir(&existing).unwrap();
        assert!(!existing.join(".gitignore").exists());
    }

    #[test]
    fn the_admin_token_is_created_once_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin-token");
        let created = admin_token(&path).unwrap();
        assert_eq!(admin_token(&path).unwrap(), created);
        fs::write(&path, "\n").unwrap();
        assert!(matches!(
            admin_token(&path),
            Err(SeedError::EmptyToken { .. })
        ));
    }
}
