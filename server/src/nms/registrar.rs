//! The registrar: the device API's side of registration. It queues a device's registration with
//! each of its owner's NMS connections (in the [outbox](crate::store::outbox)'s registrations
//! queue), adds its SSH host keys once it reports them, and waits (briefly) for delivery. The
//! [`Courier`](super::courier::Courier) does the delivering; both read the registrar's clock.
//!
//! May import: the domain, the store and the NMS connector's file-name rules.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::Notify;
use ztp_certs::Serial;
use ztp_yang::{DeviceRegistration, Document, SshHostKey};

use crate::domain::clock::{Clock, SystemClock};
use crate::domain::delivery::{DeliveryPolicy, RegistrationState};
use crate::store::{NewRegistration, NmsConnectionRecord, RegistrationRecord, Store, StoreError};

/// Queuing a registration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrarError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The device's data do not make a valid registration document or file name.
    #[error("the registration of device {serial} cannot be built: {reason}")]
    Document {
        /// The device.
        serial: String,
        /// Why.
        reason: String,
    },
}

/// A device to register.
#[derive(Debug, Clone, Copy)]
pub struct Registrant<'a> {
    /// Its serial number, as its certificate names it.
    pub serial: &'a Serial,
    /// Its hardware model, from the inventory.
    pub model: &'a str,
    /// Its owner.
    pub customer: &'a str,
    /// The IDevID certificate it presented (DER).
    pub certificate: &'a [u8],
}

/// A registration in the outbox, with the policy of its connection.
#[derive(Debug, Clone)]
pub struct Queued {
    /// The registration.
    pub registration: RegistrationRecord,
    /// Its connection's policy.
    pub policy: DeliveryPolicy,
}

impl Queued {
    /// Whether the device must wait for this registration before it gets its answer, at `now`
    /// (Unix ms): under `nms-first`, until it is delivered, but for at most `max_hold` since
    /// its content began waiting. An NMS that cannot be reached (a dead host, a wrong pin) must
    /// not keep the owner's devices from starting for ever: after the hold they are answered,
    /// and delivery goes on.
    pub fn holds_back_the_device(&self, now: i64, max_hold: Duration) -> bool {
        let max_hold = i64::try_from(max_hold.as_millis()).unwrap_or(i64::MAX);
        self.policy == DeliveryPolicy::NmsFirst
            && self.registration.state == RegistrationState::Pending
            && now < self.registration.pending_since.saturating_add(max_hold)
    }

    /// Whether the device is answered before this registration reached its NMS because the
    /// hold ran out (or retries gave up): worth an operator's look.
    pub fn overdue(&self, now: i64, max_hold: Duration) -> bool {
        self.policy == DeliveryPolicy::NmsFirst
            && self.registration.state != RegistrationState::Delivered
            && !self.holds_back_the_device(now, max_hold)
    }
}

/// Queues devices' registrations for their NMSes, wakes the courier, and tells waiting devices of
/// deliveries.
#[derive(Debug)]
pub struct Registrar {
    store: Store,
    /// What time it is: when registrations are queued, and for the courier.
    clock: Arc<dyn Clock>,
    /// Wakes the courier: something became due.
    wake: Notify,
    /// Wakes waiting devices: something was delivered.
    delivered: Notify,
}

/// How often a waiting device re-reads its registrations even without a wake-up (another ztp
/// instance on the same database may be the one delivering).
const RECHECK: Duration = Duration::from_millis(250);

impl Registrar {
    /// An outbox over `store`, on the system's clock.
    pub fn new(store: Store) -> Self {
        Self::with_clock(store, Arc::new(SystemClock))
    }

    /// An outbox over `store` on `clock` (a test's manual clock); its courier reads the same.
    pub fn with_clock(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            wake: Notify::new(),
            delivered: Notify::new(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The clock registrations are queued and delivered by.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Tells the courier to look for due registrations now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves at the next [`wake`](Self::wake) (or at once if one came meanwhile).
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Tells waiting devices that registrations were delivered.
    pub(crate) fn announce_delivery(&self) {
        self.delivered.notify_waiters();
    }

    /// Queues the device's registration with each of its owner's NMS connections that is not
    /// switched off. A registration the NMS already has with the same content is left alone.
    pub async fn register(&self, device: Registrant<'_>) -> Result<Vec<Queued>, RegistrarError> {
        let connections = self.store.nms_connections(device.customer).await?;
        self.register_with(device, &connections).await
    }

    /// [`Registrar::register`] with the owner's `connections` as the caller has them (the
    /// bootstrapper keeps them per owner revision).
    pub async fn register_with(
        &self,
        device: Registrant<'_>,
        connections: &[NmsConnectionRecord],
    ) -> Result<Vec<Queued>, RegistrarError> {
        let file_name = ztp_nms_connector::file_name(device.serial);
        let mut queued = Vec::new();
        let mut due = false;
        for connection in connections {
            if connection.policy == DeliveryPolicy::Off {
                continue;
            }
            let existing = self
                .store
                .registration_for(device.serial, device.customer, &connection.name)
                .await?;
            let content = document(existing.as_ref(), device, self.clock.now_ms())?;
            let registration = match existing {
                // The common case on a device's every call: nothing new, nothing written.
                Some(r) if r.content == content && r.file_name == file_name => r,
                _ => {
                    self.store
                        .put_registration(
                            &NewRegistration {
                                serial: device.serial.clone(),
                                customer: device.customer.to_owned(),
                                connection: connection.name.clone(),
                                file_name: file_name.clone(),
                                content,
                            },
                            self.clock.now_ms(),
                        )
                        .await?
                }
            };
            due |= registration.state == RegistrationState::Pending && registration.attempts == 0;
            queued.push(Queued {
                registration,
                policy: connection.policy,
            });
        }
        if due {
            self.wake();
        }
        Ok(queued)
    }

    /// Puts the SSH host keys a device reported (bootstrap-complete) into its registrations,
    /// so that its NMS can authenticate the device's call-home SSH. Returns how many
    /// registrations changed (and are queued again).
    pub async fn add_host_keys(
        &self,
        serial: &Serial,
        keys: &[SshHostKey],
    ) -> Result<usize, RegistrarError> {
        let filter = crate::store::RegistrationFilter {
            serial: Some(serial.to_string()),
            ..Default::default()
        };
        let mut changed = 0;
        for registration in self.store.registrations(&filter, 0, 1000).await? {
            let Ok(mut document) = DeviceRegistration::from_xml(registration.content.as_bytes())
            else {
                tracing::warn!(
                    %serial,
                    id = registration.id,
                    "stored registration does not parse; left as it is"
                );
                continue;
            };
            if document.ssh_host_keys == keys {
                continue;
            }
            document.ssh_host_keys = keys.to_vec();
            let content = encode(serial.as_str(), &document)?;
            let refreshed = NewRegistration {
                serial: serial.clone(),
                customer: registration.customer,
                connection: registration.connection,
                file_name: registration.file_name,
                content,
            };
            self.store
                .put_registration(&refreshed, self.clock.now_ms())
                .await?;
            changed += 1;
        }
        if changed > 0 {
            self.wake();
        }
        Ok(changed)
    }

    /// Waits up to `timeout` for the registrations `ids` to be delivered; returns those that
    /// are not (empty: all delivered).
    pub async fn wait_for_delivery(
        &self,
        ids: &[i64],
        timeout: Duration,
    ) -> Result<Vec<RegistrationRecord>, StoreError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Register interest before reading, so that a delivery in between is not missed.
            let delivered = self.delivered.notified();
            tokio::pin!(delivered);
            delivered.as_mut().enable();
            let mut waiting = Vec::new();
            for id in ids {
                let registration = self.store.registration(*id).await?;
                if registration.state != RegistrationState::Delivered {
                    waiting.push(registration);
                }
            }
            let now = tokio::time::Instant::now();
            if waiting.is_empty() || now >= deadline {
                return Ok(waiting);
            }
            let pause = RECHECK.min(deadline - now);
            let _ = tokio::time::timeout(pause, delivered).await;
        }
    }
}

/// The registration document for `device`. It keeps the registration time of an earlier
/// document (so that the same device with the same certificate gives the same bytes, and the NMS
/// sees no change) and its SSH host keys unless the certificate changed (new hardware under the
/// same serial has other keys).
fn document(
    existing: Option<&RegistrationRecord>,
    device: Registrant<'_>,
    now_ms: i64,
) -> Result<String, RegistrarError> {
    let previous = existing.and_then(|r| DeviceRegistration::from_xml(r.content.as_bytes()).ok());
    // A device without an IDevID (its activation code alone authenticated it) has none.
    let certificate = (!device.certificate.is_empty()).then(|| device.certificate.to_vec());
    let (registered_at, ssh_host_keys) = match previous {
        Some(p) if p.idevid_certificate == certificate => (p.registered_at, p.ssh_host_keys),
        Some(p) => (p.registered_at, Vec::new()),
        None => (registered_at(now_ms), Vec::new()),
    };
    let document = DeviceRegistration {
        serial_number: device.serial.to_string(),
        model_name: device.model.to_owned(),
        owner: device.customer.to_owned(),
        idevid_certificate: certificate,
        registered_at,
        ssh_host_keys,
    };
    encode(device.serial.as_str(), &document)
}

/// `now_ms` as a registration time, in whole seconds.
fn registered_at(now_ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(now_ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn encode(serial: &str, document: &DeviceRegistration) -> Result<String, RegistrarError> {
    document.validate().map_err(|e| RegistrarError::Document {
        serial: serial.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(document.to_xml())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(policy: DeliveryPolicy, state: RegistrationState, pending_since: i64) -> Queued {
        Queued {
            registration: RegistrationRecord {
                id: 1,
                serial: "SN-1".into(),
                customer: "acme".into(),
                connection: "main".into(),
                file_name: "SN-1.xml".into(),
                content: String::new(),
                version: 1,
                state,
                attempts: 0,
                next_attempt_at: 0,
                pending_since,
                last_error: None,
                delivered_at: None,
                created_at: 0,
                updated_at: 0,
            },
            policy,
        }
    }

    #[test]
    fn nms_first_holds_a_device_back_for_a_bounded_time_only() {
        let hour = Duration::from_secs(3600);
        let waiting = queued(DeliveryPolicy::NmsFirst, RegistrationState::Pending, 1_000);
        assert!(waiting.holds_back_the_device(1_000, hour));
        assert!(waiting.holds_back_the_device(1_000 + 3_599_999, hour));
        assert!(!waiting.overdue(1_000 + 3_599_999, hour));
        // An hour on, the device is answered and the registration is overdue.
        assert!(!waiting.holds_back_the_device(1_000 + 3_600_000, hour));
        assert!(waiting.overdue(1_000 + 3_600_000, hour));
        // Retries that gave up hold nobody back; a delivered one is not overdue.
        let dead = queued(DeliveryPolicy::NmsFirst, RegistrationState::Dead, 1_000);
        assert!(!dead.holds_back_the_device(1_000, hour) && dead.overdue(1_000, hour));
        let delivered = queued(
            DeliveryPolicy::NmsFirst,
            RegistrationState::Delivered,
            1_000,
        );
        assert!(!delivered.holds_back_the_device(1_000, hour) && !delivered.overdue(1_000, hour));
        // Other policies never hold.
        let parallel = queued(DeliveryPolicy::Parallel, RegistrationState::Pending, 1_000);
        assert!(!parallel.holds_back_the_device(1_000, hour) && !parallel.overdue(1_000, hour));
    }

    fn device<'a>(serial: &'a Serial, certificate: &'a [u8]) -> Registrant<'a> {
        Registrant {
            serial,
            model: "uCPE-100",
            customer: "acme",
            certificate,
        }
    }

    fn record(content: String) -> RegistrationRecord {
        RegistrationRecord {
            id: 1,
            serial: "SN-1".into(),
            customer: "acme".into(),
            connection: "main".into(),
            file_name: "SN-1.xml".into(),
            content,
            version: 1,
            state: RegistrationState::Delivered,
            attempts: 1,
            next_attempt_at: 0,
            pending_since: 0,
            last_error: None,
            delivered_at: Some(0),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn the_same_device_gives_the_same_bytes_and_keeps_its_host_keys() {
        let serial = Serial::parse("SN-1").unwrap();
        let first = document(None, device(&serial, b"cert"), 1_795_430_400_000).unwrap();
        let parsed = DeviceRegistration::from_xml(first.as_bytes()).unwrap();
        assert_eq!(parsed.serial_number, "SN-1");
        assert_eq!(parsed.idevid_certificate.as_deref(), Some(&b"cert"[..]));

        let mut with_keys = parsed.clone();
        with_keys.ssh_host_keys = vec![SshHostKey {
            algorithm: "ssh-ed25519".into(),
            key_data: vec![1, 2, 3],
        }];
        let stored = record(with_keys.to_xml());
        assert_eq!(
            document(Some(&stored), device(&serial, b"cert"), 1_795_430_400_000).unwrap(),
            stored.content,
            "a device calling again changes nothing"
        );

        let replaced =
            document(Some(&stored), device(&serial, b"other"), 1_795_430_400_000).unwrap();
        let replaced = DeviceRegistration::from_xml(replaced.as_bytes()).unwrap();
        assert_eq!(replaced.registered_at, parsed.registered_at);
        assert!(
            replaced.ssh_host_keys.is_empty(),
            "another certificate: the old keys are not its keys"
        );
    }

    #[test]
    fn an_invalid_model_is_refused_with_the_reason() {
        let serial = Serial::parse("SN-1").unwrap();
        let error = document(
            None,
            Registrant {
                model: "",
                ..device(&serial, b"cert")
            },
            1_795_430_400_000,
        )
        .unwrap_err();
        assert!(error.to_string().contains("model-name"), "{error}");
    }
}
