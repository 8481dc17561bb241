//! Rotating the voucher (MASA) and license signing keys while ztp runs, step by step as
//! docs/operations.md's runbooks say ("Rotating keys and certificates"): a new signer issued
//! from its role's CA with openssl as docs/pki.md issues signers, installed over the files the
//! configuration names, its key sealed (`ztp secrets seal-keys`), and a reload (`POST
//! /api/v1/reload`, the runbook's `systemctl reload ztp`). The next answer is signed by the new
//! key, and devices, which anchor the CA and not the signer, see no change. A signer from
//! another role's CA is refused by the reload, and the old one goes on signing.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use ztp_tests::{Server, data_command, success, temp_dir, tool, transcript};

/// One of the manufacturer's signers in the development PKI: the files the configuration names
/// (`manufacturer/<file>.pem` and `.key`), the CA devices anchor it at, the configuration key
/// its sealed key is bound to, the field of the reload's answer that names it, and the leaf of
/// a get-bootstrapping-data answer that it signs.
struct Role {
    file: &'static str,
    ca: &'static str,
    key_field: &'static str,
    reloaded_field: &'static str,
    output_leaf: &'static str,
}

const VOUCHER: Role = Role {
    file: "masa",
    ca: "voucher-ca",
    key_field: "manufacturer.masa_key",
    reloaded_field: "voucher_signer",
    output_leaf: "ownership-voucher",
};

const LICENSE: Role = Role {
    file: "license-signing",
    ca: "license-ca",
    key_field: "manufacturer.license_key",
    reloaded_field: "license_signer",
    output_leaf: "ztp-licenses:license-bundle",
};

/// A new signer issued by the CA `ca` (`manufacturer/<ca>.pem` and `.key` of `pki`) as
/// docs/pki.md issues the voucher and license signers: a P-256 key and its request, then
/// `openssl ca` with the `signer` profile (critical basicConstraints CA:false, critical keyUsage
/// digitalSignature, no extended key usage: what `ztp_certs::role::check_signer` asks of a
/// manufacturer's signer), the subject set by the CA. Written in `dir`: the chain ztp reads
/// (the signer, then the CA) and the key.
fn issue_signer(pki: &Path, ca: &str, subject: &str, dir: &Path) -> (PathBuf, PathBuf) {
    let manufacturer = pki.join("manufacturer");
    let (ca_cert, ca_key) = (
        manufacturer.join(format!("{ca}.pem")),
        manufacturer.join(format!("{ca}.key")),
    );
    fs::create_dir_all(dir.join("issued")).unwrap();
    fs::write(dir.join("index.txt"), "").unwrap();
    let profiles = dir.join("profiles.cnf");
    fs::write(
        &profiles,
        "[ req ]\n\
         distinguished_name     = request_subject\n\
         [ request_subject ]\n\
         \n\
         [ signer ]\n\
         basicConstraints       = critical, CA:false\n\
         keyUsage               = critical, digitalSignature\n\
         subjectKeyIdentifier   = hash\n\
         authorityKeyIdentifier = keyid:always\n",
    )
    .unwrap();
    let ca_config = dir.join("ca.cnf");
    fs::write(
        &ca_config,
        format!(
            "[ ca ]\n\
             default_ca       = this_ca\n\
             [ this_ca ]\n\
             certificate      = {}\n\
             private_key      = {}\n\
             database         = {}\n\
             new_certs_dir    = {}\n\
             rand_serial      = yes\n\
             default_md       = sha256\n\
             policy           = as_given\n\
             preserve         = yes\n\
             unique_subject   = no\n\
             copy_extensions  = none\n\
             [ as_given ]\n\
             commonName       = supplied\n\
             organizationName = optional\n",
            ca_cert.display(),
            ca_key.display(),
            dir.join("index.txt").display(),
            dir.join("issued").display(),
        ),
    )
    .unwrap();

    let (key, request, cert) = (
        dir.join("signer.key"),
        dir.join("signer.csr"),
        dir.join("signer.pem"),
    );
    let path = |p: &Path| p.to_str().expect("a UTF-8 temporary path").to_owned();
    success(tool(
        "openssl",
        [
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &path(&key),
        ],
    ));
    success(tool(
        "openssl",
        [
            "req",
            "-new",
            "-config",
            &path(&profiles),
            "-key",
            &path(&key),
            "-subj",
            "/CN=signer",
            "-out",
            &path(&request),
        ],
    ));
    success(tool(
        "openssl",
        [
            "ca",
            "-batch",
            "-config",
            &path(&ca_config),
            "-extfile",
            &path(&profiles),
            "-extensions",
            "signer",
            "-subj",
            subject,
            "-days",
            "730",
            "-notext",
            "-in",
            &path(&request),
            "-out",
            &path(&cert),
        ],
    ));
    let chain = dir.join("chain.pem");
    let mut pem = fs::read_to_string(&cert).unwrap();
    pem.push_str(&fs::read_to_string(&ca_cert).unwrap());
    fs::write(&chain, pem).unwrap();
    (chain, key)
}

/// The runbook on `server` for `role`: the new `chain` and `key` installed over the files the
/// configuration names (mode 0644 and 0600), the key sealed with `ztp secrets seal-keys`, and
/// `POST /api/v1/reload`. The reload's status and body.
fn rotate(server: &Server, role: &Role, (chain, key): &(PathBuf, PathBuf)) -> (String, String) {
    let manufacturer = server.pki().join("manufacturer");
    let installed_key = manufacturer.join(format!("{}.key", role.file));
    for (from, to, mode) in [
        (
            chain,
            manufacturer.join(format!("{}.pem", role.file)),
            0o644,
        ),
        (key, installed_key.clone(), 0o600),
    ] {
        fs::copy(from, &to).unwrap();
        fs::set_permissions(&to, fs::Permissions::from_mode(mode)).unwrap();
    }

    let sealed = success(
        data_command(&server.data_dir)
            .args(["secrets", "seal-keys", "--data-dir"])
            .arg(&server.data_dir)
            .output()
            .expect("ztp runs"),
    );
    assert!(
        sealed.contains(&format!("({}): sealed", role.key_field)),
        "seal-keys sealed the new key: {sealed}"
    );
    let on_disk = fs::read_to_string(&installed_key).unwrap();
    assert!(
        !on_disk.contains("PRIVATE KEY"),
        "the installed key is sealed: {on_disk}"
    );

    reload(server)
}

/// `POST /api/v1/reload` with the bootstrap token: the status and the body.
fn reload(server: &Server) -> (String, String) {
    let answer = server.admin_request("POST", "/api/v1/reload", "");
    (answer.status.to_string(), answer.body)
}

/// The subject of the first certificate in the PEM file `cert`, as openssl prints it
/// (`subject=CN = …, O = …`).
fn subject(cert: &Path) -> String {
    let printed = success(tool(
        "openssl",
        [
            "x509".as_ref(),
            "-noout".as_ref(),
            "-subject".as_ref(),
            "-in".as_ref(),
            cert.as_os_str(),
        ] as [&std::ffi::OsStr; 5],
    ));
    printed.trim().to_owned()
}

/// The subjects of the certificates in the CMS that `role` signs in SN-0001's
/// get-bootstrapping-data answer, as openssl prints them (`openssl pkcs7 -print_certs`); the
/// CMS is written in `dir`.
fn signed_by(server: &Server, role: &Role, dir: &Path) -> Vec<String> {
    let answer = success(server.device_post(
        "SN-0001",
        "get-bootstrapping-data",
        r#"{"ietf-sztp-bootstrap-server:input":{}}"#,
        &[],
    ));
    let answer: Value = serde_json::from_str(&answer).unwrap();
    let cms = answer["ietf-sztp-bootstrap-server:output"][role.output_leaf]
        .as_str()
        .unwrap_or_else(|| panic!("no {}: {answer:#}", role.output_leaf));
    let der = dir.join(format!("{}.cms", role.file));
    fs::write(&der, BASE64.decode(cms).unwrap()).unwrap();
    let printed = success(tool(
        "openssl",
        [
            "pkcs7".as_ref(),
            "-print_certs".as_ref(),
            "-noout".as_ref(),
            "-inform".as_ref(),
            "DER".as_ref(),
            "-in".as_ref(),
            der.as_os_str(),
        ] as [&std::ffi::OsStr; 7],
    ));
    printed
        .lines()
        .filter(|line| line.starts_with("subject="))
        .map(|line| line.trim().to_owned())
        .collect()
}

/// Issues a new signer for `role` from its CA, follows the runbook on a running server, and
/// checks that the next answer is signed by the new key and that the reference agent, anchoring
/// the CA as devices do, is served as before: what the agent printed.
fn rotates_without_a_restart(server: &Server, role: &Role, common_name: &str, dir: &Path) -> Value {
    let old = subject(&server.pki().join(format!("manufacturer/{}.pem", role.file)));
    let before = signed_by(server, role, dir);
    assert!(
        before.contains(&old),
        "before the rotation, {old} signs: {before:?}"
    );

    let issued = issue_signer(
        &server.pki(),
        role.ca,
        &format!("/CN={common_name}/O=ztp Development Manufacturer"),
        &dir.join("issuing"),
    );
    let new = subject(&issued.0);
    assert_ne!(new, old);
    let (status, body) = rotate(server, role, &issued);
    assert_eq!(status, "200", "{body}");
    let reloaded: Value = serde_json::from_str(&body).unwrap();
    let named = reloaded[role.reloaded_field].as_str().unwrap_or_default();
    assert!(
        named.contains(&format!("CN={common_name}")),
        "the reload names the new signer in {}: {body}",
        role.reloaded_field
    );

    let after = signed_by(server, role, dir);
    assert!(
        after.contains(&new),
        "the new signer signs after the reload: {after:?}"
    );
    assert!(
        !after.contains(&old),
        "the old signer no longer signs: {after:?}"
    );
    // The device's model, which a device knows and a node-locked license names.
    let served = server.bootstrap("SN-0001", &["--hw-model", "uCPE-100"]);
    assert!(served.status.success(), "{}", transcript(&served));
    serde_json::from_slice(&served.stdout).unwrap()
}

#[test]
fn the_voucher_key_rotates_without_a_restart() {
    let dir = temp_dir();
    let server = Server::start(&dir.path().join("data"));
    let outcome =
        rotates_without_a_restart(&server, &VOUCHER, "Rotated Voucher Signing", dir.path());
    assert_eq!(
        outcome["voucher"]["serial-number"], "SN-0001",
        "{outcome:#}"
    );
}

#[test]
fn the_license_key_rotates_without_a_restart() {
    let dir = temp_dir();
    let server = Server::start(&dir.path().join("data"));
    success(server.admin([
        "license",
        "pool-add",
        "example-customer",
        "core",
        "--feature",
        "F-1",
        "--model",
        "uCPE-100",
    ]));
    let outcome =
        rotates_without_a_restart(&server, &LICENSE, "Rotated License Signing", dir.path());
    assert_eq!(
        outcome["refused-licenses"],
        serde_json::json!([]),
        "{outcome:#}"
    );
    assert_eq!(
        outcome["licenses"][0]["feature"], "F-1",
        "the agent verified the bundle of the new key against the license CA: {outcome:#}"
    );
}

#[test]
fn a_signer_from_the_wrong_ca_is_refused_by_the_reload() {
    let dir = temp_dir();
    let server = Server::start(&dir.path().join("data"));
    let old = subject(&server.pki().join("manufacturer/masa.pem"));
    let issued = issue_signer(
        &server.pki(),
        "idevid-ca",
        "/CN=Misissued Voucher Signing/O=ztp Development Manufacturer",
        &dir.path().join("issuing"),
    );

    let (status, body) = rotate(&server, &VOUCHER, &issued);
    assert_eq!(status, "422", "{body}");
    assert!(
        body.contains("voucher signer") && body.contains("device identity (IDevID)"),
        "the refusal names both roles: {body}"
    );

    let signers = signed_by(&server, &VOUCHER, dir.path());
    assert!(
        signers.contains(&old),
        "the old signer still signs: {signers:?}"
    );
    let served = server.bootstrap("SN-0001", &[]);
    assert!(served.status.success(), "{}", transcript(&served));
}
