//! How the commands print. Every answer goes to standard output through [`print`], which ends
//! the process quietly when the reader has gone (`ztp device list | head -1`), as a Unix tool
//! killed by SIGPIPE ends. The admin API's answers are rendered ([`render`]) as JSON (as they
//! came; the default), a table or CSV:
//!
//! - a table has one row per object and one column per field, nested values summarised in
//!   their cell (`3 items`, `name=nms, port=443`, `{4 fields}`, the first line of a PEM);
//!   a single object (a `show`) is printed as `field: value` lines instead, nested values
//!   indented under their field;
//! - CSV has the same rows with nested values as JSON, and neutralises the cells a spreadsheet
//!   would evaluate ([`crate::csv_export`]);
//! - an empty list prints its header row in both, when its columns are known.

use std::io::{ErrorKind, Write};

use anyhow::Context;
use serde_json::{Map, Value};

pub use crate::cli::Output;
use crate::csv_export::CsvExport;

/// The exit status of a command whose reader closed standard output: a shell's status for a
/// process killed by SIGPIPE (128 + 13), which `std` ignores so that writes fail instead.
pub const CLOSED_PIPE_STATUS: i32 = 141;

/// Writes `text` to standard output. When the reader has closed it, the process ends at once,
/// quietly, with [`CLOSED_PIPE_STATUS`]: the rest of the answer has nobody to read it.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    drop(stdout);
    if reader_gone(&written) {
        std::process::exit(CLOSED_PIPE_STATUS);
    }
    written.context("writing to standard output")
}

/// Whether a write failed because the reading end of the pipe is closed.
fn reader_gone(written: &std::io::Result<()>) -> bool {
    matches!(written, Err(error) if error.kind() == ErrorKind::BrokenPipe)
}

/// Prints an answer in `output` ([`render_with`]); an empty list whose columns are not known
/// prints nothing in a table or CSV, so a line on standard error says it was empty.
pub fn answer(value: &Value, output: Output, columns: &[String]) -> anyhow::Result<()> {
    let empty = matches!(value, Value::Array(items) if items.is_empty());
    if empty && columns.is_empty() && output != Output::Json {
        eprintln!("(empty list)");
    }
    print(&render_with(value, output, columns))
}

/// `value` as text in `output`.
pub fn render(value: &Value, output: Output) -> String {
    render_with(value, output, &[])
}

/// `value` as text in `output`; an empty list, in a table or CSV, as the header row of
/// `columns` (nothing when they are not known).
pub fn render_with(value: &Value, output: Output, columns: &[String]) -> String {
    match (value, output) {
        (Value::Null, _) => String::new(),
        (Value::String(text), _) => text.clone(),
        (_, Output::Json) => format!(
            "{}\n",
            serde_json::to_string_pretty(value).unwrap_or_default()
        ),
        (Value::Array(items), _) if items.is_empty() => match (columns, output) {
            ([], _) => String::new(),
            (_, Output::Csv) => csv(&[columns.to_vec()]),
            _ => table(&[columns.to_vec()]),
        },
        (_, Output::Csv) => csv(&rows(value, csv_cell)),
        (Value::Object(object), Output::Table) => {
            let mut out = String::new();
            fields(object, 0, &mut out);
            out
        }
        (_, Output::Table) => table(&rows(value, table_cell)),
    }
}

/// A header row and the data rows, each value written by `cell`.
fn rows(value: &Value, cell: fn(&Value) -> String) -> Vec<Vec<String>> {
    let objects: Vec<&Map<String, Value>> = match value {
        Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
        Value::Object(object) => vec![object],
        _ => Vec::new(),
    };
    if objects.is_empty() {
        return match value {
            Value::Array(items) => items.iter().map(|v| vec![cell(v)]).collect(),
            other => vec![vec![cell(other)]],
        };
    }
    let mut columns: Vec<&String> = Vec::new();
    for object in &objects {
        for key in object.keys() {
            if !columns.contains(&key) {
                columns.push(key);
            }
        }
    }
    let mut out = vec![columns.iter().map(|c| (*c).clone()).collect()];
    for object in objects {
        out.push(
            columns
                .iter()
                .map(|c| object.get(*c).map(cell).unwrap_or_default())
                .collect(),
        );
    }
    out
}

/// A CSV cell: text as it is, nested values as JSON (a program reading the CSV loses nothing).
fn csv_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The longest summary of a nested value that a table cell shows in full.
const SHORT: usize = 40;

/// A table cell: one line, nested values summarised.
fn table_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => match text.trim().split_once('\n') {
            Some((first, _)) => format!("{} …", first.trim_end()),
            None => text.clone(),
        },
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(items) if items.is_empty() => String::new(),
        Value::Array(items) => {
            let joined = items
                .iter()
                .all(is_scalar)
                .then(|| items.iter().map(table_cell).collect::<Vec<_>>().join(", "));
            match joined {
                Some(joined) if joined.chars().count() <= SHORT => joined,
                _ if items.len() == 1 => "1 item".to_owned(),
                _ => format!("{} items", items.len()),
            }
        }
        Value::Object(object) if object.is_empty() => String::new(),
        Value::Object(object) => {
            let pairs = object.values().all(is_scalar).then(|| {
                object
                    .iter()
                    .map(|(key, value)| format!("{key}={}", table_cell(value)))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            match pairs {
                Some(pairs) if pairs.chars().count() <= SHORT => pairs,
                _ if object.len() == 1 => "{1 field}".to_owned(),
                _ => format!("{{{} fields}}", object.len()),
            }
        }
    }
}

/// A value that is no object or list, and fits on one line.
fn is_scalar(value: &Value) -> bool {
    match value {
        Value::Array(_) | Value::Object(_) => false,
        Value::String(text) => !text.contains('\n'),
        _ => true,
    }
}

/// The longest list of plain values written on its field's line, joined by commas.
const ONE_LINE: usize = 72;

/// `object` as `field: value` lines at `indent`, values aligned; an object, a list of objects
/// or a text of several lines goes on the lines under its field, indented by two more.
fn fields(object: &Map<String, Value>, indent: usize, out: &mut String) {
    let width = object.keys().map(|k| k.chars().count()).max().unwrap_or(0) + 1;
    let pad = " ".repeat(indent);
    for (key, value) in object {
        let label = format!("{key}:");
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push_str(&format!("{pad}{label}\n"));
                fields(inner, indent + 2, out);
            }
            Value::Array(items) if !items.is_empty() && !fits_one_line(items) => {
                out.push_str(&format!("{pad}{label}\n"));
                for item in items {
                    list_item(item, indent + 2, out);
                }
            }
            Value::String(text) if text.trim_end().contains('\n') => {
                out.push_str(&format!("{pad}{label}\n"));
                for line in text.trim_end().lines() {
                    out.push_str(&format!("{pad}  {line}\n"));
                }
            }
            other => {
                let text = match other {
                    Value::Array(items) => {
                        items.iter().map(table_cell).collect::<Vec<_>>().join(", ")
                    }
                    other => table_cell(other),
                };
                let line = format!("{pad}{label:<width$} {text}");
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }
    }
}

/// Whether a list is plain values short enough to write on its field's line.
fn fits_one_line(items: &[Value]) -> bool {
    items.iter().all(is_scalar)
        && items
            .iter()
            .map(|i| table_cell(i).chars().count() + 2)
            .sum::<usize>()
            <= ONE_LINE
}

/// One item of a list under its field: `- ` and the item, an object's fields aligned under
/// its first.
fn list_item(item: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match item {
        Value::Object(inner) if !inner.is_empty() => {
            let mut nested = String::new();
            fields(inner, indent + 2, &mut nested);
            // The first field goes on the dash's line.
            out.push_str(&format!("{pad}- {}", &nested[indent + 2..]));
        }
        Value::String(text) if text.trim_end().contains('\n') => {
            let mut lines = text.trim_end().lines();
            out.push_str(&format!("{pad}- {}\n", lines.next().unwrap_or_default()));
            for line in lines {
                out.push_str(&format!("{pad}  {line}\n"));
            }
        }
        other => out.push_str(&format!("{pad}- {}\n", table_cell(other))),
    }
}

fn csv(rows: &[Vec<String>]) -> String {
    let mut export = CsvExport::new();
    for row in rows {
        export.row(row);
    }
    export.finish()
}

fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| {
                let one_line = cell.replace('\n', " ");
                format!("{one_line:<width$}")
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lists_become_tables_and_csv_with_every_field() {
        let value = json!([
            {"serial": "SN-1", "state": "shipped"},
            {"serial": "SN-2", "customer": "acme, inc", "pins": ["a"]},
        ]);
        assert_eq!(
            render(&value, Output::Csv),
            "serial,state,customer,pins\nSN-1,shipped,,\nSN-2,,\"acme, inc\",\"[\"\"a\"\"]\"\n"
        );
        let table = render(&value, Output::Table);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "serial  state    customer   pins");
        assert_eq!(lines[2], "SN-2             acme, inc  a");
        assert!(render(&value, Output::Json).starts_with("[\n"));
        assert_eq!(render(&Value::String("pem".into()), Output::Table), "pem");
    }

    #[test]
    fn nested_values_are_summarised_in_table_cells_and_kept_whole_in_csv() {
        let value = json!([{
            "name": "acme",
            "targets": [{"name": "nms"}, {"name": "backup"}, {"name": "lab"}],
            "owner_ca": {"subject": "O=acme,CN=acme Owner CA", "fingerprint": "87f5", "not_after": "2046-12-02"},
            "limits": {"seats": 10, "free": 3},
            "events": ["bootstrap-complete", "license-shortage"],
            "pins": ["SHA256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
            "pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "rules": [],
            "onboarding": null,
        }]);
        let table = render(&value, Output::Table);
        let row: Vec<&str> = table.lines().nth(1).unwrap().split("  ").collect();
        let row: Vec<&str> = row
            .into_iter()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            row,
            [
                "acme",
                "3 items",
                "{3 fields}",
                "seats=10, free=3",
                "bootstrap-complete, license-shortage",
                "1 item",
                "-----BEGIN CERTIFICATE----- …",
            ]
        );
        assert!(
            !table.contains("\"name\""),
            "no raw JSON in a table: {table}"
        );
        let csv = render(&value, Output::Csv);
        assert!(csv.contains(r#""{""seats"":10,""free"":3}""#), "{csv}");
    }

    #[test]
    fn one_object_in_a_table_is_printed_field_by_field() {
        let value = json!({
            "name": "example-customer",
            "sign": true,
            "owner_ca": {"subject": "O=example", "fingerprint": "87f5"},
            "onboarding": null,
            "targets": [
                {"name": "nms", "port": 443, "trust_anchor_pem": "-----BEGIN-----\nMIIB\n-----END-----\n"},
            ],
            "events": ["a", "b"],
            "rules": [],
        });
        let expected = "\
name:       example-customer
sign:       true
owner_ca:
  subject:     O=example
  fingerprint: 87f5
onboarding:
targets:
  - name:             nms
    port:             443
    trust_anchor_pem:
      -----BEGIN-----
      MIIB
      -----END-----
events:     a, b
rules:
";
        assert_eq!(render(&value, Output::Table), expected);
        assert!(render(&value, Output::Csv).starts_with("name,sign,owner_ca,"));
    }

    #[test]
    fn an_empty_list_prints_its_header_row_when_its_columns_are_known() {
        let columns = ["serial".to_owned(), "model".to_owned()];
        let empty = json!([]);
        assert_eq!(
            render_with(&empty, Output::Table, &columns),
            "serial  model\n"
        );
        assert_eq!(render_with(&empty, Output::Csv, &columns), "serial,model\n");
        assert_eq!(render_with(&empty, Output::Json, &columns), "[]\n");
        assert_eq!(render_with(&empty, Output::Table, &[]), "");
    }

    #[test]
    fn only_a_closed_pipe_ends_the_process_quietly() {
        let error = |kind| Err(std::io::Error::from(kind));
        assert!(reader_gone(&error(ErrorKind::BrokenPipe)));
        assert!(!reader_gone(&error(ErrorKind::PermissionDenied)));
        assert!(!reader_gone(&Ok(())));
    }
}
