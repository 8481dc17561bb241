use super::*;
use crate::domain::delivery::Settlement;
use crate::store::outbox::{Attempt, Health, Key};
use crate::store::testing::{add_device, new_customer, store};
use crate::store::{EventKind, NewEvent};

/// How an attempt of delivery `id` ended: delivered with `status`, or failed with `error`.
fn attempt(
    id: i64,
    settlement: Settlement,
    status: Option<u16>,
    error: Option<&str>,
) -> Attempt<'_> {
    Attempt {
        id,
        settlement,
        error,
        version: None,
        status,
    }
}

fn hook(name: &str, notices: &[Notice]) -> NewWebhook {
    NewWebhook {
        customer: "acme".into(),
        name: name.into(),
        url: "https://hooks.acme.example/ztp".into(),
        notices: notices.to_vec(),
        ca_pem: None,
        secret: "s3cret".into(),
        enabled: true,
    }
}

fn event(serial: &str, kind: EventKind, notice: Option<Notice>) -> NewEvent {
    NewEvent {
        serial: Some(ztp_certs::Serial::parse(serial).unwrap()),
        kind,
        status: None,
        peer: None,
        detail: "detail".into(),
        notice,
        request_id: None,
    }
}

/// Records `count` license shortages of SN-1, each raising its notice.
async fn record_shortages(store: &Store, count: usize) {
    for _ in 0..count {
        let shortage = event(
            "SN-1",
            EventKind::LicenseShortage,
            Some(Notice::LicenseShortage),
        );
        store.record(&shortage).await.unwrap();
    }
}

/// Claims what is due now, leased for a minute: up to `per_webhook` of each subscription
/// and `limit` in all.
async fn claim_due(store: &Store, per_webhook: u32, limit: u32) -> Vec<DueDelivery> {
    let now = now_ms();
    store
        .claim_webhook_deliveries(now, now + 60_000, per_webhook, limit)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_event_the_journal_records_queues_its_delivery_naming_that_event() {
    let (store, _dir) = store().await;
    store.insert_customer(&new_customer("acme")).await.unwrap();
    add_device(&store, "SN-1", "acme").await;
    store
        .insert_webhook(&hook("all", &Notice::ALL))
        .await
        .unwrap();
    let journal = crate::store::journal::Journal::start(&store);
    let registered = Some(Notice::RegisteredInNms);
    for kind in [EventKind::BootstrapServed, EventKind::RegistrationDelivered] {
        let notice = registered.filter(|_| kind == EventKind::RegistrationDelivered);
        journal.record(event("SN-1", kind, notice)).await.unwrap();
    }
    let event_id: i64 =
        sqlx::query_scalar("SELECT id FROM events WHERE kind = 'registration-delivered'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    let due = claim_due(&store, 4, 10).await;
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].delivery.event_id, event_id);
}

#[tokio::test]
async fn an_event_queues_a_delivery_for_each_subscription_that_asked() {
    let (store, _dir) = store().await;
    store.insert_customer(&new_customer("acme")).await.unwrap();
    store.insert_customer(&new_customer("other")).await.unwrap();
    for (serial, customer) in [("SN-1", "acme"), ("SN-2", "other")] {
        add_device(&store, serial, customer).await;
    }
    let all = store
        .insert_webhook(&hook("all", &Notice::ALL))
        .await
        .unwrap();
    let shortages = store
        .insert_webhook(&hook("shortages", &[Notice::LicenseShortage]))
        .await
        .unwrap();
    let mut off = hook("off", &Notice::ALL);
    off.enabled = false;
    store.insert_webhook(&off).await.unwrap();
    assert_eq!(all.secret, "s3cret", "the secret opens");

    let registered = Some(Notice::RegisteredInNms);
    store
        .record(&event("SN-1", EventKind::RegistrationDelivered, registered))
        .await
        .unwrap();
    store
        .record(&event("SN-2", EventKind::RegistrationDelivered, registered))
        .await
        .unwrap();
    store
        .record(&event("SN-1", EventKind::BootstrapServed, None))
        .await
        .unwrap();

    let counts = |id| {
        let store = store.clone();
        async move { store.webhook_health(id).await.unwrap().counts() }
    };
    assert_eq!(counts(all.id).await, (1, 0, 0), "acme's device only");
    assert_eq!(counts(shortages.id).await, (0, 0, 0), "not subscribed");

    let due = claim_due(&store, 4, 10).await;
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].customer.as_str(), due[0].serial.as_str()),
        ("acme", "SN-1")
    );
    assert!(claim_due(&store, 4, 10).await.is_empty(), "leased");
    let id = due[0].delivery.id;
    let failed = attempt(id, Settlement::Dead, Some(500), Some("HTTP 500"));
    store
        .settle_webhook_delivery(all.id, &failed, now_ms())
        .await
        .unwrap();
    assert_eq!(counts(all.id).await, (0, 0, 1), "a dead letter");
    let health = store.webhook_health(all.id).await.unwrap();
    assert_eq!(health.last_error.as_deref(), Some("HTTP 500"));

    assert_eq!(
        store.retry_webhook_deliveries(all.id, None).await.unwrap(),
        1
    );
    let due = claim_due(&store, 4, 10).await;
    assert_eq!(due[0].delivery.attempts, 2);
    let delivered = attempt(id, Settlement::Delivered, Some(204), None);
    store
        .settle_webhook_delivery(all.id, &delivered, now_ms())
        .await
        .unwrap();
    assert_eq!(counts(all.id).await, (0, 1, 0));
    let health = store.webhook_health(all.id).await.unwrap();
    assert_eq!(health.last_error, None);
    assert!(health.last_delivery_at.is_some());
    assert!(matches!(
        store.retry_webhook_deliveries(all.id, Some(9999)).await,
        Err(StoreError::NotFound { .. })
    ));

    store.delete_webhook("acme", "all").await.unwrap();
    assert!(matches!(
        store.webhook("acme", "all").await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_delivered_registration_notifies_in_the_same_transaction_as_its_settlement() {
    let (store, _dir) = store().await;
    store.insert_customer(&new_customer("acme")).await.unwrap();
    add_device(&store, "SN-1", "acme").await;
    let hook = store
        .insert_webhook(&hook("nms", &[Notice::RegisteredInNms]))
        .await
        .unwrap();
    let main = [Key::Text("acme"), Key::Text("main")];
    let health = Health {
        receiver: &main,
        error: None,
        event: Some(event("SN-1", EventKind::NmsRecovered, None)),
    };
    let delivered = event(
        "SN-1",
        EventKind::RegistrationDelivered,
        Notice::of(EventKind::RegistrationDelivered, None),
    );
    store
        .settle_registrations(&[], &[delivered], &health, now_ms())
        .await
        .unwrap();
    assert_eq!(
        store.webhook_health(hook.id).await.unwrap().counts(),
        (1, 0, 0)
    );
    let due = store
        .claim_webhook_deliveries(now_ms(), now_ms() + 1000, 4, 10)
        .await
        .unwrap();
    assert_eq!(due[0].delivery.notice, Notice::RegisteredInNms);
}

#[tokio::test]
async fn a_claim_takes_a_few_of_each_subscription_so_one_backlog_does_not_starve_others() {
    let (store, _dir) = store().await;
    store.insert_customer(&new_customer("acme")).await.unwrap();
    add_device(&store, "SN-1", "acme").await;
    let busy = store
        .insert_webhook(&hook("busy", &[Notice::LicenseShortage]))
        .await
        .unwrap();
    record_shortages(&store, 10).await;
    let quiet = store
        .insert_webhook(&hook("quiet", &[Notice::LicenseShortage]))
        .await
        .unwrap();
    store
        .record(&event(
            "SN-1",
            EventKind::LicenseShortage,
            Some(Notice::LicenseShortage),
        ))
        .await
        .unwrap();
    let due = claim_due(&store, 3, 100).await;
    let of = |id| due.iter().filter(|d| d.delivery.webhook_id == id).count();
    assert_eq!((of(busy.id), of(quiet.id)), (3, 1));

    // A receiver that fails gets none of its other deliveries before the failed one's
    // retry: they wait as long.
    let retry_at = now_ms() + 60_000;
    for d in due.iter().filter(|d| d.delivery.webhook_id == busy.id) {
        let failed = attempt(
            d.delivery.id,
            Settlement::RetryAt(retry_at),
            None,
            Some("connection refused"),
        );
        store
            .settle_webhook_delivery(busy.id, &failed, now_ms())
            .await
            .unwrap();
    }
    let later = now_ms() + 1_000;
    let due = store
        .claim_webhook_deliveries(later, later + 60_000, 3, 100)
        .await
        .unwrap();
    assert!(
        due.iter().all(|d| d.delivery.webhook_id != busy.id),
        "the failing receiver's backlog waits"
    );
    assert_eq!(
        store.webhook_health(busy.id).await.unwrap().counts(),
        (11, 0, 0),
        "all still pending"
    );
}

#[tokio::test]
async fn concurrent_claims_never_hold_more_of_one_receiver_than_its_bound_together() {
    let (store, _dir) = store().await;
    store.insert_customer(&new_customer("acme")).await.unwrap();
    add_device(&store, "SN-1", "acme").await;
    store
        .insert_webhook(&hook("one-at-a-time", &[Notice::LicenseShortage]))
        .await
        .unwrap();
    record_shortages(&store, 4).await;
    // Two workers (as two instances would, on connections of their own) claim at once, again
    // and again: one attempt at a time reaches the receiver whichever claims it.
    for round in 0..40 {
        let now = now_ms();
        let lease = now + 60_000;
        let claim = || store.claim_webhook_deliveries(now, lease, 1, 10);
        let (a, b) = tokio::join!(claim(), claim());
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.len() + b.len(), 1, "round {round}: {a:?} {b:?}");
        let held: Vec<(i64, i64)> = a.iter().chain(&b).map(|d| (d.delivery.id, lease)).collect();
        let released = store
            .release(&crate::store::outbox::WEBHOOK_DELIVERIES, &held)
            .await
            .unwrap();
        assert_eq!(released, 1);
    }
}
