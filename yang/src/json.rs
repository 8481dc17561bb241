//! JSON (`application/yang-data+json`, RFC 7951 encoding) to and from the data tree.
//!
//! Input is read by serde_json into a small value type that keeps member order and refuses
//! duplicate member names (serde_json's own `Value` silently keeps the last one). serde_json
//! bounds nesting at 128 levels, the tree conversion at [`MAX_DEPTH`].

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::DecodeError;
use crate::modules;
use crate::tree::{MAX_DEPTH, Node, Out, OutKind, Scalar, Value};

/// A JSON value as read, member order kept.
#[derive(Debug)]
enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Self>),
    Object(Vec<(String, Self)>),
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        // Debug keeps the fraction ("443.0"), so integer leaves refuse it.
        Ok(Json::Number(format!("{v:?}")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        let mut seen = HashSet::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format_args!(
                    "duplicate member `{}`",
                    key.chars().take(64).collect::<String>()
                )));
            }
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// Parses a complete JSON document (an object with one module-qualified member) into a tree.
pub(crate) fn parse(bytes: &[u8]) -> Result<Node, DecodeError> {
    std::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8)?;
    let json: Json =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::MalformedJson(e.to_string()))?;
    let Json::Object(members) = json else {
        return Err(DecodeError::MalformedJson(
            "top level must be an object".into(),
        ));
    };
    let mut members = members.into_iter();
    let (Some((name, value)), None) = (members.next(), members.next()) else {
        return Err(DecodeError::MalformedJson(
            "top-level object must have exactly one member".into(),
        ));
    };
    if !name.contains(':') {
        return Err(DecodeError::WrongShape {
            element: name,
            expected: "module-qualified at the top level",
        });
    }
    let mut nodes = convert(&name, "", value, 0)?;
    match nodes.pop() {
        Some(node) if nodes.is_empty() && !node.arrayed => Ok(node),
        _ => Err(DecodeError::MalformedJson(
            "top-level member must be an object".into(),
        )),
    }
}

/// Converts one object member into tree nodes (several for an array).
fn convert(
    member: &str,
    parent_ns: &str,
    value: Json,
    depth: usize,
) -> Result<Vec<Node>, DecodeError> {
    if depth >= MAX_DEPTH {
        return Err(DecodeError::TooDeep { limit: MAX_DEPTH });
    }
    let (ns, name) = match member.split_once(':') {
        Some((module, name)) => match modules::by_name(module) {
            Some(module) => (module.namespace.to_owned(), name.to_owned()),
            // Below the top level an unknown module's node is kept (named by the module) so
            // that anydata such as `error-info` can be skipped; strict readers refuse it as an
            // unknown element.
            None if depth > 0 => (module.to_owned(), name.to_owned()),
            None => {
                return Err(DecodeError::UnknownModule(
                    module.chars().take(64).collect(),
                ));
            }
        },
        None => (parent_ns.to_owned(), member.to_owned()),
    };
    let node = |value: Value, arrayed: bool| Node {
        ns: ns.clone(),
        name: name.clone(),
        value,
        arrayed,
        json: true,
    };
    let null_error = || DecodeError::WrongShape {
        element: name.clone(),
        expected: "a value, not null",
    };
    Ok(match value {
        Json::Array(items) if matches!(items.as_slice(), [Json::Null]) => {
            vec![node(Value::Empty, false)]
        }
        Json::Array(items) => {
            let mut nodes = Vec::with_capacity(items.len());
            for item in items {
                let value = match item {
                    Json::Object(members) => object(members, &ns, depth)?,
                    Json::String(s) => Value::Str(s),
                    Json::Number(n) => Value::Number(n),
                    Json::Bool(b) => Value::Bool(b),
                    Json::Null => return Err(null_error()),
                    Json::Array(_) => {
                        return Err(DecodeError::WrongShape {
                            element: name.clone(),
                            expected: "a list, not nested arrays",
                        });
                    }
                };
                nodes.push(node(value, true));
            }
            nodes
        }
        Json::Object(members) => vec![node(object(members, &ns, depth)?, false)],
        Json::String(s) => vec![node(Value::Str(s), false)],
        Json::Number(n) => vec![node(Value::Number(n), false)],
        Json::Bool(b) => vec![node(Value::Bool(b), false)],
        Json::Null => return Err(null_error()),
    })
}

fn object(members: Vec<(String, Json)>, ns: &str, depth: usize) -> Result<Value, DecodeError> {
    let mut children = Vec::with_capacity(members.len());
    for (name, value) in members {
        children.extend(convert(&name, ns, value, depth + 1)?);
    }
    Ok(Value::Children(children))
}

/// Encodes a tree as compact RFC 7951 JSON.
pub(crate) fn write(root: &Out) -> String {
    let mut out = String::from("{");
    string(&format!("{}:{}", root.module.name, root.name), &mut out);
    out.push(':');
    value(root, &mut out);
    out.push('}');
    out
}

fn value(node: &Out, out: &mut String) {
    match &node.kind {
        OutKind::Container(children) | OutKind::Entry(children) => object_of(node, children, out),
        OutKind::Leaf(s) | OutKind::Item(s) => scalar(s, out),
    }
}

fn object_of(parent: &Out, children: &[Out], out: &mut String) {
    out.push('{');
    let mut done: Vec<(&str, &str)> = Vec::new();
    for child in children {
        let key = (child.module.name, child.name);
        if done.contains(&key) {
            continue;
        }
        done.push(key);
        if done.len() > 1 {
            out.push(',');
        }
        if child.module.name == parent.module.name {
            string(child.name, out);
        } else {
            string(&format!("{}:{}", child.module.name, child.name), out);
        }
        out.push(':');
        if matches!(child.kind, OutKind::Entry(_) | OutKind::Item(_)) {
            out.push('[');
            let same = children.iter().filter(|c| (c.module.name, c.name) == key);
            for (i, entry) in same.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                value(entry, out);
            }
            out.push(']');
        } else {
            value(child, out);
        }
    }
    out.push('}');
}

fn scalar(s: &Scalar, out: &mut String) {
    match s {
        Scalar::Str(s) | Scalar::InstanceId(s) => string(s, out),
        Scalar::Binary(b) => {
            // Base64 needs no escape.
            out.reserve(b.base64().len() + 2);
            out.push('"');
            out.push_str(b.base64());
            out.push('"');
        }
        Scalar::Uint(n) => out.push_str(&n.to_string()),
        Scalar::Empty => out.push_str("[null]"),
        Scalar::Identity { module, name } => string(&format!("{}:{}", module.name, name), out),
    }
}

/// Writes a JSON string literal. Runs of characters that need no escape (all of a base64
/// value, most text) are copied whole.
fn string(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..0x20 => "",
            _ => continue,
        };
        // Escaped bytes are ASCII, so `plain..i` and `i + 1..` fall on character boundaries.
        out.push_str(&s[plain..i]);
        if escape.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(escape);
        }
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_shapes_refused() {
        assert!(matches!(
            parse(br#"{"ietf-restconf:errors":{"a":1,"a":2}}"#),
            Err(DecodeError::MalformedJson(_))
        ));
        assert!(matches!(parse(b"[]"), Err(DecodeError::MalformedJson(_))));
        assert!(matches!(parse(b"{}"), Err(DecodeError::MalformedJson(_))));
        assert!(matches!(
            parse(br#"{"nope:x":{}}"#),
            Err(DecodeError::UnknownModule(_))
        ));
        assert!(matches!(
            parse(br#"{"x":{}}"#),
            Err(DecodeError::WrongShape { .. })
        ));
        let deep = format!(
            "{{\"ietf-restconf:errors\":{}1{}}}",
            "{\"a\":".repeat(60),
            "}".repeat(60)
        );
        assert_eq!(
            parse(deep.as_bytes()),
            Err(DecodeError::TooDeep { limit: MAX_DEPTH })
        );
    }

    proptest::proptest! {
        #[test]
        fn any_string_reads_back_as_itself(s in "\\PC*|[\\x00-\\x7f]*") {
            let mut out = String::new();
            string(&s, &mut out);
            let back: String = serde_json::from_str(&out).unwrap();
            proptest::prop_assert_eq!(back, s);
        }
    }

    #[test]
    fn string_escapes() {
        let mut out = String::new();
        string("a\"\\\n\u{1}é", &mut out);
        assert_eq!(out, r#""a\"\\\n\u0001é""#);
    }
}
