//! The admin API against a hostile customer admin: ownership stays the manufacturer's act,
//! bodies are typed before anything reads them, secrets never reach the audit log, names
//! cannot be mimicked, and refusals speak the API's language.

use std::path::Path;

use serde_json::{Value, json};
use ztp_tests::admin_http::{Answer, request};
use ztp_tests::{Server, success, temp_dir};

/// A server with customers `victim` (owning SN-0100) and `hostile`, and a customer-admin token
/// of `hostile`.
struct Scene {
    server: Server,
    hostile: String,
}

impl Scene {
    fn new(dir: &Path) -> Self {
        let server = Server::start(dir);
        success(server.admin(["customer", "add", "victim"]));
        success(server.admin([
            "target",
            "add",
            "victim",
            "nms",
            "--address",
            "nms.victim.example",
        ]));
        success(server.admin(["customer", "add", "hostile"]));
        server.new_device("SN-0100", "victim");
        let created: Value = serde_json::from_str(&success(server.admin([
            "token",
            "create",
            "hostile-ops",
            "--role",
            "customer-admin",
            "--customer",
            "hostile",
        ])))
        .unwrap();
        let hostile = created["token"].as_str().unwrap().to_owned();
        Self { server, hostile }
    }

    fn manufacturer(&self) -> String {
        std::fs::read_to_string(self.server.data_dir.join("admin-token"))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn as_hostile(&self, method: &str, path: &str, body: &str) -> Answer {
        request(
            &self.server.admin_url,
            Some(&self.hostile),
            method,
            path,
            body.as_bytes(),
            false,
        )
    }

    fn as_manufacturer(&self, method: &str, path: &str, body: &str) -> Answer {
        request(
            &self.server.admin_url,
            Some(&self.manufacturer()),
            method,
            path,
            body.as_bytes(),
            false,
        )
    }

    fn owner(&self, serial: &str) -> Value {
        let answer = self.as_manufacturer("GET", &format!("/api/v1/devices/{serial}"), "");
        assert_eq!(answer.status, 200, "{}", answer.body);
        serde_json::from_str::<Value>(&answer.body).unwrap()["customer"].clone()
    }

    fn audit(&self) -> String {
        self.as_manufacturer("GET", "/api/v1/audit?limit=1000", "")
            .body
    }
}

#[test]
fn a_customer_token_cannot_take_a_device_by_import_create_or_patch() {
    let dir = temp_dir();
    let scene = Scene::new(dir.path());
    let server = &scene.server;

    // Import: a row naming the victim's serial and the hostile customer.
    let csv = dir.path().join("take.csv");
    std::fs::write(&csv, "serial,model,customer\nSN-0100,uCPE-100,hostile\n").unwrap();
    let import = server.admin_as(
        &scene.hostile,
        ["device".as_ref(), "import".as_ref(), csv.as_os_str()],
    );
    assert!(!import.status.success());
    assert!(String::from_utf8_lossy(&import.stderr).contains("403"));
    assert_eq!(scene.owner("SN-0100"), "victim");

    // A JSON list where the object belongs, and the object itself.
    for body in [
        r#"["uCPE-100","hostile",null]"#,
        r#"{"customer":"hostile"}"#,
    ] {
        let answer = scene.as_hostile("PATCH", "/api/v1/devices/SN-0100", body);
        assert_eq!(answer.status, 403, "{body}: {}", answer.body);
        assert_eq!(scene.owner("SN-0100"), "victim");
    }
    // Not even its own device may it re-assign, nor create one (a serial alone proves nothing).
    server.new_device("SN-0200", "hostile");
    let answer = scene.as_hostile("PATCH", "/api/v1/devices/SN-0200", r#"{"customer":null}"#);
    assert_eq!(answer.status, 403, "{}", answer.body);
    for serial in ["SN-0100", "SN-0300"] {
        let body = json!({"serial": serial, "model": "uCPE-100", "customer": "hostile"});
        let answer = scene.as_hostile("POST", "/api/v1/devices", &body.to_string());
        assert_eq!(answer.status, 403, "{serial}: {}", answer.body);
    }
    assert_eq!(scene.owner("SN-0100"), "victim");
    assert_eq!(
        scene
            .as_manufacturer("GET", "/api/v1/devices/SN-0300", "")
            .status,
        404
    );

    // The manufacturer's array is refused as well: objects only, for everyone.
    let answer = scene.as_manufacturer(
        "PATCH",
        "/api/v1/devices/SN-0100",
        r#"["uCPE-100","hostile",null]"#,
    );
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer.body.contains("must be a JSON object"),
        "{}",
        answer.body
    );
    assert_eq!(scene.owner("SN-0100"), "victim");
    // The device still bootstraps to the victim's bootstrap server.
    let booted = server.bootstrap("SN-0100", &[]);
    assert!(
        booted.status.success(),
        "{}",
        ztp_tests::transcript(&booted)
    );
    assert!(success(booted).contains("nms.victim.example"));
}

#[test]
fn secrets_in_any_body_shape_never_reach_the_audit_log_or_the_database_in_clear() {
    let dir = temp_dir();
    let scene = Scene::new(dir.path());
    let pin = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
    let password = "correct-horse-battery-staple";
    let secret = "webhook-secret-0123456789abcdef";
    let list = json!(["main", "127.0.0.1", 22, "ztp", password, [pin], "", "off"]);
    let answer = scene.as_hostile("POST", "/api/v1/customers/hostile/nms", &list.to_string());
    assert_eq!(answer.status, 400, "{}", answer.body);
    let list = json!([
        "hook",
        "https://hooks.example/ztp",
        null,
        null,
        secret,
        true
    ]);
    let answer = scene.as_hostile(
        "POST",
        "/api/v1/customers/hostile/webhooks",
        &list.to_string(),
    );
    assert_eq!(answer.status, 400, "{}", answer.body);

    let nms = json!({"name": "main", "host": "127.0.0.1", "username": "ztp",
                     "password": password, "pins": [pin], "policy": "off"});
    let answer = scene.as_hostile("POST", "/api/v1/customers/hostile/nms", &nms.to_string());
    assert_eq!(answer.status, 201, "{}", answer.body);
    let hook = json!({"name": "hook", "url": "https://hooks.example/ztp", "secret": secret});
    let answer = scene.as_hostile(
        "POST",
        "/api/v1/customers/hostile/webhooks",
        &hook.to_string(),
    );
    assert_eq!(answer.status, 201, "{}", answer.body);
    let patch = json!({"password": password});
    let answer = scene.as_hostile(
        "PATCH",
        "/api/v1/customers/hostile/nms/main",
        &patch.to_string(),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);

    let audit = scene.audit();
    assert!(audit.contains("[redacted]"), "{audit}");
    let stored = ztp_tests::database::contents(dir.path());
    for clear in [password, secret] {
        assert!(!audit.contains(clear), "{clear} in the audit log: {audit}");
        let found = ztp_tests::database::holding(&stored, clear.as_bytes());
        assert_eq!(found, None, "{clear} in clear in the database");
    }
}

#[test]
fn filters_names_and_refusals_say_what_they_mean() {
    let dir = temp_dir();
    let scene = Scene::new(dir.path());

    // A filter naming another customer is answered as one naming a missing customer.
    let other = scene.as_hostile("GET", "/api/v1/devices?customer=victim", "");
    let missing = scene.as_hostile("GET", "/api/v1/devices?customer=ghost", "");
    assert_eq!((other.status, missing.status), (404, 404), "{}", other.body);
    assert_eq!(other.body.replace("victim", "ghost"), missing.body);

    // Adding an NMS connection under a name in use is a conflict, not a silent replacement.
    let pin = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
    let nms = |host: &str| {
        json!({"name": "main", "host": host, "username": "ztp", "password": "pw", "pins": [pin]})
            .to_string()
    };
    let path = "/api/v1/customers/hostile/nms";
    assert_eq!(
        scene.as_hostile("POST", path, &nms("127.0.0.1")).status,
        201
    );
    let again = scene.as_hostile("POST", path, &nms("192.0.2.1"));
    assert_eq!(again.status, 409, "{}", again.body);
    let shown = scene.as_hostile("GET", &format!("{path}/main"), "");
    assert!(shown.body.contains("127.0.0.1"), "{}", shown.body);

    // Lookalike names are refused, naming the one they would be taken for.
    for twin in [
        "Hostile", "HOSTILE", "host1le", "hostiIe", "hostile.", "hostile_",
    ] {
        let answer = scene.as_manufacturer(
            "POST",
            "/api/v1/customers",
            &json!({"name": twin}).to_string(),
        );
        assert_eq!(answer.status, 409, "{twin}: {}", answer.body);
        assert!(
            answer.body.contains("\\\"hostile\\\""),
            "{twin}: {}",
            answer.body
        );
    }
    for (collection, body) in [
        ("nms", nms("127.0.0.1").replace("\"main\"", "\"MAIN\"")),
        (
            "webhooks",
            json!({"name": "hook", "url": "https://hooks.example/x"}).to_string(),
        ),
    ] {
        let path = format!("/api/v1/customers/hostile/{collection}");
        if collection == "webhooks" {
            assert_eq!(scene.as_hostile("POST", &path, &body).status, 201);
            let twin = body.replace("\"hook\"", "\"Hook_\"");
            let answer = scene.as_hostile("POST", &path, &twin);
            assert_eq!(answer.status, 409, "{}", answer.body);
        } else {
            let answer = scene.as_hostile("POST", &path, &body);
            assert_eq!(answer.status, 409, "{}", answer.body);
        }
    }

    // Errors speak of fields and JSON, not of the server's types.
    let answer = scene.as_manufacturer("POST", "/api/v1/customers", r#"{"name": 7}"#);
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("field name"), "{}", answer.body);
    let answer = scene.as_manufacturer("POST", "/api/v1/customers", "[]");
    assert_eq!(answer.status, 400);
    assert!(!answer.body.contains("CreateCustomer"), "{}", answer.body);

    // 401 says how to authenticate.
    let anonymous = request(
        &scene.server.admin_url,
        None,
        "GET",
        "/api/v1/devices",
        b"",
        false,
    );
    assert_eq!(anonymous.status, 401);
    assert!(
        anonymous
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer")),
        "{:?}",
        anonymous.headers
    );
}

#[test]
fn a_client_that_fails_too_often_locks_out_itself_not_the_administrators() {
    let dir = temp_dir();
    let server = Server::start_with(dir.path(), &[("ZTP_ADMIN_API__MAX_FAILED_AUTHS", "3")]);
    let token = std::fs::read_to_string(dir.path().join("admin-token")).unwrap();
    let get = |token: Option<&str>| {
        request(
            &server.admin_url,
            token,
            "GET",
            "/api/v1/customers",
            b"",
            false,
        )
        .status
    };
    for i in 0..3 {
        assert_eq!(get(Some(&format!("ztp.0000.guess{i}"))), 401);
    }
    assert_eq!(
        get(Some("ztp.0000.guess")),
        429,
        "the bad client is turned away"
    );
    assert_eq!(get(None), 429);
    assert_eq!(
        get(Some(token.trim())),
        200,
        "an administrator behind the same address is let in"
    );
}
