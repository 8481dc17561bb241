//! The schema-neutral data tree between the wire encodings and the typed documents.
//!
//! Both decoders ([`crate::xml`], [`crate::json`]) turn bytes into a [`Node`] tree whose nodes
//! carry a namespace URI, a local name and either children or a scalar; document types read it
//! with [`Members`] so that unknown, duplicated or misplaced nodes are errors in one place.
//! Encoders go the other way from an [`Out`] tree, which knows which nodes are list entries so
//! that JSON gets arrays even for a single entry.

use crate::error::DecodeError;
use crate::modules::Module;

/// How deep any ztp document may nest; deeper input is refused before building the tree.
pub(crate) const MAX_DEPTH: usize = 32;

/// A decoded node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// Namespace URI (XML) or the namespace of the module qualifying the member (JSON).
    pub(crate) ns: String,
    /// Local name.
    pub(crate) name: String,
    /// Children or scalar.
    pub(crate) value: Value,
    /// JSON only: the node is one element of an array (a list entry or leaf-list item).
    pub(crate) arrayed: bool,
    /// The node was decoded from JSON.
    pub(crate) json: bool,
}

/// The content of a decoded node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// Child nodes (XML element with child elements, JSON object).
    Children(Vec<Node>),
    /// XML element without child elements: its text, and, when the text is a `prefix:name` whose
    /// prefix is bound in scope (or a plain name with a default namespace), the resolved
    /// namespace and local name for identityref leaves.
    Text {
        text: String,
        qname: Option<(String, String)>,
    },
    /// JSON string.
    Str(String),
    /// JSON number, as written.
    Number(String),
    /// JSON boolean.
    Bool(bool),
    /// JSON `[null]`, the `empty` type.
    Empty,
}

impl Node {
    /// `ns:name` for messages.
    pub(crate) fn qualified(&self) -> String {
        format!("{}:{}", self.ns, self.name)
    }

    /// The child nodes of a container or list entry.
    pub(crate) fn children(&self) -> Result<&[Self], DecodeError> {
        match &self.value {
            Value::Children(c) => Ok(c),
            // An XML element without children is an empty container too.
            Value::Text { text, .. } if text.trim().is_empty() => Ok(&[]),
            _ => Err(self.shape("a container")),
        }
    }

    /// The text of a scalar that is written as a string in JSON (string, binary, enumeration,
    /// identityref, date-and-time, 64-bit numbers).
    pub(crate) fn text(&self) -> Result<&str, DecodeError> {
        match &self.value {
            Value::Text { text, .. } | Value::Str(text) => Ok(text),
            _ => Err(self.shape("a string")),
        }
    }

    /// The text of a number leaf of at most 32 bits (a JSON number, RFC 7951 §6.1).
    pub(crate) fn number_text(&self) -> Result<&str, DecodeError> {
        match &self.value {
            Value::Text { text, .. } => Ok(text.trim()),
            Value::Number(n) => Ok(n),
            _ => Err(self.shape("a number")),
        }
    }

    /// Checks that this is an `empty` leaf (`<x/>` or `[null]`).
    pub(crate) fn empty(&self) -> Result<(), DecodeError> {
        match &self.value {
            Value::Empty => Ok(()),
            Value::Text { text, .. } if text.trim().is_empty() => Ok(()),
            _ => Err(self.shape("an empty leaf (`[null]` in JSON)")),
        }
    }

    /// A `WrongShape` error for this node.
    pub(crate) fn shape(&self, expected: &'static str) -> DecodeError {
        DecodeError::WrongShape {
            element: self.name.clone(),
            expected,
        }
    }

    /// An `InvalidValue` error for this node's value.
    pub(crate) fn invalid(&self, reason: &'static str) -> DecodeError {
        let value = match &self.value {
            Value::Text { text, .. } | Value::Str(text) | Value::Number(text) => text.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Empty | Value::Children(_) => String::new(),
        };
        DecodeError::InvalidValue {
            element: self.name.clone(),
            value: value.chars().take(64).collect(),
            reason,
        }
    }
}

/// Checks the top-level node of a document.
pub(crate) fn expect_root(node: &Node, module: &Module, name: &str) -> Result<(), DecodeError> {
    if node.name != name {
        return Err(DecodeError::WrongRoot {
            expected: format!("{}:{}", module.name, name),
            found: node.qualified(),
        });
    }
    if node.ns != module.namespace {
        return Err(DecodeError::WrongNamespace {
            element: node.name.clone(),
            expected: module.namespace.to_owned(),
            found: node.ns.clone(),
        });
    }
    Ok(())
}

/// Reads the children of one container or list entry; every child must be claimed before
/// [`Members::finish`], or it is reported as unknown.
pub(crate) struct Members<'a> {
    parent: &'a Node,
    children: &'a [Node],
    taken: Vec<bool>,
}

impl<'a> Members<'a> {
    /// Starts reading `parent`'s children.
    pub(crate) fn of(parent: &'a Node) -> Result<Self, DecodeError> {
        let children = parent.children()?;
        Ok(Self {
            parent,
            children,
            taken: vec![false; children.len()],
        })
    }

    fn take_all(&mut self, module: &Module, name: &str) -> Vec<&'a Node> {
        let mut found = Vec::new();
        for (i, child) in self.children.iter().enumerate() {
            if child.name == name && child.ns == module.namespace {
                self.taken[i] = true;
                found.push(child);
            }
        }
        found
    }

    /// A leaf or container that occurs at most once.
    pub(crate) fn optional(
        &mut self,
        module: &Module,
        name: &str,
    ) -> Result<Option<&'a Node>, DecodeError> {
        let found = self.take_all(module, name);
        match found.as_slice() {
            [] => Ok(None),
            [one] if one.arrayed => Err(one.shape("a single value, not an array")),
            [one] => Ok(Some(one)),
            _ => Err(DecodeError::Duplicate(name.to_owned())),
        }
    }

    /// A leaf or container that occurs exactly once.
    pub(crate) fn required(
        &mut self,
        module: &Module,
        name: &str,
    ) -> Result<&'a Node, DecodeError> {
        self.optional(module, name)?
            .ok_or_else(|| DecodeError::Missing(name.to_owned()))
    }

    /// The entries of a list or leaf-list (in JSON they must come from an array).
    pub(crate) fn many(
        &mut self,
        module: &Module,
        name: &str,
    ) -> Result<Vec<&'a Node>, DecodeError> {
        let found = self.take_all(module, name);
        if let Some(single) = found.iter().find(|n| n.json && !n.arrayed) {
            return Err(single.shape("a list (JSON array)"));
        }
        Ok(found)
    }

    /// Fails on the first child that was not claimed.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        match self.taken.iter().position(|t| !t) {
            None => Ok(()),
            Some(i) => {
                let child = &self.children[i];
                let element = if child.ns == self.parent.ns {
                    child.name.clone()
                } else {
                    child.qualified()
                };
                Err(DecodeError::UnknownElement {
                    parent: self.parent.name.clone(),
                    element,
                })
            }
        }
    }
}

/// A node to encode.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Out {
    pub(crate) module: &'static Module,
    pub(crate) name: &'static str,
    pub(crate) kind: OutKind,
}

/// What an [`Out`] node is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OutKind {
    /// A container (or the document root).
    Container(Vec<Out>),
    /// One entry of a list: JSON groups same-named entries into an array.
    Entry(Vec<Out>),
    /// A leaf.
    Leaf(Scalar),
    /// One item of a leaf-list.
    Item(Scalar),
}

/// A scalar to encode.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    /// A string (also enumerations, dates, binary made on the spot as base64).
    Str(String),
    /// A shared `binary` value, written as its base64 (made once per value).
    Binary(crate::Binary),
    /// An integer of at most 32 bits, a JSON number.
    Uint(u64),
    /// The `empty` type.
    Empty,
    /// An `instance-identifier` in JSON form (module-name prefixes); XML declares the prefixes
    /// of known modules on the element.
    InstanceId(String),
    /// An identityref, always written module-qualified.
    Identity {
        module: &'static Module,
        name: &'static str,
    },
}

impl Out {
    /// A container.
    pub(crate) fn container(
        module: &'static Module,
        name: &'static str,
        children: Vec<Self>,
    ) -> Self {
        Self {
            module,
            name,
            kind: OutKind::Container(children),
        }
    }

    /// A list entry.
    pub(crate) fn entry(module: &'static Module, name: &'static str, children: Vec<Self>) -> Self {
        Self {
            module,
            name,
            kind: OutKind::Entry(children),
        }
    }

    /// A leaf.
    pub(crate) fn leaf(module: &'static Module, name: &'static str, value: Scalar) -> Self {
        Self {
            module,
            name,
            kind: OutKind::Leaf(value),
        }
    }

    /// A string leaf.
    pub(crate) fn string(module: &'static Module, name: &'static str, value: &str) -> Self {
        Self::leaf(module, name, Scalar::Str(value.to_owned()))
    }

    /// A leaf-list item.
    pub(crate) fn item(module: &'static Module, name: &'static str, value: Scalar) -> Self {
        Self {
            module,
            name,
            kind: OutKind::Item(value),
        }
    }
}

/// Pushes a string leaf when the value is present.
pub(crate) fn push_opt_string(
    out: &mut Vec<Out>,
    module: &'static Module,
    name: &'static str,
    value: Option<&str>,
) {
    if let Some(v) = value {
        out.push(Out::string(module, name, v));
    }
}
