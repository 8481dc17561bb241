use super::*;
use crate::domain::delivery::{DeliveryPolicy, Settlement};
use crate::store::NmsConnectionRecord;
use crate::store::testing::{new_customer, store};

async fn with_connection() -> (Store, crate::store::testing::Scratch) {
    let (store, dir) = store().await;
    store.insert_customer(&new_customer("acme")).await.unwrap();
    store
        .put_nms_connection(&NmsConnectionRecord {
            customer: "acme".into(),
            name: "main".into(),
            host: "127.0.0.1".into(),
            port: 22,
            username: "ztp".into(),
            password: Some("secret".into()),
            private_key_pem: None,
            pins: vec!["SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s".into()],
            directory: "incoming".into(),
            policy: DeliveryPolicy::NmsFirst,
            created_at: 0,
            updated_at: 0,
        })
        .await
        .unwrap();
    (store, dir)
}

fn delivered(id: i64, version: i64) -> Attempt<'static> {
    Attempt {
        id,
        settlement: Settlement::Delivered,
        error: None,
        version: Some(version),
        status: None,
    }
}

fn failed(id: i64, error: &str, retry_at: Option<i64>) -> Attempt<'_> {
    Attempt {
        id,
        settlement: retry_at.map_or(Settlement::Dead, Settlement::RetryAt),
        error: Some(error),
        version: Some(1),
        status: None,
    }
}

const MAIN: [Key<'static>; 2] = [Key::Text("acme"), Key::Text("main")];

fn health(error: Option<&str>) -> Health<'_> {
    Health {
        receiver: &MAIN,
        error,
        event: Some(NewEvent {
            serial: None,
            kind: crate::store::EventKind::NmsFailing,
            status: None,
            peer: None,
            detail: format!("{error:?}"),
            notice: None,
            request_id: None,
        }),
    }
}

async fn settle(store: &Store, attempt: Attempt<'_>) -> Vec<bool> {
    store
        .settle_registrations(&[attempt], &[], &health(None), now_ms())
        .await
        .unwrap()
        .applied
}

fn new(serial: &str, content: &str) -> NewRegistration {
    NewRegistration {
        serial: Serial::parse(serial).unwrap(),
        customer: "acme".into(),
        connection: "main".into(),
        file_name: format!("{serial}.xml"),
        content: content.into(),
    }
}

#[tokio::test]
async fn the_same_content_is_queued_once_and_new_content_is_queued_again() {
    let (store, _dir) = with_connection().await;
    let first = store
        .put_registration(&new("SN-1", "<a/>"), now_ms())
        .await
        .unwrap();
    assert_eq!(
        (first.state, first.version),
        (RegistrationState::Pending, 1)
    );

    let claimed = store
        .claim_registrations("acme", "main", now_ms(), now_ms() + 60_000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(settle(&store, delivered(first.id, 1)).await, [true]);

    let again = store
        .put_registration(&new("SN-1", "<a/>"), now_ms())
        .await
        .unwrap();
    assert_eq!(
        (again.id, again.state, again.version),
        (first.id, RegistrationState::Delivered, 1),
        "the same content: nothing to deliver"
    );
    let changed = store
        .put_registration(&new("SN-1", "<b/>"), now_ms())
        .await
        .unwrap();
    assert_eq!(
        (changed.id, changed.state, changed.version, changed.attempts),
        (first.id, RegistrationState::Pending, 2, 0)
    );
}

#[tokio::test]
async fn a_released_claim_is_due_at_once_and_a_settled_one_is_not_touched() {
    let (store, _dir) = with_connection().await;
    let a = store
        .put_registration(&new("SN-1", "<a/>"), now_ms())
        .await
        .unwrap();
    let b = store
        .put_registration(&new("SN-2", "<b/>"), now_ms())
        .await
        .unwrap();
    let now = now_ms();
    let lease = now + 600_000;
    let claimed = store
        .claim_registrations("acme", "main", now, lease, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(settle(&store, delivered(b.id, 1)).await, [true]);
    let released = store
        .release_registrations(&[(a.id, lease), (b.id, lease), (a.id + 99, lease)])
        .await
        .unwrap();
    assert_eq!(released, 1, "only the pending one under its lease");
    let again = store
        .claim_registrations("acme", "main", now, now + 60_000, 10)
        .await
        .unwrap();
    assert_eq!(again.iter().map(|r| r.id).collect::<Vec<_>>(), [a.id]);
    // A lease that changed meanwhile (claimed anew) is not released by the old one.
    assert_eq!(
        store.release_registrations(&[(a.id, lease)]).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn a_claim_leases_rows_and_a_stale_version_is_not_marked_delivered() {
    let (store, _dir) = with_connection().await;
    let r = store
        .put_registration(&new("SN-1", "<a/>"), now_ms())
        .await
        .unwrap();
    let now = now_ms();
    let claimed = store
        .claim_registrations("acme", "main", now, now + 60_000, 10)
        .await
        .unwrap();
    assert_eq!(claimed[0].attempts, 1);
    assert!(
        store
            .claim_registrations("acme", "main", now, now + 60_000, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased rows are not claimed twice"
    );
    assert!(store.due_connections(now).await.unwrap().is_empty());
    assert_eq!(
        store.due_connections(now + 60_000).await.unwrap(),
        [("acme".to_owned(), "main".to_owned())],
        "a lease that ran out makes the row due again"
    );

    // The device reported new host keys while the old content was on its way.
    store
        .put_registration(&new("SN-1", "<b/>"), now_ms())
        .await
        .unwrap();
    assert_eq!(settle(&store, delivered(r.id, 1)).await, [false]);
    let now = store.registration(r.id).await.unwrap();
    assert_eq!((now.state, now.version), (RegistrationState::Pending, 2));
}

#[tokio::test]
async fn failures_retry_or_die_and_an_administrator_revives_dead_letters() {
    let (store, _dir) = with_connection().await;
    let r = store
        .put_registration(&new("SN-1", "<a/>"), now_ms())
        .await
        .unwrap();
    settle(
        &store,
        failed(r.id, "connection refused", Some(now_ms() + 5_000)),
    )
    .await;
    let retrying = store.registration(r.id).await.unwrap();
    assert_eq!(retrying.state, RegistrationState::Pending);
    assert_eq!(retrying.last_error.as_deref(), Some("connection refused"));
    assert_eq!(store.hasten_registrations("acme", "main").await.unwrap(), 1);

    settle(&store, failed(r.id, "gave up", None)).await;
    let dead = RegistrationFilter {
        state: Some(RegistrationState::Dead),
        ..RegistrationFilter::default()
    };
    assert_eq!(store.registrations(&dead, 0, 10).await.unwrap().len(), 1);
    let status = store.connection_status("acme", "main").await.unwrap();
    assert_eq!((status.pending, status.dead), (0, 1));

    assert_eq!(store.retry_registrations(&dead, None).await.unwrap(), 1);
    let revived = store.registration(r.id).await.unwrap();
    assert_eq!(
        (revived.state, revived.attempts),
        (RegistrationState::Pending, 0)
    );
}

#[tokio::test]
async fn connection_health_reports_changes_only_with_one_event_each() {
    let (store, _dir) = with_connection().await;
    let h = async |error| {
        store
            .settle_registrations(&[], &[], &health(error), now_ms())
            .await
            .unwrap()
            .health_changed
    };
    assert!(h(Some("refused")).await, "a new alarm");
    assert!(!h(Some("refused")).await, "the same alarm again");
    assert!(h(Some("mismatch")).await, "a different one");
    assert!(h(None).await, "the end of the alarm");
    assert!(!h(None).await);
    let status = store.connection_status("acme", "main").await.unwrap();
    assert_eq!(status.last_error, None);
    assert!(status.last_delivery_at.is_some());
    let events = store
        .events(&crate::store::EventFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 3, "one event per change: {events:#?}");
}

#[tokio::test]
async fn deleting_a_device_removes_its_registrations() {
    let (store, _dir) = with_connection().await;
    store
        .insert_device(&crate::store::NewDevice {
            serial: "SN-1".into(),
            model: "uCPE-100".into(),
            customer: Some("acme".into()),
            certificate_pin: None,
        })
        .await
        .unwrap();
    let r = store
        .put_registration(&new("SN-1", "<a/>"), now_ms())
        .await
        .unwrap();
    store.delete_device("SN-1").await.unwrap();
    assert!(matches!(
        store.registration(r.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(store.due_connections(now_ms()).await.unwrap().is_empty());
}

#[tokio::test]
async fn removing_a_connection_removes_its_registrations() {
    let (store, _dir) = with_connection().await;
    let r = store
        .put_registration(&new("SN-1", "<a/>"), now_ms())
        .await
        .unwrap();
    store.delete_nms_connection("acme", "main").await.unwrap();
    assert!(matches!(
        store.registration(r.id).await,
        Err(StoreError::NotFound { .. })
    ));
}
