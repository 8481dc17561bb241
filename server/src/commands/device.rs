//! `ztp device …`: the reference device agent on the command line.

use std::fs;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use ztp_certs::{Cert, Serial};
use ztp_yang::Nonce;

use super::output::{self, Output};
use crate::agent::activation::ActivationCode;
use crate::agent::bootstrap::{
    self, Anchors, BootstrapOptions, DeviceCredentials, NonceChoice, Reporting, RequestOptions,
};
use crate::agent::client::ServerUrl;
use crate::agent::download::DownloadLimits;
use crate::agent::image::RunningOs;
use crate::agent::onboarding::Installer;
use crate::agent::run::{self, Retry, RunOptions, TokioPause};
use crate::agent::sandbox::Limits;
use crate::agent::scripts::{self, Runner};
use crate::agent::{host_key, tls};
use crate::cli::{
    DeviceBootstrapArgs, DeviceCommand, DeviceIdentityArgs, DeviceRunArgs, DeviceTrustArgs,
};
use crate::dhcp;

/// Runs a `ztp device` subcommand; the inventory ones print in `output`.
pub fn run(command: DeviceCommand, output: Output) -> anyhow::Result<ExitCode> {
    match command {
        DeviceCommand::Bootstrap(args) => bootstrap(&args, output),
        DeviceCommand::Run(args) => run_agent(&args, output),
        inventory => super::admin::run(super::admin::Inventory::Device(inventory), output)
            .map(|()| ExitCode::SUCCESS),
    }
}

/// Bootstraps once and prints the verified outcome on stdout in `output` (JSON by default).
fn bootstrap(args: &DeviceBootstrapArgs, output: Output) -> anyhow::Result<ExitCode> {
    let options = options(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // The agent's message already names every cause; `{:#}` in main would repeat the sources.
    let outcome = runtime
        .block_on(bootstrap::bootstrap(&options))
        .map_err(|error| anyhow::Error::msg(error.to_string()))?;
    output::answer(&outcome.to_json(), output, &[])?;
    Ok(ExitCode::SUCCESS)
}

/// Reads the files and values the arguments name.
fn options(args: &DeviceBootstrapArgs) -> anyhow::Result<BootstrapOptions> {
    let credentials = credentials(&args.identity)?;
    let complete = if args.complete {
        Some(
            args.ssh_host_keys
                .iter()
                .map(|path| {
                    host_key::parse_public_keys(&read(path, "SSH host key")?)
                        .with_context(|| format!("SSH host key {}", path.display()))
                })
                .collect::<anyhow::Result<Vec<_>>>()?
                .concat(),
        )
    } else {
        None
    };
    Ok(BootstrapOptions {
        servers: servers(args)?,
        credentials,
        anchors: trust(&args.trust)?,
        request: RequestOptions {
            encoding: args.request.encoding.into(),
            hw_model: args.request.hw_model.clone(),
            os_name: args.request.os_name.clone(),
            os_version: args.request.os_version.clone(),
            signed_data_preferred: args.signed_data_preferred,
            nonce: nonce(args)?,
        },
        reporting: Reporting {
            enabled: !args.no_report,
            complete,
        },
        timeout: Duration::from_secs(args.timeout),
    })
}

/// Runs the device agent until bootstrapping completes (or the rounds run out), then prints
/// its state on stdout in `output`.
fn run_agent(args: &DeviceRunArgs, output: Output) -> anyhow::Result<ExitCode> {
    let options = run_options(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime
        .block_on(run::run(&options, &TokioPause))
        .map_err(|error| anyhow::Error::msg(error.to_string()))?;
    let summary = serde_json::json!({
        "serial": options.bootstrap.credentials.serial().as_str(),
        "already-complete": outcome.already_complete,
        "rebooting": outcome.rebooting,
        "state": outcome.state,
    });
    output::answer(&summary, output, &[])?;
    Ok(ExitCode::SUCCESS)
}

/// Reads the files and values `ztp device run`'s arguments name.
fn run_options(args: &DeviceRunArgs) -> anyhow::Result<RunOptions> {
    let credentials = credentials(&args.identity)?;
    let timeout = Duration::from_secs(args.timeout);
    let bootstrap = BootstrapOptions {
        servers: run_servers(args)?,
        credentials,
        anchors: trust(&args.trust)?,
        request: RequestOptions {
            encoding: args.request.encoding.into(),
            hw_model: args.request.hw_model.clone(),
            os_name: args.request.os_name.clone(),
            os_version: args.request.os_version.clone(),
            signed_data_preferred: false,
            nonce: if args.nonce {
                NonceChoice::Random
            } else {
                NonceChoice::None
            },
        },
        reporting: Reporting {
            enabled: !args.no_report,
            complete: None,
        },
        timeout,
    };
    let installer = installer(args, timeout)?;
    anyhow::ensure!(
        args.retry_initial <= args.retry_max,
        "--retry-initial ({}) is longer than --retry-max ({})",
        args.retry_initial,
        args.retry_max
    );
    Ok(RunOptions {
        bootstrap,
        installer,
        retry: Retry {
            initial: Duration::from_secs(args.retry_initial),
            max: Duration::from_secs(args.retry_max),
            rounds: if args.once { Some(1) } else { args.rounds },
        },
        max_depth: args.max_redirects,
    })
}

/// How `ztp device run` processes onboarding information.
fn installer(args: &DeviceRunArgs, timeout: Duration) -> anyhow::Result<Installer> {
    let host_keys = args
        .ssh_host_keys
        .iter()
        .map(|path| {
            host_key::parse_public_keys(&read(path, "SSH host key")?)
                .with_context(|| format!("SSH host key {}", path.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?
        .concat();
    for (hook, what) in [(&args.commit_hook, "commit"), (&args.image_hook, "image")] {
        if let Some(hook) = hook {
            anyhow::ensure!(
                hook.is_file(),
                "the {what} hook {} is not a file",
                hook.display()
            );
        }
    }
    let output = Limits::default().output;
    Ok(Installer {
        state_dir: args.state_dir.clone(),
        running: RunningOs {
            name: args.request.os_name.clone(),
            version: args.request.os_version.clone(),
        },
        download: DownloadLimits {
            max_bytes: args.max_image_bytes,
            timeout,
        },
        download_tls: tls::download_config().context("TLS for downloads")?,
        runner: Runner {
            work_dir: scripts::work_dir(&args.state_dir),
            script_limits: Limits {
                timeout: Duration::from_secs(args.script_timeout),
                output,
            },
            commit_hook: args.commit_hook.clone(),
            image_hook: args.image_hook.clone(),
            hook_limits: Limits {
                timeout: Duration::from_secs(args.hook_timeout),
                output,
            },
        },
        host_keys,
    })
}

/// The servers of the DHCP option, then those given with --server.
fn run_servers(args: &DeviceRunArgs) -> anyhow::Result<Vec<ServerUrl>> {
    let mut servers = Vec::new();
    if let Some(hex) = &args.dhcp_option {
        let uris = dhcp::decode(&dhcp::parse_hex(hex)?).context("DHCP option value")?;
        servers.extend(uris.iter().map(ServerUrl::from_uri));
    }
    for url in &args.servers {
        servers.push(ServerUrl::parse(url).with_context(|| format!("--server {url}"))?);
    }
    anyhow::ensure!(!servers.is_empty(), "give --server or --dhcp-option");
    Ok(servers)
}

fn servers(args: &DeviceBootstrapArgs) -> anyhow::Result<Vec<ServerUrl>> {
    match (&args.url, &args.dhcp_option) {
        (Some(url), _) => Ok(vec![ServerUrl::parse(url)?]),
        (None, Some(hex)) => {
            let uris = dhcp::decode(&dhcp::parse_hex(hex)?).context("DHCP option value")?;
            Ok(uris.iter().map(ServerUrl::from_uri).collect())
        }
        (None, None) => bail!("give --url or --dhcp-option"),
    }
}

fn nonce(args: &DeviceBootstrapArgs) -> anyhow::Result<NonceChoice> {
    if let Some(hex) = &args.nonce_hex {
        let bytes = dhcp::parse_hex(hex).context("--nonce-hex")?;
        return Ok(NonceChoice::Fixed(
            Nonce::new(bytes).context("--nonce-hex")?,
        ));
    }
    Ok(if args.nonce {
        NonceChoice::Random
    } else {
        NonceChoice::None
    })
}

/// Reads the IDevID and the activation code; a device without an IDevID is named by --serial.
fn credentials(identity: &DeviceIdentityArgs) -> anyhow::Result<DeviceCredentials> {
    let code = identity
        .activation_code_file
        .as_deref()
        .map(ActivationCode::read_file)
        .transpose()?;
    let (cert, key) = (identity.cert.as_deref(), identity.key.as_deref());
    match (cert, key, identity.serial.as_deref(), code) {
        (Some(cert), Some(key), None, code) => {
            let credentials = DeviceCredentials::from_pem(
                &read(cert, "IDevID certificate")?,
                &read(key, "IDevID key")?,
                identity.serial_source,
            )
            .with_context(|| format!("loading the IDevID from {}", cert.display()))?;
            Ok(match code {
                Some(code) => credentials.with_activation_code(code),
                None => credentials,
            })
        }
        (None, None, Some(serial), Some(code)) => {
            let serial = Serial::parse(serial).with_context(|| format!("--serial {serial}"))?;
            Ok(DeviceCredentials::code_only(serial, code))
        }
        _ => bail!(
            "give the IDevID (--cert and --key), or --serial and --activation-code-file for a \
             device without one"
        ),
    }
}

/// The anchors the arguments name, per role.
fn trust(args: &DeviceTrustArgs) -> anyhow::Result<Anchors> {
    Ok(Anchors {
        servers: anchors(&args.server_ca, "server CA")?,
        vouchers: anchors(&args.voucher_ca, "voucher CA")?,
        licenses: anchors(&args.license_ca, "license CA")?,
    })
}

fn anchors(paths: &[impl AsRef<Path>], what: &str) -> anyhow::Result<Vec<Cert>> {
    let mut certs = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let chain = Cert::chain_from_pem(&read(path, what)?)
            .with_context(|| format!("{what} {}", path.display()))?;
        certs.extend(chain);
    }
    Ok(certs)
}

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {what} {}", path.display()))
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use ztp_certs::dev_pki::{self, DevPkiOptions, layout};

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<DeviceBootstrapArgs, clap::Error> {
        let cli = Cli::try_parse_from(["ztp", "device", "bootstrap"].iter().chain(args))?;
        match cli.command {
            Command::Device {
                command: DeviceCommand::Bootstrap(args),
                ..
            } => Ok(args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn arguments_become_options() {
        let dir = tempfile::tempdir().unwrap();
        dev_pki::generate(dir.path(), &DevPkiOptions::default()).unwrap();
        let device = dir.path().join(layout::device("SN-0002"));
        let path = |p: &Path| p.to_str().unwrap().to_owned();
        let cert = path(&device.join("idevid.pem"));
        let key = path(&device.join("idevid.key"));
        let vouchers = path(&dir.path().join(layout::VOUCHER_CA));
        let value = dhcp::colon_hex(
            &dhcp::encode(&[
                dhcp::BootstrapUri::parse("https://a.example:8443").unwrap(),
                dhcp::BootstrapUri::parse("https://[::1]").unwrap(),
            ])
            .unwrap(),
        );
        let args = parse(&[
            "--dhcp-option",
            &value,
            "--cert",
            &cert,
            "--key",
            &key,
            "--voucher-ca",
            &vouchers,
            "--nonce-hex",
            "000102030405060708090a0b0c0d0e0f",
            "--encoding",
            "xml",
        ])
        .unwrap();
        let options = options(&args).unwrap();
        assert_eq!(options.credentials.serial().as_str(), "SN-0002");
        let servers: Vec<_> = options.servers.iter().map(|s| s.to_string()).collect();
        assert_eq!(servers, ["https://a.example:8443", "https://[::1]"]);
        assert_eq!(options.anchors.vouchers.len(), 1);
        assert!(options.anchors.servers.is_empty() && options.anchors.licenses.is_empty());
        assert_eq!(options.request.encoding, ztp_yang::Encoding::Xml);
        assert!(
            matches!(options.request.nonce, NonceChoice::Fixed(ref n) if n.as_bytes().len() == 16)
        );
        assert!(options.reporting.enabled && options.reporting.complete.is_none());

        let short_nonce = parse(&[
            "--url",
            "https://a.example",
            "--cert",
            &cert,
            "--key",
            &key,
            "--voucher-ca",
            &vouchers,
            "--nonce-hex",
            "0001",
        ])
        .unwrap();
        assert!(options_error(&short_nonce).contains("--nonce-hex"));
    }

    fn options_error(args: &DeviceBootstrapArgs) -> String {
        format!("{:#}", options(args).unwrap_err())
    }

    #[test]
    fn conflicting_or_incomplete_arguments_are_refused() {
        let base = ["--cert", "c", "--key", "k", "--voucher-ca", "m"];
        let with = |extra: &[&str]| {
            let mut all = base.to_vec();
            all.extend_from_slice(extra);
            parse(&all)
        };
        assert!(with(&[]).is_err(), "a server is needed");
        assert!(with(&["--url", "https://a", "--dhcp-option", "00"]).is_err());
        assert!(with(&["--url", "https://a", "--nonce", "--nonce-hex", "00"]).is_err());
        assert!(with(&["--url", "https://a", "--ssh-host-key", "k.pub"]).is_err());
        assert!(
            with(&[
                "--url",
                "https://a",
                "--complete",
                "--ssh-host-key",
                "k.pub"
            ])
            .is_ok()
        );
        assert!(with(&["--url", "https://a", "--serial-source", "bogus"]).is_err());
    }

    #[test]
    fn a_device_without_an_idevid_is_named_by_serial_and_code_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let code = dir.path().join("code");
        fs::write(&code, "LABEL-ON-THE-BOX-0001\n").unwrap();
        fs::set_permissions(&code, fs::Permissions::from_mode(0o600)).unwrap();
        let code = code.to_str().unwrap();
        let base = ["--url", "https://a.example", "--voucher-ca", "m"];
        let with = |extra: &[&str]| parse(&[&base[..], extra].concat());
        let args = with(&["--serial", "VM-0001", "--activation-code-file", code]).unwrap();
        let credentials = credentials(&args.identity).unwrap();
        assert_eq!(credentials.serial().as_str(), "VM-0001");
        assert!(!credentials.has_idevid());
        assert!(
            !format!("{credentials:?}").contains("LABEL"),
            "the code is never shown"
        );

        // The command line refuses what cannot name a device.
        assert!(with(&["--serial", "VM-0001"]).is_err(), "a code is needed");
        assert!(
            with(&["--activation-code-file", code]).is_err(),
            "--cert or --serial"
        );
        assert!(
            with(&[
                "--cert",
                "c",
                "--serial",
                "VM-0001",
                "--activation-code-file",
                code
            ])
            .is_err()
        );
        assert!(with(&["--cert", "c"]).is_err(), "--key goes with --cert");
        let bad = with(&["--serial", "VM 0001", "--activation-code-file", code]).unwrap();
        let error = format!("{:#}", options(&bad).unwrap_err());
        assert!(error.contains("--serial VM 0001"), "{error}");
        let args = with(&[
            "--serial",
            "VM-0001",
            "--activation-code-file",
            "/no/such/code",
        ])
        .unwrap();
        let error = format!("{:#}", options(&args).unwrap_err());
        assert!(error.contains("/no/such/code"), "{error}");
    }

    fn parse_run(args: &[&str]) -> Result<DeviceRunArgs, clap::Error> {
        let cli = Cli::try_parse_from(["ztp", "device", "run"].iter().chain(args))?;
        match cli.command {
            Command::Device {
                command: DeviceCommand::Run(args),
                ..
            } => Ok(args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn run_arguments_become_options_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        dev_pki::generate(dir.path(), &DevPkiOptions::default()).unwrap();
        let device = dir.path().join(layout::device("SN-0001"));
        let path = |p: &Path| p.to_str().unwrap().to_owned();
        let (cert, key) = (
            path(&device.join("idevid.pem")),
            path(&device.join("idevid.key")),
        );
        let vouchers = path(&dir.path().join(layout::VOUCHER_CA));
        let state = path(&dir.path().join("state"));
        let value = dhcp::colon_hex(
            &dhcp::encode(&[dhcp::BootstrapUri::parse("https://a.example:8443").unwrap()]).unwrap(),
        );
        let base = [
            "--cert",
            &cert,
            "--key",
            &key,
            "--voucher-ca",
            &vouchers,
            "--state-dir",
            &state,
        ];
        let with = |extra: &[&str]| parse_run(&[&base[..], extra].concat());
        let args = with(&[
            "--dhcp-option",
            &value,
            "--server",
            "https://b.example",
            "--once",
            "--os-name",
            "VendorOS",
            "--os-version",
            "2.0",
            "--script-timeout",
            "7",
        ])
        .unwrap();
        let options = run_options(&args).unwrap();
        let servers: Vec<_> = options
            .bootstrap
            .servers
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(servers, ["https://a.example:8443", "https://b.example"]);
        assert_eq!(options.retry.rounds, Some(1));
        assert_eq!(options.installer.running.version.as_deref(), Some("2.0"));
        assert_eq!(
            options.installer.runner.script_limits.timeout,
            Duration::from_secs(7)
        );
        assert_eq!(options.installer.state_dir, Path::new(&state));

        assert!(with(&[]).is_err(), "a server is needed");
        assert!(with(&["--server", "https://a", "--once", "--rounds", "2"]).is_err());
        assert!(with(&["--server", "https://a", "--rounds", "0"]).is_err());
        let error =
            |extra: &[&str]| format!("{:#}", run_options(&with(extra).unwrap()).unwrap_err());
        assert!(error(&["--server", "http://a.example"]).contains("--server http://a.example"));
        assert!(
            error(&["--server", "https://a", "--commit-hook", "/no/such/hook"])
                .contains("/no/such/hook")
        );
        assert!(
            error(&[
                "--server",
                "https://a",
                "--retry-initial",
                "60",
                "--retry-max",
                "10"
            ])
            .contains("--retry-max")
        );
    }
}
