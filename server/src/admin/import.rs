//! Bulk device import from CSV (`POST /api/v1/devices/import`), streamed: the body is parsed
//! as it arrives on a blocking thread, so that a million rows need no more memory than a
//! thousand. Each bad row is reported with its line number and reason while the good ones go in.
//!
//! Columns (a header row names them, in any order): `serial` and `model`, and optionally
//! `customer`, `certificate_pin` (a SHA-256 fingerprint of the device's IDevID) and
//! `license_pools` (names of the customer's serial-drawn pools, separated by `;`, that the
//! device is added to). Importing a serial again updates its model, owner and pin: the same file
//! imported twice changes nothing. A serial repeated within one file is a bad row (the first
//! occurrence counts), so that `imported` counts devices.
//!
//! # What an import may hold
//!
//! An import never holds a database transaction while it waits for its client: valid rows are
//! gathered in memory, [`BATCH`] at a time, and each batch is written in a transaction opened
//! and committed by [`Store::write_import_batch`]. Other administration and the devices' own
//! writes wait at most for one batch, never for the network. `?mode=all-or-nothing` does not
//! hold one either: the body is spooled to an unnamed temporary file while every row is
//! checked, and only when none is bad is the file read again and written in batches. Should the
//! database fail between two of those batches, the answer says how many devices were written;
//! the rows are upserts, so the same file can simply be imported again.
//!
//! The body is limited in size (`admin_api.max_import_bytes`: 413), in the time it may take to
//! arrive (`admin_api.import_deadline_secs`, and the read timeout between two pieces: 408) and
//! in the length of one row (`admin_api.max_import_row_bytes`: 413; the CSV parser holds a
//! whole row in memory). An import stopped by a limit answers in plain words how far it got:
//! how many devices of the rows before were imported (partial mode) or that nothing was kept
//! (all-or-nothing). `docs/import.md` describes the limits for operators.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufWriter, Read, Seek, Write};
use std::rc::Rc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::time::Instant;
use ztp_certs::{ProductId, Serial};

use super::audit::touched;
use super::context::{Call, Ctx, Payload, json, normalize_pin};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::openapi::params::ImportQuery;
use crate::domain::licensing::Scope;
use crate::store::import::ImportBatch;
use crate::store::{NewDevice, Store};

/// Valid rows written per transaction.
const BATCH: usize = 500;
/// Bad rows reported one by one; beyond, only counted.
const MAX_REPORTED: usize = 10_000;
/// The CSV parser's read buffer: bytes it may have read beyond the row it is parsing.
const CSV_BUFFER: usize = 8 * 1024;

/// Limits of one import.
#[derive(Debug, Clone, Copy)]
pub struct ImportLimits {
    /// Largest body.
    pub max_bytes: u64,
    /// Longest row (record), its line ending included.
    pub max_row_bytes: u64,
    /// Time for the whole body to arrive, from when the server starts reading it.
    pub deadline: Duration,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// `partial` or `all-or-nothing`.
    pub mode: String,
    /// Data rows read (the header not counted).
    pub rows: u64,
    /// Devices written (created or updated).
    pub imported: u64,
    /// Rows refused.
    pub bad_rows: u64,
    /// Whether the import's writes are kept (false: an all-or-nothing import with bad rows).
    pub committed: bool,
    /// The refused rows, by line number (the first 10,000).
    pub errors: Vec<RowError>,
}

impl ImportReport {
    fn refuse(&mut self, line: u64, reason: String) {
        self.bad_rows += 1;
        if self.errors.len() < MAX_REPORTED {
            self.errors.push(RowError { line, reason });
        }
    }
}

/// One refused row.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// Line number in the file (the header is line 1).
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// Why an import stopped before the end of its body. The messages go to the client: plain
/// words, no internals.
#[derive(Debug, thiserror::Error)]
enum Stop {
    /// The body arrived more slowly than the deadline allows.
    #[error("the import did not arrive within {0} s (admin_api.import_deadline_secs)")]
    Deadline(u64),
    /// The database failed (logged).
    #[error("the database failed (the server's log says why)")]
    Database,
    /// The header row is unusable.
    #[error("{0}")]
    Header(String),
    /// Nothing arrived for the read timeout.
    #[error("no data arrived for {0} s")]
    Idle(u64),
    /// The CSV does not parse.
    #[error("the CSV does not parse after line {0}")]
    Malformed(u64),
    /// A row is longer than allowed (`line` 0: not known yet).
    #[error("line {line} is longer than {limit} bytes (admin_api.max_import_row_bytes)")]
    RowTooLong { line: u64, limit: u64 },
    /// The temporary file of an all-or-nothing import failed (logged).
    #[error("the server could not keep the import in a temporary file (its log says why)")]
    Spool,
    /// The body is larger than allowed.
    #[error("the import is larger than {0} bytes (admin_api.max_import_bytes)")]
    TooLarge(u64),
    /// The client's connection failed.
    #[error("the upload broke off")]
    Upload,
}

impl Stop {
    fn status(&self) -> StatusCode {
        match self {
            Self::Deadline(_) | Self::Idle(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Database => StatusCode::SERVICE_UNAVAILABLE,
            Self::Header(_) | Self::Malformed(_) | Self::Upload => StatusCode::BAD_REQUEST,
            Self::RowTooLong { .. } | Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Spool => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The answer: why, and how far the import got.
    fn message(&self, report: &ImportReport) -> String {
        let done = if report.mode == "all-or-nothing" {
            if report.imported == 0 {
                "nothing was kept".to_owned()
            } else {
                format!(
                    "{} device(s) were written before it; importing the same file again \
                     completes the import (rows are upserts)",
                    report.imported
                )
            }
        } else {
            format!(
                "{} device(s) were imported from the {} row(s) before it ({} refused)",
                report.imported, report.rows, report.bad_rows
            )
        };
        format!("{self}: {done}")
    }
}

/// An import's result: its report, the devices written per owner, and why it stopped early if
/// it did.
struct Outcome {
    report: ImportReport,
    by_customer: BTreeMap<Option<String>, u64>,
    stopped: Option<Stop>,
}

/// `POST /devices/import[?mode=partial|all-or-nothing]` with a CSV body.
#[utoipa::path(post, path = "/api/v1/devices/import", tag = "devices",
    description = "The body is read as it arrives: a header row naming the columns \
                   `serial`, `model` and optionally `customer`, `certificate_pin`, \
                   `license_pools` (`;`-separated), then one device per row. A serial imported \
                   again is updated; a serial repeated within the body is a bad row. The body's \
                   size, its longest row and the time it may take are limited (413, 408: the \
                   message says how many devices of the rows before were imported, or that \
                   nothing was kept).",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "The devices, one per row after the header row"),
    responses(
        (status = 200, description = "What was imported, and the refused rows", body = ImportReport),
        (status = 400, description = "A bad header row, mode or CSV syntax", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 422, description = "All-or-nothing with bad rows: nothing was kept",
            body = ImportReport),
    ))]
pub(super) async fn import_devices(ctx: &Ctx, call: Call) -> ApiResult {
    let Payload::Stream(body) = call.body else {
        return Err(ApiError::bad_request(
            "this request takes a streamed CSV body",
        ));
    };
    let query = &call.query;
    let all_or_nothing = match query.get("mode").map(String::as_str) {
        None | Some("partial") => false,
        Some("all-or-nothing") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "mode {other:?}: use partial or all-or-nothing"
            )));
        }
    };
    let limits = ctx.import_limits;
    let idle = ctx.read_timeout;
    if body
        .size_hint()
        .exact()
        .is_some_and(|length| length > limits.max_bytes)
    {
        linger(body, idle);
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{}: nothing was read", Stop::TooLarge(limits.max_bytes)),
        ));
    }
    let known = known(ctx).await?;
    let (sender, receiver) = mpsc::channel(16);
    let feed = feed(body, sender, limits, idle);
    let store = ctx.store.clone();
    let handle = Handle::current();
    let work = tokio::task::spawn_blocking(move || {
        import_csv(
            &handle,
            &store,
            ChannelReader::new(receiver),
            &known,
            limits.max_row_bytes,
            all_or_nothing,
        )
    });
    let (rest, outcome) = tokio::join!(feed, work);
    if let Some(body) = rest {
        linger(body, idle);
    }
    let Outcome {
        report,
        by_customer,
        stopped,
    } = outcome.map_err(|error| {
        tracing::error!(%error, "device import failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the import failed (the server's log says why)",
        )
    })?;
    for (customer, count) in &by_customer {
        touched(
            customer.as_deref(),
            match customer {
                Some(c) => format!("imported {count} device(s) for {c}"),
                None => format!("imported {count} device(s) without a customer"),
            },
        );
    }
    ctx.audit(
        None,
        format!(
            "imported {} device(s) from CSV ({}: {} row(s), {} bad{})",
            report.imported,
            report.mode,
            report.rows,
            report.bad_rows,
            match (&stopped, report.committed) {
                (Some(stop), _) => format!("; stopped: {stop}"),
                (None, true) => String::new(),
                (None, false) => ", nothing kept".to_owned(),
            }
        ),
    )
    .await;
    if let Some(stop) = stopped {
        return Err(ApiError::new(stop.status(), stop.message(&report)));
    }
    let status = if report.committed {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(json(status, &report))
}

/// The customers rows may name and their license pools.
async fn known(ctx: &Ctx) -> Result<Known, ApiError> {
    let unavailable = |error: crate::store::StoreError| {
        tracing::error!(%error, "device import: could not read customers and pools");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, Stop::Database.to_string())
    };
    let customers: HashSet<String> = ctx
        .store
        .customers()
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|c| c.name)
        .collect();
    let mut pools = HashMap::new();
    let mut members = HashMap::new();
    for customer in &customers {
        for pool in ctx
            .store
            .license_pools(customer)
            .await
            .map_err(unavailable)?
        {
            let by_serial = match pool.scope {
                Scope::Serials(serials) => {
                    members.insert(pool.id, serials.into_iter().collect());
                    true
                }
                Scope::Models(_) => false,
            };
            pools.insert(
                (customer.clone(), pool.name),
                PoolSlot {
                    id: pool.id,
                    by_serial,
                },
            );
        }
    }
    Ok(Known {
        customers,
        pools,
        members,
    })
}

/// Passes the body's pieces to the parser until it ends, is too large, too slow, or the parser
/// stops; returns the body if it did not end (its rest is to be drained).
async fn feed(
    mut body: Incoming,
    sender: mpsc::Sender<Result<Bytes, Stop>>,
    limits: ImportLimits,
    idle: Duration,
) -> Option<Incoming> {
    let deadline = Instant::now() + limits.deadline;
    let mut received: u64 = 0;
    loop {
        let wake = deadline.min(Instant::now() + idle);
        // Either the parser stopped (it wants nothing more), or a piece came, or time ran out.
        let frame = tokio::select! {
            () = sender.closed() => None,
            frame = tokio::time::timeout_at(wake, body.frame()) => Some(frame),
        };
        let piece = match frame {
            None => return Some(body),
            Some(Err(_)) if wake == deadline => Err(Stop::Deadline(limits.deadline.as_secs())),
            Some(Err(_)) => Err(Stop::Idle(idle.as_secs())),
            Some(Ok(None)) => return None,
            Some(Ok(Some(Err(error)))) => {
                tracing::debug!(%error, "device import: the upload broke off");
                let _ = sender.send(Err(Stop::Upload)).await;
                return None;
            }
            Some(Ok(Some(Ok(frame)))) => match frame.into_data() {
                Ok(data) => {
                    received += data.len() as u64;
                    if received > limits.max_bytes {
                        Err(Stop::TooLarge(limits.max_bytes))
                    } else {
                        Ok(data)
                    }
                }
                Err(_) => continue,
            },
        };
        let stopped = piece.is_err();
        if sender.send(piece).await.is_err() || stopped {
            return Some(body);
        }
    }
}

/// Reads and discards what is left of a body, for at most `time`, after the answer: a client
/// still sending would otherwise see its connection reset before it reads why.
fn linger(mut body: Incoming, time: Duration) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(time, async {
            while let Some(Ok(_)) = body.frame().await {}
        })
        .await;
    });
}

/// Reads the request body, as it arrives, for the CSV parser on a blocking thread.
struct ChannelReader {
    receiver: mpsc::Receiver<Result<Bytes, Stop>>,
    current: Bytes,
}

impl ChannelReader {
    fn new(receiver: mpsc::Receiver<Result<Bytes, Stop>>) -> Self {
        Self {
            receiver,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.blocking_recv() {
                None => return Ok(0),
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(stop)) => return Err(std::io::Error::other(stop)),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

/// What the reader has fed the CSV parser, shared between [`Metered`] (which feeds it) and
/// [`Rows`] (which sees where each record ends); both live on the import's thread.
#[derive(Debug, Default)]
struct Meter {
    /// Bytes fed.
    fed: Cell<u64>,
    /// Where the last record ended.
    mark: Cell<u64>,
    /// The last byte fed.
    last: Cell<u8>,
    /// Whether the input has ended.
    ended: Cell<bool>,
}

/// Feeds the CSV parser and refuses to feed it more once the row it is parsing is longer than
/// the limit: the parser keeps a whole record in memory, so this bounds its memory to a row
/// and its read buffer. Optionally copies what it feeds into a spool file.
struct Metered<'s, R> {
    inner: R,
    meter: Rc<Meter>,
    max_row: u64,
    spool: Option<&'s mut BufWriter<std::fs::File>>,
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // What the parser holds beyond the last record's end: the record so far and at most
        // its read buffer.
        let held = self.meter.fed.get() - self.meter.mark.get();
        if held > self.max_row + CSV_BUFFER as u64 {
            return Err(std::io::Error::other(Stop::RowTooLong {
                line: 0,
                limit: self.max_row,
            }));
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.meter.ended.set(true);
            return Ok(0);
        }
        self.meter.fed.set(self.meter.fed.get() + n as u64);
        self.meter.last.set(buf[n - 1]);
        if let Some(spool) = self.spool.as_mut() {
            spool.write_all(&buf[..n]).map_err(|error| {
                tracing::error!(%error, "device import: could not write the spool file");
                std::io::Error::other(Stop::Spool)
            })?;
        }
        Ok(n)
    }
}

/// The records of a CSV body, with the line each starts on, none longer than the limit.
struct Rows<'s, R> {
    csv: csv::Reader<Metered<'s, R>>,
    meter: Rc<Meter>,
    max_row: u64,
    row: csv::ByteRecord,
    /// The line after the last record.
    next_line: u64,
}

impl<'s, R: Read> Rows<'s, R> {
    fn new(inner: R, max_row: u64, spool: Option<&'s mut BufWriter<std::fs::File>>) -> Self {
        let meter = Rc::new(Meter::default());
        let metered = Metered {
            inner,
            meter: Rc::clone(&meter),
            max_row,
            spool,
        };
        // Records end at LF only: a CR before it stays in the last field (fields are trimmed),
        // so that lines are counted alike in CRLF and LF files. The header is read as a record.
        let csv = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .terminator(csv::Terminator::Any(b'\n'))
            .buffer_capacity(CSV_BUFFER)
            .from_reader(metered);
        Self {
            csv,
            meter,
            max_row,
            row: csv::ByteRecord::new(),
            next_line: 1,
        }
    }

    /// The header row's columns.
    fn columns(&mut self) -> Result<Columns, Stop> {
        match self.next()? {
            Some(_) => Columns::from_header(&self.row).map_err(Stop::Header),
            None => Err(Stop::Header("the body is empty: send a header row".into())),
        }
    }

    /// Reads the next record that is not a blank line into `self.row`; returns the line it
    /// starts on, or `None` at the end.
    fn next(&mut self) -> Result<Option<u64>, Stop> {
        loop {
            match self.csv.read_byte_record(&mut self.row) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(error) => return Err(self.stop(error)),
            }
            let end = self.csv.position();
            let start = self.meter.mark.replace(end.byte());
            // The parser reports where a record's read began, which is before any blank lines
            // it skipped; count back from its end instead: its line ending (unless it is the
            // last line and has none) and the line breaks inside its quoted fields.
            let unterminated = self.meter.ended.get()
                && end.byte() == self.meter.fed.get()
                && self.meter.last.get() != b'\n';
            let inner = self.row.as_slice().iter().filter(|&&b| b == b'\n').count() as u64;
            let line = end
                .line()
                .saturating_sub(inner + u64::from(!unterminated))
                .max(1);
            self.next_line = end.line();
            if end.byte() - start > self.max_row {
                return Err(Stop::RowTooLong {
                    line,
                    limit: self.max_row,
                });
            }
            if self.row.len() == 1 && self.row[0].trim_ascii().is_empty() {
                continue;
            }
            return Ok(Some(line));
        }
    }

    fn row(&self) -> &csv::ByteRecord {
        &self.row
    }

    fn stop(&self, error: csv::Error) -> Stop {
        let csv::ErrorKind::Io(error) = error.into_kind() else {
            return Stop::Malformed(self.next_line.saturating_sub(1));
        };
        if !error.get_ref().is_some_and(|e| e.is::<Stop>()) {
            // Not the body's reader stopping: reading the spool file failed.
            tracing::error!(%error, "device import: reading the body failed");
            return Stop::Spool;
        }
        match error.into_inner().map(|e| e.downcast::<Stop>()) {
            Some(Ok(stop)) => match *stop {
                Stop::RowTooLong { limit, .. } => Stop::RowTooLong {
                    line: self.next_line,
                    limit,
                },
                stop => stop,
            },
            _ => Stop::Spool,
        }
    }
}

/// What rows may name: customers, and their pools; the serials each serial-drawn pool lists.
struct Known {
    customers: HashSet<String>,
    pools: HashMap<(String, String), PoolSlot>,
    members: HashMap<i64, HashSet<String>>,
}

struct PoolSlot {
    id: i64,
    by_serial: bool,
}

/// A row found good: the device, and the pools it joins.
struct Valid {
    device: NewDevice,
    pools: Vec<i64>,
}

/// Where each column is.
struct Columns {
    count: usize,
    serial: usize,
    model: usize,
    customer: Option<usize>,
    pin: Option<usize>,
    pools: Option<usize>,
}

impl Columns {
    fn from_header(header: &csv::ByteRecord) -> Result<Self, String> {
        let mut found: HashMap<&str, usize> = HashMap::new();
        for (i, name) in header.iter().enumerate() {
            let name = std::str::from_utf8(name)
                .map_err(|_| "the header row is not UTF-8".to_owned())?
                .trim();
            let known = match name.to_ascii_lowercase().as_str() {
                "serial" => "serial",
                "model" => "model",
                "customer" => "customer",
                "certificate_pin" | "fingerprint" => "certificate_pin",
                "license_pools" | "pools" => "license_pools",
                _ => {
                    return Err(format!(
                        "unknown column {name:?}: use serial, model, customer, certificate_pin, \
                         license_pools"
                    ));
                }
            };
            if found.insert(known, i).is_some() {
                return Err(format!("column {known} appears twice"));
            }
        }
        let required = |name: &str| {
            found
                .get(name)
                .copied()
                .ok_or_else(|| format!("the header row needs a {name} column"))
        };
        Ok(Self {
            count: header.len(),
            serial: required("serial")?,
            model: required("model")?,
            customer: found.get("customer").copied(),
            pin: found.get("certificate_pin").copied(),
            pools: found.get("license_pools").copied(),
        })
    }

    /// The device a row describes and the pools it joins, or why it is refused.
    fn device(&self, row: &csv::ByteRecord, known: &Known) -> Result<Valid, String> {
        if row.len() != self.count {
            return Err(format!(
                "{} fields, the header has {}",
                row.len(),
                self.count
            ));
        }
        let field = |i: usize| {
            std::str::from_utf8(&row[i])
                .map(str::trim)
                .map_err(|_| "not UTF-8".to_owned())
        };
        let optional = |i: Option<usize>| -> Result<Option<&str>, String> {
            Ok(i.map(field).transpose()?.filter(|v| !v.is_empty()))
        };
        let serial = Serial::parse(field(self.serial)?).map_err(|e| e.to_string())?;
        let model = ProductId::parse(field(self.model)?).map_err(|e| e.to_string())?;
        let customer = optional(self.customer)?;
        if let Some(c) = customer
            && !known.customers.contains(c)
        {
            return Err(format!("customer {c:?} does not exist"));
        }
        let certificate_pin = optional(self.pin)?
            .map(|pin| normalize_pin(pin).map_err(|e| e.message))
            .transpose()?;
        let mut pools = Vec::new();
        for name in optional(self.pools)?
            .unwrap_or_default()
            .split(';')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let Some(customer) = customer else {
                return Err("license pools need the row's customer".into());
            };
            let slot = known
                .pools
                .get(&(customer.to_owned(), name.to_owned()))
                .ok_or_else(|| format!("license pool {name:?} of {customer} does not exist"))?;
            if !slot.by_serial {
                return Err(format!(
                    "license pool {name:?} is drawn by model; only serial-drawn pools list devices"
                ));
            }
            pools.push(slot.id);
        }
        Ok(Valid {
            device: NewDevice {
                serial: serial.as_str().to_owned(),
                model: model.as_str().to_owned(),
                customer: customer.map(str::to_owned),
                certificate_pin,
            },
            pools,
        })
    }
}

/// Checks rows: each against what exists, and each serial against the rows before it.
struct Checker<'k> {
    columns: Columns,
    known: &'k Known,
    /// The line of each serial's accepted row, by the serial's [`fingerprint`]: 20 bytes a
    /// row, whatever the serial's length.
    seen: HashMap<[u8; 16], u64>,
}

/// A serial's first 128 bits of SHA-256: no two serials of one file share one (a collision
/// would take some 2^64 serials).
fn fingerprint(serial: &str) -> [u8; 16] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, serial.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest.as_ref()[..16]);
    out
}

impl<'k> Checker<'k> {
    fn new(columns: Columns, known: &'k Known) -> Self {
        Self {
            columns,
            known,
            seen: HashMap::new(),
        }
    }

    fn check(&mut self, line: u64, row: &csv::ByteRecord) -> Result<Valid, String> {
        let valid = self.columns.device(row, self.known)?;
        let key = fingerprint(&valid.device.serial);
        if let Some(first) = self.seen.get(&key) {
            return Err(format!(
                "serial {} already appears on line {first}",
                valid.device.serial
            ));
        }
        self.seen.insert(key, line);
        Ok(valid)
    }
}

/// Gathers valid rows into batches and writes each full one; counts what was written.
struct Writer<'a> {
    handle: &'a Handle,
    store: &'a Store,
    members: HashMap<i64, HashSet<String>>,
    batch: ImportBatch,
    imported: u64,
    by_customer: BTreeMap<Option<String>, u64>,
}

impl<'a> Writer<'a> {
    fn new(handle: &'a Handle, store: &'a Store, known: &Known) -> Self {
        Self {
            handle,
            store,
            members: known.members.clone(),
            batch: ImportBatch::default(),
            imported: 0,
            by_customer: BTreeMap::new(),
        }
    }

    fn push(&mut self, valid: Valid) -> Result<(), Stop> {
        let serial = &valid.device.serial;
        for pool in valid.pools {
            if let Some(members) = self.members.get_mut(&pool)
                && members.insert(serial.clone())
            {
                self.batch
                    .pool_joins
                    .entry(pool)
                    .or_default()
                    .push(serial.clone());
            }
        }
        self.batch.devices.push(valid.device);
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the rows gathered so far.
    fn flush(&mut self) -> Result<(), Stop> {
        let batch = std::mem::take(&mut self.batch);
        if let Err(error) = self.handle.block_on(self.store.write_import_batch(&batch)) {
            tracing::error!(%error, "device import: a batch could not be written");
            return Err(Stop::Database);
        }
        self.imported += batch.len() as u64;
        for device in batch.devices {
            *self.by_customer.entry(device.customer).or_default() += 1;
        }
        Ok(())
    }
}

fn import_csv(
    handle: &Handle,
    store: &Store,
    body: ChannelReader,
    known: &Known,
    max_row: u64,
    all_or_nothing: bool,
) -> Outcome {
    let mut report = ImportReport {
        mode: if all_or_nothing {
            "all-or-nothing"
        } else {
            "partial"
        }
        .into(),
        ..ImportReport::default()
    };
    let mut writer = Writer::new(handle, store, known);
    let result = if all_or_nothing {
        check_then_write(body, known, max_row, &mut writer, &mut report)
    } else {
        let result = read_and_write(
            Rows::new(body, max_row, None),
            known,
            &mut writer,
            &mut report,
        );
        // Every good row before a stop is written, so that the answer can say "the rows before
        // it were imported"; unless writing is what failed.
        match result {
            Err(Stop::Database) => Err(Stop::Database),
            result => writer.flush().and(result),
        }
    };
    report.imported = writer.imported;
    report.committed = result.is_ok() && (report.bad_rows == 0 || !all_or_nothing);
    Outcome {
        report,
        by_customer: writer.by_customer,
        stopped: result.err(),
    }
}

/// Reads every row, refusing bad ones and writing the good ones batch by batch (the last
/// batch is left to the caller).
fn read_and_write<R: Read>(
    mut rows: Rows<'_, R>,
    known: &Known,
    writer: &mut Writer<'_>,
    report: &mut ImportReport,
) -> Result<(), Stop> {
    let mut checker = Checker::new(rows.columns()?, known);
    while let Some(line) = rows.next()? {
        report.rows += 1;
        match checker.check(line, rows.row()) {
            Ok(valid) => writer.push(valid)?,
            Err(reason) => report.refuse(line, reason),
        }
    }
    Ok(())
}

/// All-or-nothing: checks every row while spooling the body; when none is bad, reads the spool
/// again and writes it in batches.
fn check_then_write(
    body: ChannelReader,
    known: &Known,
    max_row: u64,
    writer: &mut Writer<'_>,
    report: &mut ImportReport,
) -> Result<(), Stop> {
    let spool_failed = |error: std::io::Error| {
        tracing::error!(%error, "device import: the spool file failed");
        Stop::Spool
    };
    let mut spool = BufWriter::new(tempfile::tempfile().map_err(spool_failed)?);
    let mut rows = Rows::new(body, max_row, Some(&mut spool));
    let mut checker = Checker::new(rows.columns()?, known);
    while let Some(line) = rows.next()? {
        report.rows += 1;
        if let Err(reason) = checker.check(line, rows.row()) {
            report.refuse(line, reason);
        }
    }
    drop(rows);
    if report.bad_rows > 0 {
        return Ok(());
    }
    let mut file = spool
        .into_inner()
        .map_err(|e| spool_failed(e.into_error()))?;
    file.rewind().map_err(spool_failed)?;
    // The same bytes, checked against the same facts: every row is good again.
    let mut second = ImportReport::default();
    read_and_write(Rows::new(file, max_row, None), known, writer, &mut second)?;
    writer.flush()
}

/// Reads and checks every row of a CSV import `body` as an import's first pass does, writing
/// nothing: against one customer, `acme`, with a serial-drawn pool `lab` and a model-drawn pool
/// `fleet`. The fuzz target of the CSV parser calls this (see docs/fuzzing.md); the server
/// does not.
pub fn check_import(body: &[u8], max_row_bytes: u64) -> Result<ImportReport, String> {
    let pool = |id, by_serial| PoolSlot { id, by_serial };
    let known = Known {
        customers: HashSet::from(["acme".to_owned()]),
        pools: HashMap::from([
            (("acme".to_owned(), "lab".to_owned()), pool(1, true)),
            (("acme".to_owned(), "fleet".to_owned()), pool(2, false)),
        ]),
        members: HashMap::new(),
    };
    let mut report = ImportReport::default();
    let mut rows = Rows::new(body, max_row_bytes, None);
    let mut checker = Checker::new(rows.columns().map_err(|e| e.to_string())?, &known);
    while let Some(line) = rows.next().map_err(|e| e.to_string())? {
        report.rows += 1;
        if let Err(reason) = checker.check(line, rows.row()) {
            report.refuse(line, reason);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of the records of `csv`, and their first fields.
    fn lines(csv: &[u8]) -> Vec<(u64, String)> {
        let mut rows = Rows::new(csv, 1024, None);
        let mut out = Vec::new();
        while let Some(line) = rows.next().unwrap() {
            let first = String::from_utf8_lossy(&rows.row()[0]).trim().to_owned();
            out.push((line, first));
        }
        out
    }

    #[test]
    fn check_import_checks_every_row_without_a_database() {
        let body = b"serial,model,customer,license_pools\nA,m,acme,lab\nB,m,acme,fleet\nA,m,,\n";
        let report = check_import(body, 1024).unwrap();
        assert_eq!((report.rows, report.bad_rows), (3, 2));
        let lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4]);
        assert!(
            check_import(b"serial\n", 1024)
                .unwrap_err()
                .contains("model")
        );
    }

    #[test]
    fn lines_are_counted_alike_in_lf_and_crlf_files() {
        let expected = vec![
            (1, "serial".to_owned()),
            (2, "A".to_owned()),
            (4, "B".to_owned()),
            (5, "C\nD".to_owned()),
            (7, "E".to_owned()),
        ];
        let lf = "serial,model\nA,m\n\nB,m\n\"C\nD\",m\nE,m";
        assert_eq!(lines(lf.as_bytes()), expected);
        assert_eq!(lines(format!("{lf}\n\n").as_bytes()), expected);
        let crlf = lf.replace('\n', "\r\n");
        assert_eq!(
            lines(crlf.as_bytes()),
            expected
                .iter()
                .map(|(l, f)| (*l, f.replace('\n', "\r\n")))
                .collect::<Vec<_>>()
        );
        assert_eq!(lines(format!("{crlf}\r\n").as_bytes()).len(), 5);
    }

    /// A reader of `size` bytes of one endless field, counting what was read from it.
    struct Endless {
        left: u64,
        read: Rc<Cell<u64>>,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf
                .len()
                .min(usize::try_from(self.left).unwrap_or(usize::MAX));
            buf[..n].fill(b'x');
            self.left -= n as u64;
            self.read.set(self.read.get() + n as u64);
            Ok(n)
        }
    }

    #[test]
    fn a_row_longer_than_the_limit_stops_the_reading_soon_after_the_limit() {
        let read = Rc::new(Cell::new(0));
        let endless = Endless {
            left: 100 * 1024 * 1024,
            read: Rc::clone(&read),
        };
        let body = Read::chain(b"serial,model\nA,m\n".as_slice(), endless);
        let mut rows = Rows::new(body, 16 * 1024, None);
        rows.columns().unwrap();
        assert_eq!(rows.next().unwrap(), Some(2));
        match rows.next() {
            Err(Stop::RowTooLong { line: 3, limit }) => assert_eq!(limit, 16 * 1024),
            other => panic!("{other:?}"),
        }
        assert!(
            read.get() <= 16 * 1024 + 3 * CSV_BUFFER as u64,
            "read {} bytes",
            read.get()
        );
    }

    #[test]
    fn a_long_row_that_ends_within_the_parser_buffer_is_refused_too() {
        let mut body = b"serial,model\n".to_vec();
        body.extend(std::iter::repeat_n(b'x', 1500));
        body.extend(b",m\nB,m\n");
        let mut rows = Rows::new(body.as_slice(), 1024, None);
        rows.columns().unwrap();
        assert!(matches!(
            rows.next(),
            Err(Stop::RowTooLong {
                line: 2,
                limit: 1024
            })
        ));
    }

    #[test]
    fn stopped_imports_say_how_far_they_got() {
        let mut report = ImportReport {
            mode: "partial".into(),
            rows: 7,
            imported: 5,
            bad_rows: 2,
            ..ImportReport::default()
        };
        assert_eq!(
            Stop::TooLarge(1000).message(&report),
            "the import is larger than 1000 bytes (admin_api.max_import_bytes): 5 device(s) \
             were imported from the 7 row(s) before it (2 refused)"
        );
        report.mode = "all-or-nothing".into();
        report.imported = 0;
        assert!(
            Stop::Deadline(2)
                .message(&report)
                .ends_with(": nothing was kept")
        );
    }
}
