//! Configuration: built-in defaults, then an optional TOML file, then `ZTP_*` environment
//! variables (`__` separates sections: `ZTP_DEVICE_API__LISTEN=0.0.0.0:443`), then command-line
//! flags. Relative paths are relative to the data directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use ztp_certs::SerialSource;

/// The environment variable prefix.
pub const ENV_PREFIX: &str = "ZTP_";

/// Loading the configuration failed.
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
        }
    }
}

/// `[device_api]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceApiConfig {
    /// Address and port of the HTTPS listener devices call.
    pub listen: SocketAddr,
    /// The server's TLS certificate chain (PEM).
    pub tls_certificate: PathBuf,
    /// The server's TLS key (PEM, PKCS#8; or sealed by `ztp secrets seal-keys`).
    pub tls_key: PathBuf,
    /// Largest request body accepted, in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// Largest request head (request line and headers) accepted, in bytes.
    pub max_header_bytes: usize,
    /// Time allowed for the TLS handshake, for the request head and for the body, in seconds.
    pub read_timeout_secs: u64,
    /// Seconds a connection may stay open between an answer and its next request (both
    /// listeners); the first request must begin within `read_timeout_secs` of the handshake.
    pub idle_timeout_secs: u64,
    /// Connections open at once on each listener; more are closed as soon as they are accepted.
    /// Keep it under the process's file descriptor limit.
    pub max_connections: usize,
    /// Connections open at once from one source (an IPv4 address, an IPv6 /64), on each
    /// listener: a share, so that one address cannot take every slot. Devices behind one NAT
    /// share its address: size it for the largest site that boots at once.
    pub max_connections_per_source: usize,
    /// Requests handled at once; more get 503 with Retry-After.
    pub max_concurrent_requests: usize,
    /// The Retry-After value of a 503, in seconds.
    pub retry_after_secs: u64,
    /// TLS handshakes in progress at once on the device listener (they are CPU: a flood of them
    /// must not starve the requests of devices already connected). A connection beyond waits
    /// for its turn within `read_timeout_secs`, then is closed.
    pub max_handshakes: usize,
    /// Failed or timed-out TLS handshakes one source (an IPv4 address, an IPv6 /64) may cause
    /// back to back before it is benched; 0 switches this limit off.
    pub handshake_failures_burst: u32,
    /// Failed TLS handshakes a minute one source may cause for ever (the refill rate).
    pub handshake_failures_per_minute: u32,
    /// Refused requests (4xx answers) one source may cause back to back before it is benched;
    /// 0 switches this limit off. Devices behind one NAT share its budget.
    pub refusals_burst: u32,
    /// Refused requests a minute one source may cause for ever (the refill rate).
    pub refusals_per_minute: u32,
    /// How long a benched source stays benched, in seconds: its connections are closed as soon
    /// as they are accepted, before a handshake.
    pub cooldown_secs: u64,
    /// Sources remembered by each of those limits (failed handshakes, refusals), and refusal
    /// windows open at once; the least informative are forgotten first.
    pub max_tracked_sources: usize,
    /// The window over which repeated refusals (same source, kind, status, serial and reason)
    /// are counted into one summary event instead of one event each, in seconds; 0 records
    /// every refusal.
    pub refusal_summary_secs: u64,
}

impl Default for DeviceApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            tls_certificate: PathBuf::from("pki/server/tls.pem"),
            tls_key: PathBuf::from("pki/server/tls.key"),
            max_body_bytes: 64 * 1024,
            max_header_bytes: 16 * 1024,
            read_timeout_secs: 10,
            idle_timeout_secs: 30,
            max_connections: 4096,
            max_connections_per_source: 256,
            max_concurrent_requests: 512,
            retry_after_secs: 5,
            max_handshakes: 32,
            handshake_failures_burst: 30,
            handshake_failures_per_minute: 30,
            refusals_burst: 100,
            refusals_per_minute: 60,
            cooldown_secs: 60,
            max_tracked_sources: 65536,
            refusal_summary_secs: 60,
        }
    }
}

impl DeviceApiConfig {
    /// The read timeout.
    pub fn read_timeout(&self) -> Duration {
        Duration::from_secs(self.read_timeout_secs)
    }

    /// The budget of failed TLS handshakes of one source.
    pub fn handshake_failures(&self) -> crate::http::Budget {
        crate::http::Budget {
            burst: self.handshake_failures_burst,
            per_minute: self.handshake_failures_per_minute,
            cooldown: Duration::from_secs(self.cooldown_secs),
        }
    }

    /// The budget of refused requests of one source.
    pub fn refusals(&self) -> crate::http::Budget {
        crate::http::Budget {
            burst: self.refusals_burst,
            per_minute: self.refusals_per_minute,
            cooldown: Duration::from_secs(self.cooldown_secs),
        }
    }
}

/// `[admin_api]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminApiConfig {
    /// Address and port of the administration listener (plain HTTP: keep it on loopback or
    /// behind a TLS-terminating proxy).
    pub listen: SocketAddr,
    /// The file holding the bearer token, created on first start.
    pub token_file: PathBuf,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Failed authentications allowed from one address per window; beyond, every request from
    /// it without a valid token gets 429 until the window ends (a valid token always passes).
    pub max_failed_auths: u32,
    /// The window, in seconds.
    pub failed_auth_window_secs: u64,
    /// Largest CSV device import, in bytes (larger: 413; see docs/import.md).
    pub max_import_bytes: u64,
    /// Longest CSV row (record) of an import, in bytes (longer: 413).
    pub max_import_row_bytes: u64,
    /// Time for a whole import body to arrive, in seconds (later: 408).
    pub import_deadline_secs: u64,
}

impl Default for AdminApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8444)),
            token_file: PathBuf::from("admin-token"),
            max_body_bytes: 1024 * 1024,
            max_failed_auths: 10,
            failed_auth_window_secs: 60,
            max_import_bytes: 64 * 1024 * 1024,
            max_import_row_bytes: 16 * 1024,
            import_deadline_secs: 600,
        }
    }
}

/// `[database]`.
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
}

/// `[manufacturer]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ManufacturerConfig {
    /// Trust anchors (PEM) that device IDevID certificates must chain to.
    pub trust_anchors: Vec<PathBuf>,
    /// Intermediate CA certificates (PEM), for devices that present only their leaf.
    pub intermediates: Vec<PathBuf>,
    /// CRLs (PEM or DER) of the IDevID CAs; re-read when they change.
    pub crls: Vec<PathBuf>,
    /// How often to look for changed CRL files, in seconds.
    pub crl_refresh_secs: u64,
    /// Where device certificates carry the serial number.
    pub serial_source: SerialSource,
    /// Signature verifications of device chains remembered per generation (two are kept), so
    /// that a device calling again costs none; 0 remembers none.
    pub remembered_signatures: usize,
    /// The voucher-signing (MASA) certificate chain (PEM).
    pub masa_certificate: PathBuf,
    /// The voucher-signing key (PEM, or sealed by `ztp secrets seal-keys`).
    pub masa_key: PathBuf,
    /// Lifetime of vouchers issued without a nonce, in days.
    pub voucher_validity_days: u32,
    /// The license-signing certificate chain (PEM).
    pub license_certificate: PathBuf,
    /// The license-signing key (PEM, or sealed by `ztp secrets seal-keys`).
    pub license_key: PathBuf,
}

impl Default for ManufacturerConfig {
    fn default() -> Self {
        Self {
            // The IDevID CA, not the root: the root also anchors the voucher, license and TLS
            // CAs, whose keys must never pass for a device's.
            trust_anchors: vec![PathBuf::from("pki/manufacturer/idevid-ca.pem")],
            intermediates: Vec::new(),
            crls: vec![PathBuf::from("pki/manufacturer/idevid-ca.crl.pem")],
            crl_refresh_secs: 30,
            serial_source: SerialSource::SubjectSerialNumber,
            remembered_signatures: crate::auth::device::signatures::DEFAULT_CAPACITY,
            masa_certificate: PathBuf::from("pki/manufacturer/masa.pem"),
            masa_key: PathBuf::from("pki/manufacturer/masa.key"),
            voucher_validity_days: 30,
            license_certificate: PathBuf::from("pki/manufacturer/license-signing.pem"),
            license_key: PathBuf::from("pki/manufacturer/license-signing.key"),
        }
    }
}

/// `[dev_pki]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevPkiConfig {
    /// Generate a development PKI in `dir` when it holds none, and put its sample customer and
    /// devices into an empty inventory. Switch off in production.
    pub enabled: bool,
    /// Where the development PKI lives.
    pub dir: PathBuf,
}

impl Default for DevPkiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: PathBuf::from("pki"),
        }
    }
}

/// `[nms]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NmsConfig {
    /// SFTP connections kept open to one NMS connection at most.
    pub max_sessions: usize,
    /// Time for the TCP connect and, separately, the SSH handshake, in seconds.
    pub connect_timeout_secs: u64,
    /// Time for authentication, in seconds.
    pub auth_timeout_secs: u64,
    /// Time for each SFTP request (open, write, close, rename), in seconds.
    pub operation_timeout_secs: u64,
    /// The wait after a registration's first failed attempt, in seconds; it doubles with each
    /// further failure.
    pub retry_initial_secs: u64,
    /// The longest wait between attempts, in seconds (also the pace of retries while an NMS
    /// presents an unpinned host key).
    pub retry_max_secs: u64,
    /// How long a registration may stay undelivered before it becomes a dead letter, in
    /// seconds.
    pub give_up_after_secs: u64,
    /// Under `nms-first`, how long a device's request waits for its registration to be
    /// delivered before it gets 503 with Retry-After, in milliseconds.
    pub inline_wait_ms: u64,
    /// Under `nms-first`, how long in all a device is held back for a registration that does
    /// not reach its NMS (a dead host, a wrong pin), since the registration began waiting, in
    /// seconds; then the device is answered and delivery goes on.
    pub max_device_hold_secs: u64,
    /// How often the delivery worker looks for due registrations when nothing wakes it, in
    /// milliseconds.
    pub poll_interval_ms: u64,
    /// Networks (CIDRs, e.g. `["10.8.0.0/16", "fd00:8::/64"]`) in which NMS hosts may have
    /// loopback, private, link-local or other non-public addresses. Empty by default: a
    /// customer's admin must not make ztp connect into the manufacturer's own network (see
    /// `docs/nms-host-policy.md`). As a `ZTP_NMS__ALLOWED_PRIVATE_NETWORKS` variable:
    /// `["10.8.0.0/16","fd00:8::/64"]`.
    pub allowed_private_networks: Vec<IpNet>,
}

impl Default for NmsConfig {
    fn default() -> Self {
        Self {
            max_sessions: 4,
            connect_timeout_secs: 10,
            auth_timeout_secs: 10,
            operation_timeout_secs: 30,
            retry_initial_secs: 2,
            retry_max_secs: 300,
            give_up_after_secs: 3 * 24 * 3600,
            inline_wait_ms: 5000,
            max_device_hold_secs: 3600,
            poll_interval_ms: 1000,
            allowed_private_networks: Vec::new(),
        }
    }
}

/// `[webhooks]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Time for one delivery (connection, TLS handshake, request and the receiver's answer), in
    /// seconds.
    pub timeout_secs: u64,
    /// Deliveries in flight at once, over all subscriptions.
    pub max_in_flight: usize,
    /// Deliveries in flight at once to one subscription (a slow receiver holds up only its
    /// own).
    pub max_in_flight_per_webhook: usize,
    /// The wait after a delivery's first failed attempt, in seconds; it doubles with each
    /// further failure.
    pub retry_initial_secs: u64,
    /// The longest wait between attempts, in seconds.
    pub retry_max_secs: u64,
    /// How long a delivery may stay undelivered before it becomes a dead letter, in seconds.
    pub give_up_after_secs: u64,
    /// How often the sender looks for due deliveries, in milliseconds.
    pub poll_interval_ms: u64,
    /// Whether receivers may be at loopback, private, link-local or other non-public
    /// addresses. Off by default: a customer's admin must not make ztp post into the
    /// manufacturer's own network.
    pub allow_private_addresses: bool,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 10,
            max_in_flight: 32,
            max_in_flight_per_webhook: 4,
            retry_initial_secs: 5,
            retry_max_secs: 600,
            give_up_after_secs: 3 * 24 * 3600,
            poll_interval_ms: 500,
            allow_private_addresses: false,
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
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(env_provider());
        if let Some(dir) = &overrides.data_dir {
            figment = figment.merge(Serialized::default("data_dir", dir));
        }
        if let Some(listen) = overrides.device_listen {
            figment = figment.merge(Serialized::default("device_api.listen", listen));
        }
        if let Some(listen) = overrides.admin_listen {
            figment = figment.merge(Serialized::default("admin_api.listen", listen));
        }
        figment.extract().map_err(|e| ConfigError(Box::new(e)))
    }

    /// `path` resolved against the data directory (absolute paths stay as they are).
    pub fn path(&self, path: &Path) -> PathBuf {
        self.data_dir.join(path)
    }

    /// The database URL.
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

/// `ZTP_*` variables naming a configuration key. Other `ZTP_` variables (those the CLI client
/// reads, such as `ZTP_ADMIN_TOKEN`) are not configuration and are left alone.
fn env_provider() -> Env {
    Env::prefixed(ENV_PREFIX)
        .filter(|key| {
            let key = key.as_str().to_ascii_uppercase();
            ENV_KEYS
                .iter()
                .any(|k| key == *k || (k.ends_with("__") && key.starts_with(k)))
        })
        .split("__")
}

/// The configuration's keys as `ZTP_` variables: top-level values, and sections (`…__`).
const ENV_KEYS: [&str; 9] = [
    "DATA_DIR",
    "DEVICE_API__",
    "ADMIN_API__",
    "DATABASE__",
    "MANUFACTURER__",
    "DEV_PKI__",
    "NMS__",
    "SECRETS__",
    "WEBHOOKS__",
];

#[cfg(test)]
// figment's test jail returns its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use figment::Jail;

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
            jail.create_file("ztp.toml", include_str!("../../deploy/ztp.toml"))?;
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
