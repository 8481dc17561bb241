//! Requests refused before any handler sees them. hyper answers a request head it cannot
//! accept (bytes that are not HTTP, an oversized head, a conflicting Content-Length, a transfer
//! coding other than chunked, an unknown version) with a bare status and no body, and offers no
//! hook to say more. So every HTTP/1 request head passes through [`Screened`] first: it holds
//! the head back until it is complete, checks it as hyper would (with `httparse`, hyper's own
//! parser, then the same rules for the body's framing), and hands hyper only heads hyper will
//! accept. A head it refuses is answered by the listener's handler
//! ([`super::Handler::early_error`]: a RESTCONF error document on the device port, the JSON
//! error on the admin port) and the connection is closed after it.
//!
//! To find the next head on a keep-alive connection, the body of each request is followed
//! through (a Content-Length, or chunk by chunk); a chunked body it cannot follow is left to
//! hyper (the handler reading it answers 400), and so is the rest of that connection. HTTP/2
//! (its preface at the start of a connection) is hyper's throughout: its errors are stream
//! resets, not answers.
//!
//! The refusal is written when hyper, having read the end of the stream, closes the connection
//! (after the answers to the requests before it), or, should hyper drop the connection without
//! closing it, once without waiting when the stream is dropped.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Uri};
use hyper::body::Body as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Body;

/// Headers a request may carry (hyper's own bound).
const MAX_HEADERS: usize = 100;
/// The longest request target hyper accepts.
const MAX_URI_LEN: usize = (u16::MAX - 1) as usize;
/// The HTTP/2 connection preface.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The longest chunk-size line (with its extensions) followed before the body is left to hyper.
const MAX_CHUNK_LINE: usize = 4096;

/// A request refused before any handler saw it.
#[derive(Debug, Clone)]
pub struct EarlyError {
    /// The status to answer with.
    pub status: StatusCode,
    /// What was wrong, for the client.
    pub message: String,
    /// The request's headers, when they could be read (to choose the answer's media type).
    pub headers: HeaderMap,
}

impl EarlyError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            headers: HeaderMap::new(),
        }
    }
}

/// Renders the answer to a refused request.
pub(super) type Render = Box<dyn Fn(&EarlyError) -> Response<Body> + Send + Sync>;

/// A connection's stream whose HTTP/1 request heads are checked before hyper reads them.
pub(super) struct Screened<S: AsyncWrite + Unpin> {
    inner: S,
    /// Bytes read from `inner` and not handed on yet; the first `released` of them may be.
    held: Vec<u8>,
    released: usize,
    state: State,
    /// No head has been read yet (an HTTP/2 preface may come).
    first: bool,
    max_head: usize,
    render: Render,
    /// The answer to a refused head, and how much of it is written.
    answer: Option<(Vec<u8>, usize)>,
}

/// Where the stream is in the requests it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a request head.
    Head,
    /// In a body of known length: this many bytes are left.
    Body(u64),
    /// In a chunked body.
    Chunked(Chunk),
    /// hyper's from here on (HTTP/2, or a body that could not be followed).
    PassThrough,
    /// A head was refused: hyper reads the end of the stream.
    Refused,
}

/// Where a chunked body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Screened<S> {
    /// Screens the heads read from `inner`, refusing heads longer than `max_head` bytes;
    /// `render` answers refused ones.
    pub(super) fn new(inner: S, max_head: usize, render: Render) -> Self {
        Self {
            inner,
            held: Vec::new(),
            released: 0,
            state: State::Head,
            first: true,
            max_head: max_head.max(1024),
            render,
            answer: None,
        }
    }

    /// Moves through the held bytes; whether anything changed (bytes released, a state left).
    fn screen(&mut self) -> bool {
        let pending = self.held.len() - self.released;
        match self.state {
            State::Refused => false,
            _ if pending == 0 => false,
            State::PassThrough => {
                self.released = self.held.len();
                true
            }
            State::Body(left) => {
                self.state = match self.release(left) {
                    0 => State::Head,
                    left => State::Body(left),
                };
                true
            }
            State::Head => self.screen_head(),
            State::Chunked(chunk) => self.screen_chunk(chunk),
        }
    }

    /// Releases up to `n` held bytes; how many of `n` are left.
    fn release(&mut self, n: u64) -> u64 {
        let pending = (self.held.len() - self.released) as u64;
        let taken = n.min(pending);
        self.released += taken as usize;
        n - taken
    }

    fn screen_head(&mut self) -> bool {
        let bytes = &self.held[self.released..];
        if self.first {
            if bytes.len() < PREFACE.len() && PREFACE.starts_with(bytes) {
                return false;
            }
            if bytes.starts_with(PREFACE) {
                self.state = State::PassThrough;
                return true;
            }
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let verdict = match request.parse(bytes) {
            Ok(httparse::Status::Complete(len)) if len > self.max_head => {
                Err(self.too_large(bytes))
            }
            Ok(httparse::Status::Complete(len)) => check(&request)
                .map(|state| (len, state))
                .map_err(|error| *error),
            Ok(httparse::Status::Partial) if bytes.len() > self.max_head => {
                Err(self.too_large(bytes))
            }
            Ok(httparse::Status::Partial) => return false,
            Err(error) => Err(parse_error(error, &request, bytes)),
        };
        match verdict {
            Ok((len, state)) => {
                self.released += len;
                self.state = state;
                self.first = false;
            }
            Err(error) => self.refuse(&error),
        }
        true
    }

    fn too_large(&self, bytes: &[u8]) -> EarlyError {
        if bytes.contains(&b'\n') {
            EarlyError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                format!("the request head is larger than {} bytes", self.max_head),
            )
        } else {
            EarlyError::new(
                StatusCode::URI_TOO_LONG,
                format!("the request line is longer than {} bytes", self.max_head),
            )
        }
    }

    fn screen_chunk(&mut self, chunk: Chunk) -> bool {
        let bytes = &self.held[self.released..];
        self.state = match chunk {
            Chunk::Size => match httparse::parse_chunk_size(bytes) {
                Ok(httparse::Status::Complete((used, size))) => {
                    self.released += used;
                    State::Chunked(if size == 0 {
                        Chunk::Trailers
                    } else {
                        Chunk::Data(size)
                    })
                }
                Ok(httparse::Status::Partial) if bytes.len() <= MAX_CHUNK_LINE => return false,
                _ => State::PassThrough,
            },
            Chunk::Data(left) => match self.release(left) {
                0 => State::Chunked(Chunk::DataEnd),
                left => State::Chunked(Chunk::Data(left)),
            },
            Chunk::DataEnd if bytes.len() < 2 => return false,
            Chunk::DataEnd if bytes.starts_with(b"\r\n") => {
                self.released += 2;
                State::Chunked(Chunk::Size)
            }
            Chunk::DataEnd => State::PassThrough,
            Chunk::Trailers => match bytes.iter().position(|b| *b == b'\n') {
                Some(end) => {
                    let empty = end == 0 || (end == 1 && bytes[0] == b'\r');
                    self.released += end + 1;
                    if empty {
                        State::Head
                    } else {
                        State::Chunked(Chunk::Trailers)
                    }
                }
                None if bytes.len() <= self.max_head => return false,
                None => State::PassThrough,
            },
        };
        true
    }

    fn refuse(&mut self, error: &EarlyError) {
        tracing::debug!(
            status = error.status.as_u16(),
            "refused a request head: {}",
            error.message
        );
        self.answer = Some((serialize((self.render)(error)), 0));
        self.state = State::Refused;
        self.held.truncate(self.released);
    }

    /// Writes what is left of the answer to a refused head.
    fn poll_answer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some((answer, written)) = &mut self.answer {
            while *written < answer.len() {
                let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &answer[*written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
            ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
            self.answer = None;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Screened<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.released > 0 {
                let n = this.released.min(buf.remaining());
                buf.put_slice(&this.held[..n]);
                this.held.drain(..n);
                this.released -= n;
                return Poll::Ready(Ok(()));
            }
            if this.state == State::Refused {
                return Poll::Ready(Ok(()));
            }
            if this.state == State::PassThrough && this.held.is_empty() {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            if this.screen() {
                continue;
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                // The end of the stream: an unfinished head goes with it, as with hyper.
                return Poll::Ready(Ok(()));
            }
            this.held.extend_from_slice(read.filled());
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Screened<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // hyper closes the connection once it has answered the requests before the refused
        // one: the refusal goes last.
        ready!(this.poll_answer(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncWrite + Unpin> Drop for Screened<S> {
    fn drop(&mut self) {
        let Some((answer, written)) = self.answer.take() else {
            return;
        };
        // hyper dropped the connection without closing it (it may, when the stream ends before
        // a first request): one attempt, without waiting. The answer is small; a socket that
        // cannot take it now belongs to a client that does not read.
        let mut cx = Context::from_waker(Waker::noop());
        let mut inner = Pin::new(&mut self.inner);
        let mut at = written;
        while at < answer.len() {
            match inner.as_mut().poll_write(&mut cx, &answer[at..]) {
                Poll::Ready(Ok(n)) if n > 0 => at += n,
                _ => return,
            }
        }
        let _ = inner.as_mut().poll_flush(&mut cx);
        let _ = inner.as_mut().poll_shutdown(&mut cx);
    }
}

/// Checks a complete head as hyper would; the state its body leaves the stream in.
fn check(request: &httparse::Request<'_, '_>) -> Result<State, Box<EarlyError>> {
    let bad = |message: &str| Box::new(EarlyError::new(StatusCode::BAD_REQUEST, message));
    let method = request.method.unwrap_or_default();
    Method::from_bytes(method.as_bytes()).map_err(|_| bad("the request method is not valid"))?;
    let path = request.path.unwrap_or_default();
    if path.len() > MAX_URI_LEN {
        return Err(Box::new(EarlyError::new(
            StatusCode::URI_TOO_LONG,
            "the request target is too long",
        )));
    }
    path.parse::<Uri>()
        .map_err(|_| bad("the request target is not a valid URI"))?;
    let http11 = request.version == Some(1);

    let mut headers = HeaderMap::new();
    for header in request.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(header.name.as_bytes()),
            HeaderValue::from_bytes(header.value),
        ) else {
            return Err(bad("a header field is not valid"));
        };
        headers.append(name, value);
    }
    let refuse = |mut error: Box<EarlyError>| {
        error.headers = headers.clone();
        Err(error)
    };

    // hyper's rules (RFC 9112 §6.3), a little stricter: every Content-Length must be a number
    // and all must agree; Transfer-Encoding, when present, wins and must end in chunked.
    let mut length: Option<u64> = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        let parsed = value
            .to_str()
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok());
        match (parsed, length) {
            (None, _) => return refuse(bad("the Content-Length is not a number")),
            (Some(n), Some(before)) if n != before => {
                return refuse(bad("the request carries differing Content-Length values"));
            }
            (Some(n), _) => length = Some(n),
        }
    }
    let codings: Vec<String> = headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("?").split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    if codings.is_empty() {
        return Ok(match length {
            Some(n) if n > 0 => State::Body(n),
            _ => State::Head,
        });
    }
    if !http11 {
        return refuse(bad("an HTTP/1.0 request cannot use Transfer-Encoding"));
    }
    let chunked = codings.iter().filter(|c| *c == "chunked").count();
    match (codings.last().map(String::as_str), chunked) {
        (Some("chunked"), 1) => Ok(State::Chunked(Chunk::Size)),
        // RFC 9112 §6.1: a transfer coding the server does not understand.
        (_, 0) => refuse(Box::new(EarlyError::new(
            StatusCode::NOT_IMPLEMENTED,
            "the only transfer coding accepted is chunked",
        ))),
        _ => refuse(bad(
            "chunked must be the last transfer coding, and applied once",
        )),
    }
}

/// The refusal of a head `httparse` rejects.
fn parse_error(
    error: httparse::Error,
    request: &httparse::Request<'_, '_>,
    bytes: &[u8],
) -> EarlyError {
    let (status, message) = match error {
        httparse::Error::Token if request.method.is_none() => {
            (StatusCode::BAD_REQUEST, "the request method is not valid")
        }
        httparse::Error::Token => (
            StatusCode::BAD_REQUEST,
            "the request target holds bytes a URI may not",
        ),
        httparse::Error::Version if names_a_version(bytes) => (
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "this server speaks HTTP versions 1.0, 1.1 and 2 only",
        ),
        httparse::Error::Version => (StatusCode::BAD_REQUEST, "the request line is not HTTP"),
        httparse::Error::TooManyHeaders => (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "the request has more than 100 header fields",
        ),
        httparse::Error::HeaderName | httparse::Error::HeaderValue => {
            (StatusCode::BAD_REQUEST, "a header field is not valid")
        }
        _ => (
            StatusCode::BAD_REQUEST,
            "the request head is not valid HTTP",
        ),
    };
    EarlyError::new(status, message)
}

/// Whether the request line ends in a well-formed version (`HTTP/<digit>.<digit>`) ztp does not
/// speak, rather than in something else.
fn names_a_version(bytes: &[u8]) -> bool {
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let version = line.rsplit(|b| *b == b' ').next().unwrap_or_default();
    matches!(version, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
        if major.is_ascii_digit() && minor.is_ascii_digit())
}

/// `response` as HTTP/1.1 bytes, closing the connection.
fn serialize(response: Response<Body>) -> Vec<u8> {
    let (parts, mut body) = response.into_parts();
    let mut cx = Context::from_waker(Waker::noop());
    let mut content = Vec::new();
    // A `Full` body is ready at once.
    while let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) {
        if let Ok(data) = frame.into_data() {
            content.extend_from_slice(&data);
        }
    }
    let status = parts.status;
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or_default()
    )
    .into_bytes();
    for (name, value) in &parts.headers {
        if [CONTENT_LENGTH, CONNECTION, DATE].contains(name) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    out.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\ndate: {date}\r\n\r\n",
            content.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&content);
    out
}

#[cfg(test)]
mod tests;
