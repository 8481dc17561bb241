use crate::domain::progress::{HostKey, Milestone, ProgressReport};
use crate::domain::state::{DeviceState, Observation};
use crate::store::testing::{Scratch, sqlite_store as store};
use std::path::PathBuf;

use crate::store::{NewDevice, StoreError, Synchronous};

use super::connections::Connections;
use super::writes::{insert_progress_on, observe_on};

fn new_device(serial: &str) -> NewDevice {
    NewDevice {
        serial: serial.into(),
        model: "uCPE-100".into(),
        customer: None,
        certificate_pin: None,
    }
}

/// The file of the test store in `dir`.
fn file(dir: &Scratch) -> PathBuf {
    dir.path().join("t.sqlite")
}

/// A connection of the devices' path to the database `file`.
fn connect(file: PathBuf) -> Result<rusqlite::Connection, StoreError> {
    Connections::new(file, Synchronous::Full).connect()
}

/// One observation in its own transaction, on a connection of its own to `file`.
async fn observe(
    file: PathBuf,
    serial: &str,
    observation: Observation,
) -> Result<DeviceState, StoreError> {
    let serial = serial.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut connection = connect(file)?;
        let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let state = observe_on(&tx, &serial, observation, None)?;
        tx.commit()?;
        Ok(state)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn observations_move_the_state() {
    let (store, dir) = store().await;
    store.insert_device(&new_device("SN-1")).await.unwrap();
    assert_eq!(
        observe(file(&dir), "SN-1", Observation::Contacted)
            .await
            .unwrap(),
        DeviceState::Contacted
    );
    assert_eq!(
        observe(file(&dir), "SN-1", Observation::Redirected)
            .await
            .unwrap(),
        DeviceState::Redirected
    );
    let done = Observation::Progress(Milestone::Complete);
    assert_eq!(
        observe(file(&dir), "SN-1", done).await.unwrap(),
        DeviceState::Completed
    );
    let device = store.device("SN-1").await.unwrap().unwrap();
    assert_eq!(device.state, DeviceState::Completed);
    assert!(device.last_contact_at.is_some());
    assert!(matches!(
        observe(file(&dir), "SN-404", Observation::Contacted).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_observations_wait_for_the_lock_instead_of_failing() {
    let (store, dir) = store().await;
    for serial in ["SN-1", "SN-2"] {
        store.insert_device(&new_device(serial)).await.unwrap();
    }
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let file = file(&dir);
            tokio::spawn(async move {
                let serial = if i % 2 == 0 { "SN-1" } else { "SN-2" };
                observe(file, serial, Observation::Contacted).await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), DeviceState::Contacted);
    }
}

#[tokio::test]
async fn progress_reports_keep_host_keys() {
    let (store, dir) = store().await;
    store
        .insert_device(&NewDevice {
            serial: "SN-1".into(),
            model: "m".into(),
            customer: None,
            certificate_pin: None,
        })
        .await
        .unwrap();
    let connection = connect(file(&dir)).unwrap();
    let initiated = ProgressReport::new("bootstrap-initiated", Milestone::Underway);
    insert_progress_on(&connection, "SN-1", &initiated).unwrap();
    let mut done = ProgressReport::new("bootstrap-complete", Milestone::Complete);
    done.ssh_host_keys.push(HostKey {
        algorithm: "ssh-ed25519".into(),
        key_data: vec![1, 2, 3],
    });
    done.trust_anchor_certs.push(vec![0x30, 0x00]);
    insert_progress_on(&connection, "SN-1", &done).unwrap();
    drop(connection);
    let reports = store.progress_reports("SN-1").await.unwrap();
    assert_eq!(reports.len(), 2);
    assert!(reports[0].ssh_host_keys.is_empty());
    assert_eq!(reports[1].progress_type, "bootstrap-complete");
    assert_eq!(reports[1].ssh_host_keys[0].key_data, "AQID");
    assert_eq!(reports[1].trust_anchor_certs, ["MAA="]);
}
