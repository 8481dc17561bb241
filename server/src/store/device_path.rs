//! The seam between the store and its database backends on the devices' path: the reads an
//! answer needs and the journal's batches, which each backend does its own fastest way (SQLite
//! inline on the calling thread, [`super::sqlite`]).
//!
//! Everything else the store does (administration, the outboxes, audit, import) is SQL in the
//! dialect both backends share, run through sqlx's `Any` driver: a backend adds its
//! migrations, its way of opening the database and an implementation of [`DevicePath`].

use std::future::Future;
use std::pin::Pin;

use ztp_certs::Serial;

use super::journal::{Entry, Outcome};
use super::{CallingDevice, LicenseRecord, RegistrationRecord, StoreError};

/// A read of the devices' path, under way.
pub(crate) type Read<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The devices' path to a database.
pub(crate) trait DevicePath: Send + Sync + std::fmt::Debug {
    /// What answering `serial` starts with: its record, its owner's revision and its licenses,
    /// read in one snapshot. `None`: no such device.
    fn calling_device<'a>(&'a self, serial: &'a Serial) -> Read<'a, Option<CallingDevice>>;

    /// Every license of the device `serial`, active and revoked, oldest first.
    fn licenses_of<'a>(&'a self, serial: &'a str) -> Read<'a, Vec<LicenseRecord>>;

    /// The device's registration with one connection of one customer, if any.
    fn registration_for<'a>(
        &'a self,
        serial: &'a Serial,
        customer: &'a str,
        connection: &'a str,
    ) -> Read<'a, Option<RegistrationRecord>>;

    /// A writer for the journal's batches, run on the journal's own thread.
    fn writer(&self) -> Box<dyn BatchWriter>;
}

/// Writes the journal's batches (on the journal's thread, which it may block).
pub(crate) trait BatchWriter: Send {
    /// Writes `entries` in one transaction and returns each entry's outcome, in order. An
    /// entry that fails loses only itself: the others are written. `Err`: the whole batch
    /// failed (nothing of it was written); the writer reconnects for the next one.
    fn write(&mut self, entries: &[Entry]) -> Result<Vec<Outcome>, StoreError>;
}
