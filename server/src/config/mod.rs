//! Configuration: built-in defaults, then an optional TOML file, then `ZTP_*` environment
//! variables (`__` separates sections: `ZTP_DEVICE_API__LISTEN=0.0.0.0:443`), then command-line
//! flags. Relative paths are relative to the data directory.
//!
//! Owns [`Config`], its loading and the variables that may set it; one file per pair of
//! sections: [`listeners`](DeviceApiConfig) (`device_api`, `admin_api`),
//! [`storage`](DatabaseConfig) (`database`, `secrets`), [`pki`](ManufacturerConfig)
//! (`manufacturer`, `dev_pki`), [`delivery`](NmsConfig) (`nms`, `webhooks`), and
//! [`families`](DeviceFamilies) (`device_families`), and [`ldevid`](LdevidConfig) (`ldevid`).
//!
//! May import: `domain`, `store`, `auth`, `http` and `telemetry`, for the types of their
//! settings; the parts read their settings from here, not the other way round.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::Value;
use serde::{Deserialize, Serialize};

mod delivery;
mod families;
mod ldevid;
mod listeners;
mod pki;
mod storage;

pub use delivery::{NmsConfig, WebhooksConfig};
pub use families::DeviceFamilies;
pub use ldevid::LdevidConfig;
pub use listeners::{AdminApiConfig, DeviceApiConfig, DeviceProxyConfig, TlsVersion};
pub use pki::{DevPkiConfig, KeyLocation, ManufacturerConfig};
pub use storage::{DatabaseConfig, SecretsConfig};

/// The prefix of the environment variables that set configuration keys (`ZTP_NMS__MAX_SESSIONS`).
pub const ENV_PREFIX: &str = "ZTP_";

/// Loading the configuration failed: the TOML file is missing or malformed, a value does not
/// parse as its key's type, or a key is unknown (the message names the key and its source).
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(#[from] Box<figment::Error>);

/// Everything `ztp serve` can be told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory for the SQLite database, the admin token and the development PKI.
    pub data_dir: PathBuf,
    /// The device-facing RESTCONF listener.
    pub device_api: DeviceApiConfig,
    /// The administration listener.
    pub admin_api: AdminApiConfig,
    /// The database.
    pub database: DatabaseConfig,
    /// The manufacturer's PKI: IDevID trust, CRLs, voucher signing.
    pub manufacturer: ManufacturerConfig,
    /// The development PKI.
    pub dev_pki: DevPkiConfig,
    /// Delivery of device registrations to customers' NMSes.
    pub nms: NmsConfig,
    /// The master key that seals secrets in the database.
    pub secrets: SecretsConfig,
    /// Delivery of device events to customers' webhooks.
    pub webhooks: WebhooksConfig,
    /// Device families beside (or instead of) the built-in ones.
    pub device_families: DeviceFamilies,
    /// The external LDevID issuer (RFC 9646 CSRs).
    pub ldevid: LdevidConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("ztp-data"),
            device_api: DeviceApiConfig::default(),
            admin_api: AdminApiConfig::default(),
            database: DatabaseConfig::default(),
            manufacturer: ManufacturerConfig::default(),
            dev_pki: DevPkiConfig::default(),
            nms: NmsConfig::default(),
            secrets: SecretsConfig::default(),
            webhooks: WebhooksConfig::default(),
            device_families: DeviceFamilies::default(),
            ldevid: LdevidConfig::default(),
        }
    }
}

/// Values from the command line, which win over everything else.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_listen: Option<SocketAddr>,
    /// `--admin-listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_listen: Option<SocketAddr>,
}

impl Config {
    /// Loads defaults, then `file` (TOML) when given, then `ZTP_*` environment variables, then
    /// `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::load_with(file, &[], overrides)
    }

    /// Like [`Config::load`], with `variables` (`ZTP_*` names and values, read as the
    /// environment's are) after the process's environment, so that they win over it: what a
    /// server started in-process by a test is told, where a child process would get its own
    /// environment. Names that are no configuration key are left alone, as in the environment.
    pub fn load_with(
        file: Option<&Path>,
        variables: &[(&str, &str)],
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        Self::figment(file, variables, overrides)
            .extract()
            .map_err(|e| ConfigError(Box::new(e)))
    }

    /// The sources [`Config::load_with`] reads, merged in its order and not yet extracted:
    /// what `ztp check-config` inspects key by key.
    pub fn figment(
        file: Option<&Path>,
        variables: &[(&str, &str)],
        overrides: &Overrides,
    ) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(env_provider());
        for (name, value) in variables {
            // Parsing a value cannot fail: what is not TOML-like stays a string.
            let (Some(key), Ok(value)) = (config_key(name), value.parse::<Value>()) else {
                continue;
            };
            figment = figment.merge(Serialized::default(&key, value));
        }
        if let Some(dir) = &overrides.data_dir {
            figment = figment.merge(Serialized::default("data_dir", dir));
        }
        if let Some(listen) = overrides.device_listen {
            figment = figment.merge(Serialized::default("device_api.listen", listen));
        }
        if let Some(listen) = overrides.admin_listen {
            figment = figment.merge(Serialized::default("admin_api.listen", listen));
        }
        figment
    }

    /// `path` resolved against the data directory (absolute paths stay as they are).
    pub fn path(&self, path: &Path) -> PathBuf {
        self.data_dir.join(path)
    }

    /// The sqlx URL of the database: `database.url`, else the SQLite file `ztp.sqlite` in the
    /// data directory (created when missing).
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("ztp.sqlite").display()
            ),
        }
    }
}

/// What `ztp check-config` checks beyond the keys' types: every key, the files `ztp serve` reads,
/// and the rules between keys that `ztp serve` would otherwise find only when it starts.
impl Config {
    /// Every key a configuration may hold, as JSON with the defaults: a section is an object,
    /// and the optional sections (`device_api.proxy`) are present.
    pub fn every_key() -> serde_json::Value {
        let mut config = Self::default();
        config.device_api.proxy = Some(DeviceProxyConfig::default());
        serde_json::to_value(config).unwrap_or_default()
    }

    /// The files `ztp serve` reads when it starts, resolved against the data directory, each
    /// with the key that names it (`manufacturer.crls[0]`).
    pub fn files_read(&self) -> Vec<(String, PathBuf)> {
        let m = &self.manufacturer;
        let mut files = vec![
            (
                "device_api.tls_certificate",
                &self.device_api.tls_certificate,
            ),
            ("device_api.tls_key", &self.device_api.tls_key),
            ("manufacturer.masa_certificate", &m.masa_certificate),
            ("manufacturer.license_certificate", &m.license_certificate),
        ]
        .into_iter()
        .map(|(key, path)| (key.to_owned(), self.path(path)))
        .collect::<Vec<_>>();
        // Keys on an HSM are no files.
        for (key, location) in [
            ("manufacturer.masa_key", &m.masa_key),
            ("manufacturer.license_key", &m.license_key),
        ] {
            if let Some(path) = location.file() {
                files.push((key.to_owned(), self.path(path)));
            }
        }
        let (a, d) = (&self.admin_api, &self.device_api);
        for (key, path) in [
            (
                "device_api.alternative_tls_certificate",
                &d.alternative_tls_certificate,
            ),
            ("device_api.alternative_tls_key", &d.alternative_tls_key),
            ("admin_api.tls_certificate", &a.tls_certificate),
            ("admin_api.tls_key", &a.tls_key),
            ("admin_api.client_ca", &a.client_ca),
        ] {
            if let Some(path) = path {
                files.push((key.to_owned(), self.path(path)));
            }
        }
        for (key, list) in [
            ("manufacturer.trust_anchors", &m.trust_anchors),
            ("manufacturer.intermediates", &m.intermediates),
            ("manufacturer.crls", &m.crls),
            (
                "manufacturer.voucher_import_anchors",
                &m.voucher_import_anchors,
            ),
        ] {
            for (i, path) in list.iter().enumerate() {
                files.push((format!("{key}[{i}]"), self.path(path)));
            }
        }
        files
    }

    /// The files `ztp serve` creates when they are missing (and reads when they are not): the
    /// admin token, and the master key unless `secrets.master_key` gives it.
    pub fn files_created(&self) -> Vec<(String, PathBuf)> {
        let mut files = vec![(
            "admin_api.token_file".to_owned(),
            self.path(&self.admin_api.token_file),
        )];
        if self.secrets.master_key.is_none() {
            files.push((
                "secrets.master_key_file".to_owned(),
                self.path(&self.secrets.master_key_file),
            ));
        }
        files
    }

    /// The values that load but that `ztp serve` cannot start with: two listeners on one port,
    /// a database URL of no backend, a proxy listener that would believe nobody or whose
    /// headers are not header names.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, reason: String| {
            problems.push(ConfigProblem {
                key: key.to_owned(),
                reason,
            });
        };
        let mut listeners = vec![
            ("device_api.listen", self.device_api.listen),
            ("admin_api.listen", self.admin_api.listen),
        ];
        if let Some(proxy) = &self.device_api.proxy {
            listeners.push(("device_api.proxy.listen", proxy.listen));
        }
        for (i, (key, addr)) in listeners.iter().enumerate() {
            if let Some((other, _)) = listeners[..i].iter().find(|(_, a)| overlap(*a, *addr)) {
                problem(
                    key,
                    format!("{addr} is also {other}'s port: one listener each"),
                );
            }
        }
        if let Some(url) = &self.database.url {
            let known = ["sqlite:", "postgres://", "postgresql://"];
            if !known.iter().any(|scheme| url.starts_with(scheme)) {
                problem(
                    "database.url",
                    "not a database URL ztp knows: sqlite:… or postgres://…".to_owned(),
                );
            }
        }
        for (key, reason) in self
            .device_api
            .problems()
            .into_iter()
            .chain(self.admin_api.problems())
        {
            problem(key, reason);
        }
        problems
    }
}

/// Whether two listeners would ask for one port: the same port (not 0, which the system
/// chooses) on the same address, or on any address and one of its own.
fn overlap(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0
        && a.port() == b.port()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// A value that loads but that `ztp serve` cannot start with ([`Config::problems`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key (`device_api.proxy.trusted_proxies`).
    pub key: String,
    /// What is wrong with its value.
    pub reason: String,
}

/// `ZTP_*` variables naming a configuration key. Other `ZTP_` variables (those the CLI client
/// reads, such as `ZTP_ADMIN_TOKEN`) are not configuration and are left alone.
fn env_provider() -> Env {
    Env::prefixed(ENV_PREFIX)
        .filter(|key| is_config_variable(key.as_str()))
        .split("__")
}

/// Whether `name`, without the `ZTP_` prefix, names a configuration key or a key of a section.
fn is_config_variable(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    ENV_KEYS
        .iter()
        .any(|k| name == *k || (k.ends_with("__") && name.starts_with(k)))
}

/// The key path (`nms.allowed_private_networks`) a `ZTP_*` variable name sets, as
/// [`env_provider`] maps it; `None` when it sets none.
fn config_key(name: &str) -> Option<String> {
    let name = name.strip_prefix(ENV_PREFIX)?;
    let key = name.to_ascii_lowercase().replace("__", ".");
    (is_config_variable(name) && !key.split('.').any(str::is_empty)).then_some(key)
}

/// The configuration's keys as `ZTP_` variables: top-level values, and sections (`…__`).
const ENV_KEYS: [&str; 11] = [
    "DATA_DIR",
    "DEVICE_API__",
    "ADMIN_API__",
    "DATABASE__",
    "MANUFACTURER__",
    "DEV_PKI__",
    "NMS__",
    "SECRETS__",
    "WEBHOOKS__",
    "DEVICE_FAMILIES",
    "LDEVID__",
];

#[cfg(test)]
// figment's test jail returns its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use figment::Jail;
    use ipnet::IpNet;
    use ztp_certs::SerialSource;

    use super::*;

    #[test]
    fn defaults_then_file_then_environment_then_flags() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "ztp.toml",
                r#"
                    data_dir = "/var/lib/ztp"
                    [device_api]
                    listen = "127.0.0.1:9443"
                    max_body_bytes = 1000
                    [manufacturer]
                    serial_source = "common-name"
                "#,
            )?;
            jail.set_env("ZTP_DEVICE_API__MAX_BODY_BYTES", "2000");
            jail.set_env("ZTP_ADMIN_TOKEN", "not configuration");
            jail.set_env("ZTP_SECRETS__PREVIOUS_MASTER_KEYS", r#"["b2xk"]"#);
            jail.set_env("ZTP_DATABASE__SYNCHRONOUS", "normal");
            let overrides = Overrides {
                admin_listen: Some("127.0.0.1:0".parse().unwrap()),
                ..Overrides::default()
            };
            let config = Config::load(Some(Path::new("ztp.toml")), &overrides).unwrap();
            assert_eq!(config.data_dir, PathBuf::from("/var/lib/ztp"));
            assert_eq!(config.secrets.previous_master_keys, ["b2xk"]);
            assert_eq!(
                config.database.synchronous,
                crate::store::Synchronous::Normal
            );
            assert_eq!(config.device_api.listen, "127.0.0.1:9443".parse().unwrap());
            assert_eq!(config.device_api.max_body_bytes, 2000);
            assert_eq!(config.admin_api.listen, "127.0.0.1:0".parse().unwrap());
            assert_eq!(config.manufacturer.serial_source, SerialSource::CommonName);
            assert_eq!(config.device_api.read_timeout_secs, 10, "untouched default");
            Ok(())
        });
    }

    #[test]
    fn every_configuration_key_can_come_from_the_environment() {
        let value = serde_json::to_value(Config::default()).unwrap();
        for (key, value) in value.as_object().unwrap() {
            let name = key.to_ascii_uppercase();
            let expected = if value.is_object() {
                format!("{name}__")
            } else {
                name
            };
            assert!(ENV_KEYS.contains(&expected.as_str()), "ZTP_{expected}");
        }
    }

    #[test]
    fn allowed_private_networks_come_from_the_environment_as_a_list() {
        Jail::expect_with(|jail| {
            jail.set_env(
                "ZTP_NMS__ALLOWED_PRIVATE_NETWORKS",
                r#"["127.0.0.0/8","::1/128"]"#,
            );
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(
                config.nms.allowed_private_networks,
                [
                    "127.0.0.0/8".parse::<IpNet>().unwrap(),
                    "::1/128".parse().unwrap()
                ]
            );
            jail.set_env("ZTP_NMS__ALLOWED_PRIVATE_NETWORKS", "[]");
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert!(config.nms.allowed_private_networks.is_empty());
            jail.set_env("ZTP_NMS__ALLOWED_PRIVATE_NETWORKS", r#"["10.0.0.1/33"]"#);
            assert!(Config::load(None, &Overrides::default()).is_err());
            Ok(())
        });
    }

    #[test]
    fn variables_given_win_over_the_environment_and_lose_to_flags() {
        Jail::expect_with(|jail| {
            jail.set_env("ZTP_MANUFACTURER__CRL_REFRESH_SECS", "7");
            jail.set_env("ZTP_NMS__ALLOWED_PRIVATE_NETWORKS", "[]");
            let overrides = Overrides {
                data_dir: Some(PathBuf::from("/flag")),
                ..Overrides::default()
            };
            let variables = [
                ("ZTP_NMS__ALLOWED_PRIVATE_NETWORKS", r#"["127.0.0.0/8"]"#),
                ("ZTP_DATA_DIR", "/variable"),
                ("ZTP_ADMIN_TOKEN", "not configuration"),
                ("ZTP_ADMIN_API__MAX_FAILED_AUTHS", "3"),
            ];
            let config = Config::load_with(None, &variables, &overrides).unwrap();
            assert_eq!(config.manufacturer.crl_refresh_secs, 7, "the environment's");
            assert_eq!(
                config.nms.allowed_private_networks,
                ["127.0.0.0/8".parse::<IpNet>().unwrap()]
            );
            assert_eq!(config.admin_api.max_failed_auths, 3);
            assert_eq!(config.data_dir, PathBuf::from("/flag"));
            let unknown = [("ZTP_DEVICE_API__LISTEN_PORT", "1")];
            assert!(Config::load_with(None, &unknown, &overrides).is_err());
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_is_an_error_not_ignored() {
        Jail::expect_with(|jail| {
            jail.create_file("ztp.toml", "[device_api]\nlisten_port = 1\n")?;
            let error = Config::load(Some(Path::new("ztp.toml")), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(error.contains("listen_port"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn the_example_configuration_is_complete_and_valid() {
        Jail::expect_with(|jail| {
            jail.create_file("ztp.toml", include_str!("../../../deploy/ztp.toml"))?;
            let config = Config::load(Some(Path::new("ztp.toml")), &Overrides::default()).unwrap();
            assert!(!config.dev_pki.enabled);
            assert_eq!(config.data_dir, PathBuf::from("/var/lib/ztp"));
            assert_eq!(
                config.nms,
                NmsConfig::default(),
                "the example shows the defaults"
            );
            assert_eq!(config.secrets, SecretsConfig::default());
            assert_eq!(config.webhooks, WebhooksConfig::default());
            let device_api = DeviceApiConfig {
                listen: config.device_api.listen,
                tls_certificate: config.device_api.tls_certificate.clone(),
                tls_key: config.device_api.tls_key.clone(),
                ..DeviceApiConfig::default()
            };
            assert_eq!(
                config.device_api, device_api,
                "the example shows the defaults"
            );
            assert_eq!(
                config.manufacturer.remembered_signatures,
                ManufacturerConfig::default().remembered_signatures
            );
            Ok(())
        });
    }

    #[test]
    fn relative_paths_live_in_the_data_directory() {
        let config = Config {
            data_dir: PathBuf::from("/srv/ztp"),
            ..Config::default()
        };
        assert_eq!(
            config.path(&config.device_api.tls_key),
            PathBuf::from("/srv/ztp/pki/server/tls.key")
        );
        assert_eq!(
            config.path(Path::new("/etc/ztp/ca.pem")),
            PathBuf::from("/etc/ztp/ca.pem")
        );
        assert_eq!(
            config.database_url(),
            "sqlite:///srv/ztp/ztp.sqlite?mode=rwc"
        );
    }
}
