//! Raw requests to the admin API, for tests that must send what no well-behaved client sends
//! (a list where an object belongs, a CSV body, no token) and read the answer's status,
//! headers and body as they are.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// An answer of the admin API.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The header lines, as sent (`Name: value`).
    pub headers: Vec<String>,
    /// The body, as text.
    pub body: String,
}

impl Answer {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Sends one HTTP/1.1 request to `base` (`http://127.0.0.1:<port>`) on its own connection,
/// with `token` as bearer token if given, and `body` as JSON (or CSV when `csv`).
pub fn request(
    base: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: &[u8],
    csv: bool,
) -> Answer {
    let address = base.strip_prefix("http://").expect("an http:// admin URL");
    let mut stream = TcpStream::connect(address).expect("connect to the admin API");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Length: {}\r\nContent-Type: {}\r\n",
        body.len(),
        if csv { "text/csv" } else { "application/json" }
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .expect("send the request head");
    stream.write_all(body).expect("send the request body");
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader
        .read_line(&mut status_line)
        .expect("read the status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read a header") == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        headers.push(line.to_owned());
    }
    // As long as Content-Length says: a server that answers before it reads the request's
    // body (a refusal) resets the connection when it closes it with that body unread, which
    // may cut a read past the answer's end.
    let length = headers.iter().find_map(|header| {
        let (name, value) = header.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    let mut body = Vec::new();
    match length {
        Some(length) => {
            body.resize(length, 0);
            reader.read_exact(&mut body).expect("read the body");
        }
        None => {
            reader.read_to_end(&mut body).expect("read the body");
        }
    }
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}
