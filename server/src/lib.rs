//! ztp, the zero-touch provisioning server: a device at first power-on calls in over HTTPS
//! with its IDevID certificate and receives signed redirect information (RFC 8572), its
//! owner's NMS learns of it over SFTP, and its node-locked licenses travel with the answer.
//!
//! # Layout
//! Folders by concept; imports point inward, to the domain (`tests/boundaries.rs` holds each
//! module to the modules it may import).
//!
//! The domain, and the leaves that know nothing of the rest of ztp:
//! - [`domain`]: plain types and rules (device states, events, progress, roles, response
//!   policies, delivery, licensing rules); no I/O, no wire formats.
//! - [`telemetry`]: structured logs, and the gauges parts share.
//! - [`secrets`]: secrets at rest, sealed under a master key kept outside the database.
//! - [`address_policy`]: which addresses ztp connects to when a customer names the host (NMS
//!   connections, webhooks): public ones, and private ones the manufacturer allows.
//! - [`csv_export`]: CSV documents whose cells a spreadsheet shows as text, never runs.
//! - [`dhcp`]: DHCP option 143/136 values (RFC 8572 §8), encoded and decoded.
//!
//! Persistence and identity:
//! - [`store`]: the database (sqlx, embedded migrations; the devices' path and journal).
//! - [`auth`]: who is calling: devices by their IDevID chains, CRLs and serials.
//! - [`tls`]: the device listener's TLS layer.
//!
//! The use cases:
//! - [`bootstrap`]: what a device is answered, with per-owner caches of signed artifacts.
//! - [`artifacts`]: the signed artifacts of a bootstrap response (conveyed information, owner
//!   certificate, ownership voucher).
//! - [`ldevid`]: LDevIDs issued for devices' CSRs (RFC 9646): CSR checks, issuers, conveyance.
//! - [`licensing`]: node-locked licenses allocated from owners' pools, signed for conveyance.
//! - [`nms`]: registration of devices with their owners' NMSes (outbox and courier).
//! - [`webhooks`]: device events posted to customers' HTTPS receivers, signed, with retries.
//!
//! The edges:
//! - [`http`]: the accept loop both listeners share (TLS, limits, per-source budgets).
//! - [`restconf`]: the device API (RFC 8572 RPCs, RESTCONF media types and errors).
//! - [`admin`]: the admin API (routes, handlers, wire types) and its client.
//! - [`agent`]: the reference device agent (`ztp device bootstrap`); [`agent::verify`] holds
//!   the checks of RFC 8572 §5.4.
//! - [`config`]: `ztp serve`'s configuration (defaults, TOML, `ZTP_*` variables, flags).
//! - [`startup`]: the composition root: [`startup::App::build`] seeds the data directory,
//!   opens the store, loads the trust material and binds both listeners;
//!   [`startup::App::run`] serves until the shutdown future its caller passes.
//! - [`cli`], [`commands`]: the command line (clap) and what each subcommand does.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// No function over 80 lines (the threshold is in clippy.toml).
#![warn(clippy::too_many_lines)]

pub mod address_policy;
pub mod admin;
pub mod agent;
pub mod artifacts;
pub mod auth;
pub mod bootstrap;
pub mod cli;
pub mod commands;
pub mod config;
pub mod csv_export;
pub mod dhcp;
pub mod domain;
pub mod http;
pub mod ldevid;
pub mod licensing;
pub mod nms;
pub mod restconf;
pub mod secrets;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod webhooks;
