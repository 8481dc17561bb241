//! Checking rows against what exists and writing the good ones in batches, in either mode of
//! an import; and the check-only pass the CSV parser's fuzz target runs.

use super::rows::*;
use super::*;

/// Checks rows: each against what exists, and each serial against the rows before it.
pub(super) struct Checker<'k> {
    pub(super) columns: Columns,
    pub(super) known: &'k Known,
    /// The line of each serial's accepted row, by the serial's [`fingerprint`]: 20 bytes a
    /// row, whatever the serial's length.
    pub(super) seen: HashMap<[u8; 16], u64>,
}

/// A serial's first 128 bits of SHA-256: no two serials of one file share one (a collision
/// would take some 2^64 serials).
pub(super) fn fingerprint(serial: &str) -> [u8; 16] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, serial.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest.as_ref()[..16]);
    out
}

impl<'k> Checker<'k> {
    pub(super) fn new(columns: Columns, known: &'k Known) -> Self {
        Self {
            columns,
            known,
            seen: HashMap::new(),
        }
    }

    pub(super) fn check(&mut self, line: u64, row: &csv::ByteRecord) -> Result<Valid, String> {
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
pub(super) struct Writer<'a> {
    pub(super) handle: &'a Handle,
    pub(super) store: &'a Store,
    pub(super) members: HashMap<i64, HashSet<String>>,
    pub(super) batch: ImportBatch,
    pub(super) imported: u64,
    pub(super) by_customer: BTreeMap<Option<String>, u64>,
}

impl<'a> Writer<'a> {
    pub(super) fn new(handle: &'a Handle, store: &'a Store, known: &Known) -> Self {
        Self {
            handle,
            store,
            members: known.members.clone(),
            batch: ImportBatch::default(),
            imported: 0,
            by_customer: BTreeMap::new(),
        }
    }

    pub(super) fn push(&mut self, valid: Valid) -> Result<(), Stop> {
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
    pub(super) fn flush(&mut self) -> Result<(), Stop> {
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

/// Reads the rows of `body` and writes the valid ones to `store` in batches (all of them only
/// when none is bad, with `all_or_nothing`): the import's work on its blocking thread.
pub(super) fn import_csv(
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
pub(super) fn read_and_write<R: Read>(
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
pub(super) fn check_then_write(
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
