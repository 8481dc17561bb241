//! The reference device agent: the device side of RFC 8572, as a manufacturer's firmware team
//! would build it.
//!
//! - [`activation`]: the device's activation code, read from a private file, sent as HTTP
//!   Basic credentials.
//! - [`credentials`]: what the device authenticates with (IDevID, activation code, or both),
//!   and to which servers its code goes.
//! - [`verify`]: the checks a device makes of a bootstrap response (RFC 8572 §5.4).
//! - [`tls`]: the device's TLS client configuration (IDevID client certificate; trusted or
//!   provisional server authentication).
//! - [`client`]: RESTCONF over one TLS connection (HTTP/2 or HTTP/1.1).
//! - [`host_key`]: OpenSSH public keys as `report-progress` host keys.
//! - [`licenses`]: the check of a conveyed license bundle (signature, node lock, validity).
//! - [`bootstrap`]: the flow: get-bootstrapping-data, verify, report progress.
//! - [`failure`]: why the agent failed, per server and in all, printable.
//! - [`redirect`]: following redirect information, trusting each next server through the
//!   trust anchor it conveys; redirect loops bounded.
//! - [`download`]: HTTP(S) downloads, bounded and hashed on the way.
//! - [`image`]: the boot image: verified by its conveyed hash, then staged.
//! - [`sandbox`]: a child process in a fresh private directory, cleared environment, timeout.
//! - [`scripts`]: the pre- and post-configuration scripts and the commit hook; exit codes.
//! - [`state`]: what is done, kept across restarts in an atomically replaced file.
//! - [`onboarding`]: processing onboarding information step by step, with progress reports.
//! - [`run`]: the device agent's loop (RFC 8572 §5 end to end): servers, redirects,
//!   onboarding, retries.
//!
//! May import: `domain`, `dhcp`, `tls`; it shares no code with the server's side beyond those.

pub mod activation;
pub mod bootstrap;
pub mod client;
pub mod credentials;
pub mod download;
pub mod failure;
pub mod host_key;
pub mod image;
pub mod licenses;
pub mod onboarding;
pub mod redirect;
pub mod run;
pub mod sandbox;
pub mod scripts;
pub mod state;
pub mod tls;
pub mod verify;
