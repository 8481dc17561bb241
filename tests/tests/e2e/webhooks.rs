//! Webhooks against a real HTTPS receiver (Python's http.server with a certificate made by the
//! `openssl` CLI): device events arrive signed (the HMAC checked with `openssl dgst`), a test
//! delivery reports the answer, failures are retried until delivered, and a delivery survives
//! the receiver being down and ztp being killed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use ztp_tests::{Server, self_signed, success, temp_dir, tool, transcript};

const CUSTOMER: &str = "example-customer";

/// Quick retries, so that a test sees several attempts in seconds.
pub(crate) const FAST: &[(&str, &str)] = &[
    ("ZTP_WEBHOOKS__RETRY_INITIAL_SECS", "1"),
    ("ZTP_WEBHOOKS__RETRY_MAX_SECS", "2"),
    ("ZTP_WEBHOOKS__TIMEOUT_SECS", "3"),
    ("ZTP_WEBHOOKS__POLL_INTERVAL_MS", "100"),
    // The receiver is on loopback.
    ("ZTP_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES", "true"),
];

fn json(output: Output) -> Value {
    serde_json::from_str(&success(output)).unwrap()
}

/// The receiver: a Python HTTPS server logging each request to `received.jsonl`.
pub(crate) struct Receiver {
    dir: PathBuf,
    pub(crate) port: u16,
    child: Option<Child>,
}

impl Receiver {
    /// A CA and a server certificate for 127.0.0.1 in `dir`, made with the openssl CLI.
    pub(crate) fn make_certificates(dir: &Path) {
        fs::create_dir_all(dir).unwrap();
        let run = |args: &[&str]| {
            let output = tool("openssl", args);
            assert!(output.status.success(), "{}", transcript(&output));
        };
        let path = |name: &str| dir.join(name).display().to_string();
        self_signed(
            "/CN=receiver test CA",
            &dir.join("ca.pem"),
            &dir.join("ca.key"),
        );
        run(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &path("key.pem"),
            "-out",
            &path("server.csr"),
            "-subj",
            "/CN=127.0.0.1",
        ]);
        fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             extendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            &path("server.csr"),
            "-CA",
            &path("ca.pem"),
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
            "-out",
            &path("cert.pem"),
            "-days",
            "2",
            "-extfile",
            &path("ext.cnf"),
        ]);
    }

    /// Starts the receiver on `port` (0: any) in `dir`, which holds its certificate.
    pub(crate) fn start(dir: &Path, port: u16) -> Self {
        let _ = fs::remove_file(dir.join("port"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/webhook_receiver.py");
        let child = Command::new("python3")
            .arg(script)
            .arg(dir)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let port = wait_for("the receiver to listen", Duration::from_secs(20), || {
            fs::read_to_string(dir.join("port"))
                .ok()
                .and_then(|p| p.trim().parse().ok())
        });
        Self {
            dir: dir.to_owned(),
            port,
            child: Some(child),
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/hooks/ztp", self.port)
    }

    /// Answers the next requests with these statuses (then 204 again).
    fn answer(&self, statuses: &[u16]) {
        let lines: Vec<String> = statuses.iter().map(u16::to_string).collect();
        fs::write(self.dir.join("statuses"), lines.join("\n") + "\n").unwrap();
    }

    /// Every request received so far.
    pub(crate) fn received(&self) -> Vec<Value> {
        fs::read_to_string(self.dir.join("received.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits for a request of `event` about `serial` that was answered 2xx.
    fn accepted(&self, event: &str, serial: &str) -> Value {
        wait_for(
            &format!("{event} of {serial} to be accepted"),
            Duration::from_secs(30),
            || {
                self.received().into_iter().find(|r| {
                    let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
                    r["headers"]["ztp-event"] == event
                        && body["serial"] == serial
                        && r["answered"]
                            .as_u64()
                            .is_some_and(|s| (200..300).contains(&s))
                })
            },
        )
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Checks a request's `ztp-signature` with `openssl dgst -hmac` over "t.body".
fn assert_signed(request: &Value, secret: &str, dir: &Path) {
    let header = request["headers"]["ztp-signature"].as_str().unwrap();
    let (t, v1) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .unwrap_or_else(|| panic!("signature header {header:?}"));
    let message = dir.join("signed-message");
    fs::write(
        &message,
        format!("{t}.{}", request["body"].as_str().unwrap()),
    )
    .unwrap();
    let output = tool(
        "openssl",
        [
            "dgst",
            "-sha256",
            "-hmac",
            secret,
            "-r",
            &message.display().to_string(),
        ],
    );
    let digest = success(output);
    assert_eq!(digest.split_whitespace().next(), Some(v1), "{header}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t: u64 = t.parse().unwrap();
    assert!(t.abs_diff(now) < 300, "the signature is timed now");
}

pub(crate) fn body(request: &Value) -> Value {
    serde_json::from_str(request["body"].as_str().unwrap()).unwrap()
}

pub(crate) fn add_webhook(server: &Server, receiver: &Receiver, certs: &Path) -> String {
    let added = json(server.admin([
        "webhook",
        "add",
        CUSTOMER,
        "ops",
        "--url",
        &receiver.url(),
        "--ca-file",
        &certs.join("ca.pem").display().to_string(),
    ]));
    assert_eq!(
        added["events"].as_array().unwrap().len(),
        4,
        "all by default"
    );
    added["secret"].as_str().unwrap().to_owned()
}

/// Reports `progress-type` for `serial` as a device's own client does.
fn report(server: &Server, serial: &str, progress: &str) {
    let body = format!(
        r#"{{"ietf-sztp-bootstrap-server:input":{{"progress-type":"{progress}","message":"disk full"}}}}"#
    );
    let output = server.device_post(serial, "report-progress", &body, &["-w", "%{http_code}"]);
    assert_eq!(success(output).trim(), "204");
}

#[test]
fn device_events_reach_the_customers_receiver_signed_and_retried() {
    let dir = temp_dir();
    let certs = dir.path().join("receiver");
    Receiver::make_certificates(&certs);
    let receiver = Receiver::start(&certs, 0);
    let server = Server::start_with(&dir.path().join("ztp"), FAST);
    let secret = add_webhook(&server, &receiver, &certs);
    assert!(secret.starts_with("whsec_"), "{secret}");

    // The secret is shown once: never again, and not in the database.
    let shown = success(server.admin(["webhook", "show", CUSTOMER, "ops"]));
    assert!(!shown.contains(&secret), "{shown}");
    let stored = ztp_tests::database::contents(&dir.path().join("ztp"));
    assert_eq!(
        ztp_tests::database::holding(&stored, secret.as_bytes()),
        None,
        "the secret is sealed in the database"
    );

    // A test delivery: a signed ping, answered.
    let tested = json(server.admin(["webhook", "test", CUSTOMER, "ops"]));
    assert_eq!(
        (tested["ok"].as_bool(), tested["status"].as_u64()),
        (Some(true), Some(204))
    );
    let ping = receiver.received().pop().unwrap();
    assert_eq!(ping["headers"]["ztp-event"], "ping");
    assert_eq!(ping["path"], "/hooks/ztp");
    assert_signed(&ping, &secret, dir.path());

    // A device that completes its bootstrap is announced; the receiver fails twice first.
    // (Redirected devices report completion to the server they are sent to; one that ends its
    // bootstrap here reports it here, as this one does.)
    receiver.answer(&[503, 500]);
    server.new_device("SN-HOOK-1", CUSTOMER);
    let outcome = server.bootstrap("SN-HOOK-1", &[]);
    assert!(outcome.status.success(), "{}", transcript(&outcome));
    report(&server, "SN-HOOK-1", "bootstrap-complete");
    let complete = receiver.accepted("device.bootstrap-complete", "SN-HOOK-1");
    assert_signed(&complete, &secret, dir.path());
    let event = body(&complete);
    assert_eq!(event["type"], "device.bootstrap-complete");
    assert_eq!(event["customer"], CUSTOMER);
    assert!(event["occurred_at"].as_str().unwrap().ends_with('Z'));
    let attempts: Vec<Value> = receiver
        .received()
        .iter()
        .filter(|r| r["headers"]["ztp-event"] != "ping" && body(r)["id"] == event["id"])
        .map(|r| r["answered"].clone())
        .collect();
    assert_eq!(
        attempts,
        [Value::from(503), Value::from(500), Value::from(204)],
        "the same delivery, retried until accepted"
    );
    let deliveries = json(server.admin(["webhook", "deliveries", CUSTOMER, "ops"]));
    let delivered = &deliveries[0];
    assert_eq!(delivered["state"], "delivered");
    assert_eq!(delivered["attempts"], 3);
    assert_eq!(delivered["id"], event["id"]);

    // A device that reports a fatal error is announced as failed.
    report(&server, "SN-HOOK-1", "bootstrap-error");
    let failed = body(&receiver.accepted("device.bootstrap-failed", "SN-HOOK-1"));
    assert!(
        failed["detail"].as_str().unwrap().contains("disk full"),
        "{failed}"
    );

    // A device that finds its pool used up is announced.
    success(server.admin([
        "license",
        "pool-add",
        CUSTOMER,
        "core",
        "--feature",
        "ESS-ED-100G-SIA3",
        "--model",
        "uCPE-100",
        "--seats",
        "1",
    ]));
    server.new_device("SN-HOOK-2", CUSTOMER);
    for serial in ["SN-HOOK-1", "SN-HOOK-2"] {
        let outcome = server.bootstrap(serial, &["--hw-model", "uCPE-100"]);
        assert!(outcome.status.success(), "{}", transcript(&outcome));
    }
    let short = body(&receiver.accepted("device.license-shortage", "SN-HOOK-2"));
    assert!(
        short["detail"].as_str().unwrap().contains("no seat"),
        "{short}"
    );

    // Another customer's device says nothing here.
    success(server.admin(["customer", "add", "other"]));
    server.new_device("SN-OTHER", "other");
    report(&server, "SN-OTHER", "bootstrap-complete");

    let shown = wait_for("three deliveries", Duration::from_secs(30), || {
        let shown = json(server.admin(["webhook", "show", CUSTOMER, "ops"]));
        (shown["status"]["delivered"].as_u64() >= Some(3)).then_some(shown)
    });
    assert_eq!(shown["status"]["state"], "ok");
    assert_eq!(
        (&shown["status"]["delivered"], &shown["status"]["pending"]),
        (&Value::from(3), &Value::from(0)),
        "only the subscriber's own devices: {shown}"
    );
}

#[test]
fn a_delivery_waits_out_a_receiver_outage_and_a_killed_ztp() {
    let dir = temp_dir();
    let certs = dir.path().join("receiver");
    Receiver::make_certificates(&certs);
    let mut receiver = Receiver::start(&certs, 0);
    let port = receiver.port;
    let data = dir.path().join("ztp");
    let mut server = Server::process_with(&data, FAST);
    add_webhook(&server, &receiver, &certs);
    receiver.stop();

    server.new_device("SN-DOWN", CUSTOMER);
    assert!(server.bootstrap("SN-DOWN", &[]).status.success());
    report(&server, "SN-DOWN", "bootstrap-complete");
    let failing = wait_for("a failed attempt", Duration::from_secs(30), || {
        let shown = json(server.admin(["webhook", "show", CUSTOMER, "ops"]));
        (shown["status"]["state"] == "failing").then_some(shown)
    });
    let error = failing["status"]["last_error"].as_str().unwrap();
    assert!(error.contains("cannot connect"), "{error}");
    assert_eq!(failing["status"]["pending"], 1);

    // ztp dies with the delivery pending; the receiver comes back; ztp starts again.
    server.kill();
    let receiver = Receiver::start(&certs, port);
    let server = Server::process_with(&data, FAST);
    receiver.accepted("device.bootstrap-complete", "SN-DOWN");
    let shown = wait_for(
        "the delivery to be settled",
        Duration::from_secs(30),
        || {
            let shown = json(server.admin(["webhook", "show", CUSTOMER, "ops"]));
            (shown["status"]["delivered"] == 1).then_some(shown)
        },
    );
    assert_eq!(shown["status"]["state"], "ok");
    let once: Vec<Value> = receiver
        .received()
        .into_iter()
        .filter(|r| r["headers"]["ztp-event"] == "device.bootstrap-complete")
        .collect();
    assert_eq!(once.len(), 1, "delivered once: {once:?}");
}

#[test]
fn bad_webhooks_are_refused_with_reasons_and_other_customers_see_none() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let refused = |args: &[&str], needle: &str| {
        let mut all = vec!["webhook", "add", CUSTOMER];
        all.extend_from_slice(args);
        let output = server.admin(all);
        assert!(!output.status.success(), "{}", transcript(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "expected {needle:?}: {stderr}");
    };
    refused(&["h", "--url", "http://hooks.example/"], "must be https://");
    refused(
        &["h", "--url", "https://u:p@hooks.example/"],
        "user information",
    );
    refused(
        &[
            "h",
            "--url",
            "https://hooks.example/",
            "--event",
            "device-exploded",
        ],
        "device-exploded",
    );
    let bogus = dir.path().join("bogus.pem");
    fs::write(&bogus, "not a certificate").unwrap();
    refused(
        &[
            "h",
            "--url",
            "https://hooks.example/",
            "--ca-file",
            bogus.to_str().unwrap(),
        ],
        "no PEM certificate",
    );
    refused(
        &["../h", "--url", "https://hooks.example/"],
        "must be 1 to 64",
    );

    // A receiver at a private address is refused at delivery unless allowed (off here).
    let added = json(server.admin([
        "webhook",
        "add",
        CUSTOMER,
        "internal",
        "--url",
        "https://127.0.0.1:9/steal",
    ]));
    assert_eq!(added["name"], "internal");
    let tested = server.admin(["webhook", "test", CUSTOMER, "internal"]);
    assert!(!tested.status.success());
    let said = String::from_utf8_lossy(&tested.stdout);
    assert!(said.contains("non-public"), "{said}");

    // Another customer's admin sees no such webhook; its own admin does.
    success(server.admin(["customer", "add", "other"]));
    let token = |customer: &str| {
        json(server.admin([
            "token",
            "create",
            customer,
            "--role",
            "customer-admin",
            "--customer",
            customer,
        ]))["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let other = token("other");
    let output = server.admin_as(&other, ["webhook", "show", CUSTOMER, "internal"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("404"),
        "{}",
        transcript(&output)
    );
    let own = token(CUSTOMER);
    let listed = json(server.admin_as(&own, ["webhook", "list", CUSTOMER]));
    assert_eq!(listed[0]["name"], "internal");
    success(server.admin_as(&own, ["webhook", "remove", CUSTOMER, "internal"]));

    // Every change is audited, the secret never.
    let audit =
        success(server.admin(["audit", "--object", "/customers/example-customer/webhooks"]));
    assert!(
        audit.contains("added webhook") && audit.contains("removed webhook"),
        "{audit}"
    );
    assert!(!audit.contains("whsec_"), "{audit}");
}
