//! Hostile serials and names never produce a file outside the directory.

use ztp_certs::Serial;
use ztp_nms_connector::{Error, InvalidInput, Pool, Session};

use ztp_tests::sshd::{Sshd, tree};

fn hostile() -> Vec<String> {
    vec![
        "../../etc/passwd".into(),
        "../escape".into(),
        "..".into(),
        "a/b".into(),
        "/tmp/abs".into(),
        "A".repeat(4096),
        "a\0b".into(),
        "a\nb".into(),
        String::new(),
        ".hidden".into(),
    ]
}

#[tokio::test]
async fn hostile_names_never_leave_the_directory() {
    let sshd = Sshd::start();
    let endpoint = sshd.key_endpoint();
    let before = tree(sshd.root());
    let mut session = Session::connect(&endpoint).await.unwrap();
    let pool = Pool::new(endpoint, 1);

    for serial in hostile() {
        // Never a serial, so never a registration's file name; and refused as a name too.
        assert!(Serial::parse(&serial).is_err(), "{serial:?}");

        let name = format!("{serial}.xml");
        for err in [
            session.upload(&serial, b"x").await.unwrap_err(),
            session.upload(&name, b"x").await.unwrap_err(),
            session.remove(&serial).await.unwrap_err(),
            pool.upload(&name, b"x").await.unwrap_err(),
        ] {
            assert!(
                matches!(err, Error::InvalidInput(InvalidInput::FileName(_))),
                "{serial:?}: {err:?}"
            );
        }
    }
    session.upload("ok.xml", b"fine").await.unwrap();

    let mut expected = before;
    expected.push("incoming/ok.xml".into());
    expected.sort();
    assert_eq!(tree(sshd.root()), expected);
    assert_eq!(pool.connections_opened(), 0, "refused before connecting");
}
