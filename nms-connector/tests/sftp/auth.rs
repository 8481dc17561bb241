//! Refused credentials give typed errors naming the method.

use ztp_nms_connector::{Auth, AuthMethod, Error, Session, generate_client_key};

use ztp_tests::sshd::Sshd;

#[tokio::test]
async fn wrong_password_is_rejected() {
    let sshd = Sshd::start();
    // root has no usable password here, so any password is wrong.
    let endpoint = sshd.endpoint(Auth::Password("not-the-password".into()));

    let err = Session::connect(&endpoint).await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::AuthRejected {
                method: AuthMethod::Password
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("password rejected"), "{err}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn unknown_key_is_rejected() {
    let sshd = Sshd::start();
    let stranger = generate_client_key().unwrap(); // never put into authorized_keys
    let endpoint = sshd.endpoint(Auth::Key(stranger));

    let err = Session::connect(&endpoint).await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::AuthRejected {
                method: AuthMethod::PublicKey
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("public key not accepted"), "{err}");
    assert!(sshd.incoming_files().is_empty());
}
