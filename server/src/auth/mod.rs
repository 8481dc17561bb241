//! Who is calling: devices by their IDevID certificates (chains, CRLs, serials), and
//! administrators by their tokens.
//!
//! - [`device`]: a device's identity from its certificate chain, checked against the
//!   manufacturer CAs and their CRLs.
//! - [`activation`]: devices' activation codes (HTTP Basic), a second factor or, opted in per
//!   device, the only one.
//!
//! May import: `domain`, `store` (token records) and `telemetry`; never the APIs that call it.

pub mod activation;
pub mod device;
pub mod token;
