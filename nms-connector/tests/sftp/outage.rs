//! A stopped or silent server gives typed errors in bounded time; pools recover.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use ztp_nms_connector::{Auth, Endpoint, Error, Pool, Session, Step, Timeouts};

use ztp_tests::sshd::{Sshd, free_port};

/// An endpoint at a port that accepts TCP connections but never says a word: a hung NMS.
fn silent_endpoint(listener: &TcpListener, connect: Duration) -> Endpoint {
    let mut endpoint = Endpoint::new(
        "127.0.0.1",
        "root",
        Auth::Password("pw".into()),
        vec![Sshd::any_pin()],
        "incoming",
    );
    endpoint.port = listener.local_addr().unwrap().port();
    endpoint.timeouts = Timeouts {
        connect,
        ..Timeouts::default()
    };
    endpoint
}

#[tokio::test]
async fn stopped_server_gives_a_typed_error_quickly() {
    let mut sshd = Sshd::start();
    let endpoint = sshd.key_endpoint();
    sshd.stop();

    let started = Instant::now();
    let err = Session::connect(&endpoint).await.unwrap_err();

    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = silent_endpoint(&listener, Duration::from_millis(500));

    let started = Instant::now();
    let err = Session::connect(&endpoint).await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::Timeout {
                step: Step::Handshake,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let mut endpoint = Endpoint::new(
        "127.0.0.1",
        "root",
        Auth::Password("pw".into()),
        vec![Sshd::any_pin()],
        "",
    );
    endpoint.port = free_port();

    let err = Session::connect(&endpoint).await.unwrap_err();

    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn pool_recovers_after_the_server_restarts() {
    let mut sshd = Sshd::start();
    let pool = Pool::new(sshd.key_endpoint(), 2);
    pool.upload("before.xml", b"1").await.unwrap();
    assert_eq!(pool.idle_sessions(), 1);

    sshd.stop();
    let err = pool.upload("during.xml", b"2").await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");

    sshd.restart();
    pool.upload("after.xml", b"3").await.unwrap();

    assert_eq!(sshd.incoming_files(), ["after.xml", "before.xml"]);
}

#[tokio::test]
async fn pool_replaces_a_session_that_died_while_idle() {
    let mut sshd = Sshd::start();
    let pool = Pool::new(sshd.key_endpoint(), 1);
    pool.upload("a.xml", b"1").await.unwrap();

    sshd.restart(); // kills the idle session's connection too
    pool.upload("b.xml", b"2").await.unwrap();

    assert_eq!(sshd.incoming_files(), ["a.xml", "b.xml"]);
    assert_eq!(pool.connections_opened(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_nms_does_not_delay_another() {
    let sshd = Sshd::start();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let hung = Pool::new(silent_endpoint(&listener, Duration::from_secs(4)), 1);
    let healthy = Pool::new(sshd.key_endpoint(), 1);

    let stuck = tokio::spawn(async move { hung.upload("x.xml", b"x").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    healthy.upload("y.xml", b"y").await.unwrap();
    let healthy_took = started.elapsed();

    assert!(healthy_took < Duration::from_secs(3), "{healthy_took:?}");
    assert!(!stuck.is_finished());
    let err = stuck.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(sshd.incoming_files(), ["y.xml"]);
}
