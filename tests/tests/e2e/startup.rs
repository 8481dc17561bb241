//! What `ztp serve` checks before it writes anything: a port in use is reported with the option
//! that changes it, and the data directory stays as it was (here: not created at all).

use std::net::TcpListener;

use ztp_tests::{temp_dir, transcript, ztp_bin};

#[test]
fn a_port_in_use_is_reported_with_its_option_before_the_data_directory_is_written() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    for (flag, option) in [
        ("--listen", "device_api.listen or --listen"),
        ("--admin-listen", "admin_api.listen or --admin-listen"),
    ] {
        let other = if flag == "--listen" {
            "--admin-listen"
        } else {
            "--listen"
        };
        let output = std::process::Command::new(ztp_bin())
            .args(["serve", "--data-dir"])
            .arg(&data)
            .args([flag, &format!("127.0.0.1:{port}"), other, "127.0.0.1:0"])
            .output()
            .unwrap();
        let said = transcript(&output);
        assert!(!output.status.success(), "{said}");
        assert!(said.contains(&format!("127.0.0.1:{port}")), "{said}");
        assert!(said.contains(option), "the option that changes it: {said}");
        assert!(!data.exists(), "nothing written: {said}");
    }
}

#[test]
fn check_config_loads_the_trust_material_and_names_a_key_in_the_wrong_role() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    // A start makes the development PKI the configurations below name.
    let mut server = ztp_tests::Server::process(&data);
    server.stop();
    let check = |manufacturer: &str| {
        let file = dir.path().join("ztp.toml");
        std::fs::write(
            &file,
            format!("[dev_pki]\nenabled = false\n\n[manufacturer]\n{manufacturer}"),
        )
        .unwrap();
        let output = ztp_tests::data_command(&data)
            .arg("check-config")
            .arg(&file)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        (output.status.success(), transcript(&output))
    };
    let (ok, said) = check("");
    assert!(ok, "the development PKI's own roles: {said}");
    // The license signer put in the voucher signer's place.
    let (ok, said) = check(
        "masa_certificate = \"pki/manufacturer/license-signing.pem\"\n\
         masa_key = \"pki/manufacturer/license-signing.key\"\n",
    );
    assert!(!ok, "{said}");
    assert!(said.contains("voucher signer"), "{said}");
}
