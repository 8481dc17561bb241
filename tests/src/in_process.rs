//! `ztp serve` inside the test process: [`App`] built from the harness's configuration and run
//! on a tokio runtime of its own, in a thread; shut down and drained when stopped or dropped.
//!
//! What it cannot stand in for is the process itself: its signals, exit status, standard
//! output and error (the log), and its limits (`ulimit -n`). Tests of those start the binary.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use ztp::config::{Config, Overrides};
use ztp::domain::clock::Clock;
use ztp::startup::{App, Workers};

/// A server running in this process.
#[derive(Debug)]
pub(crate) struct InProcess {
    /// Completes the server's shutdown future; `None` once sent.
    stop: Option<oneshot::Sender<()>>,
    /// The thread that owns the runtime; `None` once joined.
    thread: Option<JoinHandle<()>>,
    workers: Workers,
    /// The server's runtime, to drive its workers on.
    runtime: tokio::runtime::Handle,
}

/// An in-process server that has bound its listeners.
#[derive(Debug)]
pub(crate) struct Started {
    /// The server.
    pub(crate) server: InProcess,
    /// Where the device API listens.
    pub(crate) device: SocketAddr,
    /// Where the admin API listens.
    pub(crate) admin: SocketAddr,
    /// Where the device API listens for a load balancer, if configured.
    pub(crate) proxy: Option<SocketAddr>,
}

/// How long a stopped server may take to drain (the listeners give open requests ten
/// seconds) before the harness stops waiting for it.
const STOP_LIMIT: Duration = Duration::from_secs(30);

impl InProcess {
    /// Builds the server of `data_dir` on loopback ports chosen by the system, told
    /// `variables` (`ZTP_*` names, as a child process would be), and starts it; returns once
    /// it listens, or why it could not start.
    /// The server reads `clock` (the outbox, its couriers, the admin tokens' expiry).
    pub(crate) fn start(
        data_dir: &Path,
        variables: &[(&str, &str)],
        clock: Arc<dyn Clock>,
    ) -> Result<Started, String> {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let overrides = Overrides {
            data_dir: Some(data_dir.to_owned()),
            device_listen: Some(loopback),
            admin_listen: Some(loopback),
        };
        let config = Config::load_with(None, variables, &overrides).map_err(|e| chain(&e))?;
        let (ready, started) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ztp-server".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => return drop(ready.send(Err(format!("a runtime: {e}")))),
                };
                runtime.block_on(async move {
                    let app = match App::build_with_clock(config, clock).await {
                        Ok(app) => app,
                        Err(e) => return drop(ready.send(Err(chain(&e)))),
                    };
                    let addresses = (
                        app.device_addr(),
                        app.admin_addr(),
                        app.proxy_addr(),
                        app.workers().clone(),
                        tokio::runtime::Handle::current(),
                    );
                    let _ = ready.send(Ok(addresses));
                    app.run(async {
                        let _ = stopped.await;
                    })
                    .await;
                });
                // Dropping the runtime ends what the server left (the journal's writer, the
                // database's connections), as the end of `ztp serve`'s process would.
            })
            .map_err(|e| format!("a thread for the server: {e}"))?;
        let (device, admin, proxy, workers, runtime) = started
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| "the server neither started nor failed within 60 s".to_owned())??;
        Ok(Started {
            server: Self {
                stop: Some(stop),
                thread: Some(thread),
                workers,
                runtime,
            },
            device,
            admin,
            proxy,
        })
    }

    /// The server's background workers.
    pub(crate) fn workers(&self) -> &Workers {
        &self.workers
    }

    /// Runs `work` (a worker's round) to its end on the server's runtime, where the worker's
    /// connections live.
    pub(crate) fn drive<F: Future>(&self, work: F) -> F::Output {
        self.runtime.block_on(work)
    }

    /// Stops the server as SIGTERM stops `ztp serve` (open requests finish, workers release
    /// what they hold) and waits for it, at most [`STOP_LIMIT`].
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(thread) = self.thread.take() else {
            return;
        };
        let deadline = Instant::now() + STOP_LIMIT;
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if thread.is_finished() {
            let _ = thread.join();
        } else {
            eprintln!("the in-process server did not stop within {STOP_LIMIT:?}; left running");
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An error and its causes, as `ztp serve` prints them.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}
