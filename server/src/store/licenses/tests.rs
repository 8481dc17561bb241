use super::*;
use crate::store::journal::Journal;
use crate::store::testing::{add_device, new_customer, store};
use crate::store::{EventFilter, EventKind, NewEvent};

/// Allocates `id` from `pool_id` to `serial` (a uCPE-100) through the journal, as a device
/// request does.
async fn allocate(journal: &Journal, pool_id: i64, serial: &str, id: &str) -> Allocation {
    let license = NewLicense {
        id: id.into(),
        pool_id,
        serial: serial.into(),
        product_id: "uCPE-100".into(),
    };
    let shortage = NewEvent {
        serial: Some(ztp_certs::Serial::parse(serial).unwrap()),
        kind: EventKind::LicenseShortage,
        status: None,
        peer: None,
        detail: format!("no seat for {serial}"),
        notice: None,
        request_id: None,
    };
    journal.allocate(license, shortage).await.unwrap()
}

fn new_pool(name: &str, seats: Option<u32>) -> NewPool {
    NewPool {
        customer: "acme".into(),
        name: name.into(),
        feature: "ESS-ED-100G-SIA3".into(),
        terms: Terms {
            term: Term::Perpetual,
            starts_at: None,
            ends_at: None,
            evaluation_days: None,
        },
        seats,
        scope: Scope::Models(vec!["uCPE-100".into()]),
    }
}

#[tokio::test]
async fn pool_and_nms_changes_bump_the_owner_revision() {
    let (store, _dir) = store().await;
    store.insert_customer(&new_customer("acme")).await.unwrap();
    let revision = || async { store.customer_revision("acme").await.unwrap().unwrap() };
    let start = revision().await;
    store
        .insert_license_pool(&new_pool("core", Some(1)))
        .await
        .unwrap();
    assert_eq!(revision().await, start + 1, "a new pool");
    let terms = store.license_pool("acme", "core").await.unwrap().terms;
    store
        .update_license_pool("acme", "core", Some(2), &terms)
        .await
        .unwrap();
    assert_eq!(revision().await, start + 2, "a changed pool");
    let connection = crate::store::NmsConnectionRecord {
        customer: "acme".into(),
        name: "main".into(),
        host: "nms.acme.example".into(),
        port: 22,
        username: "ztp".into(),
        password: Some("secret".into()),
        private_key_pem: None,
        pins: vec!["SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s".into()],
        directory: String::new(),
        policy: crate::domain::delivery::DeliveryPolicy::Parallel,
        created_at: 0,
        updated_at: 0,
    };
    store.put_nms_connection(&connection).await.unwrap();
    assert_eq!(revision().await, start + 3, "an NMS connection");
    store.delete_nms_connection("acme", "main").await.unwrap();
    assert_eq!(revision().await, start + 4, "its removal");
    assert!(matches!(
        store
            .insert_license_pool(&NewPool {
                customer: "nobody".into(),
                ..new_pool("x", None)
            })
            .await,
        Err(StoreError::NotFound {
            what: "customer",
            ..
        })
    ));
}

#[tokio::test]
async fn a_counted_pool_is_never_over_allocated_even_concurrently() {
    let (store, _dir) = store().await;
    store.insert_customer(&new_customer("acme")).await.unwrap();
    let p = store
        .insert_license_pool(&new_pool("100g", Some(5)))
        .await
        .unwrap();
    // Concurrent requests: the journal writes them in a few batches.
    let journal = Journal::start(&store);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let journal = journal.clone();
        tasks.spawn(async move {
            let serial = format!("SN-{i}");
            allocate(&journal, p.id, &serial, &format!("LIC-{i}")).await
        });
    }
    let mut granted = 0;
    while let Some(outcome) = tasks.join_next().await {
        if matches!(outcome.unwrap(), Allocation::Granted(_)) {
            granted += 1;
        }
    }
    assert_eq!(granted, 5);
    assert_eq!(
        store.license_pool("acme", "100g").await.unwrap().allocated,
        5
    );
}

#[tokio::test]
async fn a_calling_device_is_read_with_its_owner_revision_and_licenses_as_they_are_now() {
    let (store, _dir) = store().await;
    store.insert_customer(&new_customer("acme")).await.unwrap();
    add_device(&store, "SN-1", "acme").await;
    assert_eq!(
        store
            .calling_device(&ztp_certs::Serial::parse("SN-GONE").unwrap())
            .await
            .unwrap(),
        None
    );
    let fresh = store
        .calling_device(&ztp_certs::Serial::parse("SN-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fresh.device.serial, "SN-1");
    assert!(fresh.licenses.is_empty());
    assert_eq!(
        fresh.owner_revision,
        store.customer_revision("acme").await.unwrap()
    );
    let p = store
        .insert_license_pool(&new_pool("100g", None))
        .await
        .unwrap();
    let journal = Journal::start(&store);
    allocate(&journal, p.id, "SN-1", "LIC-A").await;
    // The read's transaction ended with it: the pooled connection, used again, sees the
    // writer's commit and the pool's revision bump.
    let later = store
        .calling_device(&ztp_certs::Serial::parse("SN-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    let ids: Vec<&str> = later.licenses.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, ["LIC-A"]);
    assert!(later.owner_revision > fresh.owner_revision);
    store.revoke_license("LIC-A", "test").await.unwrap();
    let revoked = store
        .calling_device(&ztp_certs::Serial::parse("SN-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.licenses[0].state, LicenseState::Revoked);
}

#[tokio::test]
async fn one_active_license_per_device_and_pool() {
    let (store, _dir) = store().await;
    store.insert_customer(&new_customer("acme")).await.unwrap();
    let p = store
        .insert_license_pool(&new_pool("100g", None))
        .await
        .unwrap();
    let journal = Journal::start(&store);
    let first = allocate(&journal, p.id, "SN-1", "LIC-A").await;
    let second = allocate(&journal, p.id, "SN-1", "LIC-B").await;
    assert_eq!(first, second, "the first allocation stands");
    // Two requests of the same device at once (in one batch, or one after the other).
    let (a, b) = tokio::join!(
        allocate(&journal, p.id, "SN-2", "LIC-C"),
        allocate(&journal, p.id, "SN-2", "LIC-D")
    );
    assert_eq!(a, b, "one license for both");
    assert_eq!(
        store.license_pool("acme", "100g").await.unwrap().allocated,
        2,
        "one seat per device"
    );
}

#[tokio::test]
async fn pools_shrink_only_down_to_what_is_allocated_and_record_shortages() {
    let (store, _dir) = store().await;
    store.insert_customer(&new_customer("acme")).await.unwrap();
    let p = store
        .insert_license_pool(&new_pool("100g", Some(1)))
        .await
        .unwrap();
    assert!(matches!(
        store.insert_license_pool(&new_pool("100g", Some(1))).await,
        Err(StoreError::Conflict { .. })
    ));
    let journal = Journal::start(&store);
    allocate(&journal, p.id, "SN-1", "LIC-1").await;
    assert_eq!(
        allocate(&journal, p.id, "SN-2", "LIC-2").await,
        Allocation::NoSeat { first: true }
    );
    assert_eq!(
        allocate(&journal, p.id, "SN-2", "LIC-2").await,
        Allocation::NoSeat { first: false }
    );
    assert_eq!(store.license_shortages("acme").await.unwrap(), [(p.id, 1)]);
    let shortages = store
        .events(&EventFilter {
            kind: Some(EventKind::LicenseShortage),
            limit: 10,
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(shortages.len(), 1, "one shortage event per device and pool");

    assert!(matches!(
        store
            .update_license_pool("acme", "100g", Some(0), &p.terms)
            .await,
        Err(StoreError::InUse { .. })
    ));
    let grown = store
        .update_license_pool("acme", "100g", Some(2), &p.terms)
        .await
        .unwrap();
    assert_eq!(grown.seats, Some(2));
    assert!(matches!(
        allocate(&journal, p.id, "SN-2", "LIC-2").await,
        Allocation::Granted(_)
    ));
    assert!(
        store.license_shortages("acme").await.unwrap().is_empty(),
        "the shortage ended with the license"
    );
}
