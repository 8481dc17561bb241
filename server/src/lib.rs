//! ztp, the zero-touch provisioning server: a device at first power-on calls in over HTTPS
//! with its IDevID certificate and receives signed redirect information (RFC 8572), its
//! owner's NMS learns of it over SFTP, and its node-locked licenses travel with the answer.
//!
//! # Layout
//! - [`address_policy`]: which addresses ztp connects to when a customer names the host (NMS
//!   connections, webhooks): public ones, and private ones the manufacturer allows.
//! - [`agent`]: the reference device agent (`ztp device bootstrap`): TLS and RESTCONF client,
//!   the bootstrap flow, progress reports; [`agent::verify`] holds the checks of RFC 8572 §5.4.
//! - [`artifacts`]: the signed artifacts of a bootstrap response (conveyed information, owner
//!   certificate, ownership voucher).
//! - [`cli`]: the command line (clap), one enum variant per subcommand.
//! - [`commands`]: what each subcommand does; `pki` wraps the `ztp-certs` crate.
//! - [`config`]: `ztp serve`'s configuration (defaults, TOML, `ZTP_*` variables, flags).
//! - [`csv_export`]: CSV documents whose cells a spreadsheet shows as text, never runs.
//! - [`device_auth`], [`tls`]: who a device is (IDevID chain, CRLs, serial) and the TLS layer.
//! - [`dhcp`]: DHCP option 143/136 values (RFC 8572 §8), encoded and decoded.
//! - [`domain`]: plain types and rules: device states, response profiles and rules, delivery.
//! - [`bootstrap`]: what a device is answered, with per-owner caches of signed artifacts.
//! - [`http`]: the device API (RESTCONF) and the admin API, on one generic accept loop.
//! - [`licensing`]: node-locked licenses allocated from owners' pools, signed for conveyance.
//! - [`nms`]: registration of devices with their owners' NMSes (outbox and courier).
//! - [`secrets`]: secrets at rest, sealed under a master key kept outside the database.
//! - [`store`]: the database (sqlx, embedded migrations).
//! - [`telemetry`]: structured logs (tracing).
//! - [`webhooks`]: device events posted to customers' HTTPS receivers, signed, with retries.
#![forbid(unsafe_code)]

pub mod address_policy;
pub mod admin_client;
pub mod agent;
pub mod artifacts;
pub mod bootstrap;
pub mod cli;
pub mod commands;
pub mod config;
pub mod csv_export;
pub mod device_auth;
pub mod dhcp;
pub mod domain;
pub mod http;
pub mod licensing;
pub mod nms;
pub mod secrets;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod webhooks;
