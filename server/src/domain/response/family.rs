//! Device families: what every device of a kind needs from an answer, whoever owns it.
//!
//! A customer's profile says how the customer wants answers shaped; a family says what the
//! device's software can take at all (Cisco IOS-XE parses only JSON conveyed information; the
//! OPI agent rejects fields it does not know). A family is chosen by the device's model (the
//! input's `hw-model`, else the product id its IDevID names) and its quirks are forced on top of
//! the profile's shape, so that a customer on the default profile is not caught by a device
//! quirk, and no profile can undo one: a quirk is a fact about the device.
//!
//! ztp knows some families ([`Family::built_in`]); the manufacturer's configuration adds
//! families or replaces a built-in one by giving its name (an entry without models switches a
//! built-in family off). The configured families are tried first, in their order, then the
//! built-in ones left; the first whose patterns match the model applies.

use serde::{Deserialize, Serialize};

use super::{Pattern, Shape, valid_name};

/// A device family and the quirks its devices need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    /// The family's name (`ios-xe`), recorded with every answer it shapes.
    pub name: String,
    /// The models of the family: exact, or a prefix followed by `*` (`C9300-*`).
    #[serde(default)]
    pub models: Vec<Pattern>,
    /// Conveyed information always as JSON (id-ct-sztpConveyedInfoJSON), whatever the
    /// request's encoding: for software whose parser takes no XML conveyed information.
    #[serde(default)]
    pub conveyed_json: bool,
    /// Always signed, with owner certificate and voucher, even where the owner does not sign.
    #[serde(default)]
    pub always_signed: bool,
    /// Only the fields of the RFC 8572 core (no license bundle, no reporting-level): for agents
    /// that reject fields they do not know.
    #[serde(default)]
    pub core_only: bool,
}

/// Why the families configured cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FamilyError {
    /// A name that is no safe token.
    #[error("device family name {0:?} must be 1 to 64 letters, digits, '.', '_' or '-'")]
    Name(String),
    /// Two configured families share a name.
    #[error("two device families are named {0:?}")]
    DuplicateName(String),
    /// A model pattern that is empty or has `*` anywhere but at its end.
    #[error("device family {family:?}: model pattern {pattern:?} must be text, or text then '*'")]
    Pattern {
        /// The family.
        family: String,
        /// The pattern.
        pattern: String,
    },
}

impl Family {
    /// The families ztp knows: Cisco IOS-XE 17.x switches and routers (signed JSON conveyed
    /// information, core fields), and the opiproject/sztp agent (core fields only, JSON).
    pub fn built_in() -> Vec<Self> {
        let models = |patterns: &[&str]| patterns.iter().map(|&p| Pattern::from(p)).collect();
        vec![
            Self {
                name: "ios-xe".into(),
                models: models(&[
                    "C9200*", "C9300*", "C9400*", "C9500*", "C9600*", "C8200*", "C8300*", "C8500*",
                    "ISR4*", "ASR1*", "C1100*", "IE-3*",
                ]),
                conveyed_json: true,
                always_signed: true,
                // ztp's license bundle is of no use to IOS-XE, whose parser knows no augment.
                core_only: true,
            },
            Self {
                name: "opi-sztp".into(),
                models: models(&["opi-*", "OPI-*"]),
                conveyed_json: true,
                always_signed: false,
                core_only: true,
            },
        ]
    }

    /// Whether a device of `model` (the input's `hw-model`) or, when it sends none, of
    /// `product_id` (its IDevID's) is of this family.
    pub fn includes(&self, model: Option<&str>, product_id: Option<&str>) -> bool {
        let model = model.or(product_id);
        self.models.iter().any(|p| p.matches(model))
    }

    /// `shape` with this family's quirks forced on.
    pub fn shape(&self, shape: Shape) -> Shape {
        Shape {
            signed: shape.signed || self.always_signed,
            always_json: shape.always_json || self.conveyed_json,
            extensions: shape.extensions && !self.core_only,
        }
    }

    fn check(&self) -> Result<(), FamilyError> {
        if !valid_name(&self.name) {
            return Err(FamilyError::Name(self.name.clone()));
        }
        for pattern in &self.models {
            let text = pattern.as_str();
            let body = text.strip_suffix('*').unwrap_or(text);
            if text.is_empty() || body.contains('*') {
                return Err(FamilyError::Pattern {
                    family: self.name.clone(),
                    pattern: text.to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// The families in force: the configured ones first, then the built-in ones they leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Families(Vec<Family>);

impl Default for Families {
    /// The built-in families alone.
    fn default() -> Self {
        Self(Family::built_in())
    }
}

impl Families {
    /// `configured` (checked) before the built-in families whose names they do not take.
    pub fn new(configured: &[Family]) -> Result<Self, FamilyError> {
        let mut families: Vec<Family> = Vec::with_capacity(configured.len() + 2);
        for family in configured {
            family.check()?;
            if families.iter().any(|f| f.name == family.name) {
                return Err(FamilyError::DuplicateName(family.name.clone()));
            }
            families.push(family.clone());
        }
        let taken: Vec<String> = families.iter().map(|f| f.name.clone()).collect();
        families.extend(
            Family::built_in()
                .into_iter()
                .filter(|f| !taken.contains(&f.name)),
        );
        Ok(Self(families))
    }

    /// The family of a device of `model` (else `product_id`), if any.
    pub fn of(&self, model: Option<&str>, product_id: Option<&str>) -> Option<&Family> {
        self.0.iter().find(|f| f.includes(model, product_id))
    }

    /// Every family in force, in the order they are tried.
    pub fn all(&self) -> &[Family] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::response::Profile;

    fn family(value: serde_json::Value) -> Family {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn ios_xe_gets_signed_json_on_the_default_profile() {
        let families = Families::default();
        let ios_xe = families.of(Some("C9300-24T"), None).unwrap();
        assert_eq!(ios_xe.name, "ios-xe");
        let shape = ios_xe.shape(Profile::Standard.shape(false, false));
        assert!(shape.signed && shape.always_json && !shape.extensions);
        assert_eq!(families.of(Some("uCPE-100"), None), None);
    }

    #[test]
    fn the_idevid_product_id_counts_only_without_hw_model() {
        let families = Families::default();
        assert_eq!(
            families
                .of(None, Some("C9200L-24P"))
                .map(|f| f.name.as_str()),
            Some("ios-xe")
        );
        assert_eq!(
            families.of(Some("uCPE-100"), Some("C9200L-24P")),
            None,
            "the hw-model the device sent wins"
        );
        assert_eq!(families.of(None, None), None);
    }

    #[test]
    fn no_profile_undoes_a_quirk() {
        let opi = Families::default();
        let opi = opi.of(Some("opi-dpu"), None).unwrap();
        for profile in Profile::ALL {
            let shape = opi.shape(profile.shape(true, false));
            assert!(shape.always_json && !shape.extensions, "{profile}");
        }
        let plain = family(serde_json::json!({"name": "plain", "models": ["x"]}));
        let lenient = Profile::Lenient.shape(false, false);
        assert_eq!(plain.shape(lenient), lenient, "no quirk, no change");
    }

    #[test]
    fn configured_families_come_first_and_replace_built_ins_by_name() {
        let configured = [
            family(
                serde_json::json!({"name": "ios-xe", "models": ["C9300-48*"],
                                      "conveyed_json": true}),
            ),
            family(serde_json::json!({"name": "lab-box", "models": ["C9300*"],
                                      "core_only": true})),
            family(serde_json::json!({"name": "opi-sztp"})),
        ];
        let families = Families::new(&configured).unwrap();
        let names: Vec<&str> = families.all().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["ios-xe", "lab-box", "opi-sztp"]);
        let ios_xe = families.of(Some("C9300-48P"), None).unwrap();
        assert!(
            !ios_xe.always_signed,
            "the configured entry replaced the built-in one"
        );
        assert_eq!(
            families.of(Some("C9300-24T"), None).unwrap().name,
            "lab-box"
        );
        assert_eq!(
            families.of(Some("opi-dpu"), None),
            None,
            "an entry without models switches a built-in family off"
        );
    }

    #[test]
    fn bad_families_are_refused_with_the_reason() {
        let check = |value| Families::new(&[family(value)]);
        assert_eq!(
            check(serde_json::json!({"name": "a/b"})),
            Err(FamilyError::Name("a/b".into()))
        );
        assert_eq!(
            check(serde_json::json!({"name": "f", "models": ["C*93"]})),
            Err(FamilyError::Pattern {
                family: "f".into(),
                pattern: "C*93".into()
            })
        );
        assert!(matches!(
            check(serde_json::json!({"name": "f", "models": [""]})),
            Err(FamilyError::Pattern { .. })
        ));
        let twice = [
            family(serde_json::json!({"name": "f"})),
            family(serde_json::json!({"name": "f"})),
        ];
        assert_eq!(
            Families::new(&twice),
            Err(FamilyError::DuplicateName("f".into()))
        );
        assert!(
            serde_json::from_value::<Family>(serde_json::json!({"name": "f", "json": true}))
                .is_err(),
            "a misspelt quirk is an error, not ignored"
        );
    }
}
