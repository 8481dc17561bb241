//! Bulk device import from CSV (`POST /api/v1/devices/import`), streamed: the body is parsed
//! as it arrives and written in batches, so that a million rows need no more memory than a
//! thousand. Each bad row is reported with its line number and reason while the good ones go in;
//! `?mode=all-or-nothing` writes everything in one transaction and keeps none of it if any row
//! is bad (it holds the database's write lock for the import's duration).
//!
//! Columns (a header row names them, in any order): `serial` and `model`, and optionally
//! `customer`, `certificate_pin` (a SHA-256 fingerprint of the device's IDevID) and
//! `license_pools` (names of the customer's serial-drawn pools, separated by `;`, that the
//! device is added to). Importing a serial again updates its model, owner and pin: the same file
//! imported twice changes nothing.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use bytes::{Buf, Bytes};
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use ztp_certs::{ProductId, Serial};

use super::{AdminApi, ApiError, ApiResult, json, normalize_pin};
use crate::domain::access::Principal;
use crate::domain::licensing::Scope;
use crate::store::import::DeviceImport;
use crate::store::{NewDevice, Store, StoreError};

/// Valid rows written per transaction in a partial import.
const BATCH: u64 = 1000;
/// Bad rows reported one by one; beyond, only counted.
const MAX_REPORTED: usize = 10_000;

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

/// One refused row.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// Line number in the file (the header is line 1).
    pub line: u64,
    /// Why.
    pub reason: String,
}

impl AdminApi {
    /// `POST /devices/import[?mode=partial|all-or-nothing]` with a CSV body.
    pub(super) async fn import_devices(
        &self,
        principal: &Principal,
        body: Incoming,
        query: &HashMap<String, String>,
    ) -> ApiResult {
        let all_or_nothing = match query.get("mode").map(String::as_str) {
            None | Some("partial") => false,
            Some("all-or-nothing") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "mode {other:?}: use partial or all-or-nothing"
                )));
            }
        };
        let customers: HashSet<String> = match &principal.customer {
            Some(own) => HashSet::from([own.clone()]),
            None => self
                .store
                .customers()
                .await?
                .into_iter()
                .map(|c| c.name)
                .collect(),
        };
        let mut pools = HashMap::new();
        for customer in &customers {
            for pool in self.store.license_pools(customer).await? {
                let members = match pool.scope {
                    Scope::Serials(serials) => Some(serials.into_iter().collect()),
                    Scope::Models(_) => None,
                };
                pools.insert(
                    (customer.clone(), pool.name),
                    PoolSlot {
                        id: pool.id,
                        members,
                    },
                );
            }
        }
        let known = Known { customers, pools };
        let (sender, receiver) = mpsc::channel(16);
        let idle = self.read_timeout;
        let feed = async move {
            let mut body = body;
            loop {
                let chunk = match tokio::time::timeout(idle, body.frame()).await {
                    Err(_) => Err(format!("no data for {idle:?}")),
                    Ok(None) => break,
                    Ok(Some(Err(e))) => Err(e.to_string()),
                    Ok(Some(Ok(frame))) => match frame.into_data() {
                        Ok(data) => Ok(data),
                        Err(_) => continue,
                    },
                };
                let failed = chunk.is_err();
                if sender.send(chunk).await.is_err() || failed {
                    break;
                }
            }
        };
        let store = self.store.clone();
        let handle = Handle::current();
        let scoped = principal.customer.is_some();
        let work = tokio::task::spawn_blocking(move || {
            import_csv(
                &handle,
                &store,
                ChannelReader::new(receiver),
                known,
                scoped,
                all_or_nothing,
            )
        });
        let ((), report) = tokio::join!(feed, work);
        let report = report.map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("import: {e}"))
        })??;
        self.audit(
            None,
            format!(
                "imported {} device(s) from CSV ({}: {} row(s), {} bad{})",
                report.imported,
                report.mode,
                report.rows,
                report.bad_rows,
                if report.committed {
                    ""
                } else {
                    ", nothing kept"
                }
            ),
        )
        .await;
        let status = if report.committed {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        Ok(json(status, &report))
    }
}

/// Reads the request body, as it arrives, for the CSV parser on a blocking thread.
struct ChannelReader {
    receiver: mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
}

impl ChannelReader {
    fn new(receiver: mpsc::Receiver<Result<Bytes, String>>) -> Self {
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
                Some(Err(reason)) => {
                    return Err(std::io::Error::other(format!(
                        "the upload broke off: {reason}"
                    )));
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

/// What rows may name: customers, and their pools (with the serials a serial-drawn pool
/// already lists; `None` for a pool drawn by model).
struct Known {
    customers: HashSet<String>,
    pools: HashMap<(String, String), PoolSlot>,
}

struct PoolSlot {
    id: i64,
    members: Option<HashSet<String>>,
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
    fn from_header(header: &csv::ByteRecord) -> Result<Self, ApiError> {
        let mut found: HashMap<&str, usize> = HashMap::new();
        for (i, name) in header.iter().enumerate() {
            let name = std::str::from_utf8(name)
                .map_err(|_| ApiError::bad_request("the header row is not UTF-8"))?
                .trim();
            let known = match name.to_ascii_lowercase().as_str() {
                "serial" => "serial",
                "model" => "model",
                "customer" => "customer",
                "certificate_pin" | "fingerprint" => "certificate_pin",
                "license_pools" | "pools" => "license_pools",
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "unknown column {name:?}: use serial, model, customer, certificate_pin, \
                         license_pools"
                    )));
                }
            };
            if found.insert(known, i).is_some() {
                return Err(ApiError::bad_request(format!(
                    "column {known} appears twice"
                )));
            }
        }
        let required = |name: &str| {
            found.get(name).copied().ok_or_else(|| {
                ApiError::bad_request(format!("the header row needs a {name} column"))
            })
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
    fn device(
        &self,
        row: &csv::ByteRecord,
        known: &Known,
        scoped: bool,
    ) -> Result<(NewDevice, Vec<i64>), String> {
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
        match customer {
            Some(c) if !known.customers.contains(c) => {
                return Err(format!("customer {c:?} does not exist"));
            }
            None if scoped => return Err("a customer is required".into()),
            _ => {}
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
            if slot.members.is_none() {
                return Err(format!(
                    "license pool {name:?} is drawn by model; only serial-drawn pools list devices"
                ));
            }
            pools.push(slot.id);
        }
        Ok((
            NewDevice {
                serial: serial.as_str().to_owned(),
                model: model.as_str().to_owned(),
                customer: customer.map(str::to_owned),
                certificate_pin,
            },
            pools,
        ))
    }
}

fn import_csv(
    handle: &Handle,
    store: &Store,
    reader: ChannelReader,
    mut known: Known,
    scoped: bool,
    all_or_nothing: bool,
) -> Result<ImportReport, ApiError> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let columns = Columns::from_header(
        csv.byte_headers()
            .map_err(|e| ApiError::bad_request(format!("the header row: {e}")))?,
    )?;
    let mut report = ImportReport {
        mode: if all_or_nothing {
            "all-or-nothing"
        } else {
            "partial"
        }
        .into(),
        ..ImportReport::default()
    };
    let mut import = handle.block_on(store.begin_import())?;
    // Serials to add to serial-drawn pools, written with each batch.
    let mut joining: HashMap<i64, Vec<String>> = HashMap::new();
    let mut row = csv::ByteRecord::new();
    loop {
        match csv.read_byte_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                handle.block_on(import.rollback())?;
                return Err(ApiError::bad_request(format!(
                    "after {} row(s): {e}{}",
                    report.rows,
                    if all_or_nothing {
                        "; nothing was kept"
                    } else {
                        "; the rows before were imported"
                    }
                )));
            }
        }
        report.rows += 1;
        let line = row.position().map_or(0, csv::Position::line);
        match columns.device(&row, &known, scoped) {
            Ok((device, pools)) => {
                handle.block_on(import.upsert(&device))?;
                for pool in pools {
                    joining.entry(pool).or_default().push(device.serial.clone());
                }
                if !all_or_nothing && import.written() >= BATCH {
                    handle.block_on(join_pools(&mut import, &mut joining, &mut known))?;
                    report.imported += import.written();
                    handle.block_on(import.commit())?;
                    import = handle.block_on(store.begin_import())?;
                }
            }
            Err(reason) => {
                report.bad_rows += 1;
                if report.errors.len() < MAX_REPORTED {
                    report.errors.push(RowError { line, reason });
                }
            }
        }
    }
    if all_or_nothing && report.bad_rows > 0 {
        handle.block_on(import.rollback())?;
        return Ok(report);
    }
    handle.block_on(join_pools(&mut import, &mut joining, &mut known))?;
    report.imported += import.written();
    handle.block_on(import.commit())?;
    report.committed = true;
    Ok(report)
}

/// Writes the pending pool memberships (serials a pool does not list yet) into the import's
/// transaction.
async fn join_pools(
    import: &mut DeviceImport,
    joining: &mut HashMap<i64, Vec<String>>,
    known: &mut Known,
) -> Result<(), StoreError> {
    for (pool, serials) in joining.drain() {
        let Some(members) = known
            .pools
            .values_mut()
            .find(|slot| slot.id == pool)
            .and_then(|slot| slot.members.as_mut())
        else {
            continue;
        };
        let new: Vec<String> = serials
            .into_iter()
            .filter(|s| members.insert(s.clone()))
            .collect();
        import.extend_pool(pool, &new).await?;
    }
    Ok(())
}
