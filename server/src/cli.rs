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
    /// Act as a device: the reference RFC 8572 device agent.
    #[command(subcommand)]
    Device(DeviceCommand),
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
    /// Trust anchor for ownership vouchers (PEM); repeatable.
    #[arg(long = "manufacturer-ca", value_name = "FILE", required = true)]
    pub manufacturer_ca: Vec<PathBuf>,
    /// TLS trust anchor for the bootstrap server (PEM); repeatable. Without it the server is
    /// untrusted (provisional TLS): only signed data or unsigned redirects are accepted.
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
