//! Integration tests of ztp-yang: modules, yanglint validation, round trips, rejections and
//! fixtures. One test binary (one link step), one module per concern.

mod csr;
mod fixtures;
mod golden;
mod rejection;
mod roundtrip;
mod schema;
mod support;
mod validation;
