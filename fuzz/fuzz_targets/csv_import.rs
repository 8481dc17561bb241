//! The device import's CSV rows (`POST /api/v1/devices/import`): the header, each row's
//! fields, serial, model, customer, pin and pools, checked as an import checks them, without a
//! database (`check_import`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ztp::admin::check_import;

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = check_import(data, 1024) {
        assert!(report.bad_rows <= report.rows);
        assert!(report.errors.len() as u64 <= report.bad_rows);
    }
});
