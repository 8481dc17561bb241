//! The columns of a list the admin API answers, from its own OpenAPI document (the same build
//! as the server's): an empty list printed as a table or CSV still shows its header row.

use serde_json::Value;
use utoipa::OpenApi;

use crate::admin::openapi::ApiDoc;

/// The fields of the items of the list that a GET of `path` (`/api/v1/devices?limit=100`)
/// answers, in the document's order; `None` when the document does not describe one.
pub(super) fn of_answer(path: &str) -> Option<Vec<String>> {
    let document = serde_json::to_value(ApiDoc::openapi()).ok()?;
    of_list(&document, path)
}

/// [`of_answer`] in `document`.
fn of_list(document: &Value, path: &str) -> Option<Vec<String>> {
    let path = path.split('?').next()?;
    let (_, operations) = document["paths"]
        .as_object()?
        .iter()
        .find(|(template, _)| matches(template, path))?;
    let schema = &operations["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    let items = resolve(document, schema)?.get("items")?;
    let mut columns = Vec::new();
    fields(document, items, &mut columns);
    (!columns.is_empty()).then_some(columns)
}

/// Whether `path` is an instance of `template` (`/api/v1/devices/{serial}`).
fn matches(template: &str, path: &str) -> bool {
    let (template, path): (Vec<&str>, Vec<&str>) =
        (template.split('/').collect(), path.split('/').collect());
    template.len() == path.len()
        && template
            .iter()
            .zip(&path)
            .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}') && !p.is_empty()))
}

/// `schema`, or the schema its `$ref` names.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.strip_prefix("#/components/schemas/")?;
            document["components"]["schemas"].get(name)
        }
        None => Some(schema),
    }
}

/// Appends the properties of `schema` (through `$ref` and `allOf`) to `columns`.
fn fields(document: &Value, schema: &Value, columns: &mut Vec<String>) {
    let Some(schema) = resolve(document, schema) else {
        return;
    };
    for part in schema["allOf"].as_array().into_iter().flatten() {
        fields(document, part, columns);
    }
    for name in schema["properties"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.keys())
    {
        if !columns.contains(name) {
            columns.push(name.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_has_the_fields_of_its_items_as_columns() {
        let columns = of_answer("/api/v1/devices?limit=100&customer=acme").unwrap();
        assert_eq!(&columns[..3], ["serial", "model", "customer"]);
        let events = of_answer("/api/v1/events?limit=5").unwrap();
        assert!(events.contains(&"time".to_owned()), "allOf: {events:?}");
        assert!(events.contains(&"kind".to_owned()), "allOf: {events:?}");
        let nms = of_answer("/api/v1/customers/acme/nms?limit=100").unwrap();
        assert_eq!(nms[0], "name");
    }

    #[test]
    fn one_object_or_an_unknown_path_has_no_list_columns() {
        assert_eq!(of_answer("/api/v1/devices/SN-1"), None);
        assert_eq!(of_answer("/api/v1/nowhere"), None);
        assert!(!matches("/api/v1/devices/{serial}", "/api/v1/devices/"));
    }
}
