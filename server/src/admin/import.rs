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
    record(ctx, &report, &by_customer, stopped.as_ref()).await;
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

/// Says what an import did: one line per customer whose devices it wrote (each customer's
/// audit entry), and the whole in the admin event.
async fn record(
    ctx: &Ctx,
    report: &ImportReport,
    by_customer: &BTreeMap<Option<String>, u64>,
    stopped: Option<&Stop>,
) {
    for (customer, count) in by_customer {
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
            match (stopped, report.committed) {
                (Some(stop), _) => format!("; stopped: {stop}"),
                (None, true) => String::new(),
                (None, false) => ", nothing kept".to_owned(),
            }
        ),
    )
    .await;
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

mod batches;
mod rows;
#[cfg(test)]
mod tests;

pub use batches::check_import;
use batches::import_csv;
use rows::{Known, PoolSlot};
