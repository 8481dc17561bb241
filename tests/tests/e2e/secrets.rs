//! Secrets at rest: the database holds no password or private key in clear text; the master key
//! rotates without losing any secret; without its master key, ztp refuses to start rather than
//! lose them.

use std::fs;
use std::path::Path;
use std::process::Stdio;

use ztp_tests::{Server, serve_command, success, temp_dir, transcript, ztp};

const PASSWORD: &str = "correct-horse-battery-staple";

/// Every file of the SQLite database (main file, write-ahead log, shared memory).
fn database_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("ztp.sqlite"))
        })
        .map(|p| (p.display().to_string(), fs::read(&p).unwrap()))
        .collect()
}

fn assert_no_clear_secret(dir: &Path) {
    let files = database_bytes(dir);
    assert!(!files.is_empty());
    for (name, bytes) in files {
        for needle in [PASSWORD.as_bytes(), b"PRIVATE KEY"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{name} holds {:?} in clear text",
                String::from_utf8_lossy(needle)
            );
        }
    }
}

fn add_connections(server: &Server, dir: &Path) {
    let password = dir.join("password");
    fs::write(&password, format!("{PASSWORD}\n")).unwrap();
    let pin = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
    success(server.admin([
        "nms".as_ref(),
        "add".as_ref(),
        "example-customer".as_ref(),
        "with-password".as_ref(),
        "--host".as_ref(),
        "127.0.0.1".as_ref(),
        "--user".as_ref(),
        "ztp".as_ref(),
        "--pin".as_ref(),
        pin.as_ref(),
        "--password-file".as_ref(),
        password.as_os_str(),
        // Nothing listens there: no delivery, so that devices are answered.
        "--policy".as_ref(),
        "off".as_ref(),
    ]));
    // Without a password: ztp generates a key pair and keeps the private key.
    success(server.admin([
        "nms",
        "add",
        "example-customer",
        "with-key",
        "--host",
        "127.0.0.1",
        "--user",
        "ztp",
        "--pin",
        pin,
        "--policy",
        "off",
    ]));
    success(server.admin(["customer", "add", "acme"]));
}

#[test]
fn the_database_holds_no_secret_in_clear_text_and_the_master_key_rotates() {
    let dir = temp_dir();
    let mut server = Server::start(dir.path());
    add_connections(&server, dir.path());
    let key_before = fs::read_to_string(dir.path().join("master-key")).unwrap();
    server.stop();
    assert_no_clear_secret(dir.path());

    // Rotation, with the server stopped.
    let out = success(ztp([
        "secrets".as_ref(),
        "rotate".as_ref(),
        "--data-dir".as_ref(),
        dir.path().as_os_str(),
    ]));
    assert!(out.contains("re-sealed 4 secret(s)"), "{out}");
    let key_after = fs::read_to_string(dir.path().join("master-key")).unwrap();
    assert_ne!(key_before, key_after);
    assert_eq!(
        fs::read_to_string(dir.path().join("master-key.previous")).unwrap(),
        key_before
    );

    // Only the new key from now on: everything still opens.
    fs::remove_file(dir.path().join("master-key.previous")).unwrap();
    let server = Server::start(dir.path());
    let output = server.bootstrap("SN-0001", &[]);
    assert!(
        output.status.success(),
        "the owner's signing key opens: {}",
        transcript(&output)
    );
    let shown = success(server.admin(["nms", "show", "example-customer", "with-key"]));
    assert!(
        shown.contains("ssh-ed25519 "),
        "the key pair opens: {shown}"
    );
    drop(server);
    assert_no_clear_secret(dir.path());
}

#[test]
fn without_its_master_key_ztp_refuses_to_start() {
    let dir = temp_dir();
    let mut server = Server::start(dir.path());
    add_connections(&server, dir.path());
    server.stop();
    let key = dir.path().join("master-key");
    fs::rename(&key, dir.path().join("kept-elsewhere")).unwrap();

    let output = serve_command(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("which is not configured"),
        "a clear reason: {stderr}"
    );

    // The key comes back: ztp starts and every secret opens.
    fs::remove_file(&key).unwrap();
    fs::rename(dir.path().join("kept-elsewhere"), &key).unwrap();
    let server = Server::start(dir.path());
    let output = server.bootstrap("SN-0001", &[]);
    assert!(output.status.success(), "{}", transcript(&output));
}
