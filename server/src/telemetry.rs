//! What ztp tells about itself: structured logs, the gauges parts share (how many
//! connections a listener holds), whether it is draining, and the [`metrics`] Prometheus
//! scrapes.
//!
//! May import: nothing else of ztp.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tracing_subscriber::EnvFilter;

pub mod metrics;
pub mod request;

/// How logs are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One line an event, for people.
    #[default]
    Text,
    /// One JSON object a line, for a log collector.
    Json,
}

/// Sends logs to standard error in `format`, filtered by `RUST_LOG` when set, else at
/// `default_level`. Text is coloured only when standard error is a terminal and `NO_COLOR` is
/// not set: a journal, a file or a pipe gets no escape codes.
pub fn init(default_level: &str, format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (tests calling into the library) is harmless: keep the first.
    let _ = match format {
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            logs.with_ansi(colour).try_init()
        }
        LogFormat::Json => logs.json().with_ansi(false).try_init(),
    };
}

/// The connections a listener has open, from accept to close (handshakes and requests); cheap
/// to clone. The journal reads the device listener's to tell a surge.
#[derive(Debug, Clone, Default)]
pub struct OpenConnections(Arc<AtomicUsize>);

impl OpenConnections {
    /// How many are open now.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Counts one more until the returned guard is dropped.
    pub(crate) fn open(&self) -> OpenConnection {
        self.0.fetch_add(1, Ordering::Relaxed);
        OpenConnection(Arc::clone(&self.0))
    }
}

/// One open connection, counted until dropped.
#[derive(Debug)]
pub(crate) struct OpenConnection(Arc<AtomicUsize>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether the server is draining (told to stop: finishing what it holds, taking nothing new);
/// cheap to clone. The readiness probe reads it, so that a load balancer sends no new device
/// there while open requests finish.
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// From now on, draining.
    pub fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether it is draining.
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
