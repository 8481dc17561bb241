//! Device registration with customers' NMSes.
//!
//! - this module: a stored connection as the connector sees it, an [`Endpoint`] (pins parsed,
//!   password or ztp's own key), and the admin's views of it; the [host policy](host_policy)
//!   that keeps NMS connections off the manufacturer's own network;
//! - [`registrar`]: queuing registrations in the [outbox](crate::store::outbox), adding SSH host
//!   keys, waiting for delivery;
//! - [`courier`]: the background delivery over pooled SFTP sessions, retries, health events.
//!
//! May import: `domain`, `store`, `config`, `address_policy`, `secrets` and `telemetry`.

pub mod courier;
pub mod registrar;

pub use courier::{Courier, CourierSettings};
pub use registrar::{Queued, Registrant, Registrar, RegistrarError};

use ztp_nms_connector::{AddressFilter, Auth, ClientKey, Endpoint, Fingerprint};

use crate::address_policy::AddressPolicy;
use crate::config::NmsConfig;
use crate::store::NmsConnectionRecord;

/// The setting that lists where NMS hosts may have non-public addresses.
pub const ALLOWED_PRIVATE_NETWORKS: &str = "[nms] allowed_private_networks";

/// Where NMS hosts may be: public addresses, and non-public ones only within the configured
/// `allowed_private_networks`. Checked when a connection's host is an address literal (when the
/// connection is saved), and on the resolved addresses at every connection: deliveries, the
/// connection test and the SSH fingerprint helper (see `docs/nms-host-policy.md`).
pub fn host_policy(config: &NmsConfig) -> AddressPolicy {
    AddressPolicy::new(
        ALLOWED_PRIVATE_NETWORKS,
        config.allowed_private_networks.clone(),
    )
}

/// `policy` as the connector's filter of the addresses it connects to.
pub fn address_filter(policy: &AddressPolicy) -> AddressFilter {
    let policy = policy.clone();
    AddressFilter::new(move |address| policy.check(address).map_err(|e| e.to_string()))
}

/// A stored connection that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("NMS connection {customer}/{name}: {reason}")]
pub struct UnusableConnection {
    /// The customer.
    pub customer: String,
    /// The connection.
    pub name: String,
    /// What is wrong.
    pub reason: String,
}

/// The connector's endpoint for a stored connection.
pub fn endpoint(record: &NmsConnectionRecord) -> Result<Endpoint, UnusableConnection> {
    let unusable = |reason: String| UnusableConnection {
        customer: record.customer.clone(),
        name: record.name.clone(),
        reason,
    };
    let pins = record
        .pins
        .iter()
        .map(|p| Fingerprint::parse(p).map_err(|e| unusable(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let auth = match (&record.password, &record.private_key_pem) {
        (Some(password), _) => Auth::Password(password.clone()),
        (None, Some(pem)) => {
            Auth::Key(ClientKey::from_openssh_pem(pem).map_err(|e| unusable(e.to_string()))?)
        }
        (None, None) => return Err(unusable("neither a password nor a key".into())),
    };
    let mut endpoint = Endpoint::new(
        record.host.clone(),
        record.username.clone(),
        auth,
        pins,
        record.directory.clone(),
    );
    endpoint.port = record.port;
    Ok(endpoint)
}

/// The public key line an NMS administrator installs for a key-authenticated connection.
pub fn public_key(record: &NmsConnectionRecord) -> Option<String> {
    let pem = record.private_key_pem.as_deref()?;
    ClientKey::from_openssh_pem(pem)
        .ok()?
        .public_key_line()
        .ok()
}
