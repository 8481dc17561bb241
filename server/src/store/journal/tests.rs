use super::*;
use crate::domain::notice::Notice;
use crate::domain::progress::Milestone;
use crate::store::EventKind;
use crate::store::testing::{add_device, new_customer, store};
use ztp_certs::Serial;

fn sn(serial: &str) -> Serial {
    Serial::parse(serial).unwrap()
}

fn event(serial: &str) -> EventOf {
    let serial = sn(serial);
    Box::new(move |state| NewEvent {
        serial: Some(serial.clone()),
        kind: EventKind::BootstrapServed,
        status: Some(200),
        peer: None,
        detail: format!("now {state}"),
        notice: None,
        request_id: None,
    })
}

#[tokio::test]
async fn concurrent_entries_are_written_together_and_a_missing_device_fails_alone() {
    let (store, _dir) = store().await;
    store.insert_customer(&new_customer("acme")).await.unwrap();
    add_device(&store, "SN-1", "acme").await;
    let journal = Journal::start(&store);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let journal = journal.clone();
        let serial = if i == 25 { "SN-GONE" } else { "SN-1" };
        tasks.spawn(async move {
            let under_way = journal.expect_entry();
            journal
                .observe(
                    &sn(serial),
                    Observation::Redirected,
                    Some(event(serial)),
                    under_way,
                )
                .await
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        outcomes.push(joined.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 49);
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Err(StoreError::NotFound { what: "device", .. })))
    );
    assert!(
        outcomes
            .iter()
            .flatten()
            .all(|state| *state == DeviceState::Redirected)
    );
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(events, 49, "the missing device's entry wrote nothing");
}

#[tokio::test]
async fn a_progress_report_is_kept_for_its_device_and_pinned_certificate_only() {
    let (store, _dir) = store().await;
    store.insert_customer(&new_customer("acme")).await.unwrap();
    add_device(&store, "SN-1", "acme").await;
    let journal = Journal::start(&store);

    // A progress report keeps the report and moves the state on.
    let report = ProgressReport::new("bootstrap-complete", Milestone::Complete);
    let state = journal
        .progress(
            &sn("SN-1"),
            "ab",
            &report,
            event("SN-1"),
            journal.expect_entry(),
        )
        .await;
    assert_eq!(state.unwrap(), DeviceState::Completed);
    assert_eq!(store.progress_reports("SN-1").await.unwrap().len(), 1);
    assert!(matches!(
        journal
            .progress(
                &sn("SN-GONE"),
                "ab",
                &report,
                event("SN-GONE"),
                journal.expect_entry()
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));

    // A device pinned to another certificate is not moved and its report not kept.
    sqlx::query("UPDATE devices SET certificate_pin = 'AA' WHERE serial = 'SN-1'")
        .execute(store.pool())
        .await
        .unwrap();
    assert!(matches!(
        journal
            .progress(
                &sn("SN-1"),
                "bb",
                &report,
                event("SN-1"),
                journal.expect_entry()
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.progress_reports("SN-1").await.unwrap().len(), 1);
    assert!(
        journal
            .progress(
                &sn("SN-1"),
                "aa",
                &report,
                event("SN-1"),
                journal.expect_entry()
            )
            .await
            .is_ok()
    );
}

/// A journal over a store with one device, SN-1, whose writer waits up to `delay`.
async fn journal_waiting(delay: Duration) -> (Journal, Store, crate::store::testing::Scratch) {
    let (store, dir) = store().await;
    store.insert_customer(&new_customer("acme")).await.unwrap();
    add_device(&store, "SN-1", "acme").await;
    (Journal::start_with(&store, delay), store, dir)
}

/// Far longer than any test waits: a test that waited for it would time out first.
const FOREVER: Duration = Duration::from_secs(600);

/// Bounds a test's wait (an entry that is not written would block it forever).
async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .expect("the journal answers without waiting for its commit delay")
}

/// Hands the journal SN-1's `observation`, the last entry of `under_way`, from a task of
/// its own.
fn observe_in_task(
    journal: &Journal,
    observation: Observation,
    under_way: UnderWay,
) -> tokio::task::JoinHandle<Result<DeviceState, StoreError>> {
    let journal = journal.clone();
    tokio::spawn(async move {
        journal
            .observe(&sn("SN-1"), observation, None, under_way)
            .await
    })
}

#[tokio::test]
async fn a_lone_entry_is_committed_at_once() {
    let (journal, _store, _dir) = journal_waiting(FOREVER).await;
    let state = within(journal.observe(
        &sn("SN-1"),
        Observation::Redirected,
        Some(event("SN-1")),
        journal.expect_entry(),
    ))
    .await;
    assert_eq!(state.unwrap(), DeviceState::Redirected);
    assert_eq!(journal.commits(), 1);
}

#[tokio::test]
async fn an_entry_waits_for_the_requests_on_their_way_and_shares_their_commit() {
    let (journal, _store, _dir) = journal_waiting(FOREVER).await;
    // Two requests under way; the second hands its entry first.
    let (first, second) = (journal.expect_entry(), journal.expect_entry());
    let early = observe_in_task(&journal, Observation::Redirected, second);
    // The writer holds the early entry while the first request is on its way.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!early.is_finished());
    assert_eq!(journal.commits(), 0);
    let report = ProgressReport::new("bootstrap-complete", Milestone::Complete);
    let late = within(journal.progress(&sn("SN-1"), "ab", &report, event("SN-1"), first)).await;
    assert_eq!(late.unwrap(), DeviceState::Completed);
    assert!(within(early).await.unwrap().is_ok());
    assert_eq!(journal.commits(), 1, "both entries in one transaction");
}

#[tokio::test]
async fn a_request_that_ends_without_an_entry_is_not_waited_for() {
    let (journal, _store, _dir) = journal_waiting(FOREVER).await;
    let refused = journal.expect_entry();
    let answered = observe_in_task(&journal, Observation::Redirected, journal.expect_entry());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!answered.is_finished());
    drop(refused);
    assert!(within(answered).await.unwrap().is_ok());
    assert_eq!(journal.commits(), 1);
}

#[tokio::test]
async fn a_request_waiting_aside_for_an_entry_of_its_own_is_not_waited_for() {
    let (journal, _store, _dir) = journal_waiting(FOREVER).await;
    let under_way = journal.expect_entry();
    // An entry before its last (a license allocation, say), committed without waiting
    // for the request that waits for it.
    let first = event("SN-1")(DeviceState::Shipped);
    within(under_way.aside(journal.record(first)))
        .await
        .unwrap();
    // An abandoned wait counts the request again: its last entry is still waited for.
    let abandoned = under_way.aside(std::future::pending::<()>());
    assert!(
        tokio::time::timeout(Duration::from_millis(10), abandoned)
            .await
            .is_err()
    );
    let lone = observe_in_task(&journal, Observation::Contacted, journal.expect_entry());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!lone.is_finished(), "the request is on its way again");
    let serial = sn("SN-1");
    let last = journal.observe(&serial, Observation::Redirected, None, under_way);
    assert!(within(last).await.is_ok());
    assert!(within(lone).await.unwrap().is_ok());
    assert_eq!(journal.commits(), 2);
}

#[tokio::test]
async fn in_a_surge_entries_arriving_within_the_delay_share_a_commit() {
    let (journal, _store, _dir) = journal_waiting(Duration::from_secs(2)).await;
    let connections = journal.device_connections();
    let surge: Vec<_> = (0..SURGE).map(|_| connections.open()).collect();
    let first = observe_in_task(&journal, Observation::Contacted, journal.expect_entry());
    // Nobody else is on its way: only the surge keeps the writer waiting.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = journal
        .observe(
            &sn("SN-1"),
            Observation::Redirected,
            None,
            journal.expect_entry(),
        )
        .await;
    assert_eq!(second.unwrap(), DeviceState::Redirected);
    assert!(first.await.unwrap().is_ok());
    assert_eq!(journal.commits(), 1);
    drop(surge);
    assert_eq!(connections.count(), 0);
}

/// An event for `serial` saying `detail`, raising `notice`.
fn plain_event(serial: &str, detail: &str, notice: Option<Notice>) -> NewEvent {
    NewEvent {
        serial: Some(sn(serial)),
        kind: EventKind::BootstrapServed,
        status: None,
        peer: None,
        detail: detail.to_owned(),
        notice,
        request_id: None,
    }
}

/// Writes `entries` as one batch of the store's writer (which may block on a runtime of its
/// own).
async fn write_batch(store: &Store, entries: Vec<Entry>) -> Vec<Outcome> {
    let mut writer = store.device_path().writer();
    tokio::task::spawn_blocking(move || writer.write(&entries))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_batch_moves_a_device_named_twice_in_order_and_records_its_events_in_order() {
    let (store, _dir) = store().await;
    store.insert_customer(&new_customer("acme")).await.unwrap();
    add_device(&store, "SN-1", "acme").await;
    add_device(&store, "SN-2", "acme").await;
    let observed = |serial: &str, observation| Entry::Observed {
        serial: serial.to_owned(),
        observation,
        event: Some(event(serial)),
    };
    let report = ProgressReport::new("bootstrap-complete", Milestone::Complete);
    let entries = vec![
        observed("SN-1", Observation::Contacted),
        Entry::Event(plain_event("SN-1", "between", None)),
        observed("SN-1", Observation::Redirected),
        observed("SN-GONE", Observation::Contacted),
        Entry::Progress {
            serial: "SN-2".to_owned(),
            presented: "ab".to_owned(),
            report: Box::new(report),
            event: event("SN-2"),
        },
        Entry::Event(plain_event(
            "SN-2",
            "noticed",
            Some(Notice::BootstrapComplete),
        )),
        observed("SN-1", Observation::Onboarded),
    ];
    let outcomes = write_batch(&store, entries).await;

    let states: Vec<_> = outcomes
        .iter()
        .map(|outcome| match outcome {
            Ok(Written::State(state)) => Some(*state),
            _ => None,
        })
        .collect();
    use DeviceState::{Completed, Contacted, Onboarding, Redirected};
    assert_eq!(
        states,
        [
            Some(Contacted),
            None,
            Some(Redirected),
            None,
            Some(Completed),
            None,
            Some(Onboarding)
        ]
    );
    assert!(matches!(outcomes[1], Ok(Written::Event)));
    assert!(matches!(outcomes[3], Err(StoreError::NotFound { .. })));
    assert!(matches!(outcomes[5], Ok(Written::Event)));
    let details: Vec<String> = sqlx::query_scalar("SELECT detail FROM events ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(
        details,
        [
            "now contacted",
            "between",
            "now redirected",
            "now completed",
            "noticed",
            "now onboarding"
        ]
    );
    let device = store.device("SN-1").await.unwrap().unwrap();
    assert_eq!(device.state, Onboarding);
    assert_eq!(store.progress_reports("SN-2").await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_entry_the_database_refuses_fails_alone_and_the_rest_of_its_batch_is_written() {
    let (store, _dir) = store().await;
    store.insert_customer(&new_customer("acme")).await.unwrap();
    add_device(&store, "SN-1", "acme").await;
    let no_pool = NewLicense {
        id: "L-1".to_owned(),
        pool_id: 4242,
        serial: "SN-1".to_owned(),
        product_id: "P".to_owned(),
    };
    let entries = vec![
        Entry::Observed {
            serial: "SN-1".to_owned(),
            observation: Observation::Contacted,
            event: Some(event("SN-1")),
        },
        // No such pool: the shortage it would record breaks a foreign key.
        Entry::Allocate {
            license: no_pool,
            shortage: Box::new(plain_event("SN-1", "shortage", None)),
        },
        Entry::Event(plain_event("SN-1", "after", None)),
    ];
    let outcomes = write_batch(&store, entries).await;
    assert!(matches!(
        outcomes[0],
        Ok(Written::State(DeviceState::Contacted))
    ));
    assert!(outcomes[1].as_ref().is_err_and(StoreError::is_unavailable));
    assert!(matches!(outcomes[2], Ok(Written::Event)));
    let details: Vec<String> = sqlx::query_scalar("SELECT detail FROM events ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(details, ["now contacted", "after"]);
}
