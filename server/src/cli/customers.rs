//! The commands about a customer's objects: the customer, its redirect targets and response
//! rules, its NMS connections and its webhooks.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{AdminConnection, CustomerPageArgs, NameArgs, Page, PageArgs};

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
    /// How to reach the admin API.
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
    /// Who issues LDevIDs for CSRs its devices send (RFC 9646): off, ztp-ca or command.
    #[arg(long, value_parser = ["off", "ztp-ca", "command"])]
    pub ldevid_issuer: Option<String>,
    /// How to reach the admin API.
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
    /// How to reach the admin API.
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
    /// How to reach the admin API.
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
    /// How to reach the admin API.
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
    /// How to reach the admin API.
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
    /// How to reach the admin API.
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
    /// How to reach the admin API.
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp nms fingerprint`.
#[derive(Debug, Args)]
pub struct FingerprintArgs {
    /// The SSH server, `HOST:PORT` (`[v6]:PORT` for IPv6).
    pub address: String,
    /// How to reach the admin API.
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
    /// How to reach the admin API.
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
    /// How to reach the admin API.
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
    /// How to reach the admin API.
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
    /// Which page of the list.
    #[command(flatten)]
    pub page: Page,
    /// How to reach the admin API.
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
    /// How to reach the admin API.
    #[command(flatten)]
    pub admin: AdminConnection,
}
