//! What a device gets: its owner's default answer or the first matching rule's, shaped by a
//! response profile, because real devices differ (Cisco IOS-XE insists on signed JSON with
//! voucher and owner certificate; the OPI agent rejects any field it does not know). What a
//! device's software needs whoever owns it is its [`family`]'s, forced on top of the profile.

pub mod family;

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// How a response is shaped.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Signed unless the owner switched signing off (then unsigned only where RFC 8572 allows
    /// it); conveyed information in the response's encoding; owner certificate and voucher
    /// with signed data.
    #[default]
    Standard,
    /// Always signed, conveyed information always JSON (id-ct-sztpConveyedInfoJSON), owner
    /// certificate and voucher always present: what Cisco IOS-XE requires.
    Strict,
    /// Unsigned JSON conveyed information and nothing else, for agents that reject unknown
    /// fields (the OPI agent); a device that asks for signed data still gets it signed.
    Lenient,
}

spellings!(Profile, "profile", {
    Standard => "standard",
    Strict => "strict",
    Lenient => "lenient",
});

/// A text pattern: the exact text, or a prefix followed by `*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Pattern(String);

impl Pattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let Some(value) = value else {
            return false;
        };
        match self.0.strip_suffix('*') {
            Some(prefix) => value.starts_with(prefix),
            None => value == self.0,
        }
    }
}

impl From<&str> for Pattern {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// When a rule applies: every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Conditions {
    /// The input's `hw-model`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hw_model: Option<Pattern>,
    /// The input's `os-name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_name: Option<Pattern>,
    /// The input's `os-version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<Pattern>,
    /// The networks the device's source address must be in (any of them), e.g. `192.0.2.0/24`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub source: Vec<IpNet>,
}

impl Conditions {
    /// Whether `request` meets every condition.
    pub fn hold_for(&self, request: &Request<'_>) -> bool {
        let text = |pattern: &Option<Pattern>, value: Option<&str>| {
            pattern.as_ref().is_none_or(|p| p.matches(value))
        };
        text(&self.hw_model, request.hw_model)
            && text(&self.os_name, request.os_name)
            && text(&self.os_version, request.os_version)
            && (self.source.is_empty() || self.source.iter().any(|n| n.contains(&request.source)))
    }
}

/// One of an owner's ordered rules, as the admin API carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A name, unique per owner.
    pub name: String,
    /// When it applies.
    #[serde(default)]
    pub when: Conditions,
    /// Redirect to these targets, by name, in this order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Vec<String>>,
    /// Send this onboarding information instead, as RFC 7951 JSON
    /// (`{"ietf-sztp-conveyed-info:onboarding-information": {…}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onboarding: Option<serde_json::Value>,
    /// Shape the response with this profile instead of the owner's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

/// Why a rule cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Bad name.
    #[error("rule name {0:?} must be 1 to 64 letters, digits, '.', '_' or '-'")]
    Name(String),
    /// Two rules share a name.
    #[error("two rules are named {0:?}")]
    DuplicateName(String),
    /// Both redirect and onboarding.
    #[error("rule {0:?} gives both redirect targets and onboarding information")]
    Both(String),
    /// An empty redirect list.
    #[error("rule {0:?} redirects to no target")]
    NoTargets(String),
    /// A target that does not exist.
    #[error("rule {rule:?} names redirect target {target:?}, which this customer does not have")]
    UnknownTarget {
        /// The rule.
        rule: String,
        /// The target.
        target: String,
    },
    /// Onboarding information that is not valid.
    #[error("rule {rule:?}: onboarding information: {reason}")]
    Onboarding {
        /// The rule.
        rule: String,
        /// What is wrong.
        reason: String,
    },
}

/// Checks a name used in URLs and rules: 1 to 64 of `[A-Za-z0-9._-]`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !name.starts_with('.')
}

/// A redirect target: one bootstrap server an owner sends devices to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The name, unique per owner.
    pub name: String,
    /// Host name or IP address.
    pub address: String,
    /// TCP port.
    pub port: u16,
    /// The server's trust anchor as RFC 8572 carries it (a certificates-only CMS, DER).
    pub trust_anchor: Option<Vec<u8>>,
}

/// What a rule sends. `O` is the onboarding information, as the encoding layer parsed it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer<O> {
    Redirect(Vec<usize>),
    Onboarding(O),
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CompiledRule<O> {
    name: String,
    when: Conditions,
    answer: Answer<O>,
    profile: Option<Profile>,
}

/// An owner's whole response policy, checked. `O` is onboarding information as the encoding
/// layer parsed (and validated) it: the policy only chooses it, never looks inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy<O> {
    profile: Profile,
    sign: bool,
    targets: Vec<Target>,
    onboarding: Option<O>,
    rules: Vec<CompiledRule<O>>,
}

/// The facts of a request that rules may look at.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The input's `hw-model`.
    pub hw_model: Option<&'a str>,
    /// The input's `os-name`.
    pub os_name: Option<&'a str>,
    /// The input's `os-version`.
    pub os_version: Option<&'a str>,
    /// The device's source address.
    pub source: IpAddr,
    /// The input's `signed-data-preferred`.
    pub signed_data_preferred: bool,
}

/// Why there is nothing to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoResponse {
    /// The owner has no redirect target and no onboarding information.
    #[error("no redirect target or onboarding information is configured for this device's owner")]
    NothingConfigured,
}

/// The information a device is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conveyed<'p, O> {
    /// Redirect to these bootstrap servers, in this order (never empty).
    Redirect(Vec<&'p Target>),
    /// This onboarding information.
    Onboarding(&'p O),
}

/// What a request gets: the information to convey and how to wrap it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice<'p, O> {
    /// The rule that chose it, or `None` for the owner's default.
    pub rule: Option<String>,
    /// The information.
    pub conveyed: Conveyed<'p, O>,
    /// The profile in force.
    pub profile: Profile,
    /// How the profile shapes this response.
    pub shape: Shape,
}

/// How a profile shapes one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Sign the conveyed information (and send owner certificate and voucher).
    pub signed: bool,
    /// Encode the conveyed information as JSON whatever the response's encoding.
    pub always_json: bool,
    /// Whether fields beyond the RFC 8572 core (license bundle, reporting-level) may be sent.
    pub extensions: bool,
}

impl Profile {
    /// How this profile shapes a response, given whether the owner signs and whether the device
    /// prefers signed data. A device that prefers signed data never gets unsigned data.
    pub fn shape(self, owner_signs: bool, signed_data_preferred: bool) -> Shape {
        let (signed, always_json, extensions) = match self {
            Self::Standard => (owner_signs, false, true),
            Self::Strict => (true, true, true),
            Self::Lenient => (false, true, false),
        };
        Shape {
            signed: signed || signed_data_preferred,
            always_json,
            extensions,
        }
    }
}

impl<O> Policy<O> {
    /// Checks and assembles an owner's policy. `onboarding` is the owner's default onboarding
    /// information (sent instead of redirecting when set); `parse` reads a rule's onboarding
    /// information (RFC 7951 JSON), saying what is wrong with it.
    pub fn new(
        profile: Profile,
        sign: bool,
        targets: Vec<Target>,
        onboarding: Option<O>,
        rules: &[Rule],
        parse: impl Fn(&serde_json::Value) -> Result<O, String>,
    ) -> Result<Self, RuleError> {
        let rules = compile(rules, &targets, parse)?;
        Ok(Self {
            profile,
            sign,
            targets,
            onboarding,
            rules,
        })
    }

    /// Chooses what `request` gets.
    pub fn choose(&self, request: &Request<'_>) -> Result<Choice<'_, O>, NoResponse> {
        let rule = self.rules.iter().find(|r| r.when.hold_for(request));
        let answer = rule.map_or(&Answer::Default, |r| &r.answer);
        let conveyed = match answer {
            Answer::Redirect(indices) => {
                Self::redirect(indices.iter().map(|&i| &self.targets[i]).collect())
            }
            Answer::Onboarding(info) => Some(Conveyed::Onboarding(info)),
            Answer::Default => match &self.onboarding {
                Some(info) => Some(Conveyed::Onboarding(info)),
                None => Self::redirect(self.targets.iter().collect()),
            },
        }
        .ok_or(NoResponse::NothingConfigured)?;
        let profile = rule.and_then(|r| r.profile).unwrap_or(self.profile);
        Ok(Choice {
            rule: rule.map(|r| r.name.clone()),
            conveyed,
            profile,
            shape: profile.shape(self.sign, request.signed_data_preferred),
        })
    }

    fn redirect(targets: Vec<&Target>) -> Option<Conveyed<'_, O>> {
        (!targets.is_empty()).then_some(Conveyed::Redirect(targets))
    }
}

fn compile<O>(
    rules: &[Rule],
    targets: &[Target],
    parse: impl Fn(&serde_json::Value) -> Result<O, String>,
) -> Result<Vec<CompiledRule<O>>, RuleError> {
    let mut compiled: Vec<CompiledRule<O>> = Vec::with_capacity(rules.len());
    for rule in rules {
        let name = rule.name.clone();
        if !valid_name(&name) {
            return Err(RuleError::Name(name));
        }
        if compiled.iter().any(|r| r.name == name) {
            return Err(RuleError::DuplicateName(name));
        }
        let answer = match (&rule.redirect, &rule.onboarding) {
            (Some(_), Some(_)) => return Err(RuleError::Both(name)),
            (Some(names), None) if names.is_empty() => return Err(RuleError::NoTargets(name)),
            (Some(names), None) => Answer::Redirect(
                names
                    .iter()
                    .map(|target| {
                        targets
                            .iter()
                            .position(|t| &t.name == target)
                            .ok_or_else(|| RuleError::UnknownTarget {
                                rule: name.clone(),
                                target: target.clone(),
                            })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            (None, Some(json)) => {
                Answer::Onboarding(parse(json).map_err(|reason| RuleError::Onboarding {
                    rule: name.clone(),
                    reason,
                })?)
            }
            (None, None) => Answer::Default,
        };
        compiled.push(CompiledRule {
            name,
            when: rule.when.clone(),
            answer,
            profile: rule.profile,
        });
    }
    Ok(compiled)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn target(name: &str) -> Target {
        Target {
            name: name.into(),
            address: format!("{name}.example"),
            port: 443,
            trust_anchor: None,
        }
    }

    fn request() -> Request<'static> {
        Request {
            hw_model: Some("uCPE-100"),
            os_name: Some("VRP"),
            os_version: Some("8.1.2"),
            source: "192.0.2.10".parse().unwrap(),
            signed_data_preferred: false,
        }
    }

    fn rule(value: serde_json::Value) -> Rule {
        serde_json::from_value(value).unwrap()
    }

    /// Onboarding information as a test's encoding layer reads it: any JSON but one with a
    /// `bad` member.
    fn parse(value: &serde_json::Value) -> Result<serde_json::Value, String> {
        match value.get("bad") {
            Some(_) => Err("bad onboarding information".into()),
            None => Ok(value.clone()),
        }
    }

    fn policy(
        targets: Vec<Target>,
        onboarding: Option<serde_json::Value>,
        rules: &[Rule],
    ) -> Result<Policy<serde_json::Value>, RuleError> {
        Policy::new(Profile::Standard, true, targets, onboarding, rules, parse)
    }

    fn addresses(choice: &Choice<'_, serde_json::Value>) -> Vec<String> {
        match &choice.conveyed {
            Conveyed::Redirect(targets) => targets.iter().map(|t| t.address.clone()).collect(),
            Conveyed::Onboarding(_) => vec!["onboarding".into()],
        }
    }

    #[test]
    fn without_rules_every_target_in_order() {
        let policy = policy(vec![target("a"), target("b")], None, &[]).unwrap();
        let choice = policy.choose(&request()).unwrap();
        assert_eq!(addresses(&choice), ["a.example", "b.example"]);
        assert_eq!(choice.rule, None);
        assert!(choice.shape.signed);
        assert!(!choice.shape.always_json);
    }

    #[test]
    fn the_first_matching_rule_wins() {
        // `os-name` is not a field (snake_case is): a typo must not silently match everything.
        assert!(
            serde_json::from_value::<Rule>(
                json!({"name": "x", "when": {"os-name": "VRP"}, "redirect": ["a"]})
            )
            .is_err()
        );
        let rules = [
            rule(json!({"name": "lab", "when": {"source": ["10.0.0.0/8"]}, "redirect": ["b"]})),
            rule(
                json!({"name": "vrp8", "when": {"os_name": "VRP", "os_version": "8.*"},
                        "redirect": ["b", "a"], "profile": "strict"}),
            ),
        ];
        let policy = policy(vec![target("a"), target("b")], None, &rules).unwrap();
        let choice = policy.choose(&request()).unwrap();
        assert_eq!(choice.rule.as_deref(), Some("vrp8"));
        assert_eq!(addresses(&choice), ["b.example", "a.example"]);
        assert_eq!(choice.profile, Profile::Strict);
        assert!(choice.shape.always_json);

        let lab = Request {
            source: "10.1.2.3".parse().unwrap(),
            ..request()
        };
        assert_eq!(addresses(&policy.choose(&lab).unwrap()), ["b.example"]);
        let other = Request {
            os_version: Some("7.0"),
            ..request()
        };
        let choice = policy.choose(&other).unwrap();
        assert_eq!(choice.rule, None);
        assert_eq!(addresses(&choice), ["a.example", "b.example"]);
    }

    #[test]
    fn a_missing_leaf_does_not_match_a_pattern() {
        let rules = [rule(
            json!({"name": "m", "when": {"hw_model": "*"}, "redirect": ["b"]}),
        )];
        let policy = policy(vec![target("a"), target("b")], None, &rules).unwrap();
        let anonymous = Request {
            hw_model: None,
            ..request()
        };
        assert_eq!(policy.choose(&anonymous).unwrap().rule, None);
    }

    #[test]
    fn onboarding_by_rule_or_by_default() {
        let onboarding = json!({"ietf-sztp-conveyed-info:onboarding-information": {
            "configuration-handling": "merge", "configuration": "aGVsbG8="}});
        let rules = [rule(
            json!({"name": "white-box", "when": {"os_name": "SONiC"},
                                 "onboarding": onboarding}),
        )];
        let by_rule = policy(vec![target("a")], None, &rules).unwrap();
        let sonic = Request {
            os_name: Some("SONiC"),
            ..request()
        };
        assert_eq!(addresses(&by_rule.choose(&sonic).unwrap()), ["onboarding"]);

        let by_default = policy(vec![], Some(onboarding), &[]).unwrap();
        assert_eq!(
            addresses(&by_default.choose(&request()).unwrap()),
            ["onboarding"]
        );
    }

    #[test]
    fn nothing_configured_is_no_response() {
        let policy = policy(vec![], None, &[]).unwrap();
        assert_eq!(
            policy.choose(&request()),
            Err(NoResponse::NothingConfigured)
        );
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        let targets = vec![target("a")];
        let check = |value| policy(targets.clone(), None, &[rule(value)]);
        assert_eq!(
            check(json!({"name": "r", "redirect": ["nowhere"]})),
            Err(RuleError::UnknownTarget {
                rule: "r".into(),
                target: "nowhere".into()
            })
        );
        assert_eq!(
            check(json!({"name": "r", "redirect": []})),
            Err(RuleError::NoTargets("r".into()))
        );
        assert_eq!(
            check(json!({"name": "../r"})),
            Err(RuleError::Name("../r".into()))
        );
        assert!(matches!(
            check(json!({"name": "r", "onboarding": {"bad": true}})),
            Err(RuleError::Onboarding { .. })
        ));
        let twice = [rule(json!({"name": "r"})), rule(json!({"name": "r"}))];
        assert_eq!(
            policy(targets, None, &twice),
            Err(RuleError::DuplicateName("r".into()))
        );
    }

    #[test]
    fn profiles_shape_the_response() {
        assert!(Profile::Standard.shape(true, false).signed);
        assert!(!Profile::Standard.shape(false, false).signed);
        assert!(
            Profile::Standard.shape(false, true).signed,
            "signed-data-preferred wins"
        );
        assert!(!Profile::Standard.shape(true, false).always_json);
        let strict = Profile::Strict.shape(false, false);
        assert!(strict.signed && strict.always_json);
        let lenient = Profile::Lenient.shape(true, false);
        assert!(!lenient.signed && !lenient.extensions && lenient.always_json);
        assert!(
            Profile::Lenient.shape(true, true).signed,
            "never unsigned when asked for signed"
        );
    }

    #[test]
    fn names_are_safe_tokens() {
        for good in ["a", "nms-1", "lab_2.east"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "a b", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
