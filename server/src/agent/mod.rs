//! The reference device agent: the device side of RFC 8572, as a manufacturer's firmware team
//! would build it. [`verify`] holds the checks a device makes of a bootstrap response.

pub mod verify;
