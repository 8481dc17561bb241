//! Key authentication, atomic and idempotent uploads, host key fingerprints.

use std::fs;
use std::process::Command;
use std::time::Duration;

use ztp_nms_connector::{
    AddressFilter, Auth, ClientKey, Session, file_name, presented_fingerprint,
};

use ztp_tests::sshd::{HostKeyType, Sshd, run_ok};

#[tokio::test]
async fn presented_fingerprint_matches_ssh_keygen() {
    let sshd = Sshd::start();

    let presented = presented_fingerprint(
        "127.0.0.1",
        sshd.port(),
        &AddressFilter::default(),
        Duration::from_secs(5),
    )
    .await
    .unwrap();

    assert_eq!(presented, sshd.host_fingerprint());
    assert!(!sshd.log().contains("for root"), "{}", sshd.log());
}

#[tokio::test]
async fn key_auth_upload_replaces_atomically_and_idempotently() {
    let sshd = Sshd::start();
    let endpoint = sshd.key_endpoint();
    let name = file_name(&ztp_certs::Serial::parse("FDO1234X0AB").unwrap());

    let mut session = Session::connect(&endpoint).await.unwrap();
    // OpenSSH offers the atomic rename-over extension, and the session found it.
    assert!(
        format!("{session:?}").contains("posix_rename: true"),
        "{session:?}"
    );
    session
        .upload(&name, b"<device>one</device>")
        .await
        .unwrap();
    assert_eq!(
        fs::read(sshd.incoming().join(&name)).unwrap(),
        b"<device>one</device>"
    );

    session
        .upload(&name, b"<device>two</device>")
        .await
        .unwrap();
    session
        .upload(&name, b"<device>two</device>")
        .await
        .unwrap();

    assert_eq!(sshd.incoming_files(), std::slice::from_ref(&name));
    assert_eq!(
        fs::read(sshd.incoming().join(&name)).unwrap(),
        b"<device>two</device>"
    );
    session.remove(&name).await.unwrap();
    assert!(sshd.incoming_files().is_empty());
    session.close().await.unwrap();
    assert!(sshd.log().contains("Accepted publickey for root"));
}

#[tokio::test]
async fn large_files_arrive_whole() {
    let sshd = Sshd::start();
    let endpoint = sshd.key_endpoint();
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();

    let mut session = Session::connect(&endpoint).await.unwrap();
    session.upload("big.xml", &content).await.unwrap();

    assert_eq!(fs::read(sshd.incoming().join("big.xml")).unwrap(), content);
    assert_eq!(sshd.incoming_files(), ["big.xml"]);
}

#[tokio::test]
async fn rsa_host_keys_are_checked_and_used() {
    let sshd = Sshd::start_with(HostKeyType::Rsa);

    let presented = presented_fingerprint(
        "127.0.0.1",
        sshd.port(),
        &AddressFilter::default(),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(presented, sshd.host_fingerprint());

    let mut session = Session::connect(&sshd.key_endpoint()).await.unwrap();
    session.upload("r.xml", b"rsa").await.unwrap();
    assert_eq!(fs::read(sshd.incoming().join("r.xml")).unwrap(), b"rsa");
}

#[tokio::test]
async fn rsa_client_keys_from_ssh_keygen_authenticate() {
    let sshd = Sshd::start();
    let path = sshd.root().join("client_rsa");
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"])
            .arg(&path),
    );
    let key = ClientKey::from_openssh_pem(&fs::read_to_string(&path).unwrap()).unwrap();
    sshd.authorize(&key);

    let mut session = Session::connect(&sshd.endpoint(Auth::Key(key)))
        .await
        .unwrap();
    session.upload("k.xml", b"rsa client").await.unwrap();

    assert_eq!(
        fs::read(sshd.incoming().join("k.xml")).unwrap(),
        b"rsa client"
    );
}

#[tokio::test]
async fn a_failed_rename_leaves_no_temporary_file() {
    let sshd = Sshd::start();
    // A non-empty directory where the file should go: renaming a file over it must fail.
    fs::create_dir_all(sshd.incoming().join("taken.xml").join("inside")).unwrap();

    let mut session = Session::connect(&sshd.key_endpoint()).await.unwrap();
    let err = session.upload("taken.xml", b"x").await.unwrap_err();

    assert!(
        matches!(err, ztp_nms_connector::Error::Sftp { .. }),
        "{err:?}"
    );
    assert_eq!(sshd.incoming_files(), ["taken.xml"]);
    // The session is still usable for other files.
    session.upload("free.xml", b"y").await.unwrap();
    assert_eq!(sshd.incoming_files(), ["free.xml", "taken.xml"]);
}
