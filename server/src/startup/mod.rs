//! The composition root: [`App::build`] turns a [`Config`] into a server ready to serve (the
//! data directory seeded, the store open, the trust material loaded, both listeners bound), and
//! [`App::run`] serves until a shutdown future the caller chooses completes, then drains.
//!
//! Owns the wiring of the parts and the order of the start; decides nothing a part decides
//! itself. May import every module (`tests/boundaries.rs`): it is where they meet. It prints
//! nothing and never chooses the shutdown trigger: `ztp serve` announces the addresses and
//! passes SIGINT/SIGTERM, a test passes its own future (mini-redis' `run(listener, shutdown)`,
//! zero2prod's `Application::build`).
//!
//! - [`seed`]: the first start of a data directory (development PKI, sample inventory, admin
//!   token).
//! - `trust`: the manufacturer's trust material and the check of its roles.
//! - `device`: the device side's parts: the bootstrapper, the device API (with activation
//!   codes when on), and its twin behind a TLS-terminating balancer.
//! - [`CrlRefresher`]: the worker that re-reads CRLs.
//!
//! May import: everything: this is the composition root.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::AdminApi;
use crate::commands::secrets::secret_box;
use crate::config::Config;
use crate::domain::clock::{Clock, SystemClock};
use crate::http::{self, Limits, OpenConnections, Penalties, Watch};
use crate::nms::{Courier, CourierSettings, Registrar, host_policy};
use crate::restconf::DeviceApi;
use crate::restconf::forwarded::ForwardedDeviceApi;
use crate::store::Store;
use crate::telemetry::Draining;
use crate::telemetry::metrics::{ListenerMetrics, Metrics};
use crate::webhooks::{Dispatcher, DispatcherSettings};

mod admin;
mod device;
mod error;
mod gauges;
mod reload;
pub mod seed;
mod sockets;
mod trust;

pub use crate::auth::device::refresher::CrlRefresher;
pub use error::{CommandError, StartupError};
pub use reload::Reloader;
pub use sockets::{DataDirLock, LockError};
use trust::{PrivateKeys, Trust};

/// A server built and bound, not yet serving: its addresses are known (port 0 in the
/// configuration has become a real port), and [`App::run`] serves on them.
pub struct App {
    config: Config,
    dev_pki: Option<PathBuf>,
    device: Listener<DeviceApi>,
    /// The device API behind a TLS-terminating load balancer (`[device_api.proxy]`).
    proxy: Option<Listener<ForwardedDeviceApi>>,
    admin: Listener<AdminApi>,
    workers: Workers,
    draining: Draining,
    reloader: Arc<Reloader>,
    /// Held while the server runs.
    _lock: DataDirLock,
}

/// The background workers of a server, each reachable so that a test can drive it; cheap to
/// clone. [`App::run`] runs each until shutdown.
#[derive(Debug, Clone)]
pub struct Workers {
    /// Delivers registrations from the outbox to customers' NMSes over SFTP.
    pub courier: Arc<Courier>,
    /// Posts device events to customers' webhook receivers.
    pub webhooks: Arc<Dispatcher>,
    /// Re-reads the manufacturer's CRL files.
    pub crls: Arc<CrlRefresher>,
}

/// One bound listener with what serves on it.
struct Listener<H> {
    listener: TcpListener,
    addr: SocketAddr,
    handler: Arc<H>,
    limits: Limits,
    watch: Watch,
    penalties: Penalties,
    tls: Option<http::Tls>,
}

impl<H: http::Handler> Listener<H> {
    /// Accepts and serves until `shutdown` completes, then drains (see [`http::serve`]).
    async fn serve(self, shutdown: impl Future<Output = ()>) {
        http::serve(
            self.listener,
            self.tls,
            self.handler,
            self.limits,
            self.watch,
            self.penalties,
            shutdown,
        )
        .await;
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("device_addr", &self.device.addr)
            .field("proxy_addr", &self.proxy.as_ref().map(|p| p.addr))
            .field("admin_addr", &self.admin.addr)
            .field("dev_pki", &self.dev_pki)
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Builds the server `config` describes, in the order a start needs: the data directory
    /// and the development PKI (when enabled), the master key and the private key files, the
    /// store (re-sealing what an earlier key sealed), the sample inventory, the admin token,
    /// the trust material, the device and admin APIs, then both listeners, bound.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`App::build`] with the `clock` the outbox, its couriers and the admin tokens' expiry
    /// read (the system clock in production; a manual one in tests that step time).
    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        // Every address first: a port in use is told before anything is written.
        let sockets = sockets::Sockets::bind(&config)?;
        seed::data_dir(&config.data_dir)?;
        let lock = DataDirLock::serving(&config.data_dir)?;
        let dev_pki = config
            .dev_pki
            .enabled
            .then(|| config.path(&config.dev_pki.dir));
        if let Some(dir) = &dev_pki {
            seed::dev_pki(dir)?;
        }
        let (store, keys) = open_store(&config).await?;
        if let Some(dir) = &dev_pki {
            seed::sample_inventory(&store, dir).await?;
        }
        let token = seed::admin_token(&config.path(&config.admin_api.token_file))?;
        let trust = trust::load(&config, &keys)?;
        let draining = Draining::default();
        let metrics = Metrics::new(env!("CARGO_PKG_VERSION"))?;
        let (device, admin, workers, reloader) = wire(
            &config,
            &store,
            trust,
            &token,
            clock,
            draining.clone(),
            &metrics,
        )?;
        let proxy = match &config.device_api.proxy {
            Some(proxy) => {
                let forwarded = device::behind_proxy(&config, proxy, &device)?;
                gauges::connections(&metrics, &forwarded.watch);
                let socket = sockets
                    .proxy
                    .ok_or_else(|| StartupError::Proxy("its listener was not bound".to_owned()))?;
                Some(forwarded.listening(socket, proxy.listen, "device API behind a proxy")?)
            }
            None => None,
        };
        let device = device.listening(sockets.device, config.device_api.listen, "device API")?;
        let admin = admin.listening(sockets.admin, config.admin_api.listen, "admin API")?;
        if admin.tls.is_none() && !admin.addr.ip().is_loopback() {
            // Once, at start (a reload reads the TLS files again, not this).
            tracing::warn!(
                listen = %admin.addr,
                "the admin API is plain HTTP off loopback: tokens cross the network in clear; \
                 set admin_api.tls_certificate and tls_key"
            );
        }
        Ok(Self {
            config,
            dev_pki,
            device,
            proxy,
            admin,
            workers,
            draining,
            reloader,
            _lock: lock,
        })
    }

    /// What reloads the device TLS certificate and the trust material (SIGHUP, `POST
    /// /api/v1/reload`).
    pub fn reloader(&self) -> Arc<Reloader> {
        Arc::clone(&self.reloader)
    }

    /// Where the device API listens (HTTPS, client certificates).
    pub fn device_addr(&self) -> SocketAddr {
        self.device.addr
    }

    /// Where the device API listens for a TLS-terminating load balancer (plain HTTP, the
    /// device's certificate in a header), when `[device_api.proxy]` configures it.
    pub fn proxy_addr(&self) -> Option<SocketAddr> {
        self.proxy.as_ref().map(|proxy| proxy.addr)
    }

    /// Where the admin API listens (bearer tokens).
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.addr
    }

    /// Whether the admin API speaks HTTPS (`admin_api.tls_certificate`).
    pub fn admin_tls(&self) -> bool {
        self.admin.tls.is_some()
    }

    /// The configuration the server was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The development PKI's directory, when one stands in for the manufacturer's.
    pub fn dev_pki(&self) -> Option<&Path> {
        self.dev_pki.as_deref()
    }

    /// The background workers; a clone taken before [`App::run`] stays usable while it runs.
    pub fn workers(&self) -> &Workers {
        &self.workers
    }

    /// Serves both listeners and runs the workers until `shutdown` completes; then reports
    /// not ready (`/readyz`) for `device_api.drain_grace_secs` while still accepting, stops
    /// accepting, lets open requests finish (within the listeners' drain timeout), stops the
    /// workers (the courier releases the registrations it holds) and returns once all have.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let (stop, stopped) = watch::channel(false);
        let Workers {
            courier,
            webhooks,
            crls,
        } = self.workers;
        let courier = tokio::spawn(courier.run(stopped.clone()));
        let webhooks = tokio::spawn(webhooks.run(stopped.clone()));
        let refresh = tokio::spawn(crls.run(stopped.clone()));
        let summaries = tokio::spawn({
            let (device_api, stopped) = (Arc::clone(&self.device.handler), stopped.clone());
            async move { device_api.summarize_refusals(until(stopped)).await }
        });
        let device = tokio::spawn(self.device.serve(until(stopped.clone())));
        let proxy = self
            .proxy
            .map(|proxy| tokio::spawn(proxy.serve(until(stopped.clone()))));
        let admin = tokio::spawn(self.admin.serve(until(stopped)));
        shutdown.await;
        self.draining.start();
        let grace = Duration::from_secs(self.config.device_api.drain_grace_secs);
        if !grace.is_zero() {
            tracing::info!(?grace, "draining: not ready, still accepting");
            tokio::time::sleep(grace).await;
        }
        tracing::info!("stopping: finishing open requests");
        let _ = stop.send(true);
        let _ = tokio::join!(device, admin, refresh, courier, webhooks, summaries);
        if let Some(proxy) = proxy {
            let _ = proxy.await;
        }
        tracing::info!("stopped");
    }
}

/// Loads the trust material `config` names as a start would (each file read and parsed, the
/// keys opened, on an HSM a probe signed, no role's key able to pass for another's), and
/// starts nothing: what `ztp check-config` runs once the configuration itself is sound.
pub fn check_trust(config: &Config) -> Result<(), StartupError> {
    let secrets = crate::commands::secrets::existing_secret_box(config)
        .map_err(|e| StartupError::Secrets(e.into()))?;
    let keys = trust::private_keys(config, &secrets)?;
    trust::load(config, &keys)?;
    admin::tls(config)?;
    Ok(())
}

/// Opens the master key, the private key files it may seal and the store, and re-seals what
/// is not sealed under the current key. The key files are read before the store takes the
/// secret box.
async fn open_store(config: &Config) -> Result<(Store, PrivateKeys), StartupError> {
    let secrets = secret_box(config).map_err(|e| StartupError::Secrets(e.into()))?;
    let keys = trust::private_keys(config, &secrets)?;
    let store = Store::open_with(&config.database_url(), secrets, config.database.options())
        .await
        .map_err(StartupError::OpenStore)?;
    // Seal what is not sealed under the current key: values from before sealing existed, or
    // an interrupted rotation.
    let resealed = store.reseal_secrets().await.map_err(StartupError::Reseal)?;
    if resealed > 0 {
        tracing::info!(resealed, "re-sealed secrets under the current master key");
    }
    Ok((store, keys))
}

/// The device API, the admin API and the workers, wired to one store, one outbox and one
/// journal, with each listener's bounds, their families registered in `metrics`; not yet
/// bound.
fn wire(
    config: &Config,
    store: &Store,
    trust: Trust,
    token: &str,
    clock: Arc<dyn Clock>,
    draining: Draining,
    metrics: &Metrics,
) -> Result<Wired, StartupError> {
    let Trust {
        verifier,
        masa,
        license,
        tls,
    } = trust;
    let m = &config.manufacturer;
    let outbox = Arc::new(Registrar::with_clock(store.clone(), Arc::clone(&clock)));
    let (bootstrapper, device_connections) =
        device::bootstrapper(config, store, &outbox, (masa, license), metrics)?;
    let (device, penalties) = device::device_api(config, bootstrapper, Arc::clone(&verifier));
    metrics.register(device.metrics())?;
    let admin_tls = admin::tls(config)?;
    let reloader = Arc::new(Reloader::new(
        config.clone(),
        Arc::clone(&verifier),
        (Arc::clone(&tls), admin_tls.clone()),
        Arc::clone(&device),
    ));
    gauges::crls(metrics, &verifier);
    let webhooks = Dispatcher::with_clock(
        store.clone(),
        DispatcherSettings::from(&config.webhooks),
        clock,
    );
    let nms_hosts = host_policy(&config.nms);
    let admin = admin::api(
        config,
        Arc::clone(&outbox),
        Arc::clone(&webhooks),
        nms_hosts.clone(),
        token,
        draining,
        metrics.clone(),
        Arc::clone(&reloader) as Arc<dyn crate::admin::Reload>,
    );
    let workers = Workers {
        courier: Courier::new(outbox, CourierSettings::from(&config.nms), &nms_hosts),
        webhooks,
        crls: Arc::new(CrlRefresher::new(
            verifier,
            Duration::from_secs(m.crl_refresh_secs.max(1)),
        )),
    };
    metrics.register(workers.courier.metrics())?;
    metrics.register(workers.webhooks.metrics())?;
    let listeners = ListenerMetrics::default();
    metrics.register(&listeners)?;
    let watch = |listener, open| Watch {
        listener,
        open,
        metrics: listeners.clone(),
    };
    let (limits, admin_limits) = limits(config);
    let device = Unbound {
        handler: device,
        limits,
        watch: watch("device", device_connections),
        penalties,
        tls: Some(tls),
    };
    let admin = Unbound {
        handler: admin,
        limits: admin_limits,
        watch: watch("admin", OpenConnections::default()),
        penalties: Penalties::default(),
        tls: admin_tls,
    };
    gauges::connections(metrics, &device.watch);
    gauges::connections(metrics, &admin.watch);
    Ok((device, admin, workers, reloader))
}

/// What [`wire`] makes: both APIs unbound, the workers, the reloader.
type Wired = (
    Unbound<DeviceApi>,
    Unbound<AdminApi>,
    Workers,
    Arc<Reloader>,
);

/// The bounds of the device and the admin listener: as configured, within what the limit of
/// open files allows (see [`http::open_files`]).
fn limits(config: &Config) -> (Limits, Limits) {
    let d = &config.device_api;
    let open_files = http::open_files::limit();
    let (device_connections_max, admin_connections_max) =
        http::open_files::fit(d.max_connections, d.max_connections, open_files);
    if device_connections_max < d.max_connections {
        tracing::warn!(
            open_files = open_files.unwrap_or_default(),
            device = device_connections_max,
            admin = admin_connections_max,
            configured = d.max_connections,
            "the limit of open files allows fewer connections than device_api.max_connections: \
             raise it (ulimit -n, LimitNOFILE=) to hold more"
        );
    }
    let limits = Limits {
        max_header_bytes: d.max_header_bytes,
        read_timeout: d.read_timeout(),
        idle_timeout: Duration::from_secs(d.idle_timeout_secs),
        max_connections: device_connections_max,
        max_connections_per_source: d.max_connections_per_source,
        max_handshakes: d.max_handshakes,
        drain_timeout: Duration::from_secs(10),
    };
    let admin_limits = Limits {
        max_connections: admin_connections_max,
        ..limits
    };
    (limits, admin_limits)
}

/// A listener's handler and bounds, before its address is bound.
struct Unbound<H> {
    handler: Arc<H>,
    limits: Limits,
    watch: Watch,
    penalties: Penalties,
    tls: Option<http::Tls>,
}

impl<H> Unbound<H> {
    /// Serves on `listener`, bound to the configured `addr`, for the listener called `what`
    /// (in the error).
    fn listening(
        self,
        listener: TcpListener,
        addr: SocketAddr,
        what: &'static str,
    ) -> Result<Listener<H>, StartupError> {
        let bound = listener.local_addr().map_err(|source| StartupError::Bind {
            what,
            addr,
            option: "",
            source,
        })?;
        Ok(Listener {
            listener,
            addr: bound,
            handler: self.handler,
            limits: self.limits,
            watch: self.watch,
            penalties: self.penalties,
            tls: self.tls,
        })
    }
}

/// Completes when `stopped` turns true (or its sender is gone).
async fn until(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}
