//! The command line an operator lives in: answers piped into a reader that stops early, one
//! `--output` convention, tables a person can read, logs without colour codes off a terminal
//! (or as JSON), and `ztp check-config`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};

use serde_json::Value;
use ztp_tests::{Server, success, temp_dir, transcript, ztp_bin};

/// `ztp` with `args`, without the `ZTP_*` variables of the test's environment.
fn ztp_clean<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(ztp_bin());
    command.args(args);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ZTP_") {
            command.env_remove(name);
        }
    }
    command
}

/// Whether a process ended as a Unix tool whose reader went away ends: status 0, status 141
/// (a shell's for SIGPIPE), or killed by SIGPIPE.
fn ended_quietly(status: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    matches!(status.code(), Some(0 | 141)) || status.signal() == Some(13)
}

/// Runs `command` with its standard output read up to the first line (`None`: not read at
/// all) and then closed, as `… | head -1` does; returns the line, the status and standard
/// error.
fn closed_after(mut command: Command, lines: Option<usize>) -> (String, ExitStatus, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ztp runs");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    if lines.is_some() {
        BufReader::new(stdout).read_line(&mut first).unwrap();
    } else {
        drop(stdout);
    }
    // The reader is gone (dropped above, or here with the BufReader).
    let output = child.wait_with_output().expect("ztp ends");
    (
        first,
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_long_answer_piped_into_a_reader_that_stops_ends_quietly() {
    let dir = temp_dir();
    crate::dev_pki(&dir.path().join("pki"));
    // Hundreds of certificates: far more than a pipe holds, so ztp is still writing when the
    // reader stops.
    let root = std::fs::read_to_string(dir.path().join("pki/manufacturer/root-ca.pem")).unwrap();
    let bundle = dir.path().join("bundle.pem");
    std::fs::write(&bundle, root.repeat(400)).unwrap();
    let (first, status, stderr) = closed_after(
        ztp_clean(["pki".as_ref(), "show".as_ref(), bundle.as_os_str()]),
        Some(1),
    );
    assert!(first.starts_with("subject:"), "{first}");
    assert!(ended_quietly(status), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.trim().is_empty(),
        "nothing to say about it: {stderr}"
    );
}

#[test]
fn admin_answers_into_a_closed_pipe_end_quietly_and_tables_read_well() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let token = std::fs::read_to_string(dir.path().join("admin-token")).unwrap();
    let admin = |args: &[&str]| {
        let mut command = ztp_clean(args);
        command
            .env("ZTP_ADMIN_URL", &server.admin_url)
            .env("ZTP_ADMIN_TOKEN", token.trim());
        command
    };
    for args in [
        &["device", "list", "--output", "table"][..],
        &["device", "list"],
        &["customer", "show", "example-customer"],
    ] {
        let (_, status, stderr) = closed_after(admin(args), None);
        assert!(ended_quietly(status), "{args:?}: {status}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("error"), "{args:?}: {stderr}");
    }

    // An empty list still shows the columns it would have.
    let empty = success(server.admin([
        "device",
        "list",
        "--customer",
        "nobody",
        "--output",
        "table",
    ]));
    assert!(
        empty.starts_with("serial  model  customer"),
        "a header row: {empty:?}"
    );
    assert_eq!(empty.lines().count(), 1, "{empty}");
    let empty =
        success(server.admin(["--output", "csv", "device", "list", "--customer", "nobody"]));
    assert!(empty.starts_with("serial,model,customer,"), "{empty:?}");

    // One record is printed field by field; nested values under their field, not as JSON.
    let shown =
        success(server.admin(["customer", "show", "example-customer", "--output", "table"]));
    let lines: Vec<&str> = shown.lines().collect();
    assert!(
        lines[0].starts_with("name:") && lines[0].ends_with(" example-customer"),
        "{shown}"
    );
    assert!(lines.contains(&"owner_ca:"), "{shown}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  subject:") && l.contains("Owner CA")),
        "{shown}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("  - name:")),
        "a list item: {shown}"
    );
    assert!(!shown.contains("{\""), "no raw JSON: {shown}");

    // A list's nested values are summarised in their cells.
    let listed = success(server.admin(["customer", "list", "--output", "table"]));
    assert!(
        listed.contains("{3 fields}") && listed.contains("1 item"),
        "{listed}"
    );
    assert!(!listed.contains("BEGIN CERTIFICATE"), "{listed}");
}

#[test]
fn output_is_taken_where_it_applies_and_refused_elsewhere() {
    let refused = |args: &[&str]| {
        let output = ztp_clean(args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            transcript(&output)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    assert!(refused(&["serve", "--output", "json"]).contains("--output"));
    assert!(
        refused(&["--output", "csv", "dhcp-option", "https://ztp.example"]).contains("--output")
    );
    assert!(refused(&["check-config", "ztp.toml", "--output", "json"]).contains("--output"));
    let help = success(ztp_clean(["device", "list", "--help"]).output().unwrap());
    assert!(help.contains("--output"), "{help}");
    let help = success(ztp_clean(["serve", "--help"]).output().unwrap());
    assert!(!help.contains("--output"), "{help}");
}

/// The log `ztp serve` writes on standard error (a file here, as under systemd) with `env`.
fn serve_log(env: &[(&str, &str)]) -> String {
    let dir = temp_dir();
    let mut server = Server::process_with(dir.path(), env);
    let log = server.log();
    server.stop();
    log
}

#[test]
fn logs_off_a_terminal_have_no_colour_codes_and_may_be_json() {
    let text = serve_log(&[]);
    assert!(text.contains("DEVELOPMENT PKI"), "{text}");
    assert!(!text.contains('\u{1b}'), "escape codes in a file: {text:?}");

    let json = serve_log(&[("ZTP_LOG_FORMAT", "json")]);
    assert!(json.lines().count() >= 2, "{json}");
    for line in json.lines() {
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line:?}"));
        assert!(
            entry["level"].is_string() && entry["timestamp"].is_string(),
            "{line}"
        );
    }
    assert!(json.contains("DEVELOPMENT PKI"), "{json}");
}

/// `ztp check-config FILE` with `--data-dir data_dir` and `env`.
fn check_config(file: &Path, data_dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = ztp_clean(["check-config".as_ref(), file.as_os_str()]);
    command
        .arg("--data-dir")
        .arg(data_dir)
        .envs(env.iter().copied());
    command.output().expect("ztp runs")
}

fn deploy_example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/ztp.toml")
}

#[test]
fn check_config_names_the_files_the_example_needs_that_are_missing() {
    let output = ztp_clean(["check-config".as_ref(), deploy_example().as_os_str()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut keys: Vec<&str> = stdout
        .lines()
        .map(|line| line.split(": ").next().unwrap())
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "device_api.tls_certificate",
            "device_api.tls_key",
            "manufacturer.crls[0]",
            "manufacturer.license_certificate",
            "manufacturer.license_key",
            "manufacturer.masa_certificate",
            "manufacturer.masa_key",
            "manufacturer.trust_anchors[0]",
        ],
        "{stdout}"
    );
    for line in stdout.lines() {
        assert!(
            line.contains(" /etc/ztp/") && line.contains("does not exist"),
            "{line}"
        );
        assert!(
            line.ends_with("deploy/ztp.toml)"),
            "the file that named it: {line}"
        );
    }
}

#[test]
fn check_config_reports_every_problem_at_once_each_with_its_key() {
    let dir = temp_dir();
    let file = dir.path().join("ztp.toml");
    std::fs::write(
        &file,
        "[device_api]\nlisten_port = 8443\n\
         [nms]\nmax_sessions = \"many\"\n\
         [webhooks]\nretries = 3\n",
    )
    .unwrap();
    let output = check_config(&file, &dir.path().join("data"), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let place = format!(" ({})", file.display());
    assert!(
        lines.contains(&format!("device_api.listen_port: unknown key{place}").as_str()),
        "{stdout}"
    );
    assert!(
        lines.contains(&format!("webhooks.retries: unknown key{place}").as_str()),
        "{stdout}"
    );
    let bad = lines
        .iter()
        .find(|l| l.starts_with("nms.max_sessions: "))
        .expect(&stdout);
    assert!(bad.contains("\"many\"") && bad.ends_with(&place), "{bad}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("3 problem(s)"),
        "{}",
        transcript(&output)
    );

    // The environment is read as `ztp serve` reads it, and named when it is wrong.
    std::fs::write(&file, "[nms]\nmax_sessions = 2\n").unwrap();
    let output = check_config(
        &file,
        &dir.path().join("data"),
        &[("ZTP_DEVICE_API__LISTEN", "localhost:http")],
    );
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("device_api.listen: ")
            && stdout.trim_end().ends_with("(ZTP_DEVICE_API__LISTEN)"),
        "{stdout}"
    );

    // A good file: one line, status 0; nothing opened, nothing created.
    let output = check_config(&file, &dir.path().join("data"), &[]);
    let stdout = success(output);
    assert!(
        stdout.starts_with("ok: ") && stdout.lines().count() == 1,
        "{stdout}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "check-config creates nothing"
    );
}
