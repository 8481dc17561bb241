//! The courier: delivers queued registrations to NMSes over SFTP.
//!
//! [`Courier::run_once`] is one round: for every NMS connection with due registrations and no
//! round running, it claims a batch (leased in the [outbox](crate::store::outbox)), uploads it
//! concurrently over the connection's bounded pool of sessions and settles the results, with
//! their events, in one transaction; each connection's round runs on its own task, so a slow
//! or unreachable NMS only ever delays its own customer's devices. [`Courier::run`] starts a
//! round, then waits (for a wake-up, the poll interval or the stop); a round that claimed
//! something wakes it again, until the connection is drained. Leases, retry times and give-up
//! times are read from the courier's [`Clock`]. A connection whose
//! last round failed gets one registration first; if that fails too, the rest of the batch is
//! rescheduled with the same error without knocking on the NMS again. A connection's health
//! changes (failing, host key mismatch, recovered) are recorded as events once per change,
//! never once per attempt. Every connection is to an address the NMS [host
//! policy](super::host_policy) allows; a refused one fails the round like an unreachable NMS.
//!
//! May import: the domain, the store, the configuration and the address policy.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use ztp_certs::Serial;

use tokio::sync::watch;
use tokio::task::JoinSet;
use ztp_nms_connector::{AddressFilter, Error as SftpError, Pool, Timeouts};

use super::registrar::Registrar;
use crate::address_policy::AddressPolicy;
use crate::config::NmsConfig;
use crate::domain::clock::{Clock, millis};
use crate::domain::delivery::{
    DeliveryPolicy, Failure, Outcome, RetrySchedule, Settlement, jitter,
};
use crate::domain::notice::Notice;
use crate::store::outbox::{Attempt, Health, Key};
use crate::store::{
    EventKind, NewEvent, NmsConnectionRecord, RegistrationRecord, Store, StoreError,
};
use crate::telemetry::metrics::{Delivery, DeliveryMetrics};

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
        u32::try_from(self.max_sessions * UPLOADS_PER_SESSION).unwrap_or(u32::MAX)
    }

    /// How long a claimed batch is leased: twice the longest a single upload may take (a
    /// connection, authentication and a handful of SFTP requests). A courier that dies
    /// mid-round delays its batch by at most this. A round that outlasts its lease is harmless:
    /// this instance claims nothing of the connection until the round is settled, and another
    /// instance that claims the rows writes the same names and contents, and settles only
    /// what is still pending.
    fn lease(&self) -> Duration {
        let t = self.timeouts;
        (t.connect * 2 + t.auth + t.operation * 6) * 2
    }
}

type ConnectionKey = (String, String);

/// Uploads per session in one round: enough that the round's two database transactions
/// (claim, settle) are a small part of it. Registrations are settled when their round ends, so
/// this also bounds how long a delivered registration waits to be marked delivered.
const UPLOADS_PER_SESSION: usize = 16;

/// Delivers registrations: one [`run_once`](Self::run_once) per round, or [`run`](Self::run)
/// in the background.
pub struct Courier {
    registrar: Arc<Registrar>,
    settings: CourierSettings,
    /// What time it is (leases, retries, give-up): the registrar's clock.
    clock: Arc<dyn Clock>,
    /// The addresses NMS hosts may have.
    address_filter: AddressFilter,
    /// One pool per connection, rebuilt when the connection's settings change.
    pools: Mutex<HashMap<ConnectionKey, (i64, Pool)>>,
    /// Connections being drained now.
    busy: Mutex<HashSet<ConnectionKey>>,
    /// Connections whose last round failed entirely.
    failing: Mutex<HashSet<ConnectionKey>>,
    /// Registrations claimed and not yet settled, with the end of their lease: released when
    /// the courier stops, so that a graceful restart delivers them at once.
    claimed: Mutex<HashMap<i64, i64>>,
    /// Attempts by outcome.
    metrics: DeliveryMetrics,
}

impl std::fmt::Debug for Courier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Courier")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Courier {
    /// A courier for `registrar` that connects only to the addresses `hosts` allows. It reads the
    /// time from the registrar's clock.
    pub fn new(
        registrar: Arc<Registrar>,
        settings: CourierSettings,
        hosts: &AddressPolicy,
    ) -> Arc<Self> {
        Arc::new(Self {
            clock: Arc::clone(registrar.clock()),
            registrar,
            settings,
            address_filter: super::address_filter(hosts),
            pools: Mutex::new(HashMap::new()),
            busy: Mutex::new(HashSet::new()),
            failing: Mutex::new(HashSet::new()),
            claimed: Mutex::new(HashMap::new()),
            metrics: DeliveryMetrics::nms(),
        })
    }

    /// What the courier counts: its attempts by outcome.
    pub fn metrics(&self) -> &DeliveryMetrics {
        &self.metrics
    }

    fn store(&self) -> &Store {
        self.registrar.store()
    }

    /// Delivers until `stopped` turns true: starts a round ([`run_once`](Self::run_once), on
    /// its own task), then waits for a wake-up, the poll interval or the stop. Then closes its
    /// sessions and releases the registrations in flight at that moment: due again at once, for
    /// the next start or another instance, instead of at the end of their lease. (A courier
    /// that is killed cannot: its registrations wait for their lease to end.)
    pub async fn run(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        loop {
            let woken = self.registrar.woken();
            let this = Arc::clone(&self);
            tokio::spawn(async move { this.run_once().await });
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
        let held: Vec<(i64, i64)> = lock(&self.claimed).drain().collect();
        if !held.is_empty() {
            match self.store().release_registrations(&held).await {
                Ok(released) => {
                    tracing::info!(released, "released the registrations in flight at the stop");
                }
                Err(error) => {
                    tracing::warn!(%error, "could not release the registrations in flight; \
                        they are due again when their lease ends");
                }
            }
        }
    }

    /// One round: a batch of every connection with registrations due now and no round of this
    /// courier running, all connections at once; returns when every batch is settled, with
    /// what they claimed, delivered, retried and gave up. A connection whose batch was not
    /// empty may have more due: the courier's [`run`](Self::run) loop is woken for it.
    pub async fn run_once(self: &Arc<Self>) -> Outcome {
        let due = match self.store().due_connections(self.clock.now_ms()).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "cannot read the registration outbox");
                return Outcome::default();
            }
        };
        let mut rounds = JoinSet::new();
        for key in due {
            if !lock(&self.busy).insert(key.clone()) {
                continue;
            }
            let this = Arc::clone(self);
            rounds.spawn(async move {
                // Marked idle again however this ends, even by a panic.
                let idle = Idle {
                    courier: &this,
                    key: &key,
                };
                let outcome = this.round(&key).await;
                drop(idle);
                match outcome {
                    Ok(outcome) if !outcome.is_idle() => this.registrar.wake(),
                    Ok(_) => {}
                    Err(ref error) => {
                        tracing::warn!(customer = key.0, connection = key.1, %error,
                            "registration delivery round failed");
                    }
                }
                outcome.unwrap_or_default()
            });
        }
        let mut outcome = Outcome::default();
        while let Some(joined) = rounds.join_next().await {
            outcome = outcome.merge(joined.unwrap_or_default());
        }
        outcome
    }

    /// One batch of one connection: claimed, uploaded and settled.
    async fn round(&self, key: &ConnectionKey) -> Result<Outcome, StoreError> {
        let (customer, name) = key;
        let connection = match self.store().nms_connection(customer, name).await {
            Ok(connection) => connection,
            // Removed meanwhile: its registrations went with it.
            Err(StoreError::NotFound { .. }) => return Ok(Outcome::default()),
            Err(error) => return Err(error),
        };
        if connection.policy == DeliveryPolicy::Off {
            return Ok(Outcome::default());
        }
        let now = self.clock.now_ms();
        let lease_until = now.saturating_add(millis(self.settings.lease()));
        let batch = self
            .store()
            .claim_registrations(customer, name, now, lease_until, self.settings.batch())
            .await?;
        if batch.is_empty() {
            return Ok(Outcome::default());
        }
        lock(&self.claimed).extend(batch.iter().map(|r| (r.id, lease_until)));
        let claimed = batch.len();
        let (results, failed) = match self.pool(&connection) {
            Ok(pool) => self.upload_all(key, &pool, batch).await,
            Err(unusable) => {
                let failed = (unusable.to_string(), Failure::Other);
                let results = batch
                    .into_iter()
                    .map(|r| (r, Err(failed.clone())))
                    .collect();
                (results, Some(failed))
            }
        };
        let mut outcome = self.settle(&connection, results, failed).await?;
        // Uploads that panicked are not settled: their lease runs out and they are tried again.
        outcome.unsettled += claimed - outcome.claimed;
        outcome.claimed = claimed;
        Ok(outcome)
    }

    /// Uploads a claimed batch; returns each registration's result and the error that failed
    /// the whole batch, if one did.
    async fn upload_all(
        &self,
        key: &ConnectionKey,
        pool: &Pool,
        batch: Vec<RegistrationRecord>,
    ) -> (
        Vec<(RegistrationRecord, Attempted)>,
        Option<(String, Failure)>,
    ) {
        // A connection that failed last time gets one registration first: if it still fails,
        // the rest of the batch is rescheduled without knocking on the NMS again.
        let mut batch = batch.into_iter();
        let mut results = Vec::new();
        if lock(&self.failing).contains(key)
            && let Some(first) = batch.next()
        {
            let result = upload(pool, &first).await;
            if let Err(failed) = result.clone() {
                results.push((first, result));
                results.extend(batch.map(|r| (r, Err(failed.clone()))));
                return (results, Some(failed));
            }
            results.push((first, result));
        }
        let mut uploads = JoinSet::new();
        for registration in batch {
            let pool = pool.clone();
            uploads.spawn(async move {
                let result = upload(&pool, &registration).await;
                (registration, result)
            });
        }
        while let Some(joined) = uploads.join_next().await {
            if let Ok(done) = joined {
                results.push(done);
            }
        }
        // The connection failed if nothing went through; single failures beside deliveries are
        // the files' own.
        let failed = if results.iter().all(|(_, r)| r.is_err()) {
            results.iter().find_map(|(_, r)| r.clone().err())
        } else {
            None
        };
        (results, failed)
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
        endpoint.address_filter = self.address_filter.clone();
        let pool = Pool::new(endpoint, self.settings.max_sessions);
        if let Some((_, old)) = pools.insert(key, (connection.updated_at, pool.clone())) {
            tokio::spawn(async move { old.close().await });
        }
        Ok(pool)
    }

    /// Records a round's results, their events and the connection's health (`failed`: the
    /// error that failed the whole round) in one transaction; returns what they came to.
    async fn settle(
        &self,
        connection: &NmsConnectionRecord,
        results: Vec<(RegistrationRecord, Attempted)>,
        failed: Option<(String, Failure)>,
    ) -> Result<Outcome, StoreError> {
        let key = (connection.customer.clone(), connection.name.clone());
        {
            let mut claimed = lock(&self.claimed);
            for (registration, _) in &results {
                claimed.remove(&registration.id);
            }
        }
        if failed.is_some() {
            lock(&self.failing).insert(key);
        } else {
            lock(&self.failing).remove(&key);
        }
        let now = self.clock.now_ms();
        let mut attempts = Vec::with_capacity(results.len());
        let mut events = Vec::new();
        for (registration, result) in &results {
            let (settlement, event) = self.settlement(connection, registration, result, now);
            attempts.push(Attempt {
                id: registration.id,
                settlement,
                error: result.as_ref().err().map(|(error, _)| error.as_str()),
                version: Some(registration.version),
                status: None,
            });
            events.extend(event);
        }
        let receiver = [Key::Text(&connection.customer), Key::Text(&connection.name)];
        let health = health(connection, &receiver, failed.as_ref());
        let settled = self
            .store()
            .settle_registrations(&attempts, &events, &health, now)
            .await?;
        if settled.health_changed
            && let Some(event) = &health.event
        {
            match health.error {
                Some(_) => tracing::error!("{}", event.detail),
                None => tracing::info!("{}", event.detail),
            }
        }
        let mut outcome = Outcome::default();
        for (attempt, applied) in attempts.iter().zip(settled.applied) {
            outcome.count(attempt.settlement, applied);
            self.metrics.attempted(match attempt.settlement {
                Settlement::Delivered => Delivery::Delivered,
                Settlement::RetryAt(_) => Delivery::Retried,
                Settlement::Dead => Delivery::Dead,
            });
        }
        if outcome.unsettled > 0 {
            // The content changed while the old version was on its way: the new one is due now.
            self.registrar.wake();
        }
        if outcome.delivered > 0 {
            tracing::info!(
                customer = connection.customer,
                connection = connection.name,
                delivered = outcome.delivered,
                "registrations delivered"
            );
            self.registrar.announce_delivery();
        }
        Ok(outcome)
    }

    /// Where an attempt at `now` leaves a registration, and the event it raises (a delivery, or
    /// the end of retries).
    fn settlement(
        &self,
        connection: &NmsConnectionRecord,
        registration: &RegistrationRecord,
        result: &Attempted,
        now: i64,
    ) -> (Settlement, Option<NewEvent>) {
        let nms = format!("NMS {}/{}", connection.customer, connection.name);
        let Err((error, failure)) = result else {
            let detail = format!(
                "registration delivered to {nms} as {} (attempt {})",
                registration.file_name, registration.attempts
            );
            let event = event(
                EventKind::RegistrationDelivered,
                &registration.serial,
                detail,
            );
            return (Settlement::Delivered, Some(event));
        };
        let settlement = self.settings.schedule.settle_failure(
            *failure,
            registration.attempts,
            registration.pending_since,
            now,
            jitter(),
        );
        tracing::debug!(
            serial = registration.serial,
            attempts = registration.attempts,
            ?settlement,
            error,
            "delivery failed"
        );
        if settlement != Settlement::Dead {
            return (settlement, None);
        }
        let pending_for = (now - registration.pending_since).max(0) / 1000;
        let detail = format!(
            "registration with {nms} gave up after {} attempts over {pending_for}s: {error}",
            registration.attempts
        );
        tracing::error!(serial = registration.serial, "{detail}");
        let event = event(EventKind::RegistrationDead, &registration.serial, detail);
        (settlement, Some(event))
    }
}

/// Takes a connection off the busy list when dropped.
struct Idle<'a> {
    courier: &'a Courier,
    key: &'a ConnectionKey,
}

impl Drop for Idle<'_> {
    fn drop(&mut self) {
        lock(&self.courier.busy).remove(self.key);
    }
}

/// How one upload ended: `Err` carries the error text and its kind.
type Attempted = Result<(), (String, Failure)>;

async fn upload(pool: &Pool, registration: &RegistrationRecord) -> Attempted {
    pool.upload(&registration.file_name, registration.content.as_bytes())
        .await
        .map_err(|error| {
            let failure = match error {
                SftpError::HostKeyMismatch { .. } => Failure::HostKeyMismatch,
                _ => Failure::Other,
            };
            (error.to_string(), failure)
        })
}

/// The connection's health after a round, with the event to record if it is news.
fn health<'a>(
    connection: &NmsConnectionRecord,
    receiver: &'a [Key<'a>],
    failed: Option<&'a (String, Failure)>,
) -> Health<'a> {
    let name = format!("NMS connection {}/{}", connection.customer, connection.name);
    let (kind, detail) = match failed {
        None => (EventKind::NmsRecovered, format!("{name} delivers again")),
        Some((error, failure)) => {
            let (kind, consequence) = match failure {
                Failure::HostKeyMismatch => (
                    EventKind::NmsHostKeyMismatch,
                    "nothing was sent; registrations stay queued until the pins or the \
                     server's key are corrected",
                ),
                Failure::Other => (EventKind::NmsFailing, "registrations stay queued"),
            };
            let address = format!("{}:{}", connection.host, connection.port);
            (kind, format!("{name} ({address}): {error}; {consequence}"))
        }
    };
    Health {
        receiver,
        error: failed.map(|(error, _)| error.as_str()),
        event: Some(NewEvent {
            serial: None,
            kind,
            status: None,
            peer: None,
            detail,
            notice: None,
            request_id: None,
        }),
    }
}

fn event(kind: EventKind, serial: &str, detail: String) -> NewEvent {
    NewEvent {
        serial: Serial::parse(serial).ok(),
        kind,
        status: None,
        peer: None,
        detail,
        notice: Notice::of(kind, None),
        request_id: None,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
