//! The outbox's mechanism on its registrations queue, at times chosen by the test.

use super::*;
use crate::domain::delivery::DeliveryPolicy;
use crate::store::testing::{new_customer, store};
use crate::store::{NewRegistration, NmsConnectionRecord};

const T0: i64 = 1_795_430_400_000;
const MAIN: [Key<'static>; 2] = [Key::Text("acme"), Key::Text("main")];

async fn with_item() -> (Store, crate::store::testing::Scratch, i64) {
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
            policy: DeliveryPolicy::Parallel,
            created_at: 0,
            updated_at: 0,
        })
        .await
        .unwrap();
    let new = NewRegistration {
        serial: ztp_certs::Serial::parse("SN-1").unwrap(),
        customer: "acme".into(),
        connection: "main".into(),
        file_name: "SN-1.xml".into(),
        content: "<a/>".into(),
    };
    let id = store.put_registration(&new, T0).await.unwrap().id;
    (store, dir, id)
}

fn claim(now: i64, lease_until: i64) -> Claim<'static> {
    Claim {
        receiver: Some(&MAIN),
        now,
        lease_until,
        per_receiver: 10,
        limit: 10,
    }
}

async fn claimed(store: &Store, now: i64, lease_until: i64) -> usize {
    store
        .claim(&REGISTRATIONS, "id", claim(now, lease_until))
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn an_item_is_leased_until_its_lease_ends_or_it_is_released() {
    let (store, _dir, id) = with_item().await;
    assert_eq!(claimed(&store, T0 - 1, T0 + 60_000).await, 0, "not due yet");
    assert_eq!(claimed(&store, T0, T0 + 60_000).await, 1);
    assert_eq!(
        claimed(&store, T0 + 59_999, T0 + 120_000).await,
        0,
        "leased"
    );
    assert_eq!(
        claimed(&store, T0 + 60_000, T0 + 120_000).await,
        1,
        "a worker that died mid-attempt delays the item by its lease only"
    );
    assert_eq!(
        store
            .release(&REGISTRATIONS, &[(id, T0 + 60_000)])
            .await
            .unwrap(),
        0,
        "an old lease releases nothing"
    );
    assert_eq!(
        store
            .release(&REGISTRATIONS, &[(id, T0 + 120_000)])
            .await
            .unwrap(),
        1
    );
    assert_eq!(claimed(&store, T0 + 60_001, T0 + 90_000).await, 1);
}

#[tokio::test]
async fn a_settlement_retries_later_or_makes_a_dead_letter_and_health_changes_once() {
    let (store, _dir, id) = with_item().await;
    let attempt = |settlement| Attempt {
        id,
        settlement,
        error: Some("refused"),
        version: Some(1),
        status: None,
    };
    let failing = Health {
        receiver: &MAIN,
        error: Some("refused"),
        event: None,
    };
    assert_eq!(claimed(&store, T0, T0 + 1_000).await, 1);
    let retry = attempt(Settlement::RetryAt(T0 + 30_000));
    let settled = store
        .settle(&REGISTRATIONS, &[retry], &failing, &[], T0 + 10)
        .await
        .unwrap();
    assert_eq!(
        (settled.applied, settled.health_changed),
        (vec![true], true)
    );
    assert_eq!(
        claimed(&store, T0 + 29_999, T0 + 40_000).await,
        0,
        "backing off"
    );
    assert_eq!(claimed(&store, T0 + 30_000, T0 + 40_000).await, 1);
    let dead = attempt(Settlement::Dead);
    let settled = store
        .settle(&REGISTRATIONS, &[dead], &failing, &[], T0 + 30_010)
        .await
        .unwrap();
    assert_eq!(
        (settled.applied, settled.health_changed),
        (vec![true], false),
        "the same failure is no news"
    );
    assert_eq!(
        claimed(&store, T0 + 999_999, T0 + 1_000_000).await,
        0,
        "dead"
    );
    let status = store.status(&REGISTRATIONS, &MAIN).await.unwrap();
    assert_eq!(status.counts(), (0, 0, 1));
    assert_eq!(
        (status.last_error.as_deref(), status.last_error_at),
        (Some("refused"), Some(T0 + 10)),
        "failing since the first failure"
    );
    assert!(matches!(
        store
            .status(&REGISTRATIONS, &[Key::Text("acme"), Key::Text("none")])
            .await,
        Err(StoreError::NotFound {
            what: "NMS connection",
            ..
        })
    ));
}

#[tokio::test]
async fn a_backlog_counts_what_waits_and_since_when_and_a_dead_letter_waits_no_more() {
    let (store, _dir, id) = with_item().await;
    let second = NewRegistration {
        serial: ztp_certs::Serial::parse("SN-2").unwrap(),
        customer: "acme".into(),
        connection: "main".into(),
        file_name: "SN-2.xml".into(),
        content: "<b/>".into(),
    };
    store.put_registration(&second, T0 + 500).await.unwrap();
    let backlog = |pending, oldest_since| Backlog {
        customer: "acme".into(),
        receiver: "main".into(),
        pending,
        oldest_since,
    };
    assert_eq!(store.nms_backlogs().await.unwrap(), [backlog(2, Some(T0))]);
    assert_eq!(claimed(&store, T0 + 500, T0 + 1_000).await, 2);
    let dead = Attempt {
        id,
        settlement: Settlement::Dead,
        error: Some("refused"),
        version: Some(1),
        status: None,
    };
    let failing = Health {
        receiver: &MAIN,
        error: Some("refused"),
        event: None,
    };
    store
        .settle(&REGISTRATIONS, &[dead], &failing, &[], T0 + 10)
        .await
        .unwrap();
    assert_eq!(
        store.nms_backlogs().await.unwrap(),
        [backlog(1, Some(T0 + 500))],
        "a leased item still waits; a dead letter does not"
    );
    assert_eq!(store.webhook_backlogs().await.unwrap(), []);
}
