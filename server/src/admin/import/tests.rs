//! The import's unit tests: reading, checking and stopping, without a server.

use super::batches::*;
use super::rows::*;
use super::*;

/// The lines of the records of `csv`, and their first fields.
fn lines(csv: &[u8]) -> Vec<(u64, String)> {
    let mut rows = Rows::new(csv, 1024, None);
    let mut out = Vec::new();
    while let Some(line) = rows.next().unwrap() {
        let first = String::from_utf8_lossy(&rows.row()[0]).trim().to_owned();
        out.push((line, first));
    }
    out
}

#[test]
fn check_import_checks_every_row_without_a_database() {
    let body = b"serial,model,customer,license_pools\nA,m,acme,lab\nB,m,acme,fleet\nA,m,,\n";
    let report = check_import(body, 1024).unwrap();
    assert_eq!((report.rows, report.bad_rows), (3, 2));
    let lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 4]);
    assert!(
        check_import(b"serial\n", 1024)
            .unwrap_err()
            .contains("model")
    );
}

#[test]
fn lines_are_counted_alike_in_lf_and_crlf_files() {
    let expected = vec![
        (1, "serial".to_owned()),
        (2, "A".to_owned()),
        (4, "B".to_owned()),
        (5, "C\nD".to_owned()),
        (7, "E".to_owned()),
    ];
    let lf = "serial,model\nA,m\n\nB,m\n\"C\nD\",m\nE,m";
    assert_eq!(lines(lf.as_bytes()), expected);
    assert_eq!(lines(format!("{lf}\n\n").as_bytes()), expected);
    let crlf = lf.replace('\n', "\r\n");
    assert_eq!(
        lines(crlf.as_bytes()),
        expected
            .iter()
            .map(|(l, f)| (*l, f.replace('\n', "\r\n")))
            .collect::<Vec<_>>()
    );
    assert_eq!(lines(format!("{crlf}\r\n").as_bytes()).len(), 5);
}

/// A reader of `size` bytes of one endless field, counting what was read from it.
struct Endless {
    left: u64,
    read: Rc<Cell<u64>>,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        buf[..n].fill(b'x');
        self.left -= n as u64;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

#[test]
fn a_row_longer_than_the_limit_stops_the_reading_soon_after_the_limit() {
    let read = Rc::new(Cell::new(0));
    let endless = Endless {
        left: 100 * 1024 * 1024,
        read: Rc::clone(&read),
    };
    let body = Read::chain(b"serial,model\nA,m\n".as_slice(), endless);
    let mut rows = Rows::new(body, 16 * 1024, None);
    rows.columns().unwrap();
    assert_eq!(rows.next().unwrap(), Some(2));
    match rows.next() {
        Err(Stop::RowTooLong { line: 3, limit }) => assert_eq!(limit, 16 * 1024),
        other => panic!("{other:?}"),
    }
    assert!(
        read.get() <= 16 * 1024 + 3 * CSV_BUFFER as u64,
        "read {} bytes",
        read.get()
    );
}

#[test]
fn a_long_row_that_ends_within_the_parser_buffer_is_refused_too() {
    let mut body = b"serial,model\n".to_vec();
    body.extend(std::iter::repeat_n(b'x', 1500));
    body.extend(b",m\nB,m\n");
    let mut rows = Rows::new(body.as_slice(), 1024, None);
    rows.columns().unwrap();
    assert!(matches!(
        rows.next(),
        Err(Stop::RowTooLong {
            line: 2,
            limit: 1024
        })
    ));
}

#[test]
fn stopped_imports_say_how_far_they_got() {
    let mut report = ImportReport {
        mode: "partial".into(),
        rows: 7,
        imported: 5,
        bad_rows: 2,
        ..ImportReport::default()
    };
    assert_eq!(
        Stop::TooLarge(1000).message(&report),
        "the import is larger than 1000 bytes (admin_api.max_import_bytes): 5 device(s) \
         were imported from the 7 row(s) before it (2 refused)"
    );
    report.mode = "all-or-nothing".into();
    report.imported = 0;
    assert!(
        Stop::Deadline(2)
            .message(&report)
            .ends_with(": nothing was kept")
    );
}
