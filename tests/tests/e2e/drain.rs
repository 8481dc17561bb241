//! Stopping behind a load balancer: on SIGTERM ztp first reports not ready while it still
//! serves (`device_api.drain_grace_secs`), so that the balancer sends new devices elsewhere,
//! then stops accepting, finishes what it holds and exits.

use ztp_tests::{Server, curl, temp_dir, transcript};

/// `/readyz`: the status and the body.
fn readiness(server: &Server) -> (String, String) {
    let output = curl([
        "-w".to_owned(),
        "\n%{http_code}".to_owned(),
        format!("{}/readyz", server.admin_url),
    ]);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.to_owned(), body.to_owned())
}

#[test]
fn on_sigterm_readiness_says_draining_while_devices_are_still_served() {
    let dir = temp_dir();
    let mut server =
        Server::process_with(dir.path(), &[("ZTP_DEVICE_API__DRAIN_GRACE_SECS", "10")]);
    assert_eq!(readiness(&server), ("200".to_owned(), "ready\n".to_owned()));

    let pid = server.pid().expect("a process").to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(signalled.success());
    let mut seen = readiness(&server);
    for _ in 0..200 {
        if seen.0 != "200" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
        seen = readiness(&server);
    }
    assert_eq!(seen.0, "503", "{seen:?}");
    assert!(seen.1.contains("draining"), "{seen:?}");

    // Not ready, yet still serving: a device that the balancer sent before it noticed is
    // answered.
    let answered = server.bootstrap("SN-0001", &[]);
    assert!(answered.status.success(), "{}", transcript(&answered));
    server.stop();
    assert!(server.log().contains("stopped"), "{}", server.log());
}
