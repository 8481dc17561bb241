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
//! families ([`FamilyEntry`]), or changes a built-in one by giving its name: what the entry
//! gives replaces the built-in family's value, the rest is kept (so an entry with only `models`
//! says which models a built-in family covers, and `models = []` switches it off). The
//! configured families are tried first, in their order, then the built-in ones left; the first
//! whose patterns match the model applies.

use serde::{Deserialize, Serialize};

use super::{Pattern, Shape, valid_name};

/// A device family and the quirks its devices need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// The family's name (`ios-xe`), recorded with every answer it shapes.
    pub name: String,
    /// The models of the family: exact, or a prefix followed by `*` (`C9300-*`).
    pub models: Vec<Pattern>,
    /// Conveyed information always as JSON (id-ct-sztpConveyedInfoJSON), whatever the
    /// request's encoding: for software whose parser takes no XML conveyed information.
    pub conveyed_json: bool,
    /// Always signed, with owner certificate and voucher, even where the owner does not sign.
    pub always_signed: bool,
    /// Only the fields of the RFC 8572 core (no license bundle, no reporting-level): for agents
    /// that reject fields they do not know.
    pub core_only: bool,
    /// Unsigned, without owner certificate and voucher, unless the device asks for signed data
    /// (`signed-data-preferred`): for agents whose output holds only `conveyed-information`
    /// and that trust the server they reached over TLS.
    pub unsigned: bool,
}

/// A family as the configuration gives it: every value but the name optional, taken from the
/// built-in family of the same name (or off) where absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyEntry {
    /// The family's name.
    pub name: String,
    /// Its models (see [`Family::models`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<Pattern>>,
    /// See [`Family::conveyed_json`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conveyed_json: Option<bool>,
    /// See [`Family::always_signed`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_signed: Option<bool>,
    /// See [`Family::core_only`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core_only: Option<bool>,
    /// See [`Family::unsigned`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsigned: Option<bool>,
}

impl FamilyEntry {
    /// The family this entry makes over `base` (the built-in family of its name, if any).
    fn over(&self, base: Option<&Family>) -> Family {
        let flag = |given: Option<bool>, of: fn(&Family) -> bool| {
            given.unwrap_or_else(|| base.is_some_and(of))
        };
        Family {
            name: self.name.clone(),
            models: self
                .models
                .clone()
                .unwrap_or_else(|| base.map(|b| b.models.clone()).unwrap_or_default()),
            conveyed_json: flag(self.conveyed_json, |b| b.conveyed_json),
            always_signed: flag(self.always_signed, |b| b.always_signed),
            core_only: flag(self.core_only, |b| b.core_only),
            unsigned: flag(self.unsigned, |b| b.unsigned),
        }
    }
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
    /// A family both always signed and unsigned.
    #[error("device family {0:?} cannot be both always_signed and unsigned")]
    Contradiction(String),
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
    /// information, core fields), and the opiproject/sztp agent (unsigned JSON, core fields),
    /// whose `hw-model` is the board's DMI product name: it covers no model until the
    /// configuration lists the boards it runs on.
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
                unsigned: false,
            },
            Self {
                name: "opi-sztp".into(),
                models: Vec::new(),
                conveyed_json: true,
                always_signed: false,
                core_only: true,
                unsigned: true,
            },
        ]
    }

    /// Whether a device of `model` (the input's `hw-model`) or, when it sends none, of
    /// `product_id` (its IDevID's) is of this family.
    pub fn includes(&self, model: Option<&str>, product_id: Option<&str>) -> bool {
        let model = model.or(product_id);
        self.models.iter().any(|p| p.matches(model))
    }

    /// `shape` with this family's quirks forced on, for a device that does (or does not)
    /// prefer signed data.
    pub fn shape(&self, shape: Shape, signed_data_preferred: bool) -> Shape {
        let signed = if self.unsigned {
            signed_data_preferred
        } else {
            shape.signed || self.always_signed
        };
        Shape {
            signed,
            always_json: shape.always_json || self.conveyed_json,
            extensions: shape.extensions && !self.core_only,
        }
    }

    fn check(&self) -> Result<(), FamilyError> {
        if !valid_name(&self.name) {
            return Err(FamilyError::Name(self.name.clone()));
        }
        if self.always_signed && self.unsigned {
            return Err(FamilyError::Contradiction(self.name.clone()));
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
    /// The `configured` families (each over the built-in one of its name, checked) before the
    /// built-in families whose names they do not take.
    pub fn new(configured: &[FamilyEntry]) -> Result<Self, FamilyError> {
        let built_in = Family::built_in();
        let mut families: Vec<Family> = Vec::with_capacity(configured.len() + built_in.len());
        for entry in configured {
            if families.iter().any(|f| f.name == entry.name) {
                return Err(FamilyError::DuplicateName(entry.name.clone()));
            }
            let family = entry.over(built_in.iter().find(|f| f.name == entry.name));
            family.check()?;
            families.push(family);
        }
        let taken: Vec<String> = families.iter().map(|f| f.name.clone()).collect();
        families.extend(built_in.into_iter().filter(|f| !taken.contains(&f.name)));
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
    use serde_json::json;

    use super::*;
    use crate::domain::response::Profile;

    fn entry(value: serde_json::Value) -> FamilyEntry {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn ios_xe_gets_signed_json_on_the_default_profile() {
        let families = Families::default();
        let ios_xe = families.of(Some("C9300-24T"), None).unwrap();
        assert_eq!(ios_xe.name, "ios-xe");
        let shape = ios_xe.shape(Profile::Standard.shape(false, false), false);
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
        let families =
            Families::new(&[entry(json!({"name": "opi-sztp", "models": ["S2*"]}))]).unwrap();
        let opi = families.of(Some("S2600WF"), None).unwrap();
        assert_eq!(opi.name, "opi-sztp");
        for profile in Profile::ALL {
            let shape = opi.shape(profile.shape(true, false), false);
            assert!(
                shape.always_json && !shape.extensions && !shape.signed,
                "{profile}"
            );
        }
        assert!(
            opi.shape(Profile::Lenient.shape(false, true), true).signed,
            "a device that asks for signed data gets it"
        );
        let plain = Families::new(&[entry(json!({"name": "plain", "models": ["x"]}))]).unwrap();
        let plain = plain.of(Some("x"), None).unwrap();
        let lenient = Profile::Lenient.shape(false, false);
        assert_eq!(plain.shape(lenient, false), lenient, "no quirk, no change");
    }

    #[test]
    fn configured_families_come_first_and_change_built_ins_by_name() {
        let configured = [
            entry(json!({"name": "ios-xe", "models": ["C9300-48*"], "always_signed": false})),
            entry(json!({"name": "lab-box", "models": ["C9300*"], "core_only": true})),
            entry(json!({"name": "opi-sztp", "models": ["S2600*"]})),
        ];
        let families = Families::new(&configured).unwrap();
        let names: Vec<&str> = families.all().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["ios-xe", "lab-box", "opi-sztp"]);
        let ios_xe = families.of(Some("C9300-48P"), None).unwrap();
        assert!(!ios_xe.always_signed, "the value given");
        assert!(
            ios_xe.conveyed_json && ios_xe.core_only,
            "the built-in family's"
        );
        assert_eq!(
            families.of(Some("C9300-24T"), None).unwrap().name,
            "lab-box"
        );
        let lab = families.of(Some("C9300-24T"), None).unwrap();
        assert!(
            !lab.conveyed_json && !lab.unsigned,
            "a new family: off unless given"
        );
        let opi = families.of(Some("S2600WF"), None).unwrap();
        assert!(
            opi.unsigned && opi.conveyed_json,
            "models given, quirks kept"
        );

        let off = Families::new(&[entry(json!({"name": "ios-xe", "models": []}))]).unwrap();
        assert_eq!(off.of(Some("C9300-24T"), None), None, "switched off");
    }

    #[test]
    fn bad_families_are_refused_with_the_reason() {
        let check = |value| Families::new(&[entry(value)]);
        assert_eq!(
            check(json!({"name": "a/b"})),
            Err(FamilyError::Name("a/b".into()))
        );
        assert_eq!(
            check(json!({"name": "f", "models": ["C*93"]})),
            Err(FamilyError::Pattern {
                family: "f".into(),
                pattern: "C*93".into()
            })
        );
        assert!(matches!(
            check(json!({"name": "f", "models": [""]})),
            Err(FamilyError::Pattern { .. })
        ));
        assert_eq!(
            check(json!({"name": "ios-xe", "unsigned": true})),
            Err(FamilyError::Contradiction("ios-xe".into())),
            "always signed by the built-in family, unsigned by the entry"
        );
        let twice = [entry(json!({"name": "f"})), entry(json!({"name": "f"}))];
        assert_eq!(
            Families::new(&twice),
            Err(FamilyError::DuplicateName("f".into()))
        );
        assert!(
            serde_json::from_value::<FamilyEntry>(json!({"name": "f", "json": true})).is_err(),
            "a misspelt quirk is an error, not ignored"
        );
    }
}
