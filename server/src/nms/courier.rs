//! The courier: delivers queued registrations to NMSes over SFTP.
//!
//! One task per NMS connection drains that connection's due registrations, so a slow or
//! unreachable NMS only ever delays its own customer's devices. Each round claims a batch
//! (leased in the store), tries the first registration alone and, if the NMS takes it, the rest
//! concurrently over the connection's bounded pool of sessions; if the first fails, the whole
//! batch is rescheduled with that error without knocking on the NMS again. A connection's
//! health changes (failing, host key mismatch, recovered) are recorded as events once per
//! change, never once per attempt.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use ztp_nms_connector::{Error as SftpError, Pool, Timeouts};

use super::outbox::Outbox;
use crate::config::NmsConfig;
use crate::domain::delivery::{AfterFailure, Failure, RetrySchedule};
use crate::store::{
    EventKind, NewEvent, NmsConnectionRecord, RegistrationRecord, Store, StoreError, now_ms,
};

/// How the courier works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CourierSettings {
    /// Sessions per NMS connection.
    pub max_sessions: usize,
    /// Network time limits.
    pub timeouts: Timeouts,
    /// When to retry, when to give up.
    pub schedule: RetrySchedule,
    /// How often to look for due registrations when nothing wakes the courier.
    pub poll_interval: Duration,
}

impl From<&NmsConfig> for CourierSettings {
    fn from(c: &NmsConfig) -> Self {
        Self {
            max_sessions: c.max_sessions.max(1),
            timeouts: Timeouts {
                connect: Duration::from_secs(c.connect_timeout_secs.max(1)),
                auth: Duration::from_secs(c.auth_timeout_secs.max(1)),
                operation: Duration::from_secs(c.operation_timeout_secs.max(1)),
            },
            schedule: RetrySchedule {
                initial: Duration::from_secs(c.retry_initial_secs.max(1)),
                max: Duration::from_secs(c.retry_max_secs.max(c.retry_initial_secs).max(1)),
                give_up_after: Duration::from_secs(c.give_up_after_secs),
            },
            poll_interval: Duration::from_millis(c.poll_interval_ms.max(10)),
        }
    }
}

impl CourierSettings {
    /// Registrations claimed per round.
    fn batch(&self) -> u32 {
        u32::try_from(self.max_sessions * 2).unwrap_or(u32::MAX)
    }

    /// How long a claimed batch is leased: the worst case of a round (the first upload alone,
    /// then two more per session), each a connection, authentication and a handful of SFTP
    /// requests. A courier that dies mid-round delays its batch by at most this.
    fn lease(&self) -> Duration {
        let t = self.timeouts;
        let one = t.connect * 2 + t.auth + t.operation * 6;
        one * 3
    }
}

type ConnectionKey = (String, String);

/// Delivers registrations.
pub struct Courier {
    outbox: Arc<Outbox>,
    settings: CourierSettings,
    /// One pool per connection, rebuilt when the connection's settings change.
    pools: Mutex<HashMap<ConnectionKey, (i64, Pool)>>,
    /// Connections being drained now.
    busy: Mutex<HashSet<ConnectionKey>>,
}

impl std::fmt::Debug for Courier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Courier")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Courier {
    /// A courier for `outbox`.
    pub fn new(outbox: Arc<Outbox>, settings: CourierSettings) -> Arc<Self> {
        Arc::new(Self {
            outbox,
            settings,
            pools: Mutex::new(HashMap::new()),
            busy: Mutex::new(HashSet::new()),
        })
    }

    fn store(&self) -> &Store {
        self.outbox.store()
    }

    /// Delivers until `stopped` turns true; then closes its sessions. Registrations in flight
    /// at that moment keep their lease and are delivered after it, by this or another instance.
    pub async fn run(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        loop {
            let woken = self.outbox.woken();
            self.dispatch().await;
            tokio::select! {
                () = woken => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = stopped.wait_for(|stop| *stop) => break,
            }
        }
        let pools: Vec<Pool> = lock(&self.pools).drain().map(|(_, (_, p))| p).collect();
        for pool in pools {
            pool.close().await;
        }
    }

    /// Starts a drain for every connection with due registrations that has none running.
    async fn dispatch(self: &Arc<Self>) {
        let due = match self.store().due_connections(now_ms()).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "cannot read the registration outbox");
                return;
            }
        };
        for key in due {
            if lock(&self.busy).insert(key.clone()) {
                tokio::spawn(Arc::clone(self).drain(key));
            }
        }
    }

    async fn drain(self: Arc<Self>, key: ConnectionKey) {
        loop {
            match self.round(&key).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    tracing::warn!(customer = key.0, connection = key.1, %error,
                        "registration delivery round failed");
                    break;
                }
            }
        }
        lock(&self.busy).remove(&key);
    }

    /// One batch of one connection; returns whether more may be due.
    async fn round(&self, (customer, name): &ConnectionKey) -> Result<bool, StoreError> {
        let connection = match self.store().nms_connection(customer, name).await {
            Ok(connection) => connection,
            // Removed meanwhile: its registrations went with it.
            Err(StoreError::NotFound { .. }) => return Ok(false),
            Err(error) => return Err(error),
        };
        if connection.policy == crate::domain::delivery::DeliveryPolicy::Off {
            return Ok(false);
        }
        let now = now_ms();
        let lease_until = now.saturating_add(millis(self.settings.lease()));
        let batch = self
            .store()
            .claim_registrations(customer, name, now, lease_until, self.settings.batch())
            .await?;
        let Some((first, rest)) = batch.split_first() else {
            return Ok(false);
        };
        let pool = match self.pool(&connection) {
            Ok(pool) => pool,
            Err(unusable) => {
                let error = unusable.to_string();
                self.connection_failed(&connection, &error, Failure::Other)
                    .await;
                for registration in &batch {
                    self.failed(&connection, registration, &error, Failure::Other)
                        .await?;
                }
                return Ok(true);
            }
        };

        match pool
            .upload(&first.file_name, first.content.as_bytes())
            .await
        {
            Ok(()) => {
                self.connection_healthy(&connection).await;
                self.delivered(&connection, first).await?;
            }
            Err(error) => {
                let failure = failure(&error);
                let error = error.to_string();
                self.connection_failed(&connection, &error, failure).await;
                for registration in &batch {
                    self.failed(&connection, registration, &error, failure)
                        .await?;
                }
                return Ok(true);
            }
        }

        let mut uploads = JoinSet::new();
        for registration in rest.iter().cloned() {
            let pool = pool.clone();
            uploads.spawn(async move {
                let result = pool
                    .upload(&registration.file_name, registration.content.as_bytes())
                    .await;
                (registration, result)
            });
        }
        while let Some(joined) = uploads.join_next().await {
            let Ok((registration, result)) = joined else {
                continue; // a panicked upload: its lease runs out and it is retried
            };
            match result {
                Ok(()) => self.delivered(&connection, &registration).await?,
                Err(error) => {
                    self.failed(
                        &connection,
                        &registration,
                        &error.to_string(),
                        failure(&error),
                    )
                    .await?;
                }
            }
        }
        Ok(true)
    }

    /// The connection's pool, made anew when its settings changed.
    fn pool(&self, connection: &NmsConnectionRecord) -> Result<Pool, super::UnusableConnection> {
        let key = (connection.customer.clone(), connection.name.clone());
        let mut pools = lock(&self.pools);
        if let Some((version, pool)) = pools.get(&key)
            && *version == connection.updated_at
        {
            return Ok(pool.clone());
        }
        let mut endpoint = super::endpoint(connection)?;
        endpoint.timeouts = self.settings.timeouts;
        let pool = Pool::new(endpoint, self.settings.max_sessions);
        if let Some((_, old)) = pools.insert(key, (connection.updated_at, pool.clone())) {
            tokio::spawn(async move { old.close().await });
        }
        Ok(pool)
    }

    async fn delivered(
        &self,
        connection: &NmsConnectionRecord,
        registration: &RegistrationRecord,
    ) -> Result<(), StoreError> {
        if !self
            .store()
            .registration_delivered(registration.id, registration.version)
            .await?
        {
            // The content changed while this version was on its way: the new one is due.
            self.outbox.wake();
            return Ok(());
        }
        self.outbox.announce_delivery();
        let detail = format!(
            "registration delivered to NMS {}/{} as {} (attempt {})",
            connection.customer, connection.name, registration.file_name, registration.attempts
        );
        tracing::info!(serial = registration.serial, "{detail}");
        self.record(
            EventKind::RegistrationDelivered,
            Some(&registration.serial),
            detail,
        )
        .await;
        Ok(())
    }

    async fn failed(
        &self,
        connection: &NmsConnectionRecord,
        registration: &RegistrationRecord,
        error: &str,
        failure: Failure,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let pending_for =
            Duration::from_millis(u64::try_from(now - registration.pending_since).unwrap_or(0));
        let attempts = u32::try_from(registration.attempts).unwrap_or(u32::MAX);
        let after = self
            .settings
            .schedule
            .after(failure, attempts, pending_for, jitter());
        let retry_at = match after {
            AfterFailure::RetryIn(wait) => Some(now.saturating_add(millis(wait))),
            AfterFailure::GiveUp => None,
        };
        self.store()
            .registration_failed(registration.id, registration.version, error, retry_at)
            .await?;
        tracing::debug!(
            serial = registration.serial,
            attempts,
            ?after,
            error,
            "delivery failed"
        );
        if retry_at.is_none() {
            let detail = format!(
                "registration with NMS {}/{} gave up after {} attempts over {}s: {error}",
                connection.customer,
                connection.name,
                registration.attempts,
                pending_for.as_secs()
            );
            tracing::error!(serial = registration.serial, "{detail}");
            self.record(
                EventKind::RegistrationDead,
                Some(&registration.serial),
                detail,
            )
            .await;
        }
        Ok(())
    }

    /// Records a connection-level failure; raises an event when it is news.
    async fn connection_failed(
        &self,
        connection: &NmsConnectionRecord,
        error: &str,
        failure: Failure,
    ) {
        let changed = self
            .store()
            .set_connection_health(&connection.customer, &connection.name, Err(error))
            .await;
        let address = format!("{}:{}", connection.host, connection.port);
        match changed {
            Ok(true) => {
                let (kind, consequence) = match failure {
                    Failure::HostKeyMismatch => (
                        EventKind::NmsHostKeyMismatch,
                        "nothing was sent; registrations stay queued until the pins or the \
                         server's key are corrected",
                    ),
                    Failure::Other => (EventKind::NmsFailing, "registrations stay queued"),
                };
                let detail = format!(
                    "NMS connection {}/{} ({address}): {error}; {consequence}",
                    connection.customer, connection.name
                );
                tracing::error!("{detail}");
                self.record(kind, None, detail).await;
            }
            Ok(false) => {
                tracing::debug!(
                    customer = connection.customer,
                    connection = connection.name,
                    error,
                    "NMS connection still failing"
                );
            }
            Err(e) => tracing::warn!(error = %e, "cannot record an NMS connection's health"),
        }
    }

    async fn connection_healthy(&self, connection: &NmsConnectionRecord) {
        match self
            .store()
            .set_connection_health(&connection.customer, &connection.name, Ok(()))
            .await
        {
            Ok(true) => {
                let detail = format!(
                    "NMS connection {}/{} delivers again",
                    connection.customer, connection.name
                );
                tracing::info!("{detail}");
                self.record(EventKind::NmsRecovered, None, detail).await;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "cannot record an NMS connection's health"),
        }
    }

    async fn record(&self, kind: EventKind, serial: Option<&str>, detail: String) {
        let event = NewEvent {
            serial: serial.map(str::to_owned),
            kind,
            status: None,
            peer: None,
            detail,
        };
        if let Err(error) = self.store().record(&event).await {
            tracing::error!(%error, "could not record an event");
        }
    }
}

fn failure(error: &SftpError) -> Failure {
    match error {
        SftpError::HostKeyMismatch { .. } => Failure::HostKeyMismatch,
        _ => Failure::Other,
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A uniform number in `[0, 1)` (retry jitter).
fn jitter() -> f64 {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 8];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        return 0.5;
    }
    // 53 random bits make every double in [0, 1) equally likely.
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_configuration_with_sane_floors() {
        let settings = CourierSettings::from(&NmsConfig {
            max_sessions: 0,
            retry_max_secs: 0,
            ..NmsConfig::default()
        });
        assert_eq!(settings.max_sessions, 1);
        assert_eq!(settings.batch(), 2);
        assert!(settings.schedule.max >= settings.schedule.initial);
        assert!(settings.lease() > settings.timeouts.operation * 6);
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
