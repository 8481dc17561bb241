//! `ztp serve`: load the configuration, prepare the data directory (development PKI, sample
//! inventory, admin token), open the store, and run the device and admin listeners until
//! SIGINT or SIGTERM.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use ztp_certs::dev_pki::{self, DevPkiOptions, layout};
use ztp_certs::{Cert, Signer, SigningKey};

use crate::bootstrap::{Bootstrapper, DeviceHold};
use crate::cli::ServeArgs;
use crate::config::{Config, Overrides};
use crate::device_auth::DeviceVerifier;
use crate::http::admin_api::{AdminApi, AdminLimits, ImportLimits};
use crate::http::device_api::{DeviceApi, DeviceLimits};
use crate::http::{self, Limits, OpenConnections, Penalties, Strikes};
use crate::licensing::Licensing;
use crate::nms::{Courier, CourierSettings, Outbox, host_policy};
use crate::store::journal::Journal;
use crate::store::{NewCustomer, NewDevice, Store, TargetRecord};
use crate::webhooks::{Dispatcher, DispatcherSettings};

/// Runs the server until it is told to stop.
pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        data_dir: args.data_dir.clone(),
        device_listen: args.listen,
        admin_listen: args.admin_listen,
    };
    let config = Config::load(args.config.as_deref(), &overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(config))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    create_data_dir(&config.data_dir)?;
    let dev_pki = config
        .dev_pki
        .enabled
        .then(|| config.path(&config.dev_pki.dir));
    if let Some(dir) = &dev_pki {
        prepare_dev_pki(dir)?;
    }
    let secrets = super::secrets::secret_box(&config)?;
    // Read before the store takes the secret box: each key file may be sealed under it.
    let [masa_key, license_key, tls_key] = super::secrets::key_files(&config);
    let (masa_key, license_key, tls_key_pem) = (
        masa_key.read(&secrets)?,
        license_key.read(&secrets)?,
        tls_key.read(&secrets)?,
    );
    let store = Store::open_with(
        &config.database_url(),
        config.database.max_connections.unwrap_or(8),
        secrets,
        config.database.synchronous,
    )
    .await
    .context("opening the database")?;
    // Seal what is not sealed under the current key: values from before sealing existed, or
    // an interrupted rotation.
    let resealed = store
        .reseal_secrets()
        .await
        .context("sealing secrets under the master key")?;
    if resealed > 0 {
        tracing::info!(resealed, "re-sealed secrets under the current master key");
    }
    if let Some(dir) = &dev_pki {
        seed_inventory(&store, dir).await?;
    }
    let token = admin_token(&config.path(&config.admin_api.token_file))?;

    let m = &config.manufacturer;
    let paths = |list: &[PathBuf]| list.iter().map(|p| config.path(p)).collect::<Vec<_>>();
    let verifier = Arc::new(
        DeviceVerifier::load(
            &paths(&m.trust_anchors),
            &paths(&m.intermediates),
            &paths(&m.crls),
            m.serial_source,
        )
        .context("loading the manufacturer trust anchors and CRLs")?
        .remembering(m.remembered_signatures),
    );
    let masa = Signer::new(
        SigningKey::from_pem(&masa_key)?,
        Cert::chain_from_pem(&dev_pki::read(&config.path(&m.masa_certificate))?)?,
    )
    .context("loading the voucher-signing (MASA) key")?;
    let tls = crate::tls::server_config(
        &config.path(&config.device_api.tls_certificate),
        &tls_key.path,
        &tls_key_pem,
    )
    .context("loading the device API's TLS certificate")?;

    let d = &config.device_api;
    let license_signer = Signer::new(
        SigningKey::from_pem(&license_key)?,
        Cert::chain_from_pem(&dev_pki::read(&config.path(&m.license_certificate))?)?,
    )
    .context("loading the license-signing key")?;
    let outbox = Arc::new(Outbox::new(store.clone()));
    // The devices' writes (state, events, progress, license allocations): one writer.
    let journal = Journal::start(&store);
    let device_connections = journal.device_connections();
    let bootstrapper = Bootstrapper::new(
        journal.clone(),
        Arc::clone(&outbox),
        Licensing::new(journal, license_signer),
        DeviceHold {
            inline_wait: Duration::from_millis(config.nms.inline_wait_ms),
            max_hold: Duration::from_secs(config.nms.max_device_hold_secs),
        },
        masa,
        time::Duration::days(i64::from(m.voucher_validity_days)),
    );
    // Sources that fail handshakes or get refused too often are benched by the device listener.
    let refusal_strikes = Arc::new(Strikes::new(d.refusals(), d.max_tracked_sources));
    let penalties = Penalties {
        handshakes: Some(Arc::new(Strikes::new(
            d.handshake_failures(),
            d.max_tracked_sources,
        ))),
        refusals: Some(Arc::clone(&refusal_strikes)),
    };
    let device_api = Arc::new(DeviceApi::new(
        bootstrapper,
        Arc::clone(&verifier),
        DeviceLimits {
            max_body_bytes: d.max_body_bytes,
            read_timeout: d.read_timeout(),
            retry_after_secs: d.retry_after_secs,
            max_concurrent_requests: d.max_concurrent_requests,
            refusal_summary_window: Duration::from_secs(d.refusal_summary_secs),
            max_refusal_windows: d.max_tracked_sources,
        },
        Arc::clone(&refusal_strikes),
    ));
    let webhooks = Dispatcher::new(store.clone(), DispatcherSettings::from(&config.webhooks));
    let a = &config.admin_api;
    let nms_hosts = host_policy(&config.nms);
    let admin_api = Arc::new(AdminApi::new(
        Arc::clone(&outbox),
        Arc::clone(&webhooks),
        nms_hosts.clone(),
        &token,
        AdminLimits {
            max_body_bytes: a.max_body_bytes,
            read_timeout: d.read_timeout(),
            max_failed_auths: a.max_failed_auths,
            failed_auth_window: Duration::from_secs(a.failed_auth_window_secs),
            import: ImportLimits {
                max_bytes: a.max_import_bytes,
                max_row_bytes: a.max_import_row_bytes,
                deadline: Duration::from_secs(a.import_deadline_secs),
            },
        },
    ));
    let limits = Limits {
        max_header_bytes: d.max_header_bytes,
        read_timeout: d.read_timeout(),
        idle_timeout: Duration::from_secs(d.idle_timeout_secs),
        max_connections: d.max_connections,
        max_connections_per_source: d.max_connections_per_source,
        max_handshakes: d.max_handshakes,
        drain_timeout: Duration::from_secs(10),
    };

    let device_listener = bind(d.listen, "device API").await?;
    let admin_listener = bind(config.admin_api.listen, "admin API").await?;
    // Standard output may be closed (a daemon, a harness that has read enough): the summary
    // is for people, so failing to print it must not stop the server.
    if let Err(error) = announce(
        &config,
        &device_listener,
        &admin_listener,
        dev_pki.as_deref(),
    ) {
        tracing::warn!(%error, "could not print the startup summary");
    }

    let (stop, stopped) = watch::channel(false);
    let courier = tokio::spawn(
        Courier::new(outbox, CourierSettings::from(&config.nms), &nms_hosts).run(stopped.clone()),
    );
    let webhooks = tokio::spawn(webhooks.run(stopped.clone()));
    let refresh = tokio::spawn(refresh_crls(
        verifier,
        Duration::from_secs(m.crl_refresh_secs.max(1)),
        stopped.clone(),
    ));
    let summaries = tokio::spawn({
        let (device_api, stopped) = (Arc::clone(&device_api), stopped.clone());
        async move { device_api.summarize_refusals(until(stopped)).await }
    });
    let device = tokio::spawn(http::serve(
        device_listener,
        Some(TlsAcceptor::from(Arc::new(tls))),
        device_api,
        limits,
        device_connections,
        penalties,
        until(stopped.clone()),
    ));
    let admin = tokio::spawn(http::serve(
        admin_listener,
        None,
        admin_api,
        limits,
        OpenConnections::default(),
        Penalties::default(),
        until(stopped),
    ));
    shutdown_signal().await;
    tracing::info!("stopping: finishing open requests");
    let _ = stop.send(true);
    let _ = tokio::join!(device, admin, refresh, courier, webhooks, summaries);
    tracing::info!("stopped");
    Ok(())
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening for the {what} on {addr}"))
}

async fn until(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::warn!(%error, "cannot watch SIGTERM; stop with SIGINT");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

async fn refresh_crls(
    verifier: Arc<DeviceVerifier>,
    every: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        for error in verifier.refresh_crls() {
            tracing::error!(%error, "a CRL could not be reloaded; keeping the previous one");
        }
    }
}

/// Creates the development PKI when `dir` holds none, and says loudly what it is.
fn prepare_dev_pki(dir: &Path) -> anyhow::Result<()> {
    if !dir.join(layout::MANIFEST).exists() {
        dev_pki::generate(dir, &DevPkiOptions::default())
            .with_context(|| format!("creating the development PKI in {}", dir.display()))?;
    }
    tracing::warn!(
        dir = %dir.display(),
        "using a DEVELOPMENT PKI with unencrypted keys: never use it in production \
         (set dev_pki.enabled = false and configure [manufacturer] and [device_api])"
    );
    Ok(())
}

/// Puts the development PKI's sample customer and devices into an empty inventory, so that a
/// sample device can bootstrap at once.
async fn seed_inventory(store: &Store, dir: &Path) -> anyhow::Result<()> {
    if !store.customers().await?.is_empty() || store.device_count().await? > 0 {
        return Ok(());
    }
    let options = DevPkiOptions::default();
    let name = options.customer.clone();
    let cdir = dir.join(layout::customer(&name));
    let owner_ca_pem = dev_pki::read(&cdir.join("owner-ca.pem"))?;
    store
        .insert_customer(&NewCustomer {
            name: name.clone(),
            owner_ca_pem: owner_ca_pem.clone(),
            signer_chain_pem: dev_pki::read(&cdir.join("owner-signing.pem"))?,
            signer_key_pem: dev_pki::read(&cdir.join("owner-signing.key"))?,
            profile: Default::default(),
            sign: true,
        })
        .await?;
    store
        .put_target(
            &name,
            &TargetRecord {
                name: "nms".into(),
                address: format!("nms.{name}.example"),
                port: 443,
                // The sample NMS's TLS certificate would come from the owner CA.
                trust_anchor_pem: Some(owner_ca_pem),
            },
        )
        .await?;
    for (serial, model) in &options.devices {
        if dir.join(layout::device(serial.as_str())).exists() {
            store
                .insert_device(&NewDevice {
                    serial: serial.as_str().to_owned(),
                    model: model.as_str().to_owned(),
                    customer: Some(name.clone()),
                    certificate_pin: None,
                })
                .await?;
        }
    }
    tracing::warn!(customer = %name, "put the development PKI's sample customer and devices into the empty inventory");
    Ok(())
}

/// The admin bearer token: read from `path`, or created there (mode 0600) on first start.
fn admin_token(path: &Path) -> anyhow::Result<String> {
    match fs::read_to_string(path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_owned()),
        Ok(_) => anyhow::bail!("the admin token file {} is empty", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let mut secret = [0u8; 32];
    aws_lc_rs::rand::fill(&mut secret)
        .map_err(|_| anyhow::anyhow!("no randomness for the admin token"))?;
    let token = URL_SAFE_NO_PAD.encode(secret);
    crate::secrets::write_private_file(path, format!("{token}\n").as_bytes())
        .with_context(|| format!("creating the admin token file {}", path.display()))?;
    tracing::info!(path = %path.display(), "created the admin API token");
    Ok(token)
}

/// Creates the data directory if it is missing, with a `.gitignore` of `*`: it holds secrets
/// (the master key, the admin token, a development PKI's keys) that must never be committed
/// with a checkout it happens to lie in.
fn create_data_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    fs::create_dir_all(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))?;
    fs::write(
        dir.join(".gitignore"),
        "# ztp's data directory holds secrets: never commit it.\n*\n",
    )
    .with_context(|| format!("writing {}", dir.join(".gitignore").display()))
}

/// Where a listener is reachable from, for the banner.
fn reach(bound: SocketAddr) -> &'static str {
    match bound.ip() {
        ip if ip.is_loopback() => "this machine only",
        ip if ip.is_unspecified() => "every address of this machine: reachable from the network",
        _ => "this address: reachable from its network",
    }
}

/// Prints what a person needs to try the server (stdout, so tests can read the addresses).
fn announce(
    config: &Config,
    device: &TcpListener,
    admin: &TcpListener,
    dev_pki: Option<&Path>,
) -> anyhow::Result<()> {
    let (device_bound, admin_bound) = (device.local_addr()?, admin.local_addr()?);
    let device = display(device_bound);
    let admin = display(admin_bound);
    let token = config.path(&config.admin_api.token_file);
    let mut out = std::io::stdout().lock();
    writeln!(out, "ztp is serving")?;
    writeln!(out, "device API: https://{device}")?;
    writeln!(
        out,
        "  listening on {device_bound} ({})",
        reach(device_bound)
    )?;
    writeln!(out, "admin API: http://{admin}")?;
    writeln!(out, "  listening on {admin_bound} ({})", reach(admin_bound))?;
    if dev_pki.is_some() && !device_bound.ip().is_loopback() {
        writeln!(
            out,
            "WARNING: the device port is reachable from the network and serves with the \
             development PKI, whose keys lie unprotected in the data directory"
        )?;
        tracing::warn!(
            listen = %device_bound,
            "the device port is reachable from the network with the development PKI"
        );
    }
    writeln!(out, "admin token: {}", token.display())?;
    writeln!(out, "database: {}", config.database_url())?;
    if let Some(dir) = dev_pki {
        let device_dir = dir.join(layout::device("SN-0001"));
        let root = dir.join(layout::ROOT_CA);
        writeln!(
            out,
            "development PKI: {} (NOT for production)",
            dir.display()
        )?;
        writeln!(
            out,
            "sample device certificate: {}",
            device_dir.join("idevid.pem").display()
        )?;
        writeln!(
            out,
            "sample device key: {}",
            device_dir.join("idevid.key").display()
        )?;
        writeln!(out, "manufacturer trust anchor: {}", root.display())?;
        writeln!(out, "try it:")?;
        writeln!(
            out,
            "  ztp device bootstrap --url https://{device} --cert {} --key {} --manufacturer-ca {} --server-ca {}",
            device_dir.join("idevid.pem").display(),
            device_dir.join("idevid.key").display(),
            root.display(),
            root.display(),
        )?;
    }
    out.flush()?;
    Ok(())
}

/// An address to put in a URL: the unspecified address becomes loopback (the development
/// TLS certificate names 127.0.0.1 and ::1).
fn display(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) if v4.ip().is_unspecified() => format!("127.0.0.1:{}", v4.port()),
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => format!("[::1]:{}", v6.port()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_data_directory_ignores_its_secrets_in_git() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("ztp-data");
        create_data_dir(&dir).unwrap();
        let ignore = fs::read_to_string(dir.join(".gitignore")).unwrap();
        assert!(ignore.lines().any(|l| l == "*"), "{ignore}");
        // An existing directory is the operator's: nothing is added to it.
        let existing = parent.path().join("existing");
        fs::create_dir(&existing).unwrap();
        create_data_dir(&existing).unwrap();
        assert!(!existing.join(".gitignore").exists());
    }

    #[test]
    fn the_banner_says_who_can_reach_a_listener() {
        let at = |s: &str| reach(s.parse().unwrap());
        assert_eq!(at("127.0.0.1:8443"), "this machine only");
        assert_eq!(at("[::1]:8443"), "this machine only");
        assert!(at("0.0.0.0:8443").contains("reachable from the network"));
        assert!(at("[::]:8443").contains("reachable from the network"));
        assert!(at("192.0.2.7:8443").contains("reachable"));
    }
}
