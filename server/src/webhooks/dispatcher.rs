//! The dispatcher: delivers the webhook outbox.
//!
//! Each round claims as many due deliveries as there are free slots (`max_in_flight`), at most
//! `max_in_flight_per_webhook` of one receiver and none of a receiver still busy with earlier
//! ones, and delivers each on its own task, so a slow receiver holds up only its own. Each
//! attempt is settled on its own: delivered, retried with backoff (the receiver's other
//! waiting deliveries wait as long), or a dead letter after the give-up time.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};

use super::sender::Envelope;
use super::{EventBody, SendError, Sender, WebhookUrl, signature};
use crate::config::WebhooksConfig;
use crate::domain::delivery::{AfterFailure, Failure, RetrySchedule, jitter};
use crate::store::webhooks::{DeliveryOutcome, DueDelivery, WebhookRecord};
use crate::store::{Store, now_ms};

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

/// Delivers webhook events.
#[derive(Debug)]
pub struct Dispatcher {
    store: Store,
    sender: Sender,
    settings: DispatcherSettings,
    slots: Arc<Semaphore>,
}

impl Dispatcher {
    /// A dispatcher of `store`'s webhook outbox.
    pub fn new(store: Store, settings: DispatcherSettings) -> Arc<Self> {
        Arc::new(Self {
            store,
            sender: Sender::new(settings.timeout, settings.allow_private_addresses),
            settings,
            slots: Arc::new(Semaphore::new(settings.max_in_flight)),
        })
    }

    /// Delivers until `stopped` turns true. Deliveries in flight then keep their lease and
    /// are attempted again after it (receivers drop repeats by the delivery id).
    pub async fn run(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        loop {
            let wait = match self.round().await {
                Ok(claimed) if claimed > 0 && self.slots.available_permits() > 0 => Duration::ZERO,
                Ok(_) => self.settings.poll_interval,
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

    /// Claims what the free slots allow and starts delivering it; returns how many.
    async fn round(self: &Arc<Self>) -> Result<usize, crate::store::StoreError> {
        let free = self.slots.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let now = now_ms();
        let lease = now + millis(self.lease());
        let per_webhook = u32::try_from(self.settings.max_in_flight_per_webhook).unwrap_or(1);
        let due = self
            .store
            .claim_webhook_deliveries(
                now,
                lease,
                per_webhook,
                u32::try_from(free).unwrap_or(u32::MAX),
            )
            .await?;
        let claimed = due.len();
        for delivery in due {
            let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
                break;
            };
            let this = Arc::clone(self);
            tokio::spawn(async move {
                this.deliver(delivery).await;
                drop(slot);
            });
        }
        Ok(claimed)
    }

    /// The lease of a claimed delivery: twice its time limit.
    fn lease(&self) -> Duration {
        self.settings.timeout * 2 + Duration::from_secs(1)
    }

    async fn deliver(&self, due: DueDelivery) {
        let id = due.delivery.id;
        let hook = match self.store.webhook_by_id(due.delivery.webhook_id).await {
            Ok(Some(hook)) => hook,
            // Removed meanwhile: its deliveries went with it.
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, delivery = id, "webhook delivery: cannot read its subscription");
                return;
            }
        };
        let body = EventBody::of(&due);
        let result = self.send(&hook, &body).await;
        let outcome = match &result {
            Ok(status) => DeliveryOutcome::Delivered { status: *status },
            Err(error) => {
                let now = now_ms();
                let pending_for = Duration::from_millis(
                    u64::try_from(now - due.delivery.pending_since).unwrap_or(0),
                );
                let attempts = u32::try_from(due.delivery.attempts).unwrap_or(u32::MAX);
                let retry_at = match self.settings.schedule.after(
                    Failure::Other,
                    attempts,
                    pending_for,
                    jitter(),
                ) {
                    AfterFailure::RetryIn(wait) => Some(now + millis(wait)),
                    AfterFailure::GiveUp => None,
                };
                DeliveryOutcome::Failed {
                    status: error.status(),
                    error: error.to_string(),
                    retry_at,
                }
            }
        };
        match &result {
            Ok(status) => tracing::info!(
                webhook = %format_args!("{}/{}", hook.customer, hook.name),
                delivery = id,
                status,
                "{} delivered",
                body.event_type
            ),
            Err(error) => tracing::warn!(
                webhook = %format_args!("{}/{}", hook.customer, hook.name),
                delivery = id,
                attempt = due.delivery.attempts,
                %error,
                "{} not delivered",
                body.event_type
            ),
        }
        if let Err(error) = self.store.settle_webhook_delivery(id, &outcome).await {
            // The lease runs out and the delivery is attempted again.
            tracing::warn!(%error, delivery = id, "webhook delivery: cannot record the outcome");
        }
    }

    /// Signs and posts `body` to `hook`'s receiver.
    pub async fn send(&self, hook: &WebhookRecord, body: &EventBody) -> Result<u16, SendError> {
        let url = WebhookUrl::parse(&hook.url)?;
        let bytes = body.to_bytes();
        let signature = signature(&hook.secret, now_ms() / 1000, &bytes);
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

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_have_sane_floors() {
        let settings = DispatcherSettings::from(&WebhooksConfig {
            max_in_flight: 0,
            max_in_flight_per_webhook: 0,
            retry_max_secs: 0,
            ..WebhooksConfig::default()
        });
        assert_eq!(settings.max_in_flight, 1);
        assert_eq!(settings.max_in_flight_per_webhook, 1);
        assert!(settings.schedule.max >= settings.schedule.initial);
        assert!(!settings.allow_private_addresses, "refused by default");
    }
}
