//! The reference device agent's commands: `ztp device bootstrap` and `ztp device run`, with
//! the identity and trust arguments they share.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Who a device running the reference agent is: its IDevID, or the serial and activation code
/// of a device without one (`ztp device bootstrap` and `run`).
#[derive(Debug, Args)]
pub struct DeviceIdentityArgs {
    /// The IDevID certificate chain (PEM, leaf first). Optional for a device without an
    /// IDevID, which gives --serial and --activation-code-file instead.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "serial",
        requires = "key"
    )]
    pub cert: Option<PathBuf>,
    /// The IDevID private key (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// The file holding the device's activation code (readable by its owner only; a trailing
    /// newline is trimmed). It is sent as HTTP Basic credentials, the serial as the username,
    /// to servers the device authenticated by TLS, and never to a provisional one.
    #[arg(long, value_name = "FILE")]
    pub activation_code_file: Option<PathBuf>,
    /// The serial of a device without an IDevID (its activation code is its only factor).
    #[arg(
        long,
        value_name = "SERIAL",
        requires = "activation_code_file",
        conflicts_with = "cert"
    )]
    pub serial: Option<String>,
    /// Where the IDevID carries the device's serial.
    #[arg(long, default_value = "serial-number")]
    pub serial_source: ztp_certs::SerialSource,
}

/// What a device running the reference agent trusts, per role (`ztp device bootstrap` and
/// `run`).
#[derive(Debug, Args)]
pub struct DeviceTrustArgs {
    /// Trust anchor of the manufacturer's voucher signers (PEM; the CA that issues voucher
    /// signers and nothing else); repeatable.
    #[arg(long = "voucher-ca", value_name = "FILE", required = true)]
    pub voucher_ca: Vec<PathBuf>,
    /// Trust anchor of the manufacturer's license signers (PEM); repeatable. Without it every
    /// license bundle is refused.
    #[arg(long = "license-ca", value_name = "FILE")]
    pub license_ca: Vec<PathBuf>,
    /// TLS trust anchor of the configured bootstrap servers (PEM); repeatable. Without it they
    /// are untrusted (provisional TLS): only signed data or unsigned redirects are accepted,
    /// and they get no progress reports. (`run`: servers reached by a redirect are
    /// authenticated by the trust anchor the redirect conveys.)
    #[arg(long = "server-ca", value_name = "FILE")]
    pub server_ca: Vec<PathBuf>,
}

/// What a device running the reference agent says of itself in get-bootstrapping-data, and
/// the encoding it speaks (`ztp device bootstrap` and `run`).
#[derive(Debug, Args)]
pub struct DeviceRequestArgs {
    /// Request and response encoding.
    #[arg(long, value_enum, default_value_t = WireEncoding::Json)]
    pub encoding: WireEncoding,
    /// The hw-model to send.
    #[arg(long)]
    pub hw_model: Option<String>,
    /// The os-name the device runs: sent (and, by `run`, compared with a boot image's).
    #[arg(long)]
    pub os_name: Option<String>,
    /// The os-version the device runs: sent (and, by `run`, compared with a boot image's).
    #[arg(long)]
    pub os_version: Option<String>,
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
    /// Who the device is.
    #[command(flatten)]
    pub identity: DeviceIdentityArgs,
    /// What the device trusts.
    #[command(flatten)]
    pub trust: DeviceTrustArgs,
    /// What the device says of itself, and in which encoding.
    #[command(flatten)]
    pub request: DeviceRequestArgs,
    /// Send signed-data-preferred (always sent to an untrusted server).
    #[arg(long)]
    pub signed_data_preferred: bool,
    /// Send a random 32-octet nonce and require the voucher to carry it.
    #[arg(long, conflicts_with = "nonce_hex")]
    pub nonce: bool,
    /// Send this nonce (16 to 32 octets in hex) and require the voucher to carry it.
    #[arg(long, value_name = "HEX")]
    pub nonce_hex: Option<String>,
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

/// `ztp device run`.
#[derive(Debug, Args)]
pub struct DeviceRunArgs {
    /// A bootstrap server, `https://host[:port]`; repeatable, tried in order (after those of
    /// --dhcp-option).
    #[arg(
        long = "server",
        value_name = "URL",
        required_unless_present = "dhcp_option"
    )]
    pub servers: Vec<String>,
    /// A DHCP option 143/136 value (hex octets, colons optional): its servers are tried first.
    #[arg(long, value_name = "HEX")]
    pub dhcp_option: Option<String>,
    /// Who the device is.
    #[command(flatten)]
    pub identity: DeviceIdentityArgs,
    /// What the device trusts.
    #[command(flatten)]
    pub trust: DeviceTrustArgs,
    /// What the device says of itself, and in which encoding.
    #[command(flatten)]
    pub request: DeviceRequestArgs,
    /// Send a random nonce and require the voucher to carry it.
    #[arg(long)]
    pub nonce: bool,
    /// The agent's state directory: state file, staged images, scripts' private directories.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/ztp-agent")]
    pub state_dir: PathBuf,
    /// The executable that commits the configuration: run as `HOOK FILE merge|replace`; exit
    /// 0 means committed.
    #[arg(long, value_name = "FILE")]
    pub commit_hook: Option<PathBuf>,
    /// The executable that installs a staged boot image: run as `HOOK IMAGE OS-NAME
    /// OS-VERSION`; exit 0 means installed, and the device reboots into it. Without it, images
    /// are staged in the state directory for the firmware to install.
    #[arg(long, value_name = "FILE")]
    pub image_hook: Option<PathBuf>,
    /// OpenSSH public host key file to send with bootstrap-complete; repeatable.
    #[arg(long = "ssh-host-key", value_name = "FILE.pub")]
    pub ssh_host_keys: Vec<PathBuf>,
    /// Seconds a script may run before it is killed.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub script_timeout: u64,
    /// Seconds the commit hook or the image hook may run before it is killed.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub hook_timeout: u64,
    /// The largest boot image downloaded, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 30)]
    pub max_image_bytes: u64,
    /// How many redirects deep to follow.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub max_redirects: usize,
    /// One round only: exit 1 if no server gave usable data (instead of starting over).
    #[arg(long, conflicts_with = "rounds")]
    pub once: bool,
    /// At most this many rounds (default: until bootstrapping completes).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: Option<u32>,
    /// The first pause between rounds, in seconds (doubled per round, jittered).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub retry_initial: u64,
    /// The longest pause between rounds, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 900)]
    pub retry_max: u64,
    /// Do not send report-progress messages.
    #[arg(long)]
    pub no_report: bool,
    /// Seconds allowed for connecting, for each request and for each read of a download.
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
