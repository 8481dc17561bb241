use super::*;
use crate::store::testing::{add_device, new_customer, store};

fn basic(username: &str, password: &str) -> BasicCredentials {
    let header = format!(
        "Basic {}",
        STANDARD.encode(format!("{username}:{password}"))
    );
    BasicCredentials::from_header(header.as_bytes()).unwrap()
}

#[test]
fn basic_credentials_are_read_from_a_well_formed_header_only() {
    let credentials = basic("SN-0001", "ABCD:EFGH-1234");
    assert_eq!(credentials.username, "SN-0001");
    assert_eq!(
        credentials.password, "ABCD:EFGH-1234",
        "a colon may be in the code"
    );
    assert!(
        !format!("{credentials:?}").contains("EFGH"),
        "never printed"
    );
    for bad in [
        "Bearer abc",
        "Basic",
        "Basic %%%",
        // No colon.
        "Basic U04tMDAwMQ==",
    ] {
        assert!(
            BasicCredentials::from_header(bad.as_bytes()).is_none(),
            "{bad}"
        );
    }
}

#[test]
fn codes_are_checked_and_generated_codes_pass_the_check() {
    assert!(check_code("short").is_err());
    assert!(check_code("with a space in it").is_err());
    assert!(check_code(&"x".repeat(129)).is_err());
    let code = generate();
    assert_eq!(code.len(), 24, "{code}");
    check_code(&code).unwrap();
    assert_ne!(generate(), code);
}

async fn with_code(store: &Store, serial: &str, code: &str, only_factor: bool) {
    store
        .put_activation_code(&ActivationCodeRecord {
            serial: serial.into(),
            hash: hash(code).unwrap(),
            only_factor,
            created_at: 0,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_second_factor_is_required_only_of_a_device_that_has_one_and_must_be_its_own() {
    let (store, _scratch) = store().await;
    store.insert_customer(&new_customer("c")).await.unwrap();
    add_device(&store, "SN-1", "c").await;
    add_device(&store, "SN-2", "c").await;
    with_code(&store, "SN-1", "CODE-OF-SN-1", false).await;
    let codes = ActivationCodes::new(store.clone());
    let now = Instant::now();
    codes.second_factor("SN-2", None, now).await.unwrap();
    assert!(matches!(
        codes.second_factor("SN-1", None, now).await,
        Err(CodeRefusal::Missing { .. })
    ));
    assert!(matches!(
        codes
            .second_factor("SN-1", Some(&basic("SN-2", "CODE-OF-SN-1")), now)
            .await,
        Err(CodeRefusal::WrongUser { .. })
    ));
    assert!(matches!(
        codes
            .second_factor("SN-1", Some(&basic("SN-1", "CODE-OF-SN-2")), now)
            .await,
        Err(CodeRefusal::Wrong { .. })
    ));
    codes
        .second_factor("SN-1", Some(&basic("SN-1", "CODE-OF-SN-1")), now)
        .await
        .unwrap();
    // A second factor never stands alone.
    assert!(matches!(
        codes.only_factor(&basic("SN-1", "CODE-OF-SN-1"), now).await,
        Err(CodeRefusal::Wrong { .. })
    ));
}

#[tokio::test]
async fn wrong_codes_lock_a_serial_for_the_rest_of_the_window_even_for_its_right_code() {
    let (store, _scratch) = store().await;
    store.insert_customer(&new_customer("c")).await.unwrap();
    add_device(&store, "VM-1", "c").await;
    with_code(&store, "VM-1", "RIGHT-CODE-123", true).await;
    let codes = ActivationCodes::new(store.clone());
    let start = Instant::now();
    assert_eq!(
        codes
            .only_factor(&basic("VM-1", "RIGHT-CODE-123"), start)
            .await
            .unwrap(),
        "VM-1"
    );
    for _ in 0..MAX_FAILURES {
        assert!(matches!(
            codes
                .only_factor(&basic("VM-1", "WRONG-CODE-123"), start)
                .await,
            Err(CodeRefusal::Wrong { .. })
        ));
    }
    assert!(matches!(
        codes
            .only_factor(&basic("VM-1", "WRONG-CODE-456"), start)
            .await,
        Err(CodeRefusal::Locked { .. })
    ));
    // The right code verified before is remembered; a new right code is locked out too.
    with_code(&store, "VM-1", "NEW-RIGHT-CODE", true).await;
    assert!(matches!(
        codes
            .only_factor(&basic("VM-1", "NEW-RIGHT-CODE"), start)
            .await,
        Err(CodeRefusal::Locked { .. })
    ));
    let later = start + LOCKOUT + Duration::from_secs(1);
    codes
        .only_factor(&basic("VM-1", "NEW-RIGHT-CODE"), later)
        .await
        .unwrap();
    // Unknown serials are refused like wrong codes.
    assert!(matches!(
        codes
            .only_factor(&basic("NOPE", "RIGHT-CODE-123"), later)
            .await,
        Err(CodeRefusal::Wrong { .. })
    ));
}
