//! ztp, the zero-touch provisioning server: a device at first power-on calls in over HTTPS
//! with its IDevID certificate and receives signed redirect information (RFC 8572), its
//! owner's NMS learns of it over SFTP, and its node-locked licenses travel with the answer.
//!
//! # Layout
//! - [`cli`]: the command line (clap), one enum variant per subcommand.
//! - [`commands`]: what each subcommand does; `pki` wraps the `ztp-certs` crate.
//! - [`telemetry`]: structured logs (tracing).
#![forbid(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod telemetry;
