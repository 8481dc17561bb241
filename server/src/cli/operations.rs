//! The commands that run and operate ztp itself: `serve`, the PKI, the master key, admin
//! tokens, the audit log and DHCP option values.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use ztp_certs::{KeyAlgorithm, SerialPlacement};

use super::{AdminConnection, PageArgs, Printing};

/// `ztp audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only objects whose path starts with this, e.g. /customers/acme/nms.
    #[arg(long)]
    pub object: Option<String>,
    /// Only this customer's.
    #[arg(long)]
    pub customer: Option<String>,
    /// From this time (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Before this time (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
    /// After this entry id (paging).
    #[arg(long, default_value_t = 0)]
    pub after: i64,
    /// At most this many.
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
    /// The same as `--output csv` (kept for scripts written before `--output`).
    #[arg(long, hide = true)]
    pub csv: bool,
    /// How to reach the admin API.
    #[command(flatten)]
    pub admin: AdminConnection,
    /// How to print the answer.
    #[command(flatten)]
    pub printing: Printing,
}

/// `ztp token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token; it is printed once and only its digest is kept.
    Create(TokenCreateArgs),
    /// List tokens (never the tokens themselves), by id.
    List(PageArgs),
    /// Revoke a token.
    Revoke(TokenIdArgs),
}

/// `ztp token create`.
#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// What it is for.
    pub name: String,
    /// manufacturer-admin, customer-admin or read-only.
    #[arg(long)]
    pub role: String,
    /// The customer it is limited to (required for customer-admin).
    #[arg(long)]
    pub customer: Option<String>,
    /// Lifetime in days (default: until revoked).
    #[arg(long, conflicts_with = "expires_at")]
    pub expires_in_days: Option<u32>,
    /// Or when it expires (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub expires_at: Option<String>,
    /// How to reach the admin API.
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// A command about one token.
#[derive(Debug, Args)]
pub struct TokenIdArgs {
    /// The token's id.
    pub id: String,
    /// How to reach the admin API.
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp secrets …`.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Replace the master key file with a new key and re-seal every secret under it (run it
    /// with the server stopped; the old key is kept as `<file>.previous`).
    Rotate(ServeArgs),
    /// Print a new random master key (base64), for ZTP_SECRETS__MASTER_KEY.
    NewKey,
    /// Seal the private key files ztp serve reads (manufacturer.masa_key,
    /// manufacturer.license_key, device_api.tls_key) under the master key, in place.
    SealKeys(ServeArgs),
}

/// `ztp dhcp-option`.
#[derive(Debug, Args)]
pub struct DhcpOptionArgs {
    /// Bootstrap server URIs, `https://host[:port]` without a path.
    #[arg(required_unless_present = "decode", conflicts_with = "decode")]
    pub uris: Vec<String>,
    /// Decode this option value (hex octets, colons optional) instead.
    #[arg(long, value_name = "HEX")]
    pub decode: Option<String>,
}

/// `ztp serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML); `ZTP_*` environment variables and these flags override it.
    #[arg(long, env = "ZTP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the database, the admin token and the development PKI [default:
    /// ztp-data, or ZTP_DATA_DIR].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Address of the device (RFC 8572) listener [default: 0.0.0.0:8443].
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Address of the admin API listener [default: 127.0.0.1:8444].
    #[arg(long)]
    pub admin_listen: Option<std::net::SocketAddr>,
}

/// Which installation: its configuration file, or its data directory.
#[derive(Debug, Clone, Args)]
pub struct Installation {
    /// Configuration file (TOML); `ZTP_*` environment variables override it.
    #[arg(long, env = "ZTP_CONFIG")]
    pub config: Option<PathBuf>,
    /// The data directory [default: ztp-data, or ZTP_DATA_DIR].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// `ztp migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Which installation's database.
    #[command(flatten)]
    pub installation: Installation,
    /// List the migrations the database lacks, and apply none.
    #[arg(long)]
    pub dry_run: bool,
}

/// `ztp backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The file to write (it must not exist).
    pub file: PathBuf,
    /// Which installation's database.
    #[command(flatten)]
    pub installation: Installation,
}

/// `ztp restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup to restore.
    pub file: PathBuf,
    /// Which installation's database.
    #[command(flatten)]
    pub installation: Installation,
}

/// `ztp check-config`.
#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The configuration file (TOML).
    #[arg(env = "ZTP_CONFIG")]
    pub file: PathBuf,
    /// The data directory `ztp serve --data-dir` would be given: relative paths are resolved
    /// against it [default: the file's data_dir].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// `ztp pki …`.
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create a complete development PKI in DIR: manufacturer root and IDevID CAs, voucher,
    /// license and TLS signers, a sample customer's owner CA and signer, sample devices.
    Init(PkiInitArgs),
    /// Issue one more device IDevID from the IDevID CA of a PKI directory.
    IssueDevice(IssueDeviceArgs),
    /// Revoke a device's IDevID in a development PKI: re-sign the IDevID CA's CRL with it
    /// listed (a running `ztp serve` picks the new CRL up within `crl_refresh_secs`).
    Revoke {
        /// The PKI directory.
        #[arg(long, default_value = "pki")]
        pki: PathBuf,
        /// The device serial number.
        #[arg(long)]
        serial: String,
    },
    /// Print the subject, issuer, device identity, validity and SHA-256 fingerprint of each
    /// certificate in a PEM or DER file.
    Show {
        /// The certificate file.
        file: PathBuf,
    },
}

/// `ztp pki init`.
#[derive(Debug, Args)]
pub struct PkiInitArgs {
    /// The directory to create (must not already hold a PKI).
    pub dir: PathBuf,
    /// The manufacturer's organization name.
    #[arg(long, default_value = "ztp Development Manufacturer")]
    pub manufacturer: String,
    /// The sample customer's name.
    #[arg(long, default_value = "example-customer")]
    pub customer: String,
    /// How many sample devices (serials SN-0001, SN-0002, …).
    #[arg(long, default_value_t = 3)]
    pub devices: u32,
    /// The sample devices' model.
    #[arg(long, default_value = "uCPE-100")]
    pub model: String,
    /// DNS names and IP addresses of the server's TLS certificate.
    #[arg(long = "server-name", default_values_t = ["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()])]
    pub server_names: Vec<String>,
    /// The server's TLS certificate key: `ecdsa`; `rsa`, for device software that rejects
    /// ECDSA server certificates; or `both` (an RSA certificate in server/tls-rsa.pem beside
    /// the ECDSA one, for device_api.alternative_tls_certificate).
    #[arg(long, value_enum, default_value_t = ServerKeyArg::Ecdsa)]
    pub server_key: ServerKeyArg,
}

/// `ztp pki init --server-key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServerKeyArg {
    /// ECDSA P-256.
    Ecdsa,
    /// RSA 2048.
    Rsa,
    /// ECDSA, and RSA beside it.
    Both,
}

impl From<ServerKeyArg> for ztp_certs::dev_pki::ServerKeys {
    fn from(arg: ServerKeyArg) -> Self {
        match arg {
            ServerKeyArg::Ecdsa => Self::Ecdsa,
            ServerKeyArg::Rsa => Self::Rsa,
            ServerKeyArg::Both => Self::Both,
        }
    }
}

/// `ztp pki issue-device`.
#[derive(Debug, Args)]
pub struct IssueDeviceArgs {
    /// The PKI directory made by `ztp pki init`.
    #[arg(long, default_value = "pki")]
    pub pki: PathBuf,
    /// The device serial number.
    #[arg(long)]
    pub serial: String,
    /// The device model (product id).
    #[arg(long)]
    pub model: String,
    /// The device key type.
    #[arg(long, default_value_t = KeyAlgorithm::EcdsaP256, value_parser = parse_key_algorithm)]
    pub key_type: KeyAlgorithm,
    /// Where the subject carries the serial.
    #[arg(long, value_enum, default_value_t = Placement::SerialNumber)]
    pub placement: Placement,
    /// Leave out the subjectAltName hardwareModuleName (RFC 4108).
    #[arg(long)]
    pub no_hardware_module_name: bool,
}

/// Where an IDevID's subject carries the serial.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Placement {
    /// serialNumber=<serial>
    SerialNumber,
    /// serialNumber=PID:<model> SN:<serial> (Cisco SUDI style)
    Udi,
    /// CN=<serial> only
    CommonName,
}

impl From<Placement> for SerialPlacement {
    fn from(p: Placement) -> Self {
        match p {
            Placement::SerialNumber => Self::SerialNumber,
            Placement::Udi => Self::Udi,
            Placement::CommonName => Self::CommonName,
        }
    }
}

fn parse_key_algorithm(s: &str) -> Result<KeyAlgorithm, String> {
    s.parse().map_err(|_| {
        let names: Vec<_> = KeyAlgorithm::ALL.iter().map(|a| a.as_str()).collect();
        format!("unknown key type {s:?}; use one of {}", names.join(", "))
    })
}

/// `ztp db …`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy every table of one database into another, empty one (e.g. from the embedded
    /// SQLite to PostgreSQL), in one transaction, then verify the copy by each table's row
    /// count and checksum. Stop the servers first; secrets stay sealed under the same master
    /// key.
    Copy(DbCopyArgs),
}

/// `ztp db copy`.
#[derive(Debug, Args)]
pub struct DbCopyArgs {
    /// The database to copy, at this ztp's schema (e.g. sqlite://ztp-data/ztp.sqlite).
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The database to copy into: created tables, no rows (e.g. postgres://ztp@db/ztp).
    #[arg(long, value_name = "URL")]
    pub to: String,
}
