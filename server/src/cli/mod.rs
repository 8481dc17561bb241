//! The `ztp` command line.
//!
//! May import: nothing else of ztp (the commands read these types, not the other way round).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod customers;
mod devices;
mod operations;

pub use customers::*;
pub use devices::*;
pub use operations::*;

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
    /// Apply the database's migrations and exit: the upgrade step of a deployment whose
    /// instances start with database.migrations = "verify".
    Migrate(ServeArgs),
    /// The database as a whole: copy an installation to another database.
    #[command(subcommand)]
    Db(DbCommand),
    /// Admin API tokens: roles, scope, expiry, revocation.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The audit log: every change made through the admin API, who made it, from where.
    Audit(AuditArgs),
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

/// A command about one device.
#[derive(Debug, Args)]
pub struct SerialArgs {
    /// Serial number.
    pub serial: String,
    /// How to reach the admin API.
    #[command(flatten)]
    pub admin: AdminConnection,
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
    /// Which page of the list.
    #[command(flatten)]
    pub page: Page,
    /// How to reach the admin API.
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// A customer's list, page by page.
#[derive(Debug, Args)]
pub struct CustomerPageArgs {
    /// Customer name.
    pub name: String,
    /// Which page of the list.
    #[command(flatten)]
    pub page: Page,
    /// How to reach the admin API.
    #[command(flatten)]
    pub admin: AdminConnection,
}

/// A command about one customer.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// Customer name.
    pub name: String,
    /// How to reach the admin API.
    #[command(flatten)]
    pub admin: AdminConnection,
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
