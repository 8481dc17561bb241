//! `ztp serve`: load the configuration, build the server ([`App::build`]: data directory, store,
//! trust material, listeners), print where it listens, and run it until SIGINT or SIGTERM.
//!
//! Owns the command's edge: the runtime, the banner on standard output, the signals, and what
//! systemd is told (a `Type=notify` unit: ready once both listeners are bound, stopping when a
//! signal starts the drain); the server itself is [`crate::startup`]'s.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use ztp_certs::dev_pki::layout;

use crate::cli::ServeArgs;
use crate::config::{Config, Overrides};
use crate::startup::App;

/// Runs `ztp serve` with `args` until SIGINT or SIGTERM; an error is a server that could not
/// start (the configuration, the data directory, the trust material, a listener).
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
    let app = App::build(config).await?;
    // Standard output may be closed (a daemon, a harness that has read enough): the summary
    // is for people, so failing to print it must not stop the server.
    if let Err(error) = announce(&app) {
        tracing::warn!(%error, "could not print the startup summary");
    }
    reload_on_hangup(&app);
    // The listeners are bound: connections queue until `run` accepts them, at once.
    tell_systemd(sd_notify::NotifyState::Ready);
    app.run(async {
        shutdown_signal().await;
        tell_systemd(sd_notify::NotifyState::Stopping);
    })
    .await;
    Ok(())
}

/// Reloads the device TLS certificate and the trust material at each SIGHUP (`systemctl
/// reload`), telling systemd while it does; a reload that fails changes nothing (and says why
/// in the log).
fn reload_on_hangup(app: &App) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(error) => {
            tracing::warn!(%error, "cannot watch SIGHUP; reload with POST /api/v1/reload");
            return;
        }
    };
    let reloader = app.reloader();
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading");
            tell_systemd(sd_notify::NotifyState::Reloading);
            let reloader = std::sync::Arc::clone(&reloader);
            // Files and signatures: off the runtime's threads.
            let _ = tokio::task::spawn_blocking(move || {
                use crate::admin::Reload;
                reloader.reload()
            })
            .await;
            tell_systemd(sd_notify::NotifyState::Ready);
        }
    });
}

/// Tells systemd the service's `state`, when it started ztp as a `Type=notify` unit
/// (`NOTIFY_SOCKET` set); otherwise does nothing.
fn tell_systemd(state: sd_notify::NotifyState<'_>) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(error) = sd_notify::notify(&[state]) {
        tracing::warn!(%error, "could not notify systemd");
    }
}

/// Completes at SIGINT or SIGTERM (SIGINT only where SIGTERM cannot be watched).
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

/// Where a listener is reachable from, for the banner.
fn reach(bound: SocketAddr) -> &'static str {
    match bound.ip() {
        ip if ip.is_loopback() => "this machine only",
        ip if ip.is_unspecified() => "every address of this machine: reachable from the network",
        _ => "this address: reachable from its network",
    }
}

/// Prints what a person needs to try the server (stdout, so tests can read the addresses).
fn announce(app: &App) -> anyhow::Result<()> {
    let (config, dev_pki) = (app.config(), app.dev_pki());
    let (device_bound, admin_bound) = (app.device_addr(), app.admin_addr());
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
    if let (Some(bound), Some(proxy)) = (app.proxy_addr(), &config.device_api.proxy) {
        let proxies: Vec<String> = proxy
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        writeln!(
            out,
            "device API behind a proxy: http://{} (from {})",
            display(bound),
            proxies.join(", ")
        )?;
    }
    let scheme = if app.admin_tls() { "https" } else { "http" };
    writeln!(out, "admin API: {scheme}://{admin}")?;
    writeln!(out, "  listening on {admin_bound} ({})", reach(admin_bound))?;
    if !app.admin_tls() && !admin_bound.ip().is_loopback() {
        writeln!(
            out,
            "WARNING: the admin API is plain HTTP off loopback: tokens cross the network in \
             clear (set admin_api.tls_certificate and tls_key)"
        )?;
    }
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
        announce_dev_pki(&mut out, dir, &device)?;
    }
    out.flush()?;
    Ok(())
}

/// The development PKI's part of the banner: where its files are, and a device's first call.
fn announce_dev_pki(
    out: &mut impl Write,
    dir: &std::path::Path,
    device: &str,
) -> anyhow::Result<()> {
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
    let (vouchers, licenses) = (dir.join(layout::VOUCHER_CA), dir.join(layout::LICENSE_CA));
    writeln!(out, "server trust anchor: {}", root.display())?;
    writeln!(out, "voucher trust anchor: {}", vouchers.display())?;
    writeln!(out, "license trust anchor: {}", licenses.display())?;
    writeln!(out, "try it:")?;
    writeln!(
        out,
        "  ztp device bootstrap --url https://{device} --cert {} --key {} --server-ca {} --voucher-ca {} --license-ca {}",
        device_dir.join("idevid.pem").display(),
        device_dir.join("idevid.key").display(),
        root.display(),
        vouchers.display(),
        licenses.display(),
    )?;
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
    fn the_banner_says_who_can_reach_a_listener() {
        let at = |s: &str| reach(s.parse().unwrap());
        assert_eq!(at("127.0.0.1:8443"), "this machine only");
        assert_eq!(at("[::1]:8443"), "this machine only");
        assert!(at("0.0.0.0:8443").contains("reachable from the network"));
        assert!(at("[::]:8443").contains("reachable from the network"));
        assert!(at("192.0.2.7:8443").contains("reachable"));
    }
}
