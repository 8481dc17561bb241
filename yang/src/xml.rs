//! XML (`application/yang-data+xml`, RFC 7950 §7 encoding) to and from the data tree.
//!
//! Reading uses quick-xml's namespace-aware event reader, never its serde layer (which ignores
//! namespaces). A DOCTYPE is refused outright, so no entity can be declared, let alone resolved;
//! only the five predefined entities and character references are accepted.

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{QName, ResolveResult};

use crate::error::DecodeError;
use crate::tree::{MAX_DEPTH, Node, Out, OutKind, Scalar, Value};

/// An element being read.
struct Open {
    ns: String,
    name: String,
    children: Vec<Node>,
    text: String,
}

/// Whether `c` is an XML 1.0 `Char`.
fn is_xml_char(c: char) -> bool {
    matches!(u32::from(c), 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

fn malformed(e: impl std::fmt::Display) -> DecodeError {
    DecodeError::MalformedXml(e.to_string())
}

fn namespace(result: &ResolveResult<'_>) -> Result<String, DecodeError> {
    match result {
        ResolveResult::Bound(ns) => Ok(ns.0.to_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(prefix) => Err(malformed(format_args!(
            "namespace prefix `{prefix}` is not bound"
        ))),
    }
}

/// Refuses attributes other than namespace declarations.
fn check_attributes(e: &BytesStart<'_>) -> Result<(), DecodeError> {
    for attr in e.attributes() {
        let attr = attr.map_err(malformed)?;
        if attr.key.as_namespace_binding().is_none() {
            return Err(DecodeError::UnexpectedAttribute {
                element: e.name().0.to_owned(),
                attribute: attr.key.0.to_owned(),
            });
        }
    }
    Ok(())
}

/// Parses a complete XML document into a tree.
pub(crate) fn parse(bytes: &[u8]) -> Result<Node, DecodeError> {
    let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(malformed)?;
        let ns = match &event {
            Event::Start(_) | Event::Empty(_) => Some(namespace(&resolved)?),
            _ => None,
        };
        match event {
            Event::Start(e) | Event::Empty(e) if root.is_some() => {
                return Err(malformed(format_args!(
                    "element `{}` after the root element",
                    e.name().0
                )));
            }
            Event::Start(e) => {
                check_attributes(&e)?;
                if stack.len() >= MAX_DEPTH {
                    return Err(DecodeError::TooDeep { limit: MAX_DEPTH });
                }
                stack.push(Open {
                    ns: ns.unwrap_or_default(),
                    name: e.local_name().as_ref().to_owned(),
                    children: Vec::new(),
                    text: String::new(),
                });
            }
            Event::Empty(e) => {
                check_attributes(&e)?;
                if stack.len() >= MAX_DEPTH {
                    return Err(DecodeError::TooDeep { limit: MAX_DEPTH });
                }
                let node = Node {
                    ns: ns.unwrap_or_default(),
                    name: e.local_name().as_ref().to_owned(),
                    value: Value::Text {
                        text: String::new(),
                        qname: None,
                    },
                    arrayed: false,
                    json: false,
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                let open = stack.pop().ok_or_else(|| malformed("unexpected end tag"))?;
                let value = if open.children.is_empty() {
                    let qname = resolve_qname(&reader, &open.text);
                    Value::Text {
                        text: open.text,
                        qname,
                    }
                } else if open.text.trim().is_empty() {
                    Value::Children(open.children)
                } else {
                    return Err(malformed(format_args!(
                        "element `{}` mixes text and child elements",
                        open.name
                    )));
                };
                let node = Node {
                    ns: open.ns,
                    name: open.name,
                    value,
                    arrayed: false,
                    json: false,
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => append_text(&mut stack, &t.xml10_content())?,
            Event::CData(t) => append_text(&mut stack, &t.xml10_content())?,
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(malformed)? {
                    Some(c) if is_xml_char(c) => c,
                    Some(_) => return Err(malformed("character reference to a non-XML character")),
                    None => match &*r {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "apos" => '\'',
                        "quot" => '"',
                        other => {
                            return Err(DecodeError::UnknownEntity(
                                other.chars().take(64).collect(),
                            ));
                        }
                    },
                };
                let Some(open) = stack.last_mut() else {
                    return Err(malformed("reference outside the root element"));
                };
                open.text.push(c);
            }
            Event::DocType(_) => return Err(DecodeError::DocType),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => {
                if !stack.is_empty() {
                    return Err(malformed("unexpected end of document"));
                }
                return root.ok_or_else(|| malformed("no root element"));
            }
        }
    }
}

/// Appends character data to the open element; outside the root only whitespace is allowed.
fn append_text(stack: &mut [Open], text: &str) -> Result<(), DecodeError> {
    match stack.last_mut() {
        Some(open) => {
            open.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(malformed("text outside the root element")),
    }
}

/// Resolves a leaf's text as a qualified name in the current scope (for identityrefs).
fn resolve_qname(reader: &NsReader<&[u8]>, text: &str) -> Option<(String, String)> {
    let text = text.trim();
    let valid = !text.is_empty()
        && text.matches(':').count() <= 1
        && !text.starts_with(':')
        && !text.ends_with(':')
        && !text.chars().any(char::is_whitespace);
    if !valid {
        return None;
    }
    let qname = QName(text);
    match reader.resolver().resolve_prefix(qname.prefix(), true) {
        ResolveResult::Bound(ns) => Some((ns.0.to_owned(), qname.local_name().as_ref().to_owned())),
        _ => None,
    }
}

/// Escapes character data; CR is written as a reference so that it survives end-of-line
/// normalisation.
fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Encodes a tree as an indented XML document (no XML declaration, no trailing newline).
pub(crate) fn write(root: &Out) -> String {
    let mut out = String::new();
    write_node(root, None, 0, &mut out);
    out
}

fn write_node(node: &Out, parent_ns: Option<&str>, depth: usize, out: &mut String) {
    for _ in 0..depth {
        out.push_str("  ");
    }
    out.push('<');
    out.push_str(node.name);
    let ns = node.module.namespace;
    if parent_ns != Some(ns) {
        out.push_str(" xmlns=\"");
        out.push_str(ns);
        out.push('"');
    }
    match &node.kind {
        OutKind::Container(children) | OutKind::Entry(children) => {
            if children.is_empty() {
                out.push_str("/>");
            } else {
                out.push_str(">\n");
                for child in children {
                    write_node(child, Some(ns), depth + 1, out);
                    out.push('\n');
                }
                for _ in 0..depth {
                    out.push_str("  ");
                }
                out.push_str("</");
                out.push_str(node.name);
                out.push('>');
            }
        }
        OutKind::Leaf(scalar) | OutKind::Item(scalar) => {
            match scalar {
                Scalar::Empty => {
                    out.push_str("/>");
                    return;
                }
                Scalar::Str(s) => {
                    out.push('>');
                    escape(s, out);
                }
                Scalar::Binary(b) => {
                    // Base64 needs no escape.
                    out.push('>');
                    out.push_str(b.base64());
                }
                Scalar::InstanceId(path) => {
                    for module in crate::modules::ALL {
                        if path.contains(&format!("/{}:", module.name)) {
                            out.push_str(&format!(
                                " xmlns:{}=\"{}\"",
                                module.name, module.namespace
                            ));
                        }
                    }
                    out.push('>');
                    escape(path, out);
                }
                Scalar::Uint(n) => {
                    out.push('>');
                    out.push_str(&n.to_string());
                }
                Scalar::Identity { module, name } => {
                    // Bound under the module's name, so that the text reads like the JSON form.
                    out.push_str(&format!(
                        " xmlns:{}=\"{}\">{}:{}",
                        module.name, module.namespace, module.name, name
                    ));
                }
            }
            out.push_str("</");
            out.push_str(node.name);
            out.push('>');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predefined_entities_and_char_refs() {
        let node =
            parse(b"<a xmlns=\"urn:x\">1 &amp; &lt;2&gt; &#x41;&#66;&apos;&quot;</a>").unwrap();
        assert_eq!(
            node.value,
            Value::Text {
                text: "1 & <2> AB'\"".into(),
                qname: None
            }
        );
        assert_eq!(node.ns, "urn:x");
    }

    #[test]
    fn doctype_and_entities_refused() {
        let xxe = br#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#;
        assert_eq!(parse(xxe), Err(DecodeError::DocType));
        assert_eq!(
            parse(b"<a>&x;</a>"),
            Err(DecodeError::UnknownEntity("x".into()))
        );
    }

    #[test]
    fn structure_errors() {
        assert!(matches!(
            parse(b"<a><b></a>"),
            Err(DecodeError::MalformedXml(_))
        ));
        assert!(matches!(
            parse(b"<a/><b/>"),
            Err(DecodeError::MalformedXml(_))
        ));
        assert!(matches!(
            parse(b"<a>x<b/></a>"),
            Err(DecodeError::MalformedXml(_))
        ));
        assert!(matches!(parse(b""), Err(DecodeError::MalformedXml(_))));
        assert!(matches!(
            parse(b"<p:a/>"),
            Err(DecodeError::MalformedXml(_))
        ));
        assert!(matches!(
            parse(b"<a foo=\"1\"/>"),
            Err(DecodeError::UnexpectedAttribute { .. })
        ));
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert_eq!(
            parse(deep.as_bytes()),
            Err(DecodeError::TooDeep { limit: MAX_DEPTH })
        );
        assert_eq!(parse(&[0xff, 0xfe]), Err(DecodeError::NotUtf8));
    }

    #[test]
    fn identity_prefixes_resolve_in_scope() {
        let node =
            parse(b"<a xmlns=\"urn:x\" xmlns:p=\"urn:p\"><b>p:sha</b><c>sha</c><d>q:sha</d></a>")
                .unwrap();
        let Value::Children(children) = node.value else {
            panic!("children")
        };
        let qname = |i: usize| match &children[i].value {
            Value::Text { qname, .. } => qname.clone(),
            _ => None,
        };
        assert_eq!(qname(0), Some(("urn:p".into(), "sha".into())));
        assert_eq!(qname(1), Some(("urn:x".into(), "sha".into())));
        assert_eq!(qname(2), None);
    }
}
