//! The two wire encodings and the [`Document`] trait every typed document implements.

use crate::error::{DecodeError, ValidationError};
use crate::tree::{Node, Out};
use crate::{json, xml};

/// Default maximum size of a document to decode: 256 KiB. Device requests are a few hundred
/// bytes; the limit keeps hostile input cheap to refuse. Use
/// [`Document::decode_limited`] for larger documents (e.g. conveyed information carrying a
/// big configuration).
pub const DEFAULT_MAX_INPUT: usize = 256 * 1024;

/// A YANG data encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// XML (RFC 7950 §7), media type `application/yang-data+xml`.
    Xml,
    /// JSON (RFC 7951), media type `application/yang-data+json`.
    Json,
}

impl Encoding {
    /// The RESTCONF media type (RFC 8040 §11.3).
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Xml => "application/yang-data+xml",
            Self::Json => "application/yang-data+json",
        }
    }

    /// The encoding a media type names, ignoring parameters and case. Besides the RFC 8040
    /// types, accepts the legacy `application/yang.data+xml`/`+json` forms and plain
    /// `application/xml`/`application/json`, which real SZTP clients send.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        let essence = media_type.split(';').next().unwrap_or_default().trim();
        match essence.to_ascii_lowercase().as_str() {
            "application/yang-data+xml" | "application/yang.data+xml" | "application/xml" => {
                Some(Self::Xml)
            }
            "application/yang-data+json" | "application/yang.data+json" | "application/json" => {
                Some(Self::Json)
            }
            _ => None,
        }
    }
}

/// A typed YANG document with XML and JSON encoders and strict decoders.
///
/// Encoders write whatever the value holds; values built by hand should pass
/// [`validate`](Self::validate) (or be encoded with [`encode_checked`](Self::encode_checked)).
/// Decoders check size, well-formedness, namespaces, structure, types and the schema's
/// constraints, and never panic.
pub trait Document: Sized {
    /// Checks the constraints of the schema that the Rust type does not express.
    fn validate(&self) -> Result<(), ValidationError>;

    /// Encodes as XML.
    fn to_xml(&self) -> String;

    /// Encodes as RFC 7951 JSON.
    fn to_json(&self) -> String;

    /// Decodes `bytes`, refusing input longer than `max_len` bytes before parsing it.
    fn decode_limited(
        encoding: Encoding,
        bytes: &[u8],
        max_len: usize,
    ) -> Result<Self, DecodeError>;

    /// Encodes in the given encoding.
    fn encode(&self, encoding: Encoding) -> String {
        match encoding {
            Encoding::Xml => self.to_xml(),
            Encoding::Json => self.to_json(),
        }
    }

    /// Validates, then encodes.
    fn encode_checked(&self, encoding: Encoding) -> Result<String, ValidationError> {
        self.validate()?;
        Ok(self.encode(encoding))
    }

    /// Decodes `bytes` of at most [`DEFAULT_MAX_INPUT`] bytes.
    fn decode(encoding: Encoding, bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_limited(encoding, bytes, DEFAULT_MAX_INPUT)
    }

    /// Decodes XML of at most [`DEFAULT_MAX_INPUT`] bytes.
    fn from_xml(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode(Encoding::Xml, bytes)
    }

    /// Decodes JSON of at most [`DEFAULT_MAX_INPUT`] bytes.
    fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode(Encoding::Json, bytes)
    }
}

/// The crate-internal side of a document: conversion to and from the data tree.
pub(crate) trait Model: Sized {
    /// The document as a tree.
    fn to_tree(&self) -> Out;
    /// Reads the document from a tree (structure and types; `validate` runs afterwards).
    fn from_tree(root: &Node) -> Result<Self, DecodeError>;
}

/// Size check, parse, read, validate.
pub(crate) fn decode<T: Model + Document>(
    encoding: Encoding,
    bytes: &[u8],
    max_len: usize,
) -> Result<T, DecodeError> {
    if bytes.len() > max_len {
        return Err(DecodeError::TooLarge {
            size: bytes.len(),
            limit: max_len,
        });
    }
    let root = match encoding {
        Encoding::Xml => xml::parse(bytes)?,
        Encoding::Json => json::parse(bytes)?,
    };
    let document = T::from_tree(&root)?;
    document.validate()?;
    Ok(document)
}

/// Implements [`Document`] for a type that implements [`Model`] and has an inherent
/// `fn check(&self) -> Result<(), ValidationError>`.
macro_rules! document {
    ($t:ty) => {
        impl $crate::encoding::Document for $t {
            fn validate(&self) -> Result<(), $crate::error::ValidationError> {
                self.check()
            }
            fn to_xml(&self) -> String {
                $crate::xml::write(&$crate::encoding::Model::to_tree(self))
            }
            fn to_json(&self) -> String {
                $crate::json::write(&$crate::encoding::Model::to_tree(self))
            }
            fn decode_limited(
                encoding: $crate::encoding::Encoding,
                bytes: &[u8],
                max_len: usize,
            ) -> Result<Self, $crate::error::DecodeError> {
                $crate::encoding::decode(encoding, bytes, max_len)
            }
        }
    };
}
pub(crate) use document;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert_eq!(
            Encoding::from_media_type("application/yang-data+json; charset=utf-8"),
            Some(Encoding::Json)
        );
        assert_eq!(
            Encoding::from_media_type("Application/Yang.Data+XML"),
            Some(Encoding::Xml)
        );
        assert_eq!(Encoding::from_media_type("text/plain"), None);
        for e in [Encoding::Xml, Encoding::Json] {
            assert_eq!(Encoding::from_media_type(e.media_type()), Some(e));
        }
    }
}
