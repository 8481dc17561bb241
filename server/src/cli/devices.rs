//! The commands about devices: the inventory and import (the reference agent's are in `agent`),
//! licenses and pools, the registration outbox and the event log.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{
    AdminConnection, CustomerPageArgs, DeviceBootstrapArgs, DeviceRunArgs, Printing, SerialArgs,
};

/// `ztp device …`.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Call get-bootstrapping-data with the IDevID as TLS client certificate (and/or the
    /// activation code as HTTP Basic credentials), verify the answer (ownership voucher, owner
    /// certificate, signature), report progress, and print the verified redirect or onboarding
    /// information as JSON. Exits 1 on any refusal or error.
    Bootstrap(DeviceBootstrapArgs),
    /// Run the device agent (RFC 8572 §5 end to end) until bootstrapping completes.
    ///
    /// Bootstrap servers from --server or DHCP option 143/136, redirects followed (each next server trusted through its conveyed trust
    /// anchor), onboarding information installed (boot image verified and staged, scripts run
    /// in a sandbox, configuration committed through a hook), progress reported, retried until
    /// done, state kept in --state-dir across restarts. See docs/agent.md.
    Run(DeviceRunArgs),
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
    /// A voucher another party's MASA signed for a device: import, show, remove.
    #[command(subcommand)]
    Voucher(VoucherCommand),
    /// A device's activation code (HTTP Basic): set, show whether it has one, remove.
    #[command(subcommand)]
    ActivationCode(ActivationCodeCommand),
}

/// `ztp device voucher …`.
#[derive(Debug, Subcommand)]
pub enum VoucherCommand {
    /// Import a voucher (CMS, DER or base64) after ztp checked it; the device gets it as it is.
    Import(VoucherImportArgs),
    /// Show a device's imported voucher.
    Show(SerialArgs),
    /// Remove a device's imported voucher: ztp signs its vouchers again.
    Remove(SerialArgs),
}

/// `ztp device voucher import`.
#[derive(Debug, Args)]
pub struct VoucherImportArgs {
    /// Serial number.
    pub serial: String,
    /// The voucher: a CMS SignedData, DER or base64.
    pub file: PathBuf,
    /// How to reach the admin API.
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp device activation-code …`.
#[derive(Debug, Subcommand)]
pub enum ActivationCodeCommand {
    /// Set a device's activation code: read from a file, or generated and printed once.
    Set(ActivationCodeSetArgs),
    /// Whether a device has an activation code, and of which kind (never the code).
    Show(SerialArgs),
    /// Remove a device's activation code.
    Remove(SerialArgs),
}

/// `ztp device activation-code set`.
#[derive(Debug, Args)]
pub struct ActivationCodeSetArgs {
    /// Serial number.
    pub serial: String,
    /// A file holding the code (one line); without it, ztp generates one.
    #[arg(long)]
    pub code_file: Option<PathBuf>,
    /// The code alone authenticates the device (it has no IDevID); otherwise it is a second
    /// factor beside the IDevID.
    #[arg(long)]
    pub only_factor: bool,
    /// How to reach the admin API.
    #[command(flatten)]
    pub admin: AdminConnection,
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
    /// How to reach the admin API.
    #[command(flatten)]
    pub admin: AdminConnection,
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
    /// How to reach the admin API.
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
    /// How to reach the admin API.
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
    /// How to reach the admin API.
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
    /// The same as `--output csv` (usage only; kept for scripts written before `--output`).
    #[arg(long, hide = true, conflicts_with = "table")]
    pub csv: bool,
    /// The same as `--output table` (usage only; kept for scripts written before `--output`).
    #[arg(long, hide = true)]
    pub table: bool,
    /// How to reach the admin API.
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
    /// How to reach the admin API.
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
    /// How to reach the admin API.
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
    /// How to reach the admin API.
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
    /// How to reach the admin API.
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
    /// How to reach the admin API.
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
    /// How to reach the admin API.
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// `ztp registration show`.
#[derive(Debug, Args)]
pub struct RegistrationIdArgs {
    /// The registration's id.
    pub id: i64,
    /// How to reach the admin API.
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
    /// How to reach the admin API.
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
    /// How to reach the admin API.
    #[command(flatten)]
    pub admin: AdminConnection,
    /// How to print the answer.
    #[command(flatten)]
    pub printing: Printing,
}
