//! Reading an import's CSV body: metered so that no row outgrows the limit, record by record
//! with the line each starts on, and each row's columns typed into a device.

use super::*;

/// What the reader has fed the CSV parser, shared between [`Metered`] (which feeds it) and
/// [`Rows`] (which sees where each record ends); both live on the import's thread.
#[derive(Debug, Default)]
pub(super) struct Meter {
    /// Bytes fed.
    pub(super) fed: Cell<u64>,
    /// Where the last record ended.
    pub(super) mark: Cell<u64>,
    /// The last byte fed.
    pub(super) last: Cell<u8>,
    /// Whether the input has ended.
    pub(super) ended: Cell<bool>,
}

/// Feeds the CSV parser and refuses to feed it more once the row it is parsing is longer than
/// the limit: the parser keeps a whole record in memory, so this bounds its memory to a row
/// and its read buffer. Optionally copies what it feeds into a spool file.
pub(super) struct Metered<'s, R> {
    pub(super) inner: R,
    pub(super) meter: Rc<Meter>,
    pub(super) max_row: u64,
    pub(super) spool: Option<&'s mut BufWriter<std::fs::File>>,
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
pub(super) struct Rows<'s, R> {
    pub(super) csv: csv::Reader<Metered<'s, R>>,
    pub(super) meter: Rc<Meter>,
    pub(super) max_row: u64,
    pub(super) row: csv::ByteRecord,
    /// The line after the last record.
    pub(super) next_line: u64,
}

impl<'s, R: Read> Rows<'s, R> {
    pub(super) fn new(
        inner: R,
        max_row: u64,
        spool: Option<&'s mut BufWriter<std::fs::File>>,
    ) -> Self {
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
    pub(super) fn columns(&mut self) -> Result<Columns, Stop> {
        match self.next()? {
            Some(_) => Columns::from_header(&self.row).map_err(Stop::Header),
            None => Err(Stop::Header("the body is empty: send a header row".into())),
        }
    }

    /// Reads the next record that is not a blank line into `self.row`; returns the line it
    /// starts on, or `None` at the end.
    pub(super) fn next(&mut self) -> Result<Option<u64>, Stop> {
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

    pub(super) fn row(&self) -> &csv::ByteRecord {
        &self.row
    }

    pub(super) fn stop(&self, error: csv::Error) -> Stop {
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
pub(super) struct Known {
    pub(super) customers: HashSet<String>,
    pub(super) pools: HashMap<(String, String), PoolSlot>,
    pub(super) members: HashMap<i64, HashSet<String>>,
}

pub(super) struct PoolSlot {
    pub(super) id: i64,
    pub(super) by_serial: bool,
}

/// A row found good: the device, and the pools it joins.
pub(super) struct Valid {
    pub(super) device: NewDevice,
    pub(super) pools: Vec<i64>,
}

/// Where each column is.
pub(super) struct Columns {
    pub(super) count: usize,
    pub(super) serial: usize,
    pub(super) model: usize,
    pub(super) customer: Option<usize>,
    pub(super) pin: Option<usize>,
    pub(super) pools: Option<usize>,
}

impl Columns {
    pub(super) fn from_header(header: &csv::ByteRecord) -> Result<Self, String> {
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
    pub(super) fn device(&self, row: &csv::ByteRecord, known: &Known) -> Result<Valid, String> {
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
