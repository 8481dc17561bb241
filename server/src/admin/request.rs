//! Request bodies: every JSON body is parsed into its request type before policy, tenancy,
//! audit or any handler looks at it (`parse` in the module above types a body and notes it for
//! the audit log), and only the typed value travels on.
//!
//! A body must be a JSON object (and so must every nested value the type reads as a record:
//! serde would also read a record from a list, `["acme", null]`, which no client means); unknown
//! fields are refused; the body's size is bounded by the listener (`max_body_bytes`), and each
//! text, list and nesting within it here. What the
//! audit log records of a request is the typed value serialised, in which secrets are
//! [`Secret`](crate::secrets::Secret)s and so never in clear. Errors speak of fields and JSON
//! kinds, never of Rust types.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;

/// A request body's type.
pub(super) trait Request: DeserializeOwned + Serialize {
    /// The customer the request names in its body, if any: the audit log's customer for a
    /// change that is not under a customer's path.
    fn customer(&self) -> Option<&str> {
        None
    }

    /// The customer filter the body carries, if its type has one: on a route whose tenancy is
    /// by filter, the router narrows it to the token's customer as it narrows `?customer=`.
    fn filter(&mut self) -> Option<&mut Option<String>> {
        None
    }
}

/// `body` as a `T`: a JSON object whose records are objects, with no unknown field.
pub(super) fn typed<T: Request>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "the request body must be a JSON object, not {}",
            kind(&value)
        )));
    }
    if let Some(problem) = oversized(&value, "", 0) {
        return Err(ApiError::bad_request(format!("request body, {problem}")));
    }
    let typed: T = serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let path = e.path().to_string();
        let message = humane(&e.into_inner().to_string());
        ApiError::bad_request(if path == "." {
            format!("request body: {message}")
        } else {
            format!("request body, field {path}: {message}")
        })
    })?;
    // A record given as a list is read by serde (a struct visits sequences too); what the
    // typed value serialises to says where records are.
    let shape = serde_json::to_value(&typed)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    if let Some(path) = list_for_object(&value, &shape, "") {
        return Err(ApiError::bad_request(format!(
            "request body, field {path}: expected a JSON object, not a list"
        )));
    }
    Ok(typed)
}

/// Checks that a route that takes no body got none (or `{}`, which the command line sends).
pub(super) fn expect_empty(body: &[u8]) -> Result<(), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) if map.is_empty() => Ok(()),
        _ => Err(ApiError::bad_request(
            "this request takes no body (or an empty JSON object)",
        )),
    }
}

/// The longest text a request field may hold (a PEM chain or onboarding information fits).
const MAX_TEXT: usize = 64 * 1024;
/// The most items a list in a request may hold.
const MAX_ITEMS: usize = 10_000;
/// The deepest nesting a request may have.
const MAX_DEPTH: usize = 32;

/// The first field of `value` (at `path`, `depth` levels down) that is too long, too many or
/// too deep, said for the client.
fn oversized(value: &Value, path: &str, depth: usize) -> Option<String> {
    let at = |path: &str| {
        if path.is_empty() {
            ".".to_owned()
        } else {
            path.to_owned()
        }
    };
    if depth > MAX_DEPTH {
        return Some(format!(
            "field {}: nested more than {MAX_DEPTH} levels",
            at(path)
        ));
    }
    match value {
        Value::String(text) if text.len() > MAX_TEXT => {
            Some(format!("field {}: longer than {MAX_TEXT} bytes", at(path)))
        }
        Value::Array(items) if items.len() > MAX_ITEMS => {
            Some(format!("field {}: more than {MAX_ITEMS} items", at(path)))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| oversized(item, &format!("{path}[{i}]"), depth + 1)),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            let path = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            oversized(item, &path, depth + 1)
        }),
        _ => None,
    }
}

/// The first place where `given` has a list and the typed value, `shape`, an object.
fn list_for_object(given: &Value, shape: &Value, path: &str) -> Option<String> {
    match (given, shape) {
        (Value::Array(_), Value::Object(_)) => Some(if path.is_empty() {
            ".".into()
        } else {
            path.to_owned()
        }),
        (Value::Object(given), Value::Object(shape)) => given.iter().find_map(|(key, value)| {
            let inner = shape.get(key)?;
            let path = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            list_for_object(value, inner, &path)
        }),
        (Value::Array(given), Value::Array(shape)) => given
            .iter()
            .zip(shape)
            .enumerate()
            .find_map(|(i, (g, s))| list_for_object(g, s, &format!("{path}[{i}]"))),
        _ => None,
    }
}

/// A JSON value's kind, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// serde's message in the API's terms: JSON kinds and ranges instead of Rust types.
fn humane(message: &str) -> String {
    const INTEGERS: [(&str, &str); 8] = [
        ("u8", "an integer from 0 to 255"),
        ("u16", "an integer from 0 to 65535"),
        ("u32", "an integer from 0 to 4294967295"),
        ("u64", "a non-negative integer"),
        ("usize", "a non-negative integer"),
        ("i32", "an integer"),
        ("i64", "an integer"),
        ("f64", "a number"),
    ];
    let mut words: Vec<String> = Vec::new();
    let mut rest = message.split(' ').peekable();
    while let Some(word) = rest.next() {
        let (bare, tail) = split_punctuation(word);
        let replaced = match bare {
            "struct" | "enum" | "tuple" => {
                // `struct CreateCustomer` → an object; `enum Role` → one of its names.
                let object = bare != "enum";
                let named = rest.next().map(split_punctuation);
                let tail = named.map_or(tail, |(_, t)| t);
                let what = if object {
                    "a JSON object"
                } else {
                    "a valid value"
                };
                words.push(format!("{what}{tail}"));
                continue;
            }
            "sequence" => "a list",
            "map" => "a JSON object",
            "unit" => "null",
            _ => match INTEGERS.iter().find(|(rust, _)| *rust == bare) {
                Some((_, json)) => json,
                None => {
                    words.push(word.to_owned());
                    continue;
                }
            },
        };
        // "a sequence" → "a list" (the article comes with the replacement).
        if matches!(words.last().map(String::as_str), Some("a" | "an")) {
            words.pop();
        }
        words.push(format!("{replaced}{tail}"));
    }
    words.join(" ")
}

/// A word and the punctuation after it (`u16,` → `u16`, `,`).
fn split_punctuation(word: &str) -> (&str, &str) {
    let end = word
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(word.len());
    word.split_at(end)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::secrets::Secret;

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Create {
        name: String,
        port: Option<u16>,
        #[serde(default)]
        inner: Option<Inner>,
        #[serde(default)]
        password: Option<Secret>,
    }

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        customer: String,
    }

    impl Request for Create {}

    fn refused(body: &str) -> String {
        typed::<Create>(body.as_bytes()).unwrap_err().message
    }

    #[test]
    fn bodies_are_objects_all_the_way_down() {
        assert!(typed::<Create>(br#"{"name":"a","inner":{"customer":"x"}}"#).is_ok());
        let top = refused(r#"["a", 22]"#);
        assert_eq!(top, "the request body must be a JSON object, not a list");
        let nested = refused(r#"{"name":"a","inner":["other-customer"]}"#);
        assert_eq!(
            nested,
            "request body, field inner: expected a JSON object, not a list"
        );
        assert!(refused("null").contains("not null"));
        assert!(refused("{").starts_with("the request body is not JSON"));
    }

    #[test]
    fn errors_name_fields_and_json_kinds_never_rust_types() {
        let unknown = refused(r#"{"name":"a","owner":"b"}"#);
        assert!(unknown.contains("unknown field `owner`"), "{unknown}");
        let port = refused(r#"{"name":"a","port":"x"}"#);
        assert!(
            port.contains("field port") && port.contains("an integer from 0 to 65535"),
            "{port}"
        );
        assert!(!port.contains("u16"), "{port}");
        let inner = refused(r#"{"name":"a","inner":"x"}"#);
        assert!(
            inner.contains("a JSON object") && !inner.contains("Inner"),
            "{inner}"
        );
        let missing = refused(r#"{"port":1}"#);
        assert!(missing.contains("missing field `name`"), "{missing}");
    }

    #[test]
    fn a_noted_request_shows_no_secret() {
        let typed: Create = typed(br#"{"name":"a","password":"hunter2"}"#).unwrap();
        let noted = serde_json::to_string(&typed).unwrap();
        assert!(
            !noted.contains("hunter2") && noted.contains("[redacted]"),
            "{noted}"
        );
    }

    #[test]
    fn texts_lists_and_nesting_are_bounded() {
        let long = format!(r#"{{"name":"{}"}}"#, "a".repeat(MAX_TEXT + 1));
        assert_eq!(
            refused(&long),
            format!("request body, field name: longer than {MAX_TEXT} bytes")
        );
        let deep = format!("{}1{}", r#"{"inner":"#.repeat(40), "}".repeat(40));
        assert!(
            refused(&deep).contains("nested more than"),
            "{}",
            refused(&deep)
        );
        let many = format!(r#"{{"name":"a","list":[{}1]}}"#, "1,".repeat(MAX_ITEMS));
        assert!(
            refused(&many).contains("field list: more than"),
            "{}",
            refused(&many)
        );
    }

    #[test]
    fn routes_without_a_body_take_nothing_or_an_empty_object() {
        assert!(expect_empty(b"").is_ok());
        assert!(expect_empty(b" {} ").is_ok());
        assert!(expect_empty(b"[]").is_err());
        assert!(expect_empty(br#"{"customer":"x"}"#).is_err());
    }
}
