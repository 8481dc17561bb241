//! The `ztp` command line.
//!
//! May import: nothing else of ztp (the commands read these types, not the other way round).

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

mod agent;
mod customers;
mod devices;
mod operations;

pub use agent::*;
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
    /// How logs are written on standard error: text (coloured only on a terminal) or json (one
    /// object a line).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "ZTP_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    /// How the commands that answer (device, customer, target, rules, events, nms, registration,
    /// webhook, license, token, audit) print: json, table or csv. Also taken after the command.
    #[arg(long = "output", id = "output_before_command", value_enum)]
    pub output: Option<Output>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the process's arguments; wrong ones end the process with clap's usage message
    /// (status 2), `--output` before a command that prints no answer included.
    pub fn parse_args() -> Self {
        Self::try_parse()
            .and_then(Self::checked)
            .unwrap_or_else(|error| error.exit())
    }

    /// `self`, unless `--output` was given before a command it does not apply to.
    pub fn checked(self) -> Result<Self, clap::Error> {
        if self.output.is_some() && !self.command.answers() {
            return Err(Self::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "--output applies only to the commands that print answers: device, customer, \
                 target, rules, events, nms, registration, webhook, license, token and audit",
            ));
        }
        Ok(self)
    }

    /// The log level the flags ask for.
    pub fn log_level(&self) -> &'static str {
        match self.verbose {
            0 => "info",
            1 => "debug",
            _ => "trace",
        }
    }
}

/// The variable that sets `--output` when no flag does.
pub const OUTPUT_VARIABLE: &str = "ZTP_OUTPUT";

/// `--output` of the commands that print answers (global from the command down, so it may
/// follow any of its subcommands). Its variable, `ZTP_OUTPUT`, is read by [`Printing::output`],
/// so that the flag before the command wins over it.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct Printing {
    /// How to print the answer: json (the default; or ZTP_OUTPUT), table (a list as aligned
    /// columns, one record as `field: value` lines) or csv.
    #[arg(long, global = true, value_enum)]
    pub output: Option<Output>,
}

impl Printing {
    /// How the command prints: `--output` after the command, else `before` it, else
    /// `ZTP_OUTPUT`, else JSON.
    pub fn output(&self, before: Option<Output>) -> Result<Output, String> {
        if let Some(output) = self.output.or(before) {
            return Ok(output);
        }
        match std::env::var(OUTPUT_VARIABLE) {
            Ok(value) => Output::from_str(&value, true)
                .map_err(|_| format!("{OUTPUT_VARIABLE}={value:?}: use json, table or csv")),
            Err(_) => Ok(Output::default()),
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bootstrap server.
    Serve(ServeArgs),
    /// Check a configuration file as `ztp serve --config FILE` would load it, with the `ZTP_*`
    /// environment: report every unknown key, bad value and missing file at once (opens no
    /// database, binds no port). Exit status 1 if there is a problem.
    CheckConfig(CheckConfigArgs),
    /// Make and inspect certificates: a development PKI, device IDevIDs.
    #[command(subcommand)]
    Pki(PkiCommand),
    /// Encode bootstrap server URIs as the value of DHCPv4 option 143 / DHCPv6 option 136, or
    /// decode such a value, and print configuration lines for common DHCP servers.
    DhcpOption(DhcpOptionArgs),
    /// Devices: import and manage the inventory (admin API), or act as one (`bootstrap`).
    Device {
        /// What to do.
        #[command(subcommand)]
        command: DeviceCommand,
        /// How to print the answer.
        #[command(flatten)]
        printing: Printing,
    },
    /// Customers (device owners): owner certificates, response profile, onboarding.
    Customer {
        /// What to do.
        #[command(subcommand)]
        command: CustomerCommand,
        /// How to print the answer.
        #[command(flatten)]
        printing: Printing,
    },
    /// A customer's redirect targets: the bootstrap servers its devices are sent to.
    Target {
        /// What to do.
        #[command(subcommand)]
        command: TargetCommand,
        /// How to print the answer.
        #[command(flatten)]
        printing: Printing,
    },
    /// A customer's ordered response rules (by hw-model, os-name, os-version, source address).
    Rules {
        /// What to do.
        #[command(subcommand)]
        command: RulesCommand,
        /// How to print the answer.
        #[command(flatten)]
        printing: Printing,
    },
    /// What happened: bootstrap requests, refusals, progress reports, admin changes.
    Events(EventsArgs),
    /// A customer's NMS connections: where device registrations are delivered over SFTP.
    Nms {
        /// What to do.
        #[command(subcommand)]
        command: NmsCommand,
        /// How to print the answer.
        #[command(flatten)]
        printing: Printing,
    },
    /// The registration outbox: device registrations on their way to NMSes; retry dead letters.
    Registration {
        /// What to do.
        #[command(subcommand)]
        command: RegistrationCommand,
        /// How to print the answer.
        #[command(flatten)]
        printing: Printing,
    },
    /// A customer's webhooks: device events posted to its HTTPS receivers, signed with HMAC.
    Webhook {
        /// What to do.
        #[command(subcommand)]
        command: WebhookCommand,
        /// How to print the answer.
        #[command(flatten)]
        printing: Printing,
    },
    /// Licenses: customers' entitlement pools and devices' node-locked licenses.
    License {
        /// What to do.
        #[command(subcommand)]
        command: LicenseCommand,
        /// How to print the answer.
        #[command(flatten)]
        printing: Printing,
    },
    /// The master key that seals secrets in the database.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Apply the database's migrations and exit: the upgrade step of a deployment whose
    /// instances start with database.migrations = "verify".
    Migrate(MigrateArgs),
    /// Copy the SQLite database to a file while ztp runs: a consistent snapshot (PostgreSQL:
    /// pg_dump). The master key is not in it: back it up apart.
    Backup(BackupArgs),
    /// Put a backup in place of the SQLite database, with `ztp serve` stopped: the copy is
    /// checked first, and the database it replaces is kept beside it.
    Restore(RestoreArgs),
    /// The database as a whole: copy an installation to another database.
    #[command(subcommand)]
    Db(DbCommand),
    /// Admin API tokens: roles, scope, expiry, revocation.
    Token {
        /// What to do.
        #[command(subcommand)]
        command: TokenCommand,
        /// How to print the answer.
        #[command(flatten)]
        printing: Printing,
    },
    /// The audit log: every change made through the admin API, who made it, from where.
    Audit(AuditArgs),
}

impl Command {
    /// Whether the command prints answers, and so takes `--output`.
    pub fn answers(&self) -> bool {
        match self {
            Self::Device { .. }
            | Self::Customer { .. }
            | Self::Target { .. }
            | Self::Rules { .. }
            | Self::Events(_)
            | Self::Nms { .. }
            | Self::Registration { .. }
            | Self::Webhook { .. }
            | Self::License { .. }
            | Self::Token { .. }
            | Self::Audit(_) => true,
            Self::Serve(_)
            | Self::CheckConfig(_)
            | Self::Pki(_)
            | Self::DhcpOption(_)
            | Self::Secrets(_)
            | Self::Migrate(_)
            | Self::Backup(_)
            | Self::Restore(_)
            | Self::Db(_) => false,
        }
    }
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
    /// HTTPS: the CA of the admin API's certificate [default: the system's anchors].
    #[arg(long, env = "ZTP_ADMIN_CA")]
    pub admin_ca: Option<PathBuf>,
    /// HTTPS: an administrator's client certificate (PEM chain), when the server asks for one.
    #[arg(long, env = "ZTP_ADMIN_CERT", requires = "admin_key")]
    pub admin_cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long, env = "ZTP_ADMIN_KEY", requires = "admin_cert")]
    pub admin_key: Option<PathBuf>,
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

/// `--output`: how a command that answers prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Pretty JSON, as the API answered.
    #[default]
    Json,
    /// Aligned columns with a header row, nested values summarised; one record as
    /// `field: value` lines.
    Table,
    /// Comma-separated values with a header row (RFC 4180 quoting), safe to open in a
    /// spreadsheet.
    Csv,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line an event, for people; coloured only when standard error is a terminal (and
    /// `NO_COLOR` is not set).
    #[default]
    Text,
    /// One JSON object a line, for a log collector.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ztp").chain(args.iter().copied()))
            .and_then(Cli::checked)
    }

    /// The output a `device` command's arguments ask for.
    fn device_output(args: &[&str]) -> Output {
        let cli = parse(args).unwrap();
        match cli.command {
            Command::Device { printing, .. } => printing.output(cli.output).unwrap(),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn output_goes_before_or_after_a_command_that_answers_the_later_winning() {
        assert_eq!(
            device_output(&["device", "list", "--output", "table"]),
            Output::Table
        );
        assert_eq!(
            device_output(&["--output", "csv", "device", "list"]),
            Output::Csv
        );
        assert_eq!(
            device_output(&["device", "--output", "csv", "list"]),
            Output::Csv
        );
        assert_eq!(
            device_output(&["--output", "csv", "device", "list", "--output", "table"]),
            Output::Table
        );
        assert!(parse(&["audit", "--output", "csv", "--limit", "5"]).is_ok());
        assert!(
            parse(&["audit", "--csv"]).is_ok(),
            "the old flag still works"
        );
        assert!(parse(&["license", "usage", "acme", "--table"]).is_ok());
        assert!(parse(&["--log-format", "json", "serve"]).is_ok());
    }

    #[test]
    fn output_is_refused_where_nothing_is_answered() {
        use clap::error::ErrorKind;

        let kind = |args: &[&str]| parse(args).map(|_| ()).unwrap_err().kind();
        assert_eq!(
            kind(&["serve", "--output", "json"]),
            ErrorKind::UnknownArgument
        );
        assert_eq!(
            kind(&["pki", "show", "x.pem", "--output", "csv"]),
            ErrorKind::UnknownArgument
        );
        assert_eq!(
            kind(&["--output", "json", "serve"]),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(
            kind(&["--output", "table", "check-config", "ztp.toml"]),
            ErrorKind::ArgumentConflict
        );
    }
}
