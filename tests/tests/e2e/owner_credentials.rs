//! Rotating a customer's owner signing key (`PUT …/owner-credentials`): the next answer carries
//! the new owner certificate with a voucher pinning the new owner CA, which the device agent
//! verifies as before; unusable credentials are refused and change nothing.

use serde_json::json;
use ztp_tests::{Server, temp_dir, transcript};

/// A request to the admin API with the bootstrap token: the status and the body.
fn admin(server: &Server, method: &str, path: &str, body: Option<&str>) -> (String, String) {
    let answer = server.admin_request(method, path, body.unwrap_or(""));
    (answer.status.to_string(), answer.body)
}

const OWNER_CA: &str = "/api/v1/customers/example-customer/owner-ca";
const CREDENTIALS: &str = "/api/v1/customers/example-customer/owner-credentials";

#[test]
fn a_rotated_owner_key_signs_the_next_answer_and_devices_verify_it() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let first = server.bootstrap("SN-0001", &[]);
    assert!(first.status.success(), "{}", transcript(&first));
    let (_, old_ca) = admin(&server, "GET", OWNER_CA, None);

    let (status, body) = admin(&server, "PUT", CREDENTIALS, Some("{}"));
    assert_eq!(status, "200", "{body}");
    let (_, new_ca) = admin(&server, "GET", OWNER_CA, None);
    assert!(new_ca.contains("BEGIN CERTIFICATE"), "{new_ca}");
    assert_ne!(old_ca, new_ca, "a new owner CA");

    // The agent checks that the voucher pins the CA that issued the owner certificate, and
    // that the owner certificate signed the conveyed information.
    let again = server.bootstrap("SN-0001", &[]);
    assert!(again.status.success(), "{}", transcript(&again));
    let (_, audit) = admin(&server, "GET", "/api/v1/audit", None);
    assert!(
        audit.contains("replaced the owner credentials of customer example-customer"),
        "{audit}"
    );
}

#[test]
fn unusable_owner_credentials_are_refused_and_change_nothing() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let (_, before) = admin(&server, "GET", OWNER_CA, None);
    let half = json!({"owner_ca_pem": before}).to_string();
    let (status, body) = admin(&server, "PUT", CREDENTIALS, Some(&half));
    assert_eq!(status, "400", "{body}");
    assert!(body.contains("together"), "{body}");
    let foreign = json!({
        "owner_ca_pem": before,
        "signer_chain_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "signer_key_pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    })
    .to_string();
    let (status, body) = admin(&server, "PUT", CREDENTIALS, Some(&foreign));
    assert_eq!(status, "400", "{body}");
    assert!(
        !body.contains("PRIVATE KEY"),
        "the key is never echoed: {body}"
    );
    let (_, after) = admin(&server, "GET", OWNER_CA, None);
    assert_eq!(before, after);
    let (status, _) = admin(
        &server,
        "PUT",
        "/api/v1/customers/nobody/owner-credentials",
        Some("{}"),
    );
    assert_eq!(status, "404");
    let served = server.bootstrap("SN-0001", &[]);
    assert!(served.status.success(), "{}", transcript(&served));
}
