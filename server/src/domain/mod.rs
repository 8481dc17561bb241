//! What a device is owed and how its onboarding advances: plain types and functions, no I/O.
//!
//! - [`state`]: the device's onboarding state and what moves it.
//! - [`access`]: roles and the principal an admin request acts as.
//! - [`clock`]: what time it is, from the system or (in tests) by hand.
//! - [`event`]: the kinds of events the log records.
//! - [`delivery`]: when a device is answered relative to its NMS registration, and how that
//!   registration is retried.
//! - [`licensing`]: which entitlement pools apply to a device and what its licenses carry.
//! - [`name`]: when two names of customers, pools, connections or webhooks are one.
//! - [`notice`]: the device events a customer's webhooks can be told about.
//! - [`progress`]: a device's progress report, and the milestone it marks.
//! - [`response`]: response profiles, per-owner rules, and the choice of what a request gets.
//!
//! May import: nothing else of ztp, and no crate of I/O or of the wire (no store, HTTP, YANG).

/// Gives a unit enum its spellings (configuration, API, database): `ALL`, `as_str`, `FromStr`
/// (refusing any other text with the list of valid ones) and `Display`.
macro_rules! spellings {
    ($type:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $type {
            /// Every value, in declaration order.
            pub const ALL: [Self; [$($text),+].len()] = [$(Self::$variant),+];

            /// The spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl std::str::FromStr for $type {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} {s:?}: use {}", $what, names.join(", "))
                })
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod access;
pub mod clock;
pub mod delivery;
pub mod event;
pub mod licensing;
pub mod name;
pub mod notice;
pub mod progress;
pub mod response;
pub mod state;

#[cfg(test)]
mod tests {
    use super::delivery::DeliveryPolicy;
    use super::response::Profile;
    use super::state::DeviceState;

    fn agree<T>(all: &[T])
    where
        T: Copy + std::fmt::Debug + PartialEq + serde::Serialize + std::str::FromStr + ToString,
        T::Err: std::fmt::Debug,
    {
        for value in all {
            let text = value.to_string();
            assert_eq!(
                serde_json::to_value(value).unwrap(),
                text.as_str(),
                "serde spells it alike"
            );
            assert_eq!(text.parse::<T>().unwrap(), *value);
        }
    }

    #[test]
    fn every_spelling_round_trips_and_matches_serde() {
        agree(&DeviceState::ALL);
        agree(&Profile::ALL);
        agree(&DeliveryPolicy::ALL);
        agree(&super::delivery::RegistrationState::ALL);
        agree(&super::licensing::Term::ALL);
        agree(&super::access::Role::ALL);
        agree(&super::notice::Notice::ALL);
        let error = "sometimes".parse::<DeliveryPolicy>().unwrap_err();
        assert_eq!(
            error,
            "unknown delivery policy \"sometimes\": use nms-first, parallel, off"
        );
    }
}
