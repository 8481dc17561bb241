use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// Serves `input` (written by a client that then waits) through a screened stream and hyper;
/// what the client read back, and the bodies hyper handed the service, in order.
async fn exchange(input: &[u8]) -> (String, Vec<String>) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let render: Render = Box::new(|e: &EarlyError| {
        let mut response = Response::new(Full::new(Bytes::from(format!(
            "{{\"refused\":\"{}\"}}",
            e.message
        ))));
        *response.status_mut() = e.status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    });
    let screened = Screened::new(server, 2048, render);
    let (seen, mut bodies) = tokio::sync::mpsc::unbounded_channel();
    let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
        let seen = seen.clone();
        async move {
            let path = request.uri().path().to_owned();
            let body = http_body_util::BodyExt::collect(request.into_body())
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let _ = seen.send(format!("{path}:{}", String::from_utf8_lossy(&body)));
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        }
    });
    let server = tokio::spawn(async move {
        // As `serve` builds it: the answers before a refused head are written first.
        let mut builder = Builder::new(TokioExecutor::new());
        builder.http1().half_close(true);
        let _ = builder
            .serve_connection(TokioIo::new(screened), service)
            .await;
    });
    let (mut read, mut write) = tokio::io::split(client);
    write.write_all(input).await.unwrap();
    let mut answer = Vec::new();
    read.read_to_end(&mut answer).await.unwrap();
    let _ = server.await;
    drop(write);
    let mut seen = Vec::new();
    while let Ok(body) = bodies.try_recv() {
        seen.push(body);
    }
    (String::from_utf8_lossy(&answer).into_owned(), seen)
}

fn statuses(answer: &str) -> Vec<&str> {
    answer
        .split("HTTP/1.1 ")
        .skip(1)
        .filter_map(|a| a.get(..4))
        .filter(|a| a.ends_with(' ') && a[..3].bytes().all(|b| b.is_ascii_digit()))
        .map(|a| &a[..3])
        .collect()
}

#[tokio::test]
async fn a_refused_head_gets_the_handlers_answer_after_the_requests_before_it() {
    let (answer, seen) = exchange(
        b"POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
              POST /two HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
              3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n\
              GET /three HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    )
    .await;
    assert_eq!(statuses(&answer), ["200", "200", "400"], "{answer}");
    assert_eq!(seen, ["/one:hello", "/two:abcde"]);
    assert!(
        answer.ends_with("{\"refused\":\"the request carries differing Content-Length values\"}"),
        "{answer}"
    );
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(
        answer.contains("content-type: application/json"),
        "{answer}"
    );
}

#[tokio::test]
async fn each_head_hyper_would_refuse_gets_an_answer_with_a_body() {
    let cases: [(&[u8], &str); 10] = [
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            "400",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\n",
            "400",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            "501",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            "400",
        ),
        (
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            "400",
        ),
        (b"GET / HTTP/1.2\r\nHost: x\r\n\r\n", "505"),
        (b"GET / HTCPCP/1.0\r\nHost: x\r\n\r\n", "400"),
        (b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", "400"),
        (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", "400"),
        (b"G\x00T / HTTP/1.1\r\n\r\n", "400"),
    ];
    for (input, status) in cases {
        let (answer, seen) = exchange(input).await;
        let shown = String::from_utf8_lossy(input);
        assert_eq!(statuses(&answer), [status], "{shown:?}: {answer}");
        assert!(answer.contains("{\"refused\":"), "{shown:?}: {answer}");
        assert!(seen.is_empty(), "{shown:?}");
    }
}

#[tokio::test]
async fn oversized_heads_and_lines_are_431_and_414() {
    let mut head = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    head.extend(b"X-Pad: ".iter().chain([b'y'; 4096].iter()));
    head.extend(b"\r\n\r\n");
    let (answer, _) = exchange(&head).await;
    assert_eq!(statuses(&answer), ["431"], "{answer}");
    let mut line = b"GET /".to_vec();
    line.extend([b'a'; 4096]);
    let (answer, _) = exchange(&line).await;
    assert_eq!(statuses(&answer), ["414"], "{answer}");
    let many: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
    let (answer, _) = exchange(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()).await;
    assert_eq!(statuses(&answer), ["431"], "{answer}");
}

#[tokio::test]
async fn http2_is_left_to_hyper() {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let mut screened = Screened::new(server, 2048, Box::new(|_: &EarlyError| unreachable!()));
    let mut client = client;
    client.write_all(PREFACE).await.unwrap();
    client
        .write_all(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    drop(client);
    let mut through = Vec::new();
    screened.read_to_end(&mut through).await.unwrap();
    assert!(through.starts_with(PREFACE));
    assert_eq!(through.len(), PREFACE.len() + 9);
}
