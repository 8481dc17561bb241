//! What a device is owed and how its onboarding advances: plain types and functions, no I/O.
//!
//! - [`state`]: the device's onboarding state and what moves it.
//! - [`response`]: response profiles, per-owner rules, and the choice of what a request gets.

pub mod response;
pub mod state;
