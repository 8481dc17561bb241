//! The reference device agent: the device side of RFC 8572, as a manufacturer's firmware team
//! would build it.
//!
//! - [`verify`]: the checks a device makes of a bootstrap response (RFC 8572 §5.4).
//! - [`tls`]: the device's TLS client configuration (IDevID client certificate; trusted or
//!   provisional server authentication).
//! - [`client`]: RESTCONF over one TLS connection (HTTP/2 or HTTP/1.1).
//! - [`host_key`]: OpenSSH public keys as `report-progress` host keys.
//! - [`licenses`]: the check of a conveyed license bundle (signature, node lock, validity).
//! - [`bootstrap`]: the flow: get-bootstrapping-data, verify, report progress.
//! - [`failure`]: why the agent failed, per server and in all, printable.
//!
//! May import: `domain`, `dhcp`, `tls`; it shares no code with the server's side beyond those.

pub mod bootstrap;
pub mod client;
pub mod failure;
pub mod host_key;
pub mod licenses;
pub mod tls;
pub mod verify;
