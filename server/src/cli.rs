//! The `ztp` command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ztp_certs::{KeyAlgorithm, SerialPlacement};

/// Zero-touch provisioning server for network devices (RFC 8572).
#[derive(Debug, Parser)]
#[command(name = "ztp", version, about, propagate_version = true)]
pub struct Cli {
    /// Log more (-v: debug, -vv: trace). `RUST_LOG` overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// How the admin commands print answers: json, table or csv.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "json",
        env = "ZTP_OUTPUT"
    )]
    pub output: Output,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The log level the flags ask for.
    pub fn log_level(&self) -> &'static str {
        match self.verbose {
            0 => "info",
            1 => "debug",
            _ => "trace",
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bootstrap server.
    Serve(ServeArgs),
    /// Make and inspect certificates: a development PKI, device IDevIDs.
    #[command(subcommand)]
    Pki(PkiCommand),
    /// Encode bootstrap server URIs as the value of DHCPv4 option 143 / DHCPv6 option 136, or
    /// decode such a value, and print configuration lines for common DHCP servers.
    DhcpOption(DhcpOptionArgs),
    /// Devices: import and manage the inventory (admin API), or act as one (`bootstrap`).
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Customers (device owners): owner certificates, response profile, onboarding.
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// A customer's redirect targets: the bootstrap servers its devices are sent to.
    #[command(subcommand)]
    Target(TargetCommand),
    /// A customer's ordered response rules (by hw-model, os-name, os-version, source address).
    #[command(subcommand)]
    Rules(RulesCommand),
    /// What happened: bootstrap requests, refusals, progress reports, admin changes.
    Events(EventsArgs),
    /// A customer's NMS connections: where device registrations are delivered over SFTP.
    #[command(subcommand)]
    Nms(NmsCommand),
    /// The registration outbox: device registrations on their way to NMSes; retry dead letters.
    #[command(subcommand)]
    Registration(RegistrationCommand),
    /// A customer's webhooks: device events posted to its HTTPS receivers, signed with HMAC.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Licenses: customers' entitlement pools and devices' node-locked licenses.
    #[command(subcommand)]
    License(LicenseCommand),
    /// The master key that seals secrets in the database.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Admin API tokens: roles, scope, expiry, revocation.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The audit log: every change made through the admin API, who made it, from where.
    Audit(AuditArgs),
}

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
    /// Print CSV.
    #[arg(long)]
    pub csv: bool,
    #[command(flatten)]
    pub admin: AdminConnection,
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
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// A command about one token.
#[derive(Debug, Args)]
pub struct TokenIdArgs {
    /// The token's id.
    pub id: String,
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

/// `ztp device …`.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Call get-bootstrapping-data with the IDevID as TLS client certificate, verify the
    /// answer (ownership voucher, owner certificate, signature), report progress, and print the
    /// verified redirect or onboarding information as JSON. Exits 1 on any refusal or error.
    Bootstrap(DeviceBootstrapArgs),
    /// Import a device into the inventory.
    Add(DeviceAddArgs),
    /// List devices.
    List(DeviceListArgs),
    /// Show one device.
    Show(SerialArgs),
    /// Change a device's owner, model or certificate pin.
    Set(DeviceSetArgs),
    /// Remove a device from the inventory.
    Remove(SerialArgs),
    /// Show a device's progress reports.
    Progress(SerialArgs),
    /// A device's timeline: bootstrap attempts and results, progress reports, NMS deliveries,
    /// licenses issued and revoked, administrators' changes; oldest first.
    Timeline(SerialArgs),
    /// Import devices from a CSV file (header row: serial, model[, customer][,
    /// certificate_pin]), streamed with a progress bar; bad rows are reported by line.
    Import(DeviceImportArgs),
}

/// `ztp device import`.
#[derive(Debug, Args)]
pub struct DeviceImportArgs {
    /// The CSV file.
    pub file: PathBuf,
    /// Keep nothing if any row is bad (default: import the good rows, report the bad ones).
    #[arg(long)]
    pub all_or_nothing: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// How to reach the admin API of a running `ztp serve`: flags, else environment, else the CLI
/// configuration file (`ZTP_CLI_CONFIG`, default `~/.config/ztp/cli.toml`: `admin_url`, `token`
/// or `token_file`, `data_dir`), else the defaults.
#[derive(Debug, Clone, Args)]
pub struct AdminConnection {
    /// The admin API's URL [default: http://127.0.0.1:8444].
    #[arg(long, env = "ZTP_ADMIN_URL")]
    pub admin_url: Option<String>,
    /// The bearer token [default: read from DATA_DIR/admin-token].
    #[arg(long, env = "ZTP_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The server's data directory, where `ztp serve` wrote the token [default: ztp-data].
    #[arg(long, env = "ZTP_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `ztp device add`.
#[derive(Debug, Args)]
pub struct DeviceAddArgs {
    /// Serial number, as the device's certificate carries it.
    pub serial: String,
    /// Model (product id).
    #[arg(long)]
    pub model: String,
    /// The owner.
    #[arg(long)]
    pub customer: Option<String>,
    /// Pin the device's IDevID: its SHA-256 fingerprint (hex, colons allowed).
    #[arg(long, conflicts_with = "pin_certificate")]
    pub pin: Option<String>,
    /// Pin the device's IDevID: the certificate file (PEM; the first certificate counts).
    #[arg(long)]
    pub pin_certificate: Option<PathBuf>,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp device list`.
#[derive(Debug, Args)]
pub struct DeviceListArgs {
    /// Only this customer's devices.
    #[arg(long)]
    pub customer: Option<String>,
    /// Start after this serial (paging).
    #[arg(long)]
    pub after: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// A command about one device.
#[derive(Debug, Args)]
pub struct SerialArgs {
    /// Serial number.
    pub serial: String,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp device set`.
#[derive(Debug, Args)]
pub struct DeviceSetArgs {
    /// Serial number.
    pub serial: String,
    /// New model.
    #[arg(long)]
    pub model: Option<String>,
    /// New owner.
    #[arg(long, conflicts_with = "no_customer")]
    pub customer: Option<String>,
    /// Remove the owner.
    #[arg(long)]
    pub no_customer: bool,
    /// New certificate pin (SHA-256 fingerprint, hex).
    #[arg(long, conflicts_with_all = ["no_pin", "pin_certificate"])]
    pub pin: Option<String>,
    /// New certificate pin, from a certificate file.
    #[arg(long, conflicts_with = "no_pin")]
    pub pin_certificate: Option<PathBuf>,
    /// Remove the certificate pin.
    #[arg(long)]
    pub no_pin: bool,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp customer …`.
#[derive(Debug, Subcommand)]
pub enum CustomerCommand {
    /// Create a customer; without --owner-ca/--signer-cert/--signer-key, ztp generates its
    /// owner CA and signing certificate.
    Add(CustomerAddArgs),
    /// List customers, by name.
    List(PageArgs),
    /// Show one customer.
    Show(NameArgs),
    /// Change a customer's profile, signing or default onboarding information.
    Set(CustomerSetArgs),
    /// Delete a customer (refused while devices belong to it).
    Remove(NameArgs),
    /// Print the customer's owner CA certificate (PEM): the vouchers' pinned-domain-cert.
    OwnerCa(NameArgs),
}

/// Which page of a list.
#[derive(Debug, Clone, Args)]
pub struct Page {
    /// Start after this name or id.
    #[arg(long)]
    pub after: Option<String>,
    /// At most this many (1 to 1000).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

/// A list, page by page.
#[derive(Debug, Args)]
pub struct PageArgs {
    #[command(flatten)]
    pub page: Page,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// A customer's list, page by page.
#[derive(Debug, Args)]
pub struct CustomerPageArgs {
    /// Customer name.
    pub name: String,
    #[command(flatten)]
    pub page: Page,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// A command about one customer.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// Customer name.
    pub name: String,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp customer add`.
#[derive(Debug, Args)]
pub struct CustomerAddArgs {
    /// Name: 1 to 64 of letters, digits, '.', '_', '-'.
    pub name: String,
    /// Response profile: standard, strict (Cisco IOS-XE) or lenient (agents that reject
    /// unknown fields).
    #[arg(long)]
    pub profile: Option<String>,
    /// Send unsigned conveyed information (only where RFC 8572 allows it).
    #[arg(long)]
    pub unsigned: bool,
    /// Imported owner CA certificate (PEM).
    #[arg(long, requires_all = ["signer_cert", "signer_key"])]
    pub owner_ca: Option<PathBuf>,
    /// Imported owner signing certificate and chain (PEM).
    #[arg(long, requires_all = ["owner_ca", "signer_key"])]
    pub signer_cert: Option<PathBuf>,
    /// Imported owner signing key (PEM, PKCS#8).
    #[arg(long, requires_all = ["owner_ca", "signer_cert"])]
    pub signer_key: Option<PathBuf>,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp customer set`.
#[derive(Debug, Args)]
pub struct CustomerSetArgs {
    /// Customer name.
    pub name: String,
    /// Response profile: standard, strict or lenient.
    #[arg(long)]
    pub profile: Option<String>,
    /// Sign conveyed information (true) or not (false).
    #[arg(long)]
    pub sign: Option<bool>,
    /// Send this onboarding information (RFC 7951 JSON file) instead of redirecting.
    #[arg(long, conflicts_with = "no_onboarding")]
    pub onboarding: Option<PathBuf>,
    /// Redirect again instead of sending onboarding information.
    #[arg(long)]
    pub no_onboarding: bool,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp target …`.
#[derive(Debug, Subcommand)]
pub enum TargetCommand {
    /// Add a redirect target (or replace the one with that name).
    Add(TargetAddArgs),
    /// List a customer's redirect targets.
    List(NameArgs),
    /// Remove a redirect target.
    Remove(TargetRemoveArgs),
}

/// `ztp target add`.
#[derive(Debug, Args)]
pub struct TargetAddArgs {
    /// Customer name.
    pub customer: String,
    /// Target name.
    pub name: String,
    /// Host name or IP address of the bootstrap server.
    #[arg(long)]
    pub address: String,
    /// Its port.
    #[arg(long, default_value_t = 443)]
    pub port: u16,
    /// The trust anchor of its TLS certificate (PEM chain), conveyed to devices.
    #[arg(long)]
    pub trust_anchor: Option<PathBuf>,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp target remove`.
#[derive(Debug, Args)]
pub struct TargetRemoveArgs {
    /// Customer name.
    pub customer: String,
    /// Target name.
    pub name: String,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp rules …`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Print a customer's rules as JSON.
    Show(NameArgs),
    /// Replace a customer's rules with those in a JSON file (a list, first match wins).
    Set(RulesSetArgs),
}

/// `ztp rules set`.
#[derive(Debug, Args)]
pub struct RulesSetArgs {
    /// Customer name.
    pub name: String,
    /// The rules (JSON list).
    pub file: PathBuf,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp nms …`.
#[derive(Debug, Subcommand)]
pub enum NmsCommand {
    /// Add an NMS connection (or replace the one with that name). Without --password-file,
    /// ztp generates a key pair and prints the public key for the NMS administrator.
    Add(NmsAddArgs),
    /// Change an NMS connection.
    Set(NmsSetArgs),
    /// List a customer's NMS connections (never their secrets), by name.
    List(CustomerPageArgs),
    /// Show one NMS connection (never its secrets).
    Show(NmsNameArgs),
    /// Remove an NMS connection.
    Remove(NmsNameArgs),
    /// Test a connection: connect, check the pinned host key, log in, upload and remove a
    /// probe file; exit 1 if a step fails.
    Test(NmsNameArgs),
    /// Show the host key fingerprint an SSH server presents, to compare with the one the NMS
    /// administrator gave you (not a trust decision).
    Fingerprint(FingerprintArgs),
}

/// `ztp nms add`.
#[derive(Debug, Args)]
pub struct NmsAddArgs {
    /// Customer name.
    pub customer: String,
    /// Connection name.
    pub name: String,
    /// SFTP host.
    #[arg(long)]
    pub host: String,
    /// SFTP port.
    #[arg(long, default_value_t = 22)]
    pub port: u16,
    /// Account.
    #[arg(long)]
    pub user: String,
    /// A file holding the account's password (instead of a generated key).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// A pinned host key fingerprint, `SHA256:…` (repeat for several).
    #[arg(long = "pin", required = true)]
    pub pins: Vec<String>,
    /// Remote directory.
    #[arg(long, default_value = "")]
    pub directory: String,
    /// Delivery policy: nms-first, parallel or off.
    #[arg(long, default_value = "nms-first")]
    pub policy: String,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp nms set`.
#[derive(Debug, Args)]
pub struct NmsSetArgs {
    /// Customer name.
    pub customer: String,
    /// Connection name.
    pub name: String,
    /// New host.
    #[arg(long)]
    pub host: Option<String>,
    /// New port.
    #[arg(long)]
    pub port: Option<u16>,
    /// New account.
    #[arg(long)]
    pub user: Option<String>,
    /// Switch to password authentication with the password in this file.
    #[arg(long, conflicts_with = "generate_key")]
    pub password_file: Option<PathBuf>,
    /// Switch to key authentication with a new key pair.
    #[arg(long)]
    pub generate_key: bool,
    /// New pinned fingerprints (replacing the old ones; repeat for several).
    #[arg(long = "pin")]
    pub pins: Vec<String>,
    /// New remote directory.
    #[arg(long)]
    pub directory: Option<String>,
    /// New delivery policy.
    #[arg(long)]
    pub policy: Option<String>,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// A command about one NMS connection.
#[derive(Debug, Args)]
pub struct NmsNameArgs {
    /// Customer name.
    pub customer: String,
    /// Connection name.
    pub name: String,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp nms fingerprint`.
#[derive(Debug, Args)]
pub struct FingerprintArgs {
    /// The SSH server, `HOST:PORT` (`[v6]:PORT` for IPv6).
    pub address: String,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp webhook …`.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Add a webhook; prints its secret (the HMAC key of the `ztp-signature` header) once.
    Add(WebhookAddArgs),
    /// Change a webhook (`--rotate-secret` prints the new secret once).
    Set(WebhookSetArgs),
    /// List a customer's webhooks (never their secrets), by name.
    List(CustomerPageArgs),
    /// Show one webhook with its health and queue.
    Show(WebhookNameArgs),
    /// Remove a webhook and its deliveries.
    Remove(WebhookNameArgs),
    /// Post a signed `ping` to the receiver now; exit 1 if it does not answer 2xx.
    Test(WebhookNameArgs),
    /// A webhook's deliveries, oldest first.
    Deliveries(WebhookDeliveriesArgs),
    /// Deliver again now: one delivery (`--id`), or all dead letters.
    Retry(WebhookRetryArgs),
}

/// `ztp webhook add`.
#[derive(Debug, Args)]
pub struct WebhookAddArgs {
    /// Customer name.
    pub customer: String,
    /// Webhook name.
    pub name: String,
    /// The receiver, `https://host[:port]/path`.
    #[arg(long)]
    pub url: String,
    /// An event to deliver: registered-in-nms, bootstrap-complete, bootstrap-failed,
    /// license-shortage (repeat for several; default all).
    #[arg(long = "event")]
    pub events: Vec<String>,
    /// CA certificates (PEM) the receiver's certificate must lead to (default: the system's
    /// trust anchors).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// A file holding the HMAC key to use (default: ztp makes one).
    #[arg(long)]
    pub secret_file: Option<PathBuf>,
    /// Add it disabled.
    #[arg(long)]
    pub disabled: bool,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp webhook set`.
#[derive(Debug, Args)]
pub struct WebhookSetArgs {
    /// Customer name.
    pub customer: String,
    /// Webhook name.
    pub name: String,
    /// A new receiver.
    #[arg(long)]
    pub url: Option<String>,
    /// New events (replacing the old ones; repeat for several).
    #[arg(long = "event")]
    pub events: Vec<String>,
    /// New CA certificates (PEM).
    #[arg(long, conflicts_with = "system_roots")]
    pub ca_file: Option<PathBuf>,
    /// Trust the system's anchors again instead of a CA file.
    #[arg(long)]
    pub system_roots: bool,
    /// Deliver events.
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Stop delivering events (none are queued while disabled).
    #[arg(long)]
    pub disable: bool,
    /// Replace the secret with a new one (printed once).
    #[arg(long)]
    pub rotate_secret: bool,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// A command about one webhook.
#[derive(Debug, Args)]
pub struct WebhookNameArgs {
    /// Customer name.
    pub customer: String,
    /// Webhook name.
    pub name: String,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp webhook deliveries`.
#[derive(Debug, Args)]
pub struct WebhookDeliveriesArgs {
    /// Customer name.
    pub customer: String,
    /// Webhook name.
    pub name: String,
    /// Only pending, delivered or dead ones.
    #[arg(long)]
    pub state: Option<String>,
    #[command(flatten)]
    pub page: Page,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp webhook retry`.
#[derive(Debug, Args)]
pub struct WebhookRetryArgs {
    /// Customer name.
    pub customer: String,
    /// Webhook name.
    pub name: String,
    /// This delivery only (default: every dead letter).
    #[arg(long)]
    pub id: Option<i64>,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp license …`.
#[derive(Debug, Subcommand)]
pub enum LicenseCommand {
    /// Create an entitlement pool for a customer.
    PoolAdd(PoolAddArgs),
    /// A customer's pools: seats, allocated, free, and devices short of a seat.
    Pools(CustomerPageArgs),
    /// One pool.
    Pool(PoolNameArgs),
    /// Extend or shrink a pool (never below what is allocated), or renew it.
    PoolSet(PoolSetArgs),
    /// A device's licenses, active and revoked.
    Device(SerialArgs),
    /// Revoke a license: its seat returns to the pool, and its device gets none from that pool
    /// again.
    Revoke(RevokeArgs),
    /// RMA: move a failed device's licenses to its replacement in one step (the old ones are
    /// revoked).
    Rma(RmaArgs),
    /// A customer's active licenses that end within --days, soonest first.
    Expiring(UsageArgs),
    /// The usage report of a customer's pools: seats, allocated, free, expiring, short, status.
    Usage(UsageArgs),
}

/// `ztp license expiring|usage`.
#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Customer name.
    pub customer: String,
    /// The window for "expiring", in days.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Print CSV (usage only).
    #[arg(long, conflicts_with = "table")]
    pub csv: bool,
    /// Print an aligned table (usage only).
    #[arg(long)]
    pub table: bool,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp license revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The license id.
    pub id: String,
    /// Why.
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp license rma`.
#[derive(Debug, Args)]
pub struct RmaArgs {
    /// The failed device's serial.
    pub from: String,
    /// The replacement's serial.
    pub to: String,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp license pool-add`.
#[derive(Debug, Args)]
pub struct PoolAddArgs {
    /// Customer name.
    pub customer: String,
    /// Pool name.
    pub name: String,
    /// Feature tag, e.g. ESS-ED-100G-SIA3.
    #[arg(long)]
    pub feature: String,
    /// perpetual, subscription or evaluation.
    #[arg(long = "type", default_value = "perpetual")]
    pub term: String,
    /// Seats (omit for an uncounted pool).
    #[arg(long)]
    pub seats: Option<u32>,
    /// Subscription start (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub starts: Option<String>,
    /// Subscription end (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub ends: Option<String>,
    /// Evaluation period in days.
    #[arg(long)]
    pub evaluation_days: Option<u32>,
    /// A model that draws from the pool (repeat; default: every model).
    #[arg(long = "model")]
    pub models: Vec<String>,
    /// A device that draws from the pool (repeat; instead of models).
    #[arg(long = "serial", conflicts_with = "models")]
    pub serials: Vec<String>,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// A command about one pool.
#[derive(Debug, Args)]
pub struct PoolNameArgs {
    /// Customer name.
    pub customer: String,
    /// Pool name.
    pub name: String,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp license pool-set`.
#[derive(Debug, Args)]
pub struct PoolSetArgs {
    /// Customer name.
    pub customer: String,
    /// Pool name.
    pub name: String,
    /// New seat count.
    #[arg(long, conflicts_with = "uncounted")]
    pub seats: Option<u32>,
    /// Make the pool uncounted.
    #[arg(long)]
    pub uncounted: bool,
    /// New subscription end (renewal).
    #[arg(long)]
    pub ends: Option<String>,
    /// New evaluation period in days.
    #[arg(long)]
    pub evaluation_days: Option<u32>,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp registration …`.
#[derive(Debug, Subcommand)]
pub enum RegistrationCommand {
    /// List registrations, oldest first.
    List(RegistrationListArgs),
    /// Show one registration, with the document delivered to the NMS.
    Show(RegistrationIdArgs),
    /// Deliver again now: one registration by id, or every one matching the filters (`--dead`
    /// for the dead letters, typically once the NMS is fixed).
    Retry(RegistrationRetryArgs),
}

/// `ztp registration list`.
#[derive(Debug, Args)]
pub struct RegistrationListArgs {
    /// Only in this state: pending, delivered or dead.
    #[arg(long)]
    pub state: Option<String>,
    /// Only of this customer.
    #[arg(long)]
    pub customer: Option<String>,
    /// Only to this NMS connection.
    #[arg(long)]
    pub connection: Option<String>,
    /// Only of this device.
    #[arg(long)]
    pub serial: Option<String>,
    /// Only those after this id (paging).
    #[arg(long, default_value_t = 0)]
    pub after: i64,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp registration show`.
#[derive(Debug, Args)]
pub struct RegistrationIdArgs {
    /// The registration's id.
    pub id: i64,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp registration retry`.
#[derive(Debug, Args)]
pub struct RegistrationRetryArgs {
    /// The registration's id.
    #[arg(required_unless_present = "dead", conflicts_with_all = ["dead", "customer", "connection"])]
    pub id: Option<i64>,
    /// All dead letters (narrowed by --customer and --connection).
    #[arg(long)]
    pub dead: bool,
    /// Only of this customer.
    #[arg(long)]
    pub customer: Option<String>,
    /// Only to this NMS connection.
    #[arg(long, requires = "customer")]
    pub connection: Option<String>,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only this device's.
    #[arg(long)]
    pub serial: Option<String>,
    /// Only this kind: bootstrap-served, bootstrap-refused, progress-reported,
    /// progress-refused, admin-change, registration-delivered, registration-dead, nms-failing,
    /// nms-host-key-mismatch, nms-recovered.
    #[arg(long)]
    pub kind: Option<String>,
    /// At most this many (newest first).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp device bootstrap`.
#[derive(Debug, Args)]
pub struct DeviceBootstrapArgs {
    /// The bootstrap server, `https://host[:port]`.
    #[arg(
        long,
        required_unless_present = "dhcp_option",
        conflicts_with = "dhcp_option"
    )]
    pub url: Option<String>,
    /// A DHCP option 143/136 value (hex octets, colons optional): its servers are tried in
    /// order.
    #[arg(long, value_name = "HEX")]
    pub dhcp_option: Option<String>,
    /// The IDevID certificate chain (PEM, leaf first).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// The IDevID private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Trust anchor of the manufacturer's voucher signers (PEM; the CA that issues voucher
    /// signers and nothing else); repeatable.
    #[arg(long = "voucher-ca", value_name = "FILE", required = true)]
    pub voucher_ca: Vec<PathBuf>,
    /// Trust anchor of the manufacturer's license signers (PEM); repeatable. Without it every
    /// license bundle is refused.
    #[arg(long = "license-ca", value_name = "FILE")]
    pub license_ca: Vec<PathBuf>,
    /// TLS trust anchor for the bootstrap server (PEM); repeatable. Without it the server is
    /// untrusted (provisional TLS): only signed data or unsigned redirects are accepted, and it
    /// gets no progress reports.
    #[arg(long = "server-ca", value_name = "FILE")]
    pub server_ca: Vec<PathBuf>,
    /// Request and response encoding.
    #[arg(long, value_enum, default_value_t = WireEncoding::Json)]
    pub encoding: WireEncoding,
    /// The hw-model to send.
    #[arg(long)]
    pub hw_model: Option<String>,
    /// The os-name to send.
    #[arg(long)]
    pub os_name: Option<String>,
    /// The os-version to send.
    #[arg(long)]
    pub os_version: Option<String>,
    /// Send signed-data-preferred (always sent to an untrusted server).
    #[arg(long)]
    pub signed_data_preferred: bool,
    /// Send a random 32-octet nonce and require the voucher to carry it.
    #[arg(long, conflicts_with = "nonce_hex")]
    pub nonce: bool,
    /// Send this nonce (16 to 32 octets in hex) and require the voucher to carry it.
    #[arg(long, value_name = "HEX")]
    pub nonce_hex: Option<String>,
    /// Where the IDevID carries the device's serial.
    #[arg(long, default_value = "serial-number")]
    pub serial_source: ztp_certs::SerialSource,
    /// Do not send report-progress messages.
    #[arg(long)]
    pub no_report: bool,
    /// After a verified answer, also report bootstrap-complete.
    #[arg(long)]
    pub complete: bool,
    /// OpenSSH public host key file to send with bootstrap-complete; repeatable.
    #[arg(long = "ssh-host-key", value_name = "FILE.pub", requires = "complete")]
    pub ssh_host_keys: Vec<PathBuf>,
    /// Seconds allowed for connecting and for each request.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
}

/// A RESTCONF encoding on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WireEncoding {
    /// application/yang-data+json
    Json,
    /// application/yang-data+xml
    Xml,
}

impl From<WireEncoding> for ztp_yang::Encoding {
    fn from(e: WireEncoding) -> Self {
        match e {
            WireEncoding::Json => Self::Json,
            WireEncoding::Xml => Self::Xml,
        }
    }
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}

/// `--output`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Pretty JSON, as the API answered.
    #[default]
    Json,
    /// Aligned columns.
    Table,
    /// Comma-separated values with a header row (RFC 4180 quoting), safe to open in a
    /// spreadsheet.
    Csv,
}
