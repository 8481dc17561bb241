//! `ztp pki`: the files it writes are what OpenSSL expects of them.

use std::path::Path;

use ztp_tests::{success, temp_dir, tool, transcript, ztp};

use super::dev_pki;

#[test]
fn init_writes_device_certificates_whose_subject_carries_the_serial() {
    let dir = temp_dir();
    dev_pki(dir.path());
    let device = dir.path().join("devices/SN-0001/idevid.pem");
    let subject = success(tool(
        "openssl",
        [
            "x509".as_ref(),
            "-in".as_ref(),
            device.as_os_str(),
            "-noout".as_ref(),
            "-subject".as_ref(),
        ],
    ));
    assert!(subject.contains("serialNumber = SN-0001"), "{subject}");
}

#[test]
fn every_certificate_chains_to_its_root_in_openssl() {
    let dir = temp_dir();
    dev_pki(dir.path());
    let p = |rel: &str| dir.path().join(rel).display().to_string();
    let verify = |ca: &str, untrusted: Option<&str>, leaf: &str| {
        let mut args = vec!["verify".to_owned(), "-CAfile".into(), p(ca)];
        if let Some(u) = untrusted {
            args.extend(["-untrusted".into(), p(u)]);
        }
        args.push(p(leaf));
        success(tool("openssl", &args))
    };
    let root = "manufacturer/root-ca.pem";
    for device in ["SN-0001", "SN-0002", "SN-0003"] {
        verify(
            root,
            Some("manufacturer/idevid-ca.pem"),
            &format!("devices/{device}/idevid.pem"),
        );
    }
    // Each signing role chains to the root through a CA of its own.
    verify(
        root,
        Some("manufacturer/voucher-ca.pem"),
        "manufacturer/masa.pem",
    );
    verify(
        root,
        Some("manufacturer/license-ca.pem"),
        "manufacturer/license-signing.pem",
    );
    verify(root, None, "server/tls.pem");
    let owner = "customers/example-customer/owner-ca.pem";
    verify(owner, None, "customers/example-customer/owner-signing.pem");
    // The CRL is signed by the IDevID CA.
    success(tool(
        "openssl",
        [
            "crl",
            "-in",
            &p("manufacturer/idevid-ca.crl.pem"),
            "-CAfile",
            &p("manufacturer/idevid-ca.pem"),
            "-noout",
        ],
    ));
}

#[test]
fn issue_device_supports_every_key_type_and_placement() {
    let dir = temp_dir();
    dev_pki(dir.path());
    let pki = dir.path().display().to_string();
    for (serial, key, placement, expect) in [
        ("P384-1", "p384", "serial-number", "serialNumber = P384-1"),
        ("RSA-1", "rsa2048", "common-name", "CN = RSA-1"),
        (
            "FCW2129G03A",
            "p256",
            "udi",
            "serialNumber = PID:C9300-24T SN:FCW2129G03A",
        ),
    ] {
        success(ztp([
            "pki",
            "issue-device",
            "--pki",
            &pki,
            "--serial",
            serial,
            "--model",
            "C9300-24T",
            "--key-type",
            key,
            "--placement",
            placement,
        ]));
        let cert = dir.path().join(format!("devices/{serial}/idevid.pem"));
        let subject = success(tool(
            "openssl",
            [
                "x509",
                "-noout",
                "-subject",
                "-in",
                &cert.display().to_string(),
            ],
        ));
        assert!(subject.contains(expect), "{subject}");
        let key_text = success(tool(
            "openssl",
            [
                "x509",
                "-noout",
                "-text",
                "-in",
                &cert.display().to_string(),
            ],
        ));
        let bits = match key {
            "p384" => "384 bit",
            "rsa2048" => "2048 bit",
            _ => "256 bit",
        };
        assert!(key_text.contains(bits), "{serial}: {key_text}");
    }
}

#[test]
fn hostile_serials_are_refused_and_write_nothing() {
    let dir = temp_dir();
    let pki = dir.path().join("pki");
    dev_pki(&pki);
    let before = tree(dir.path());
    for serial in [
        "../../etc/passwd",
        "a/b",
        &"A".repeat(4096),
        "a\nb",
        "",
        ".hidden",
    ] {
        let out = ztp([
            "pki",
            "issue-device",
            "--pki",
            &pki.display().to_string(),
            "--serial",
            serial,
            "--model",
            "m",
        ]);
        assert!(
            !out.status.success(),
            "{serial:?} accepted:\n{}",
            transcript(&out)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("serial number"),
            "{serial:?}: unclear error {err}"
        );
    }
    assert_eq!(
        tree(dir.path()),
        before,
        "a refused serial changed the directory tree"
    );
}

#[test]
fn show_prints_identity_and_the_fingerprint_openssl_computes() {
    let dir = temp_dir();
    dev_pki(dir.path());
    let device = dir
        .path()
        .join("devices/SN-0002/idevid.pem")
        .display()
        .to_string();
    let shown = success(ztp(["pki", "show", &device]));
    assert!(shown.contains("device (serial-number): SN-0002"), "{shown}");
    assert!(
        shown.contains("device (hardware-module-name): SN-0002"),
        "{shown}"
    );
    let openssl = success(tool(
        "openssl",
        ["x509", "-noout", "-fingerprint", "-sha256", "-in", &device],
    ));
    let fingerprint = openssl.trim().rsplit('=').next().unwrap();
    assert!(shown.contains(fingerprint), "{shown}\nopenssl: {openssl}");
    let out = ztp([
        "pki",
        "show",
        &dir.path().join("MANIFEST.txt").display().to_string(),
    ]);
    assert!(!out.status.success());
}

#[test]
fn serve_prepares_its_data_directory_with_a_development_pki() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let server = ztp_tests::Server::process(&data);
    assert!(data.join("pki/manufacturer/root-ca.pem").is_file());
    // The data directory's database: its SQLite file, or on PostgreSQL what it holds.
    assert!(!ztp_tests::database::contents(&data).is_empty());
    assert!(server.log().contains("DEVELOPMENT PKI"), "{}", server.log());
}

/// Every path under `dir`, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.display().to_string());
            if path.is_dir() {
                walk(&path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}
