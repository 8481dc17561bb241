//! The dispatcher: delivers the webhook deliveries queue of the [outbox](crate::store::outbox).
//!
//! Each round ([`Dispatcher::run_once`]) claims as many due deliveries as there are free slots
//! (`max_in_flight`), at most `max_in_flight_per_webhook` of one receiver and none of a receiver
//! still busy with earlier ones, and delivers each on its own task, so a slow receiver holds up
//! only its own. Each attempt is settled on its own: delivered, retried with backoff (the
//! receiver's other waiting deliveries wait as long), or a dead letter after the give-up time.
//! Leases, retry times and signatures' times are read from the dispatcher's [`Clock`].
//!
//! May import: the domain, the store, the configuration and the webhooks module.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::sender::Envelope;
use super::{EventBody, SendError, Sender, WebhookUrl, signature};
use crate::config::WebhooksConfig;
use crate::domain::clock::{Clock, SystemClock, millis};
use crate::domain::delivery::{Failure, Outcome, RetrySchedule, Settlement, jitter};
use crate::store::outbox::Attempt;
use crate::store::webhooks::{DueDelivery, WebhookRecord};
use crate::store::{Store, StoreError};
use crate::telemetry::metrics::{Delivery, DeliveryMetrics};

/// How the dispatcher works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatcherSettings {
    /// Time limit of one delivery.
    pub timeout: Duration,
    /// Deliveries at once.
    pub max_in_flight: usize,
    /// Deliveries at once to one receiver.
    pub max_in_flight_per_webhook: usize,
    /// When to retry, when to give up.
    pub schedule: RetrySchedule,
    /// How often to look for due deliveries.
    pub poll_interval: Duration,
    /// Whether receivers may have non-public addresses.
    pub allow_private_addresses: bool,
}

impl From<&WebhooksConfig> for DispatcherSettings {
    fn from(c: &WebhooksConfig) -> Self {
        Self {
            timeout: Duration::from_secs(c.timeout_secs.max(1)),
            max_in_flight: c.max_in_flight.max(1),
            max_in_flight_per_webhook: c.max_in_flight_per_webhook.max(1),
            schedule: RetrySchedule {
                initial: Duration::from_secs(c.retry_initial_secs.max(1)),
                max: Duration::from_secs(c.retry_max_secs.max(c.retry_initial_secs).max(1)),
                give_up_after: Duration::from_secs(c.give_up_after_secs),
            },
            poll_interval: Duration::from_millis(c.poll_interval_ms.max(10)),
            allow_private_addresses: c.allow_private_addresses,
        }
    }
}

/// Delivers webhook events: one [`run_once`](Self::run_once) per round, or
/// [`run`](Self::run) in the background.
#[derive(Debug)]
pub struct Dispatcher {
    store: Store,
    sender: Sender,
    settings: DispatcherSettings,
    /// What time it is (leases, retries, signatures).
    clock: Arc<dyn Clock>,
    slots: Arc<Semaphore>,
    /// Attempts by outcome.
    metrics: DeliveryMetrics,
}

/// A round whose deliveries are under way: each settles on its own task.
struct Round {
    claimed: usize,
    deliveries: JoinSet<Option<(Settlement, bool)>>,
}

impl Round {
    /// Waits for every delivery of the round to be attempted and settled.
    async fn finish(mut self) -> Outcome {
        let mut outcome = Outcome::default();
        while let Some(joined) = self.deliveries.join_next().await {
            match joined {
                Ok(Some((settlement, applied))) => outcome.count(settlement, applied),
                // Not settled (or panicked): its lease runs out and it is attempted again.
                Ok(None) | Err(_) => {
                    outcome.claimed += 1;
                    outcome.unsettled += 1;
                }
            }
        }
        // Claimed but not started (the slots ran out meanwhile): leased, attempted later.
        let started = outcome.claimed;
        outcome.claimed = self.claimed;
        outcome.unsettled += self.claimed.saturating_sub(started);
        outcome
    }
}

impl Dispatcher {
    /// A dispatcher of `store`'s webhook deliveries, on the system's clock.
    pub fn new(store: Store, settings: DispatcherSettings) -> Arc<Self> {
        Self::with_clock(store, settings, Arc::new(SystemClock))
    }

    /// [`Dispatcher::new`] on `clock` (a test's manual clock).
    pub fn with_clock(
        store: Store,
        settings: DispatcherSettings,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            sender: Sender::new(settings.timeout, settings.allow_private_addresses),
            settings,
            clock,
            slots: Arc::new(Semaphore::new(settings.max_in_flight)),
            metrics: DeliveryMetrics::webhooks(),
        })
    }

    /// What the dispatcher counts: its attempts by outcome.
    pub fn metrics(&self) -> &DeliveryMetrics {
        &self.metrics
    }

    /// Delivers until `stopped` turns true: starts a round (the deliveries it claimed go on, on
    /// their own tasks), then waits: not at all while it claims work and slots are free, else
    /// the poll interval. Deliveries in flight at the stop keep their lease and are attempted
    /// again after it (receivers drop repeats by the delivery id).
    pub async fn run(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        loop {
            let wait = match self.start_round().await {
                Ok(round) => {
                    let claimed = round.claimed;
                    tokio::spawn(round.finish());
                    if claimed > 0 && self.slots.available_permits() > 0 {
                        Duration::ZERO
                    } else {
                        self.settings.poll_interval
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "webhook outbox: cannot claim deliveries");
                    self.settings.poll_interval.max(Duration::from_secs(1))
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stopped.wait_for(|stop| *stop) => break,
            }
        }
    }

    /// One round: claims what the free slots allow, delivers it and returns when every
    /// delivery is settled, with what was claimed, delivered, retried and given up.
    pub async fn run_once(self: &Arc<Self>) -> Outcome {
        match self.start_round().await {
            Ok(round) => round.finish().await,
            Err(error) => {
                tracing::warn!(%error, "webhook outbox: cannot claim deliveries");
                Outcome::default()
            }
        }
    }

    /// Claims what the free slots allow and starts delivering it.
    async fn start_round(self: &Arc<Self>) -> Result<Round, StoreError> {
        let mut round = Round {
            claimed: 0,
            deliveries: JoinSet::new(),
        };
        let free = self.slots.available_permits();
        if free == 0 {
            return Ok(round);
        }
        let now = self.clock.now_ms();
        let lease = now.saturating_add(millis(self.lease()));
        let per_webhook = u32::try_from(self.settings.max_in_flight_per_webhook).unwrap_or(1);
        let limit = u32::try_from(free).unwrap_or(u32::MAX);
        let due = self
            .store
            .claim_webhook_deliveries(now, lease, per_webhook, limit)
            .await?;
        round.claimed = due.len();
        for delivery in due {
            let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
                break;
            };
            let this = Arc::clone(self);
            round.deliveries.spawn(async move {
                let settled = this.deliver(delivery).await;
                drop(slot);
                settled
            });
        }
        Ok(round)
    }

    /// The lease of a claimed delivery: twice its time limit.
    fn lease(&self) -> Duration {
        self.settings.timeout * 2 + Duration::from_secs(1)
    }

    /// Attempts one delivery and settles it; returns the settlement and whether it applied, or
    /// `None` when it was not settled (its subscription is gone, or the store failed).
    async fn deliver(&self, due: DueDelivery) -> Option<(Settlement, bool)> {
        let id = due.delivery.id;
        let hook = match self.store.webhook_by_id(due.delivery.webhook_id).await {
            Ok(Some(hook)) => hook,
            // Removed meanwhile: its deliveries went with it.
            Ok(None) => return None,
            Err(error) => {
                tracing::warn!(%error, delivery = id, "webhook delivery: cannot read its subscription");
                return None;
            }
        };
        let body = EventBody::of(&due);
        let result = self.send(&hook, &body).await;
        let now = self.clock.now_ms();
        let settlement = match &result {
            Ok(_) => Settlement::Delivered,
            Err(_) => self.settings.schedule.settle_failure(
                Failure::Other,
                due.delivery.attempts,
                due.delivery.pending_since,
                now,
                jitter(),
            ),
        };
        self.metrics.attempted(match settlement {
            Settlement::Delivered => Delivery::Delivered,
            Settlement::RetryAt(_) => Delivery::Retried,
            Settlement::Dead => Delivery::Dead,
        });
        let webhook = format!("{}/{}", hook.customer, hook.name);
        let error = result.as_ref().err().map(ToString::to_string);
        match &result {
            Ok(status) => {
                tracing::info!(
                    webhook,
                    delivery = id,
                    status,
                    "{} delivered",
                    body.event_type
                );
            }
            Err(error) => tracing::warn!(
                webhook,
                delivery = id,
                attempt = due.delivery.attempts,
                %error,
                "{} not delivered",
                body.event_type
            ),
        }
        let attempt = Attempt {
            id,
            settlement,
            error: error.as_deref(),
            version: None,
            status: match &result {
                Ok(status) => Some(*status),
                Err(error) => error.status(),
            },
        };
        match self
            .store
            .settle_webhook_delivery(hook.id, &attempt, now)
            .await
        {
            Ok(applied) => Some((settlement, applied)),
            Err(error) => {
                // The lease runs out and the delivery is attempted again.
                tracing::warn!(%error, delivery = id, "webhook delivery: cannot record the outcome");
                None
            }
        }
    }

    /// Signs and posts `body` to `hook`'s receiver.
    pub async fn send(&self, hook: &WebhookRecord, body: &EventBody) -> Result<u16, SendError> {
        let url = WebhookUrl::parse(&hook.url)?;
        let bytes = body.to_bytes();
        let signature = signature(&hook.secret, self.clock.now_ms() / 1000, &bytes);
        let envelope = Envelope {
            event_type: &body.event_type,
            delivery_id: body.id,
            signature: &signature,
        };
        self.sender
            .post(&url, hook.ca_pem.as_deref(), envelope, bytes)
            .await
    }
}

#[cfg(test)]
mod tests;
