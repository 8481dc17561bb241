//! The admin API as the composition root wires it: its handler over the store and the workers,
//! with its limits, and its listener's TLS when the configuration gives a certificate.
//!
//! May import: everything (part of the composition root).

use std::sync::Arc;
use std::time::Duration;

use super::StartupError;
use crate::address_policy::AddressPolicy;
use crate::admin::{AdminApi, AdminLimits, ImportLimits};
use crate::config::Config;
use crate::http;
use crate::nms::Registrar;
use crate::telemetry::Draining;
use crate::telemetry::metrics::Metrics;
use crate::webhooks::Dispatcher;

/// The admin API, authenticating with the bootstrap `token`.
pub(super) fn api(
    config: &Config,
    outbox: Arc<Registrar>,
    webhooks: Arc<Dispatcher>,
    nms_hosts: AddressPolicy,
    token: &str,
    draining: Draining,
    metrics: Metrics,
    reload: Arc<dyn crate::admin::Reload>,
) -> Arc<AdminApi> {
    let a = &config.admin_api;
    Arc::new(
        AdminApi::new(
            outbox,
            webhooks,
            nms_hosts,
            token,
            AdminLimits {
                max_body_bytes: a.max_body_bytes,
                read_timeout: config.device_api.read_timeout(),
                max_failed_auths: a.max_failed_auths,
                failed_auth_window: Duration::from_secs(a.failed_auth_window_secs),
                import: ImportLimits {
                    max_bytes: a.max_import_bytes,
                    max_row_bytes: a.max_import_row_bytes,
                    deadline: Duration::from_secs(a.import_deadline_secs),
                },
            },
            draining,
            metrics,
            reload,
        )
        .with_owner_key_modules(config.manufacturer.owner_key_modules.clone())
        .with_voucher_import_anchors(
            config
                .manufacturer
                .voucher_import_anchors
                .iter()
                .map(|path| config.path(path))
                .collect(),
        ),
    )
}

/// The admin listener's TLS configuration, when `admin_api.tls_certificate` gives one.
pub(super) fn tls(config: &Config) -> Result<Option<http::Tls>, StartupError> {
    let a = &config.admin_api;
    let (Some(certificate), Some(key)) = (&a.tls_certificate, &a.tls_key) else {
        return Ok(None);
    };
    let client_ca = a.client_ca.as_ref().map(|ca| config.path(ca));
    let tls = crate::tls::admin_server_config(
        &config.path(certificate),
        &config.path(key),
        client_ca.as_deref(),
    )
    .map_err(StartupError::AdminTls)?;
    Ok(Some(Arc::new(arc_swap::ArcSwap::from_pointee(tls))))
}
