//! How the inventory commands print the admin API's answers: JSON as it came (the default), or
//! a table or CSV with one row per object and one column per field (nested values as JSON).
//! CSV cells that a spreadsheet would evaluate are neutralised ([`crate::csv_export`]).

use serde_json::Value;

pub use crate::cli::Output;
use crate::csv_export::CsvExport;

/// `value` as text in `output`.
pub fn render(value: &Value, output: Output) -> String {
    match (value, output) {
        (Value::Null, _) => String::new(),
        (Value::String(text), _) => text.clone(),
        (_, Output::Json) => format!(
            "{}\n",
            serde_json::to_string_pretty(value).unwrap_or_default()
        ),
        (_, Output::Csv) => csv(&rows(value)),
        (_, Output::Table) => table(&rows(value)),
    }
}

/// A header row and the data rows.
fn rows(value: &Value) -> Vec<Vec<String>> {
    let objects: Vec<&serde_json::Map<String, Value>> = match value {
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

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
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
    use super::*;

    #[test]
    fn lists_become_tables_and_csv_with_every_field() {
        let value = serde_json::json!([
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
        assert_eq!(lines[2], "SN-2             acme, inc  [\"a\"]");
        assert!(render(&value, Output::Json).starts_with("[\n"));
        assert_eq!(render(&Value::String("pem".into()), Output::Table), "pem");
    }
}
