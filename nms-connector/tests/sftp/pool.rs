//! Pools reuse sessions and stay within their bound.

use tokio::task::JoinSet;
use ztp_nms_connector::{Error, Pool};

use ztp_tests::sshd::Sshd;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_share_at_most_max_sessions_connections() {
    let sshd = Sshd::start();
    let pool = Pool::new(sshd.key_endpoint(), 2);

    let mut uploads = JoinSet::new();
    for i in 0..12 {
        let pool = pool.clone();
        uploads.spawn(async move {
            let name = format!("dev{i:02}.xml");
            pool.upload(&name, name.as_bytes()).await
        });
    }
    while let Some(result) = uploads.join_next().await {
        result.unwrap().unwrap();
    }
    for i in 12..16 {
        pool.upload(&format!("dev{i:02}.xml"), b"late")
            .await
            .unwrap();
    }

    assert_eq!(sshd.incoming_files().len(), 16);
    assert!(pool.connections_opened() <= 2, "{pool:?}");
    let logins = sshd.accepted_logins();
    assert!(
        (1..=2).contains(&logins),
        "{logins} logins:\n{}",
        sshd.log()
    );
}

#[tokio::test]
async fn closed_pool_refuses_work() {
    let sshd = Sshd::start();
    let pool = Pool::new(sshd.key_endpoint(), 1);
    pool.upload("a.xml", b"a").await.unwrap();

    pool.close().await;
    let err = pool.upload("b.xml", b"b").await.unwrap_err();

    assert!(matches!(err, Error::PoolClosed), "{err:?}");
    assert_eq!(pool.idle_sessions(), 0);
    assert_eq!(sshd.incoming_files(), ["a.xml"]);
}
