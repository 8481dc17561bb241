//! One request to the device API made with curl (an independent HTTP/TLS client), as a
//! device's own client would make it: its IDevID as client certificate (or none), headers, a
//! body, HTTP/2 or HTTP/1.1.

use std::path::Path;

use crate::{Server, curl, temp_dir, transcript};

/// A request to the device API.
#[derive(Debug, Default, Clone, Copy)]
pub struct DeviceRequest<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path (`/restconf/operations/…`).
    pub path: &'a str,
    /// The IDevID certificate and key to authenticate with (`None`: no client certificate).
    pub identity: Option<(&'a Path, &'a Path)>,
    /// Request headers, `Name: value`.
    pub headers: &'a [&'a str],
    /// The body.
    pub body: Option<&'a [u8]>,
    /// HTTP/1.1 (else HTTP/2); a body is then announced with `Expect: 100-continue`, so that an
    /// early refusal (413) is read instead of meeting a broken pipe.
    pub http1: bool,
}

/// What the device API answered.
#[derive(Debug, Clone)]
pub struct DeviceAnswer {
    /// The status.
    pub status: u16,
    /// The Content-Type.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
}

impl DeviceAnswer {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Makes `request` to `server`'s device API, trusting the development PKI's root.
pub fn device_request(server: &Server, request: &DeviceRequest<'_>) -> DeviceAnswer {
    let dir = temp_dir();
    let out = dir.path().join("body");
    let mut args: Vec<String> = vec![
        "--cacert".into(),
        server
            .pki()
            .join("manufacturer/root-ca.pem")
            .display()
            .to_string(),
        "-o".into(),
        out.display().to_string(),
        "-w".into(),
        "%{http_code} %{content_type}".into(),
        "-X".into(),
        request.method.into(),
    ];
    if let Some((cert, key)) = request.identity {
        args.extend([
            "--cert".into(),
            cert.display().to_string(),
            "--key".into(),
            key.display().to_string(),
        ]);
    }
    for header in request.headers {
        args.extend(["-H".into(), (*header).to_owned()]);
    }
    if let Some(body) = request.body {
        let file = dir.path().join("request");
        std::fs::write(&file, body).unwrap();
        args.extend(["--data-binary".into(), format!("@{}", file.display())]);
    }
    if request.http1 && request.body.is_some() {
        // curl announces bodies of 1 MiB and more by itself (7.88), and sends the body anyway
        // after 1 s without an answer: ask for it, and wait as long as the test may take.
        args.extend([
            "-H".into(),
            "Expect: 100-continue".into(),
            "--expect100-timeout".into(),
            "60".into(),
        ]);
    }
    args.push(
        if request.http1 {
            "--http1.1"
        } else {
            "--http2"
        }
        .into(),
    );
    args.push(format!("{}{}", server.device_url, request.path));
    let output = curl(&args);
    assert!(
        output.status.success(),
        "curl failed: {}",
        transcript(&output)
    );
    let written = String::from_utf8_lossy(&output.stdout).into_owned();
    let (status, content_type) = written.split_once(' ').unwrap_or((&written, ""));
    DeviceAnswer {
        status: status
            .parse()
            .unwrap_or_else(|_| panic!("curl wrote {written:?}")),
        content_type: content_type.to_owned(),
        body: std::fs::read(&out).unwrap_or_default(),
    }
}
