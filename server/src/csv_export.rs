//! CSV exports that a spreadsheet opens without running anything.
//!
//! Many cells of ztp's exports hold text that a customer or a device chose: an NMS account
//! name, a progress report's message, a customer filter recorded in the audit log, a pool name.
//! Excel, LibreOffice and Google Sheets read a cell that begins with `=`, `+`, `-` or `@` as a
//! formula (and strip a leading tab or carriage return before looking), so such a value would
//! run in the manufacturer's operator's spreadsheet: `=HYPERLINK(…)` leaks data, DDE calls run
//! programs. Every CSV ztp writes goes through [`CsvExport`], which applies OWASP's rule
//! ("CSV Injection"): such a cell is prefixed with a single quote, which spreadsheets show as
//! text. Negative numbers get the quote too; ztp's exports count things, so none is lost.
//! Quoting (commas, quotes, line breaks) stays the `csv` crate's job (RFC 4180).
//!
//! May import: nothing else of ztp.

use std::borrow::Cow;

/// A CSV document built row by row, every cell neutralised (see the module doc).
#[derive(Debug)]
pub struct CsvExport {
    writer: csv::Writer<Vec<u8>>,
}

impl CsvExport {
    /// An empty document; rows may differ in length.
    pub fn new() -> Self {
        Self {
            writer: csv::WriterBuilder::new()
                .flexible(true)
                .from_writer(Vec::new()),
        }
    }

    /// Appends one row.
    pub fn row<I, T>(&mut self, cells: I)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let cells = cells
            .into_iter()
            .map(|cell| neutralise(cell.as_ref()).into_owned());
        // Writing into memory, with rows of any length allowed, cannot fail.
        let _ = self.writer.write_record(cells);
    }

    /// The document.
    pub fn finish(self) -> String {
        let bytes = self.writer.into_inner().unwrap_or_default();
        // Every cell came from a `&str`, and the writer adds only ASCII.
        String::from_utf8(bytes).unwrap_or_default()
    }
}

impl Default for CsvExport {
    fn default() -> Self {
        Self::new()
    }
}

/// `cell` as a spreadsheet shows it as text: with a leading `'` when it begins with `=`, `+`,
/// `-`, `@`, a tab or a carriage return; unchanged otherwise.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_evaluate_are_prefixed_with_a_quote() {
        for (cell, shown) in [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+1+1", "'+1+1"),
            ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
            ("-", "'-"),
            ("-5", "'-5"),
            ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
            ("\t=1+1", "'\t=1+1"),
            ("\r=1+1", "'\r=1+1"),
        ] {
            assert_eq!(neutralise(cell), shown, "{cell:?}");
        }
    }

    #[test]
    fn other_cells_are_left_as_they_are() {
        for cell in [
            "",
            "SN-0001",
            "5",
            "a=b",
            " =1",
            "'=1",
            "2026-01-01T00:00:00Z",
            "{}",
        ] {
            assert!(
                matches!(neutralise(cell), Cow::Borrowed(c) if c == cell),
                "{cell:?}"
            );
        }
    }

    #[test]
    fn an_export_neutralises_then_quotes_every_cell() {
        let mut export = CsvExport::new();
        export.row(["name", "note"]);
        export.row(["=1+1", "a, \"b\""]);
        export.row(["\r@x", ""]);
        export.row(["only one"]);
        assert_eq!(
            export.finish(),
            "name,note\n'=1+1,\"a, \"\"b\"\"\"\n\"'\r@x\",\nonly one\n"
        );
    }
}
