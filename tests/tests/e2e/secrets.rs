//! Secrets at rest: the database holds no password or private key in clear text; the master key
//! rotates without losing any secret; without its master key, ztp refuses to start rather than
//! lose them.

use std::fs;
use std::path::Path;
use std::process::Stdio;

use ztp_tests::{Server, serve_command, success, temp_dir, transcript};

const PASSWORD: &str = "correct-horse-battery-staple";

fn assert_no_clear_secret(dir: &Path) {
    let stored = ztp_tests::database::contents(dir);
    for needle in [PASSWORD.as_bytes(), b"PRIVATE KEY"] {
        if let Some(name) = ztp_tests::database::holding(&stored, needle) {
            panic!(
                "{name} holds {:?} in clear text",
                String::from_utf8_lossy(needle)
            );
        }
    }
}

/// Starts `ztp serve` on `dir`, expecting it to refuse: what it said.
fn refused_start(dir: &Path) -> String {
    let output = serve_command(dir).stdin(Stdio::null()).output().unwrap();
    assert!(!output.status.success(), "ztp serve started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `ztp secrets <command>` on the data directory `dir` (the server stopped); its output.
fn secrets(dir: &Path, command: &str) -> String {
    let output = ztp_tests::data_command(dir)
        .args(["secrets", command, "--data-dir"])
        .arg(dir)
        .output()
        .expect("ztp runs");
    success(output)
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
    let out = secrets(dir.path(), "rotate");
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
fn the_master_key_does_not_rotate_under_a_running_server() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    add_connections(&server, dir.path());
    let key_before = fs::read_to_string(dir.path().join("master-key")).unwrap();

    let refused = ztp_tests::data_command(dir.path())
        .args(["secrets", "rotate", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!refused.status.success(), "{}", transcript(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("in use by a running `ztp serve`"),
        "{}",
        transcript(&refused)
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("master-key")).unwrap(),
        key_before,
        "nothing rotated"
    );
    assert!(!dir.path().join("master-key.new").exists());
    let output = server.bootstrap("SN-0001", &[]);
    assert!(output.status.success(), "{}", transcript(&output));
}

#[test]
fn without_its_master_key_ztp_refuses_to_start() {
    let dir = temp_dir();
    let mut server = Server::start(dir.path());
    add_connections(&server, dir.path());
    server.stop();
    let key = dir.path().join("master-key");
    fs::rename(&key, dir.path().join("kept-elsewhere")).unwrap();

    let stderr = refused_start(dir.path());
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

/// The private key files `ztp serve` reads, as the development PKI lays them out.
const KEY_FILES: [&str; 3] = [
    "pki/manufacturer/masa.key",
    "pki/manufacturer/license-signing.key",
    "pki/server/tls.key",
];

/// The master key id a sealed key file names.
fn sealing_key_id(path: &Path) -> String {
    let content = fs::read_to_string(path).unwrap();
    assert!(
        !content.contains("PRIVATE KEY-----"),
        "{} is sealed",
        path.display()
    );
    let value = content
        .lines()
        .find(|l| l.starts_with("ztp-sealed:v1:"))
        .unwrap_or_else(|| panic!("{} holds a sealed value: {content}", path.display()));
    value.split(':').nth(2).unwrap().to_owned()
}

fn bootstraps_with_a_license(server: &Server) {
    let output = server.bootstrap("SN-0001", &["--hw-model", "uCPE-100"]);
    let out = transcript(&output);
    assert!(output.status.success(), "{out}");
    // The voucher (MASA key) and the license bundle (license key) verified, over TLS (TLS key).
    assert!(out.contains("\"license-id\": \"LIC-"), "{out}");
}

#[test]
fn the_manufacturer_keys_are_sealed_under_the_master_key_and_rotate_with_it() {
    let dir = temp_dir();
    let mut server = Server::process(dir.path());
    success(server.admin([
        "license",
        "pool-add",
        "example-customer",
        "core",
        "--feature",
        "ESS-ED-100G-SIA3",
        "--model",
        "uCPE-100",
    ]));
    server.stop();
    // Plain key files (as the development PKI writes them) load, each with a warning.
    let unsealed = |log: &str| log.matches("is not sealed under the master key").count();
    assert_eq!(unsealed(&server.log()), 3, "{}", server.log());
    let seal = || secrets(dir.path(), "seal-keys");
    // A key the service account reads through its group (root:ztp 0640) stays so when sealed.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let shared = dir.path().join(KEY_FILES[2]);
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o640)).unwrap();
    }
    let out = seal();
    assert_eq!(out.matches(": sealed").count(), 3, "{out}");
    let first_key = sealing_key_id(&dir.path().join(KEY_FILES[0]));
    for (n, file) in KEY_FILES.iter().enumerate() {
        let path = dir.path().join(file);
        assert_eq!(sealing_key_id(&path), first_key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            let kept = if n == 2 { 0o640 } else { 0o600 };
            assert_eq!(mode & 0o777, kept, "{file}: the mode it had");
        }
    }
    assert_eq!(seal().matches("already sealed").count(), 3);

    let mut server = Server::process(dir.path());
    bootstraps_with_a_license(&server);
    server.stop();
    assert_eq!(
        unsealed(&server.log()),
        3,
        "sealed files start without a warning"
    );

    // A rotation re-seals them with the database's secrets; the old key is then not needed.
    let out = secrets(dir.path(), "rotate");
    assert!(out.contains("and 3 private key file(s)"), "{out}");
    let rotated_key = sealing_key_id(&dir.path().join(KEY_FILES[1]));
    assert_ne!(rotated_key, first_key);
    fs::remove_file(dir.path().join("master-key.previous")).unwrap();
    let mut server = Server::process(dir.path());
    bootstraps_with_a_license(&server);
    server.stop();

    // A sealed key is bound to its role: the MASA key put in the license key's place does not
    // open, and ztp says which file it cannot use instead of signing with the wrong key.
    let masa = dir.path().join(KEY_FILES[0]);
    let license = dir.path().join(KEY_FILES[1]);
    fs::copy(&masa, &license).unwrap();
    let stderr = refused_start(dir.path());
    assert!(
        stderr.contains("license-signing.key (manufacturer.license_key)")
            && stderr.contains("does not open"),
        "a clear reason: {stderr}"
    );
}
