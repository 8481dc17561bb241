//! The license bundle (`ztp-licenses`): node-locked licenses conveyed to a device, as the
//! content of the CMS SignedData in the `license-bundle` output augment.
//!
//! XML root `<licenses xmlns="urn:ztp:yang:ztp-licenses">`; JSON
//! `{"ztp-licenses:licenses": {"license": [...]}}`.

use std::collections::HashSet;

use time::OffsetDateTime;

use crate::encoding::{Model, document};
use crate::error::{DecodeError, ValidationError};
use crate::modules::ZTP_LICENSES as LIC;
use crate::tree::{Members, Node, Out, Scalar, expect_root};
use crate::types::{
    check_date_time, check_string, date_time, read_date_time, read_enum, read_string, read_uint,
};

/// A bundle of node-locked licenses for one device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenseBundle {
    /// `license` entries (unique `license-id`s).
    pub licenses: Vec<License>,
}

/// One node-locked license.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct License {
    /// `license-id`: the manufacturer's unique identifier (1..128 characters).
    pub id: String,
    /// `feature`: the feature tag, e.g. `ESS-ED-100G-SIA3`.
    pub feature: String,
    /// `type`.
    pub license_type: LicenseType,
    /// `count`: seats granted, at least 1; `None` for an uncounted license.
    pub count: Option<u32>,
    /// `node-lock`: the device the license is bound to.
    pub node_lock: NodeLock,
    /// `issued-at`.
    pub issued_at: OffsetDateTime,
    /// `not-before`.
    pub not_before: OffsetDateTime,
    /// `not-after`: required unless the license is perpetual.
    pub not_after: Option<OffsetDateTime>,
}

/// `license-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LicenseType {
    /// `perpetual`: does not expire.
    Perpetual,
    /// `subscription`: valid until the end of the term.
    Subscription,
    /// `evaluation`: a time-limited trial.
    Evaluation,
}

impl LicenseType {
    /// The YANG enum name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Perpetual => "perpetual",
            Self::Subscription => "subscription",
            Self::Evaluation => "evaluation",
        }
    }

    /// Parses the YANG enum name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "perpetual" => Some(Self::Perpetual),
            "subscription" => Some(Self::Subscription),
            "evaluation" => Some(Self::Evaluation),
            _ => None,
        }
    }
}

/// The unique device identifier a license is locked to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLock {
    /// `product-id`: the device's hardware model (1..255 characters).
    pub product_id: String,
    /// `serial-number` (1..64 characters).
    pub serial_number: String,
}

/// Whether `tag` matches the `feature-tag` typedef: `[A-Za-z0-9][A-Za-z0-9_.-]*`, 1..64.
fn is_feature_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    (1..=64).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

impl License {
    fn check(&self) -> Result<(), ValidationError> {
        check_string("license-id", &self.id, 1, 128)?;
        if !is_feature_tag(&self.feature) {
            return Err(ValidationError::InvalidFeatureTag(
                self.feature.chars().take(64).collect(),
            ));
        }
        if self.count == Some(0) {
            return Err(ValidationError::ZeroCount(self.id.clone()));
        }
        check_string("product-id", &self.node_lock.product_id, 1, 255)?;
        check_string("serial-number", &self.node_lock.serial_number, 1, 64)?;
        check_date_time(&self.issued_at)?;
        check_date_time(&self.not_before)?;
        match self.not_after {
            Some(not_after) => {
                check_date_time(&not_after)?;
                if not_after < self.not_before {
                    return Err(ValidationError::ValidityOrder(self.id.clone()));
                }
            }
            None if self.license_type != LicenseType::Perpetual => {
                return Err(ValidationError::MissingNotAfter(self.id.clone()));
            }
            None => {}
        }
        Ok(())
    }

    fn to_tree(&self) -> Out {
        let mut c = vec![
            Out::string(&LIC, "license-id", &self.id),
            Out::string(&LIC, "feature", &self.feature),
            Out::string(&LIC, "type", self.license_type.as_str()),
        ];
        if let Some(count) = self.count {
            c.push(Out::leaf(&LIC, "count", Scalar::Uint(u64::from(count))));
        }
        c.push(Out::container(
            &LIC,
            "node-lock",
            vec![
                Out::string(&LIC, "product-id", &self.node_lock.product_id),
                Out::string(&LIC, "serial-number", &self.node_lock.serial_number),
            ],
        ));
        c.push(Out::leaf(&LIC, "issued-at", date_time(&self.issued_at)));
        c.push(Out::leaf(&LIC, "not-before", date_time(&self.not_before)));
        if let Some(not_after) = &self.not_after {
            c.push(Out::leaf(&LIC, "not-after", date_time(not_after)));
        }
        Out::entry(&LIC, "license", c)
    }

    fn from_tree(entry: &Node) -> Result<Self, DecodeError> {
        let mut m = Members::of(entry)?;
        let id = read_string(m.required(&LIC, "license-id")?)?;
        let feature = read_string(m.required(&LIC, "feature")?)?;
        let license_type = read_enum(m.required(&LIC, "type")?, LicenseType::parse)?;
        let count = match m.optional(&LIC, "count")? {
            Some(node) => Some(
                u32::try_from(read_uint(node, 1, u64::from(u32::MAX))?)
                    .map_err(|_| node.invalid("out of range"))?,
            ),
            None => None,
        };
        let lock = m.required(&LIC, "node-lock")?;
        let mut l = Members::of(lock)?;
        let node_lock = NodeLock {
            product_id: read_string(l.required(&LIC, "product-id")?)?,
            serial_number: read_string(l.required(&LIC, "serial-number")?)?,
        };
        l.finish()?;
        let issued_at = read_date_time(m.required(&LIC, "issued-at")?)?;
        let not_before = read_date_time(m.required(&LIC, "not-before")?)?;
        let not_after = m
            .optional(&LIC, "not-after")?
            .map(read_date_time)
            .transpose()?;
        m.finish()?;
        Ok(Self {
            id,
            feature,
            license_type,
            count,
            node_lock,
            issued_at,
            not_before,
            not_after,
        })
    }
}

impl LicenseBundle {
    fn check(&self) -> Result<(), ValidationError> {
        let mut seen = HashSet::new();
        for license in &self.licenses {
            license.check()?;
            if !seen.insert(license.id.as_str()) {
                return Err(ValidationError::DuplicateKey {
                    list: "license",
                    key: license.id.chars().take(64).collect(),
                });
            }
        }
        Ok(())
    }
}

impl Model for LicenseBundle {
    fn to_tree(&self) -> Out {
        let licenses = self.licenses.iter().map(License::to_tree).collect();
        Out::container(&LIC, "licenses", licenses)
    }

    fn from_tree(root: &Node) -> Result<Self, DecodeError> {
        expect_root(root, &LIC, "licenses")?;
        let mut m = Members::of(root)?;
        let licenses = m
            .many(&LIC, "license")?
            .into_iter()
            .map(License::from_tree)
            .collect::<Result<_, _>>()?;
        m.finish()?;
        Ok(Self { licenses })
    }
}

document!(LicenseBundle);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_tags() {
        assert!(is_feature_tag("ESS-ED-100G-SIA3"));
        assert!(is_feature_tag("a.b_c"));
        assert!(!is_feature_tag("-x"));
        assert!(!is_feature_tag(""));
        assert!(!is_feature_tag("a b"));
        assert!(!is_feature_tag(&"a".repeat(65)));
    }
}
