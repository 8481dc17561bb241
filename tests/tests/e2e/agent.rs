//! The device agent (`ztp device run`) end to end: two real `ztp serve` processes on loopback;
//! the first redirects the device's owner to the second, conveying the second's TLS trust
//! anchor (a CA of the owner's own, which the device is not given); the second serves
//! onboarding information (a boot image from a loopback HTTP server, with its real sha-256, a
//! pre- and a post-configuration script, a configuration). The agent follows the redirect,
//! installs, and reports; a restart does not run anything again.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use ztp_tests::{Server, success, temp_dir, tool, transcript, ztp_bin};

/// Serves `body` to every HTTP request on a loopback port, on a thread; returns the URL of
/// `/name` on it.
fn image_server(name: &str, body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{address}/{name}")
}

/// The sha-256 of `file` as `yang:hex-string` (colon-separated), computed by openssl.
fn sha256_hex_string(file: &Path) -> String {
    let out = success(tool(
        "openssl",
        [
            "dgst".as_ref(),
            "-sha256".as_ref(),
            "-r".as_ref(),
            file.as_os_str(),
        ],
    ));
    let hex = out.split_whitespace().next().unwrap().to_owned();
    assert_eq!(hex.len(), 64, "{out}");
    hex.as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).unwrap())
        .collect::<Vec<_>>()
        .join(":")
}

/// A CA of the owner's and a TLS server certificate for 127.0.0.1 under it, made by openssl:
/// (CA certificate, server certificate, server key).
fn owner_tls(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (ca, ca_key) = (dir.join("nms-ca.pem"), dir.join("nms-ca.key"));
    let (cert, key, csr) = (
        dir.join("nms-tls.pem"),
        dir.join("nms-tls.key"),
        dir.join("nms-tls.csr"),
    );
    let extensions = dir.join("tls.ext");
    fs::write(
        &extensions,
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\n",
    )
    .unwrap();
    let p = |path: &Path| path.display().to_string();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca_args = vec!["req", "-x509"];
    ca_args.extend(ec);
    let (ca_s, ca_key_s) = (p(&ca), p(&ca_key));
    ca_args.extend([
        "-keyout",
        &ca_key_s,
        "-out",
        &ca_s,
        "-days",
        "2",
        "-subj",
        "/CN=Owner NMS CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    success(tool("openssl", &ca_args));
    let (key_s, csr_s, cert_s, ext_s) = (p(&key), p(&csr), p(&cert), p(&extensions));
    let mut csr_args = vec!["req"];
    csr_args.extend(ec);
    csr_args.extend(["-keyout", &key_s, "-out", &csr_s, "-subj", "/CN=127.0.0.1"]);
    success(tool("openssl", &csr_args));
    success(tool(
        "openssl",
        [
            "x509",
            "-req",
            "-in",
            &csr_s,
            "-CA",
            &ca_s,
            "-CAkey",
            &ca_key_s,
            "-CAcreateserial",
            "-out",
            &cert_s,
            "-days",
            "2",
            "-extfile",
            &ext_s,
        ],
    ));
    (ca, cert, key)
}

/// Copies the files of `from` into `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// An executable shell script at `path`.
fn executable(path: &Path, body: &str) {
    fs::write(path, body).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// `ztp device run --once` as SN-0001 of `pki`, trusting only the first server's TLS anchor.
fn run_agent(pki: &Path, server: &str, state: &Path, hook: &Path) -> Output {
    let device = pki.join("devices/SN-0001");
    let manufacturer = pki.join("manufacturer");
    Command::new(ztp_bin())
        .args(["device", "run", "--once", "--server", server])
        .arg("--cert")
        .arg(device.join("idevid.pem"))
        .arg("--key")
        .arg(device.join("idevid.key"))
        .arg("--server-ca")
        .arg(manufacturer.join("root-ca.pem"))
        .arg("--voucher-ca")
        .arg(manufacturer.join("voucher-ca.pem"))
        .arg("--license-ca")
        .arg(manufacturer.join("license-ca.pem"))
        .args(["--os-name", "VendorOS", "--os-version", "1.0"])
        .arg("--state-dir")
        .arg(state)
        .arg("--commit-hook")
        .arg(hook)
        .args(["--timeout", "20", "--script-timeout", "20"])
        .output()
        .expect("ztp device run runs")
}

/// Two real `ztp serve` of one manufacturer: the first redirects the owner's devices to the
/// second, conveying the second's TLS anchor, a CA of the owner's own that the device is not
/// given.
fn two_servers(work: &Path) -> (Server, Server) {
    let first = Server::process(&work.join("first"));
    let second_dir = work.join("second");
    copy_dir(&first.pki(), &second_dir.join("pki"));
    let (nms_ca, nms_cert, nms_key) = owner_tls(work);
    let second = Server::process_with(
        &second_dir,
        &[
            (
                "ZTP_DEVICE_API__TLS_CERTIFICATE",
                nms_cert.to_str().unwrap(),
            ),
            ("ZTP_DEVICE_API__TLS_KEY", nms_key.to_str().unwrap()),
        ],
    );
    let port = second.device_url.rsplit(':').next().unwrap().to_owned();
    success(first.admin([
        "target",
        "add",
        "example-customer",
        "nms",
        "--address",
        "127.0.0.1",
        "--port",
        &port,
        "--trust-anchor",
        nms_ca.to_str().unwrap(),
    ]));
    (first, second)
}

/// What the second server's onboarding information installs: the image it names, and the
/// file its scripts append to.
struct Onboarding {
    image: PathBuf,
    marks: PathBuf,
}

/// Gives `server`'s owner onboarding information: a boot image served on loopback with its
/// real sha-256, a pre- and a post-configuration script that write a marker, a configuration.
/// With `tampered`, the image server serves other bytes than those hashed.
fn onboard(server: &Server, work: &Path, tampered: bool) -> Onboarding {
    let image = work.join("vendoros-2.0.img");
    fs::write(&image, b"VendorOS 2.0 boot image\n".repeat(1000)).unwrap();
    let mut served = fs::read(&image).unwrap();
    if tampered {
        served[100] ^= 1;
    }
    let image_url = image_server("vendoros-2.0.img", served);
    let marks = work.join("marks");
    let script = |word: &str| {
        BASE64.encode(format!(
            "#!/bin/sh\necho \"{word} $ZTP_SCRIPT in $(pwd)\" >> {}\n",
            marks.display()
        ))
    };
    let onboarding = json!({"ietf-sztp-conveyed-info:onboarding-information": {
        "boot-image": {
            "os-name": "VendorOS",
            "os-version": "2.0",
            "download-uri": [image_url],
            "image-verification": [{
                "hash-algorithm": "ietf-sztp-conveyed-info:sha-256",
                "hash-value": sha256_hex_string(&image),
            }],
        },
        "configuration-handling": "replace",
        "pre-configuration-script": script("pre"),
        "configuration": BASE64.encode("hostname uCPE-1\ninterface eth0\n"),
        "post-configuration-script": script("post"),
    }});
    let file = work.join("onboarding.json");
    fs::write(&file, onboarding.to_string()).unwrap();
    let customer = ["customer", "set", "example-customer", "--onboarding"];
    success(server.admin(customer.iter().copied().chain([file.to_str().unwrap()])));
    Onboarding { image, marks }
}

/// The device's commit hook, which keeps what it was given in `committed` (and the handling
/// in `committed.handling`): (hook, committed).
fn commit_hook(work: &Path) -> (PathBuf, PathBuf) {
    let hook = work.join("commit-hook");
    let committed = work.join("committed");
    executable(
        &hook,
        &format!(
            "#!/bin/sh\ncp \"$1\" {c}\necho \"$2\" > {c}.handling\n",
            c = committed.display()
        ),
    );
    (hook, committed)
}

/// Every report of onboarding, in order.
const EVERY_STEP: [&str; 11] = [
    "bootstrap-initiated",
    "parsing-complete",
    "boot-image-initiated",
    "boot-image-complete",
    "pre-script-initiated",
    "pre-script-complete",
    "config-initiated",
    "config-complete",
    "post-script-initiated",
    "post-script-complete",
    "bootstrap-complete",
];

#[test]
fn the_agent_follows_a_redirect_to_a_second_server_and_installs_its_onboarding_information() {
    let work = temp_dir();
    let work = work.path();
    let (first, second) = two_servers(work);
    let onboarding = onboard(&second, work, false);
    let (hook, committed) = commit_hook(work);

    let state = work.join("agent-state");
    let output = run_agent(&first.pki(), &first.device_url, &state, &hook);
    let summary: Value = serde_json::from_str(&success(output)).unwrap();
    assert_eq!(summary["already-complete"], false, "{summary:#}");
    assert_eq!(summary["state"]["complete"], true, "{summary:#}");
    assert_eq!(
        summary["state"]["server"],
        second.device_url.as_str(),
        "{summary:#}"
    );

    // Installed: the image staged as served, the scripts run in order in a private directory
    // under the state directory, the configuration committed with its handling.
    let staged = state.join("images/VendorOS-2.0.img");
    assert_eq!(
        fs::read(&staged).unwrap(),
        fs::read(&onboarding.image).unwrap()
    );
    let ran = fs::read_to_string(&onboarding.marks).unwrap();
    let lines: Vec<&str> = ran.lines().collect();
    assert_eq!(lines.len(), 2, "{ran}");
    let private = format!(" in {}/script-", state.join("run").display());
    assert!(
        lines[0].starts_with(&format!("pre pre-configuration-script{private}")),
        "{ran}"
    );
    assert!(
        lines[1].starts_with(&format!("post post-configuration-script{private}")),
        "{ran}"
    );
    assert_eq!(
        fs::read_to_string(&committed).unwrap(),
        "hostname uCPE-1\ninterface eth0\n"
    );
    let handling = fs::read_to_string(committed.with_extension("handling")).unwrap();
    assert_eq!(handling, "replace\n");

    // The second server recorded every step, in order; the first none (it redirected).
    assert_eq!(progress(&second), EVERY_STEP);
    let reports = progress_reports(&second);
    let staged_message = message(&reports, "boot-image-complete");
    assert!(
        staged_message.contains("VendorOS-2.0.img (24000 bytes)"),
        "{staged_message}"
    );
    assert_eq!(message(&reports, "pre-script-complete"), "exit code 0");
    assert_eq!(message(&reports, "config-complete"), "exit code 0");
    assert!(progress(&first).is_empty(), "no progress about a redirect");

    // A restart: nothing is contacted, run or committed again.
    fs::remove_file(&committed).unwrap();
    let again = run_agent(&first.pki(), &first.device_url, &state, &hook);
    let summary: Value = serde_json::from_str(&success(again)).unwrap();
    assert_eq!(summary["already-complete"], true, "{summary:#}");
    let ran_again = fs::read_to_string(&onboarding.marks).unwrap();
    assert_eq!(ran_again, ran, "no script ran again");
    assert!(!committed.exists(), "not committed again");
    assert_eq!(progress(&second), EVERY_STEP, "nothing more reported");
}

#[test]
fn a_tampered_boot_image_is_refused_and_reported_and_nothing_after_it_runs() {
    let work = temp_dir();
    let work = work.path();
    let (first, second) = two_servers(work);
    let onboarding = onboard(&second, work, true);
    let (hook, committed) = commit_hook(work);
    let state = work.join("agent-state");
    let output = run_agent(&first.pki(), &first.device_url, &state, &hook);
    assert!(!output.status.success(), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("sha-256 mismatch"), "{stderr}");
    let refused = message(&progress_reports(&second), "boot-image-error");
    assert!(refused.contains("sha-256 mismatch: expected "), "{refused}");
    assert_eq!(
        progress(&second),
        [
            "bootstrap-initiated",
            "parsing-complete",
            "boot-image-initiated",
            "boot-image-error"
        ]
    );
    let images: Vec<_> = fs::read_dir(state.join("images")).unwrap().collect();
    assert!(images.is_empty(), "nothing staged: {images:?}");
    assert!(!onboarding.marks.exists(), "no script ran");
    assert!(!committed.exists(), "nothing committed");
}

/// The progress types a server recorded for SN-0001, in the order received (its admin API's
/// progress reports, by sequence number); its timeline shows as many.
fn progress(server: &Server) -> Vec<String> {
    progress_reports(server)
        .iter()
        .map(|r| r["progress_type"].as_str().unwrap().to_owned())
        .collect()
}

/// The progress reports a server recorded for SN-0001, oldest first, checked against the
/// device's timeline.
fn progress_reports(server: &Server) -> Vec<Value> {
    let output = server.admin(["device", "progress", "SN-0001"]);
    let reports: Value = serde_json::from_str(&success(output)).unwrap();
    let reports = reports.as_array().unwrap().clone();
    let output = server.admin(["device", "timeline", "SN-0001"]);
    let timeline: Value = serde_json::from_str(&success(output)).unwrap();
    let in_timeline = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["what"] == "progress-reported")
        .count();
    assert_eq!(in_timeline, reports.len(), "{timeline:#}");
    reports
}

/// The message of the first report of `progress_type`.
fn message(reports: &[Value], progress_type: &str) -> String {
    reports
        .iter()
        .find(|r| r["progress_type"] == progress_type)
        .and_then(|r| r["message"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn an_agent_without_usable_servers_gives_up_after_its_rounds() {
    let work = temp_dir();
    let pki = work.path().join("pki");
    crate::dev_pki(&pki);
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let hook = work.path().join("hook");
    executable(&hook, "#!/bin/sh\n");
    let output = run_agent(
        &pki,
        &format!("https://{closed}"),
        &work.path().join("state"),
        &hook,
    );
    assert!(!output.status.success(), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no bootstrap server gave usable data in 1 round(s)"),
        "{stderr}"
    );
}
