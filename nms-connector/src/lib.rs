//! SFTP delivery of device registrations to customer NMSes.
//!
//! This crate is filled in by the NMS registration work (pinned SSH host keys, atomic upload,
//! pooled connections). It is part of the workspace now so that the layout the design card
//! fixes is in place from the start.
#![forbid(unsafe_code)]
