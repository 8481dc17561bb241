//! Device registration with the owner's NMS, against a real OpenSSH sshd: a device that
//! bootstraps appears as `<serial>.xml` in the NMS directory (valid YANG, the certificate it
//! presented); a wrong pin sends nothing and holds the device back; outages and a killed ztp lose
//! and duplicate nothing; hostile serials never write anywhere; an NMS host that resolves to an
//! address the host policy refuses is never connected to.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use ztp_certs::Cert;
use ztp_tests::sshd::{Sshd, tree};
use ztp_tests::{
    NMS_ALLOWED_PRIVATE_NETWORKS, Server, curl, success, temp_dir, tool, transcript, yanglint,
};
use ztp_yang::{DeviceRegistration, Document};

/// Quick retries and short timeouts, so that a test sees several attempts in seconds.
const FAST: &[(&str, &str)] = &[
    ("ZTP_NMS__RETRY_INITIAL_SECS", "1"),
    ("ZTP_NMS__RETRY_MAX_SECS", "2"),
    ("ZTP_NMS__CONNECT_TIMEOUT_SECS", "2"),
    ("ZTP_NMS__AUTH_TIMEOUT_SECS", "3"),
    ("ZTP_NMS__OPERATION_TIMEOUT_SECS", "3"),
    ("ZTP_NMS__POLL_INTERVAL_MS", "100"),
];

const CUSTOMER: &str = "example-customer";
const MODULE: &str = "ztp-device-registration@2026-12-09.yang";

fn json(output: std::process::Output) -> Value {
    serde_json::from_str(&success(output)).unwrap()
}

/// The server on `dir` with [`FAST`] retries and timeouts (and `extra`), in-process.
pub(crate) fn fast_server(dir: &Path, extra: &[(&str, &str)]) -> Server {
    let env: Vec<(&str, &str)> = FAST.iter().chain(extra).copied().collect();
    Server::start_with(dir, &env)
}

/// Like `fast_server`, as a `ztp serve` process: for tests that kill it or read its log.
pub(crate) fn fast_process(dir: &Path, extra: &[(&str, &str)]) -> Server {
    let env: Vec<(&str, &str)> = FAST.iter().chain(extra).copied().collect();
    Server::process_with(dir, &env)
}

/// Adds the NMS connection `main` for the sample customer with a generated key, installed in
/// sshd's authorized keys when `install` (else the NMS does not know ztp's key yet).
fn add_nms(server: &Server, sshd: &Sshd, policy: &str, pin: &str, install: bool) -> Value {
    let added = json(server.admin([
        "nms",
        "add",
        CUSTOMER,
        "main",
        "--host",
        "127.0.0.1",
        "--port",
        &sshd.port().to_string(),
        "--user",
        "root",
        "--pin",
        pin,
        "--directory",
        &sshd.incoming().display().to_string(),
        "--policy",
        policy,
    ]));
    if install {
        install_key(sshd, &added);
    }
    added
}

/// A server whose sample customer registers devices with a working NMS (pinned, key
/// installed) under `policy`.
fn registering(dir: &Path, policy: &str, env: &[(&str, &str)]) -> (Server, Sshd) {
    let server = fast_server(dir, env);
    let sshd = Sshd::start();
    let pin = sshd.host_fingerprint().to_string();
    add_nms(&server, &sshd, policy, &pin, true);
    (server, sshd)
}

fn install_key(sshd: &Sshd, added: &Value) {
    let key = added["public_key"].as_str().expect("a generated key");
    fs::write(sshd.root().join("authorized_keys"), format!("{key}\n")).unwrap();
}

/// The registrations `ztp registration list` shows (with `args`), up to 1000.
pub(crate) fn registrations(server: &Server, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["registration", "list", "--limit", "1000"];
    all.extend_from_slice(args);
    serde_json::from_str(&success(server.admin(all))).unwrap()
}

/// The newest 1000 events of `kind`.
pub(crate) fn events(server: &Server, kind: &str) -> Vec<Value> {
    let out = success(server.admin(["events", "--kind", kind, "--limit", "1000"]));
    serde_json::from_str(&out).unwrap()
}

fn nms_status(server: &Server) -> Value {
    json(server.admin(["nms", "show", CUSTOMER, "main"]))["status"].clone()
}

/// Polls `done` every 100 ms for at most `limit`; panics with `what` and the last state.
fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + limit;
    loop {
        match done() {
            Ok(()) => return,
            Err(state) if Instant::now() >= deadline => {
                panic!("{what}: not within {limit:?}; last: {state}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn delivered(server: &Server, count: usize) -> impl FnMut() -> Result<(), String> + '_ {
    move || {
        let all = registrations(server, &[]);
        let done = all.iter().filter(|r| r["state"] == "delivered").count();
        if done == count {
            Ok(())
        } else {
            Err(format!("{done} of {count} delivered: {all:#?}"))
        }
    }
}

/// The DER of the IDevID certificate the development PKI issued to `serial`.
fn idevid_der(server: &Server, serial: &str) -> Vec<u8> {
    let pem =
        fs::read_to_string(server.pki().join("devices").join(serial).join("idevid.pem")).unwrap();
    Cert::from_pem(&pem).unwrap().der().to_vec()
}

fn document(path: &Path) -> DeviceRegistration {
    DeviceRegistration::from_xml(&fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bootstrap_ok(server: &Server, serial: &str, extra: &[&str]) {
    let output = server.bootstrap(serial, extra);
    assert!(
        output.status.success(),
        "{serial} was not answered: {}",
        transcript(&output)
    );
}

#[test]
fn a_bootstrapped_device_is_registered_as_valid_yang_with_the_certificate_it_presented() {
    let dir = temp_dir();
    let (server, sshd) = registering(dir.path(), "nms-first", &[]);

    // nms-first: the one call waits for the delivery and is answered.
    bootstrap_ok(&server, "SN-0001", &[]);
    let file = sshd.incoming().join("SN-0001.xml");
    assert_eq!(
        sshd.incoming_files(),
        ["SN-0001.xml"],
        "no temporary file left"
    );
    yanglint(None, &[MODULE], &file).unwrap();
    let registration = document(&file);
    assert_eq!(registration.serial_number, "SN-0001");
    assert_eq!(registration.owner, CUSTOMER);
    assert_eq!(registration.model_name, "uCPE-100");
    assert_eq!(
        registration.idevid_certificate,
        Some(idevid_der(&server, "SN-0001")),
        "the certificate the device presented"
    );
    assert!(registration.ssh_host_keys.is_empty());

    // The device calls again: the NMS already has this, nothing is sent again.
    let before = fs::read(&file).unwrap();
    bootstrap_ok(&server, "SN-0001", &[]);
    let listed = registrations(&server, &["--serial", "SN-0001"]);
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["state"], "delivered");
    assert_eq!(listed[0]["attempts"], 1);
    assert_eq!(events(&server, "registration-delivered").len(), 1);
    assert_eq!(fs::read(&file).unwrap(), before);

    // bootstrap-complete with the device's SSH host key: the NMS gets it in a new version.
    let host_key = dir.path().join("device_host_key");
    success(tool(
        "ssh-keygen",
        [
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            host_key.to_str().unwrap(),
        ],
    ));
    let public = PathBuf::from(format!("{}.pub", host_key.display()));
    bootstrap_ok(&server, "SN-0001", &[]);
    assert_eq!(
        success(server.report("SN-0001", "bootstrap-complete", Some(&public))),
        "204"
    );
    wait_until(
        "the host key reaches the NMS",
        Duration::from_secs(30),
        || {
            let keys = document(&file).ssh_host_keys;
            if keys.is_empty() {
                Err("no keys yet".into())
            } else {
                Ok(())
            }
        },
    );
    yanglint(None, &[MODULE], &file).unwrap();
    let updated = document(&file);
    assert_eq!(updated.ssh_host_keys[0].algorithm, "ssh-ed25519");
    let line = fs::read_to_string(&public).unwrap();
    let blob = line.split_whitespace().nth(1).unwrap();
    assert_eq!(
        base64_encode(&updated.ssh_host_keys[0].key_data),
        blob,
        "the key the device reported"
    );
    assert_eq!(updated.registered_at, registration.registered_at);

    let shown = json(server.admin(["registration", "show", &listed[0]["id"].to_string()]));
    assert_eq!(
        shown["content"].as_str().unwrap().as_bytes(),
        fs::read(&file).unwrap(),
        "the admin API shows what the NMS has"
    );
    let status = nms_status(&server);
    assert_eq!(status["state"], "ok", "{status:#}");
    assert_eq!(status["delivered"], 1, "{status:#}");
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_device_without_an_idevid_is_registered_by_its_serial_alone() {
    let dir = temp_dir();
    let (server, sshd) = registering(
        dir.path(),
        "nms-first",
        &[("ZTP_DEVICE_API__ACTIVATION_CODES", "true")],
    );
    server.add_device("VM-0001", "vCPE-1", CUSTOMER);
    let path = "/api/v1/devices/VM-0001/activation-code";
    let set = server.admin_request(
        "PUT",
        path,
        r#"{"code":"VM-0001-CODE-XYZ","only_factor":true}"#,
    );
    assert_eq!(set.status, 200, "{}", set.body);
    // nms-first: answered once its registration reached the NMS.
    let answered =
        super::activation_codes::without_idevid(&server, Some("VM-0001:VM-0001-CODE-XYZ"));
    assert!(
        String::from_utf8_lossy(&answered.stdout).starts_with("HTTP/1.1 200")
            || String::from_utf8_lossy(&answered.stdout).starts_with("HTTP/2 200"),
        "{}",
        transcript(&answered)
    );
    let file = sshd.incoming().join("VM-0001.xml");
    yanglint(None, &[MODULE], &file).unwrap();
    let registration = document(&file);
    assert_eq!(registration.serial_number, "VM-0001");
    assert_eq!(registration.idevid_certificate, None, "it has no IDevID");
}

#[test]
fn a_wrong_pin_sends_nothing_raises_one_alarm_and_holds_the_device_back() {
    let dir = temp_dir();
    let server = fast_server(dir.path(), &[("ZTP_NMS__INLINE_WAIT_MS", "1500")]);
    let sshd = Sshd::start();
    let right = sshd.host_fingerprint().to_string();
    let wrong = Sshd::any_pin().to_string();
    add_nms(&server, &sshd, "nms-first", &wrong, true);

    // Refused with 503 (Retry-After) while the registration cannot be delivered.
    let output = server.bootstrap("SN-0001", &[]);
    assert!(!output.status.success(), "{}", transcript(&output));
    assert!(
        transcript(&output).contains("503"),
        "{}",
        transcript(&output)
    );
    let device = json(server.admin(["device", "show", "SN-0001"]));
    assert_eq!(device["state"], "contacted", "not redirected: {device:#}");
    let refused = events(&server, "bootstrap-refused");
    assert!(
        refused
            .iter()
            .any(|e| e["status"] == 503
                && e["detail"].as_str().unwrap().contains("host key mismatch")),
        "{refused:#?}"
    );

    // Several attempts later: still nothing sent, and one alarm, not one per attempt.
    wait_until("a few attempts", Duration::from_secs(30), || {
        let r = &registrations(&server, &[])[0];
        match r["attempts"].as_i64() {
            Some(n) if n >= 3 => Ok(()),
            _ => Err(r.to_string()),
        }
    });
    assert!(server.bootstrap("SN-0001", &[]).status.code() == Some(1));
    assert!(sshd.incoming_files().is_empty());
    assert_eq!(sshd.accepted_logins(), 0, "no credential was offered");
    let alarms = events(&server, "nms-host-key-mismatch");
    assert_eq!(alarms.len(), 1, "{alarms:#?}");
    let detail = alarms[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&right) && detail.contains(&wrong),
        "both fingerprints: {detail}"
    );
    let status = nms_status(&server);
    assert_eq!(status["state"], "failing");
    assert_eq!(status["pending"], 1, "still queued: {status:#}");
    assert_eq!(status["dead"], 0);

    // The administrator pins the right key: delivered at once, the device is answered.
    success(server.admin(["nms", "set", CUSTOMER, "main", "--pin", &right]));
    wait_until("delivery", Duration::from_secs(30), delivered(&server, 1));
    bootstrap_ok(&server, "SN-0001", &[]);
    assert_eq!(sshd.incoming_files(), ["SN-0001.xml"]);
    assert_eq!(events(&server, "nms-recovered").len(), 1);
    assert_eq!(nms_status(&server)["state"], "ok");
}

#[test]
fn registrations_to_a_host_that_resolves_to_a_refused_address_fail_like_an_unreachable_nms() {
    let dir = temp_dir();
    let server = fast_server(dir.path(), &[(NMS_ALLOWED_PRIVATE_NETWORKS, "[]")]);
    let sshd = Sshd::start();
    let pin = sshd.host_fingerprint().to_string();
    // A working NMS, but named `localhost`: loopback, which this server does not allow.
    let added = json(server.admin([
        "nms",
        "add",
        CUSTOMER,
        "main",
        "--host",
        "localhost",
        "--port",
        &sshd.port().to_string(),
        "--user",
        "root",
        "--pin",
        &pin,
        "--directory",
        &sshd.incoming().display().to_string(),
        "--policy",
        "parallel",
    ]));
    install_key(&sshd, &added);

    bootstrap_ok(&server, "SN-0001", &[]);
    wait_until("a failed attempt", Duration::from_secs(30), || {
        let status = nms_status(&server);
        match status["last_error"].as_str() {
            Some(error) => {
                assert!(
                    error.contains("not allowed") && error.contains("allowed_private_networks"),
                    "{error}"
                );
                Ok(())
            }
            None => Err(status.to_string()),
        }
    });
    assert_eq!(nms_status(&server)["state"], "failing");
    assert_eq!(registrations(&server, &["--state", "pending"]).len(), 1);
    assert_eq!(sshd.accepted_logins(), 0);
    assert!(sshd.incoming_files().is_empty());
}

#[test]
fn outages_and_a_killed_server_neither_lose_nor_duplicate_registrations() {
    let dir = temp_dir();
    let mut server = fast_process(dir.path(), &[]);
    let mut sshd = Sshd::start();
    let pin = sshd.host_fingerprint().to_string();
    // The NMS administrator has not installed ztp's key yet.
    let added = add_nms(&server, &sshd, "parallel", &pin, false);
    for serial in ["SN-0004", "SN-0005"] {
        server.new_device(serial, CUSTOMER);
    }
    let first: Vec<&str> = vec!["SN-0001", "SN-0002", "SN-0003", "SN-0004", "SN-0005"];

    // parallel: devices are answered at once; the registrations wait.
    for serial in &first {
        bootstrap_ok(&server, serial, &[]);
    }
    wait_until("a failed attempt", Duration::from_secs(30), || {
        let status = nms_status(&server);
        match status["last_error"].as_str() {
            Some(error) => {
                assert!(error.contains("public key not accepted"), "{error}");
                Ok(())
            }
            None => Err(status.to_string()),
        }
    });
    assert_eq!(nms_status(&server)["state"], "failing");
    assert_eq!(events(&server, "nms-failing").len(), 1);

    // The NMS goes down; meanwhile its administrator installs ztp's key.
    sshd.stop();
    install_key(&sshd, &added);
    wait_until(
        "an attempt against the stopped NMS",
        Duration::from_secs(30),
        || {
            let status = nms_status(&server);
            match status["last_error"].as_str() {
                Some(error) if error.contains("cannot connect") => Ok(()),
                _ => Err(status.to_string()),
            }
        },
    );
    assert_eq!(
        registrations(&server, &["--state", "pending"]).len(),
        first.len()
    );

    // Back up: every registration is delivered exactly once.
    sshd.restart();
    wait_until(
        "delivery after the outage",
        Duration::from_secs(60),
        delivered(&server, 5),
    );
    let mut expected: Vec<String> = first.iter().map(|s| format!("{s}.xml")).collect();
    assert_eq!(sshd.incoming_files(), expected);

    // Down again; three more devices queue up; ztp is killed with the queue non-empty.
    sshd.stop();
    let later = ["SN-0006", "SN-0007", "SN-0008"];
    for serial in later {
        server.new_device(serial, CUSTOMER);
        bootstrap_ok(&server, serial, &[]);
    }
    wait_until("the new ones failed once", Duration::from_secs(30), || {
        let pending = registrations(&server, &["--state", "pending"]);
        let failed = pending
            .iter()
            .filter(|r| r["last_error"].is_string())
            .count();
        if failed == later.len() {
            Ok(())
        } else {
            Err(format!("{pending:#?}"))
        }
    });
    server.kill();
    sshd.restart();
    let server = fast_process(dir.path(), &[]);
    // A registration caught mid-attempt by the kill waits for its lease (50 s with these timeouts).
    wait_until(
        "delivery after the restart",
        Duration::from_secs(120),
        delivered(&server, 8),
    );
    expected.extend(later.iter().map(|s| format!("{s}.xml")));
    assert_eq!(sshd.incoming_files(), expected);

    // None duplicated: one delivery event per device, and every file holds its own device.
    let events = events(&server, "registration-delivered");
    for serial in first.iter().chain(&later) {
        let count = events.iter().filter(|e| e["serial"] == *serial).count();
        assert_eq!(count, 1, "{serial}: {events:#?}");
        let registration = document(&sshd.incoming().join(format!("{serial}.xml")));
        assert_eq!(registration.serial_number, *serial);
        assert_eq!(
            registration.idevid_certificate,
            Some(idevid_der(&server, serial))
        );
    }
}

/// Issues, with the openssl CLI and the development IDevID CA, a client certificate whose
/// subject serialNumber is `serial` (no ztp code involved, so any value can be tried).
fn hostile_certificate(
    server: &Server,
    dir: &Path,
    name: &str,
    serial: &str,
) -> (PathBuf, PathBuf) {
    let pki = server.pki();
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let cert = dir.join(format!("{name}.pem"));
    let ext = dir.join("client.ext");
    fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    let subject = format!("/serialNumber={}/CN=device", serial.replace('/', "\\/"));
    success(tool(
        "openssl",
        [
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            csr.to_str().unwrap(),
            "-subj",
            &subject,
        ],
    ));
    success(tool(
        "openssl",
        [
            "x509",
            "-req",
            "-in",
            csr.to_str().unwrap(),
            "-CA",
            pki.join("manufacturer/idevid-ca.pem").to_str().unwrap(),
            "-CAkey",
            pki.join("manufacturer/idevid-ca.key").to_str().unwrap(),
            "-set_serial",
            "4242",
            "-days",
            "1",
            "-extfile",
            ext.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ],
    ));
    (cert, key)
}

#[test]
fn hostile_serials_never_write_outside_the_nms_directory() {
    let dir = temp_dir();
    let (server, sshd) = registering(dir.path(), "parallel", &[]);
    bootstrap_ok(&server, "SN-0001", &[]);
    wait_until(
        "the legitimate delivery",
        Duration::from_secs(30),
        delivered(&server, 1),
    );
    let before = tree(sshd.root());

    let long = "A".repeat(4096);
    let hostile = [
        "../../etc/passwd",
        "a/b",
        "..",
        ".hidden",
        long.as_str(),
        "SN\n0002",
        "SN\u{0}0002",
        "SN-0002.xml/../../x",
    ];
    // The inventory refuses them (straight to the admin API: a NUL cannot be an argument).
    let token = fs::read_to_string(dir.path().join("admin-token")).unwrap();
    for serial in hostile {
        let body = serde_json::json!({"serial": serial, "model": "uCPE-100", "customer": CUSTOMER});
        let output = curl([
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            &format!("Authorization: Bearer {}", token.trim()),
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body.to_string(),
            &format!("{}/api/v1/devices", server.admin_url),
        ]);
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "400",
            "{serial:?} was not refused: {}",
            transcript(&output)
        );
    }
    // A device certificate that carries one is refused at the door.
    let root = server.pki().join("manufacturer/root-ca.pem");
    for (i, serial) in ["../../etc/passwd", "a/b", "..", ".hidden"]
        .iter()
        .enumerate()
    {
        let (cert, key) = hostile_certificate(&server, dir.path(), &format!("hostile{i}"), serial);
        let output = curl([
            "--cacert".as_ref(),
            root.as_os_str(),
            "--cert".as_ref(),
            cert.as_os_str(),
            "--key".as_ref(),
            key.as_os_str(),
            "-o".as_ref(),
            "/dev/null".as_ref(),
            "-w".as_ref(),
            "%{http_code}".as_ref(),
            "-X".as_ref(),
            "POST".as_ref(),
            format!(
                "{}/restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data",
                server.device_url
            )
            .as_ref(),
        ]);
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "401",
            "{serial:?}: {}",
            transcript(&output)
        );
    }
    let refusals = events(&server, "bootstrap-refused");
    assert!(refusals.len() >= 4, "{refusals:#?}");

    // Nothing was queued for them and nothing changed on the NMS or around it.
    assert_eq!(registrations(&server, &[]).len(), 1);
    // A round of the courier has nothing to deliver: the NMS is as it was.
    let round = server.courier_round();
    assert_eq!(round.claimed, 0, "{round:?}");
    assert_eq!(tree(sshd.root()), before);
    assert_eq!(sshd.incoming_files(), ["SN-0001.xml"]);
    let outside = sshd.root().parent().unwrap();
    assert!(!outside.join("etc/passwd").exists());
    assert!(!outside.join("x").exists());
}

#[test]
fn an_nms_that_hangs_does_not_hold_up_another() {
    let dir = temp_dir();
    // Long timeouts: the silent NMS below keeps its attempt hanging for the whole test.
    let server = Server::start_with(
        dir.path(),
        &[
            ("ZTP_NMS__CONNECT_TIMEOUT_SECS", "120"),
            ("ZTP_NMS__POLL_INTERVAL_MS", "100"),
        ],
    );
    let sshd = Sshd::start();
    add_nms(
        &server,
        &sshd,
        "parallel",
        &sshd.host_fingerprint().to_string(),
        true,
    );
    // An "NMS" whose TCP port accepts connections and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    success(server.admin([
        "nms",
        "add",
        CUSTOMER,
        "silent",
        "--host",
        "127.0.0.1",
        "--port",
        &silent.local_addr().unwrap().port().to_string(),
        "--user",
        "ztp",
        "--pin",
        &Sshd::any_pin().to_string(),
        "--policy",
        "parallel",
    ]));

    bootstrap_ok(&server, "SN-0001", &[]);
    wait_until(
        "delivery to the working NMS",
        Duration::from_secs(60),
        || {
            let main = &registrations(&server, &["--connection", "main"])[0];
            if main["state"] == "delivered" {
                Ok(())
            } else {
                Err(main.to_string())
            }
        },
    );
    assert_eq!(sshd.incoming_files(), ["SN-0001.xml"]);
    // Meanwhile the other one's first attempt is still waiting for the server's first word.
    let stuck = &registrations(&server, &["--connection", "silent"])[0];
    assert_eq!(stuck["state"], "pending", "{stuck:#}");
    assert_eq!(stuck["attempts"], 1, "{stuck:#}");
    assert!(
        stuck["last_error"].is_null(),
        "still in its first attempt: {stuck:#}"
    );
    drop(silent);
}

#[test]
fn an_nms_that_never_takes_the_file_holds_its_devices_back_for_a_bounded_time() {
    let dir = temp_dir();
    let server = fast_process(
        dir.path(),
        &[
            ("ZTP_NMS__INLINE_WAIT_MS", "500"),
            ("ZTP_NMS__MAX_DEVICE_HOLD_SECS", "3"),
        ],
    );
    let sshd = Sshd::start();
    add_nms(
        &server,
        &sshd,
        "nms-first",
        &Sshd::any_pin().to_string(),
        true,
    );

    // Held back while the hold lasts...
    let output = server.bootstrap("SN-0001", &[]);
    assert!(
        transcript(&output).contains("503"),
        "{}",
        transcript(&output)
    );
    // ...then answered, though the NMS still has nothing; delivery goes on.
    wait_until("an answer after the hold", Duration::from_secs(30), || {
        let output = server.bootstrap("SN-0001", &[]);
        if output.status.success() {
            Ok(())
        } else {
            Err(transcript(&output))
        }
    });
    let registration = &registrations(&server, &[])[0];
    assert_eq!(registration["state"], "pending", "{registration:#}");
    assert!(sshd.incoming_files().is_empty());
    assert!(
        server
            .log()
            .contains("answering the device before its registration reached the NMS"),
        "the operator is told"
    );
}

#[test]
fn a_graceful_stop_releases_the_upload_in_flight_for_the_next_start() {
    let dir = temp_dir();
    // Long timeouts: the attempt on the silent NMS below hangs, under a lease of many minutes.
    let env = [
        ("ZTP_NMS__CONNECT_TIMEOUT_SECS", "120"),
        ("ZTP_NMS__POLL_INTERVAL_MS", "100"),
    ];
    let mut server = Server::process_with(dir.path(), &env);
    let sshd = Sshd::start();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let added = json(server.admin([
        "nms",
        "add",
        CUSTOMER,
        "main",
        "--host",
        "127.0.0.1",
        "--port",
        &silent.local_addr().unwrap().port().to_string(),
        "--user",
        "root",
        "--pin",
        &sshd.host_fingerprint().to_string(),
        "--directory",
        &sshd.incoming().display().to_string(),
        "--policy",
        "parallel",
    ]));
    install_key(&sshd, &added);
    bootstrap_ok(&server, "SN-0001", &[]);
    wait_until("an attempt in flight", Duration::from_secs(30), || {
        let r = &registrations(&server, &[])[0];
        if r["attempts"] == 1 && r["last_error"].is_null() {
            Ok(())
        } else {
            Err(r.to_string())
        }
    });

    // SIGTERM mid-upload, then a start that finds the NMS where it now listens.
    server.stop();
    drop(silent);
    let server = Server::process_with(dir.path(), &env);
    success(server.admin([
        "nms",
        "set",
        CUSTOMER,
        "main",
        "--port",
        &sshd.port().to_string(),
    ]));
    // Delivered at once, not when the lease of the abandoned attempt ends.
    wait_until(
        "delivery after the restart",
        Duration::from_secs(30),
        delivered(&server, 1),
    );
    assert_eq!(sshd.incoming_files(), ["SN-0001.xml"]);
    assert!(
        server
            .log()
            .contains("released the registrations in flight")
    );
}

#[test]
fn dead_letters_are_listed_and_delivered_when_an_administrator_retries_them() {
    let dir = temp_dir();
    let server = fast_server(dir.path(), &[("ZTP_NMS__GIVE_UP_AFTER_SECS", "1")]);
    let mut sshd = Sshd::start();
    add_nms(
        &server,
        &sshd,
        "nms-first",
        &sshd.host_fingerprint().to_string(),
        true,
    );
    sshd.stop();

    // The NMS stays down past the give-up time: a dead letter, with an event.
    assert!(!server.bootstrap("SN-0001", &[]).status.success());
    wait_until("a dead letter", Duration::from_secs(30), || {
        let dead = registrations(&server, &["--state", "dead"]);
        if dead.len() == 1 {
            Ok(())
        } else {
            Err(format!("{:#?}", registrations(&server, &[])))
        }
    });
    let dead = &registrations(&server, &["--state", "dead"])[0];
    assert!(
        dead["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{dead:#}"
    );
    let events = events(&server, "registration-dead");
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["serial"], "SN-0001");
    assert_eq!(nms_status(&server)["dead"], 1);

    // A dead letter holds the device back no longer: it is answered (the operator has the
    // registration-dead event and the connection's health to act on).
    bootstrap_ok(&server, "SN-0001", &[]);

    // The NMS is back; the administrator retries the dead letters.
    sshd.restart();
    let retried = json(server.admin(["registration", "retry", "--dead", "--customer", CUSTOMER]));
    assert_eq!(retried["retried"], 1);
    wait_until(
        "delivery after the retry",
        Duration::from_secs(30),
        delivered(&server, 1),
    );
    assert_eq!(sshd.incoming_files(), ["SN-0001.xml"]);
    bootstrap_ok(&server, "SN-0001", &[]);
}

#[test]
fn a_devices_timeline_tells_its_story_in_order() {
    let dir = temp_dir();
    let (server, _sshd) = registering(dir.path(), "nms-first", &[]);
    success(server.admin([
        "license",
        "pool-add",
        CUSTOMER,
        "core",
        "--feature",
        "ESS-ED-100G-SIA3",
        "--model",
        "uCPE-100",
    ]));
    success(server.admin(["device", "set", "SN-0001", "--model", "uCPE-100"]));
    bootstrap_ok(&server, "SN-0001", &["--hw-model", "uCPE-100"]);
    assert_eq!(
        success(server.report("SN-0001", "bootstrap-complete", None)),
        "204"
    );
    let timeline = json(server.admin(["device", "timeline", "SN-0001"]));
    let entries = timeline.as_array().unwrap();
    let at: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = at.clone();
    sorted.sort_unstable();
    assert_eq!(at, sorted, "oldest first");
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    for kind in [
        "admin-change",
        "registration-delivered",
        "license-issued",
        "bootstrap-served",
        "progress-reported",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing: {timeline:#}");
    }
    let served = entries
        .iter()
        .find(|e| e["what"] == "bootstrap-served")
        .unwrap();
    assert_eq!(served["status"], 200);
    assert!(
        served["detail"].as_str().unwrap().contains("1 license"),
        "{served:#}"
    );
    let progress: Vec<&str> = entries
        .iter()
        .filter(|e| e["what"] == "progress-reported")
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert!(
        progress.iter().any(|d| d.starts_with("bootstrap-complete")),
        "{progress:?}"
    );
}

/// Two instances on one PostgreSQL database (the suite's PostgreSQL pass): devices alternate
/// between them, every registration reaches the NMS once, and when one instance is killed with
/// a backlog, the other delivers all of it.
#[test]
fn two_instances_deliver_each_registration_once_and_finish_what_a_killed_one_held() {
    if !ztp_tests::database::on_postgres() {
        return;
    }
    let dir = temp_dir();
    let mut first = fast_process(dir.path(), &[]);
    let second = fast_process(dir.path(), &[]);
    let mut sshd = Sshd::start();
    let pin = sshd.host_fingerprint().to_string();
    add_nms(&first, &sshd, "parallel", &pin, true);
    let serials: Vec<String> = (1..=26).map(|i| format!("SN-{i:04}")).collect();
    for serial in &serials[3..] {
        first.new_device(serial, CUSTOMER);
    }
    let (early, late) = serials.split_at(20);
    for (i, serial) in early.iter().enumerate() {
        let instance = if i % 2 == 0 { &first } else { &second };
        bootstrap_ok(instance, serial, &[]);
    }
    wait_until(
        "both instances' registrations delivered",
        Duration::from_secs(60),
        delivered(&second, early.len()),
    );
    let mut expected: Vec<String> = early.iter().map(|s| format!("{s}.xml")).collect();
    assert_eq!(sshd.incoming_files(), expected);

    // The NMS goes down; devices call the first instance, which is killed with the backlog.
    sshd.stop();
    for serial in late {
        bootstrap_ok(&first, serial, &[]);
    }
    wait_until("the backlog attempted", Duration::from_secs(30), || {
        let pending = registrations(&second, &["--state", "pending"]);
        let attempted = pending
            .iter()
            .filter(|r| r["last_error"].is_string())
            .count();
        if attempted == late.len() {
            Ok(())
        } else {
            Err(format!("{pending:#?}"))
        }
    });
    first.kill();
    sshd.restart();
    // What the killed instance held comes due when its lease ends.
    wait_until(
        "the survivor delivers the backlog",
        Duration::from_secs(120),
        delivered(&second, serials.len()),
    );
    expected.extend(late.iter().map(|s| format!("{s}.xml")));
    assert_eq!(sshd.incoming_files(), expected);
    let delivered = events(&second, "registration-delivered");
    for serial in &serials {
        let count = delivered.iter().filter(|e| e["serial"] == *serial).count();
        assert_eq!(count, 1, "{serial}: {delivered:#?}");
        let registration = document(&sshd.incoming().join(format!("{serial}.xml")));
        assert_eq!(registration.serial_number, *serial);
    }
}
