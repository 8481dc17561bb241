//! The device side's parts: the bootstrapper over the devices' journal, the device API (with
//! activation codes when they are on) and its twin behind a TLS-terminating load balancer.
//!
//! May import: everything: this is the composition root.

use std::sync::Arc;
use std::time::Duration;

use super::{StartupError, Unbound};
use crate::bootstrap::{Bootstrapper, DeviceHold};
use crate::config::{Config, DeviceProxyConfig};
use crate::http::{Limits, OpenConnections, Penalties, Strikes, Watch};
use crate::licensing::Licensing;
use crate::nms::Registrar;
use crate::restconf::forwarded::{ForwardedDeviceApi, Forwarding};
use crate::restconf::{DeviceApi, DeviceLimits};
use crate::store::Store;
use crate::store::journal::Journal;
use crate::telemetry::metrics::Metrics;

/// The bootstrapper over one journal (the devices' writes: state, events, progress, license
/// allocations, by one writer), signing with the voucher and license `signers`, its families
/// registered in `metrics`; and the counter of the device listener's connections, which the
/// journal reads.
pub(super) fn bootstrapper(
    config: &Config,
    store: &Store,
    outbox: &Arc<Registrar>,
    signers: (ztp_certs::Signer, ztp_certs::Signer),
    metrics: &Metrics,
) -> Result<(Bootstrapper, OpenConnections), StartupError> {
    let (masa, license) = signers;
    let journal = Journal::start(store);
    let device_connections = journal.device_connections();
    metrics.register(journal.metrics())?;
    let bootstrapper = Bootstrapper::new(
        journal.clone(),
        Arc::clone(outbox),
        Licensing::new(journal, license),
        DeviceHold {
            inline_wait: Duration::from_millis(config.nms.inline_wait_ms),
            max_hold: Duration::from_secs(config.nms.max_device_hold_secs),
        },
        masa,
        time::Duration::days(i64::from(config.manufacturer.voucher_validity_days)),
    )
    .with_owner_key_modules(config.manufacturer.owner_key_modules.clone())
    .with_families(config.device_families.in_force().clone())
    .with_ldevids(crate::ldevid::Ldevids::new(config.ldevid.command().map(
        |(program, args, timeout, max_output)| crate::ldevid::command::CommandIssuer {
            program,
            args,
            timeout,
            max_output,
        },
    )));
    metrics.register(bootstrapper.licensing().shortages())?;
    metrics.register(bootstrapper.licensing().caches())?;
    Ok((bootstrapper, device_connections))
}

/// The device API, and the penalties its listener applies: sources that fail handshakes or
/// get refused too often are benched.
pub(super) fn device_api(
    config: &Config,
    bootstrapper: Bootstrapper,
    verifier: crate::auth::device::CurrentVerifier,
) -> (Arc<DeviceApi>, Penalties) {
    let d = &config.device_api;
    let refusal_strikes = Arc::new(Strikes::new(d.refusals(), d.max_tracked_sources));
    let penalties = Penalties {
        handshakes: Some(Arc::new(Strikes::new(
            d.handshake_failures(),
            d.max_tracked_sources,
        ))),
        refusals: Some(Arc::clone(&refusal_strikes)),
    };
    let api = DeviceApi::new(
        bootstrapper,
        verifier,
        DeviceLimits {
            max_body_bytes: d.max_body_bytes,
            read_timeout: d.read_timeout(),
            retry_after_secs: d.retry_after_secs,
            max_concurrent_requests: d.max_concurrent_requests,
            refusal_summary_window: Duration::from_secs(d.refusal_summary_secs),
            max_refusal_windows: d.max_tracked_sources,
        },
        refusal_strikes,
    );
    let api = if d.activation_codes {
        let store = api.bootstrapper().store().clone();
        api.with_activation_codes(crate::auth::activation::ActivationCodes::new(store))
    } else {
        api
    };
    (Arc::new(api), penalties)
}

/// The device API behind a TLS-terminating load balancer: the `device` API's handler for the
/// requests the balancer forwards as `proxy` says. Its listener carries the balancer's
/// connections, each many devices' requests: no per-source share of the connections and no
/// bench of the balancer (refusals count against the devices' forwarded addresses), no TLS.
pub(super) fn behind_proxy(
    config: &Config,
    proxy: &DeviceProxyConfig,
    device: &Unbound<DeviceApi>,
) -> Result<Unbound<ForwardedDeviceApi>, StartupError> {
    if proxy.trusted_proxies.is_empty() {
        return Err(StartupError::Proxy(
            "trusted_proxies is empty: list the load balancer's addresses".to_owned(),
        ));
    }
    let header = |key: &str, name: &str| {
        ::http::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| StartupError::Proxy(format!("{key} {name:?} is not a header name")))
    };
    let address = match proxy.address_header.as_str() {
        "" => None,
        name => Some(header("address_header", name)?),
    };
    let forwarding = Forwarding {
        proxies: proxy.trusted_proxies.clone(),
        certificate: header("certificate_header", &proxy.certificate_header)?,
        address,
        cooldown_secs: config.device_api.cooldown_secs,
    };
    Ok(Unbound {
        handler: Arc::new(ForwardedDeviceApi::new(
            Arc::clone(&device.handler),
            forwarding,
        )),
        limits: Limits {
            max_connections_per_source: device.limits.max_connections,
            ..device.limits
        },
        watch: Watch {
            listener: "device_proxy",
            open: OpenConnections::default(),
            metrics: device.watch.metrics.clone(),
        },
        penalties: Penalties::default(),
        tls: None,
    })
}
