//! Node-locked licensing rules: which of an owner's entitlement pools apply to a device, the
//! validity a license carries, and why a pool gives a device nothing.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// How long a license lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Term {
    /// Never expires.
    Perpetual,
    /// Valid until the pool's end date (renewing the pool renews its licenses).
    Subscription,
    /// Valid for the pool's evaluation period, counted from the license's first conveyance.
    Evaluation,
}

spellings!(Term, "license type", {
    Perpetual => "perpetual",
    Subscription => "subscription",
    Evaluation => "evaluation",
});

/// Which devices draw from a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// The owner's devices of these models (product ids); every model when empty.
    Models(Vec<String>),
    /// Exactly these devices.
    Serials(Vec<String>),
}

impl Scope {
    /// Whether the device `serial` of `model` draws from the pool.
    pub fn covers(&self, serial: &str, model: &str) -> bool {
        match self {
            Self::Models(models) => models.is_empty() || models.iter().any(|m| m == model),
            Self::Serials(serials) => serials.iter().any(|s| s == serial),
        }
    }
}

/// An entitlement pool's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    /// The kind of license it grants.
    pub term: Term,
    /// Subscription: the first day of validity.
    pub starts_at: Option<OffsetDateTime>,
    /// Subscription: the end of validity.
    pub ends_at: Option<OffsetDateTime>,
    /// Evaluation: the period, from first conveyance.
    pub evaluation_days: Option<u32>,
}

/// Why a pool that applies to a device gives it no license now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Withheld {
    /// Every seat is allocated.
    #[error("no seat left")]
    NoSeat,
    /// The subscription ended.
    #[error("the subscription ended")]
    SubscriptionEnded,
    /// The device's evaluation period is over.
    #[error("the evaluation period is used up")]
    EvaluationUsedUp,
    /// The device's license from this pool was revoked (or moved to a replacement).
    #[error("the device's license was revoked")]
    Revoked,
}

/// The validity of a license, as conveyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// Valid from.
    pub not_before: OffsetDateTime,
    /// Valid until (`None`: perpetual).
    pub not_after: Option<OffsetDateTime>,
}

/// Checks terms before they are stored: a subscription needs an end after its start, an
/// evaluation a period, and neither field belongs to another type.
pub fn check_terms(terms: &Terms) -> Result<(), String> {
    match terms.term {
        Term::Perpetual => {
            if terms.ends_at.is_some() || terms.evaluation_days.is_some() {
                return Err(
                    "a perpetual license has neither an end nor an evaluation period".into(),
                );
            }
        }
        Term::Subscription => {
            let Some(ends_at) = terms.ends_at else {
                return Err("a subscription needs an end date".into());
            };
            if terms.starts_at.is_some_and(|start| start >= ends_at) {
                return Err("a subscription must end after it starts".into());
            }
            if terms.evaluation_days.is_some() {
                return Err("a subscription has no evaluation period".into());
            }
        }
        Term::Evaluation => {
            if terms.evaluation_days.is_none_or(|d| d == 0) {
                return Err("an evaluation needs a period of at least one day".into());
            }
            if terms.ends_at.is_some() || terms.starts_at.is_some() {
                return Err("an evaluation is counted from first use, without dates".into());
            }
        }
    }
    Ok(())
}

impl Terms {
    /// The validity of a license first issued at `issued_at`.
    pub fn validity(&self, issued_at: OffsetDateTime) -> Validity {
        match self.term {
            Term::Perpetual => Validity {
                not_before: issued_at,
                not_after: None,
            },
            Term::Subscription => Validity {
                not_before: self.starts_at.unwrap_or(issued_at),
                not_after: Some(self.ends_at.unwrap_or(issued_at)),
            },
            Term::Evaluation => Validity {
                not_before: issued_at,
                not_after: Some(
                    issued_at + Duration::days(i64::from(self.evaluation_days.unwrap_or(0))),
                ),
            },
        }
    }

    /// Whether a new license may be issued at `now`.
    pub fn may_issue(&self, now: OffsetDateTime) -> Result<(), Withheld> {
        match (self.term, self.ends_at) {
            (Term::Subscription, Some(end)) if now >= end => Err(Withheld::SubscriptionEnded),
            _ => Ok(()),
        }
    }

    /// Whether a license issued at `issued_at` is still conveyed at `now`.
    pub fn still_valid(
        &self,
        issued_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), Withheld> {
        match self.validity(issued_at).not_after {
            Some(end) if now >= end => Err(match self.term {
                Term::Evaluation => Withheld::EvaluationUsedUp,
                _ => Withheld::SubscriptionEnded,
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn terms(term: Term) -> Terms {
        Terms {
            term,
            starts_at: None,
            ends_at: None,
            evaluation_days: None,
        }
    }

    #[test]
    fn scopes_cover_models_or_serials() {
        assert!(Scope::Models(vec![]).covers("SN-1", "uCPE-100"));
        assert!(Scope::Models(vec!["uCPE-100".into()]).covers("SN-1", "uCPE-100"));
        assert!(!Scope::Models(vec!["uCPE-200".into()]).covers("SN-1", "uCPE-100"));
        assert!(Scope::Serials(vec!["SN-1".into()]).covers("SN-1", "any"));
        assert!(!Scope::Serials(vec![]).covers("SN-1", "any"));
    }

    #[test]
    fn validity_follows_the_term() {
        let issued = datetime!(2026-11-23 10:00 UTC);
        assert_eq!(terms(Term::Perpetual).validity(issued).not_after, None);

        let subscription = Terms {
            starts_at: Some(datetime!(2026-01-01 0:00 UTC)),
            ends_at: Some(datetime!(2027-01-01 0:00 UTC)),
            ..terms(Term::Subscription)
        };
        let v = subscription.validity(issued);
        assert_eq!(v.not_before, datetime!(2026-01-01 0:00 UTC));
        assert_eq!(v.not_after, Some(datetime!(2027-01-01 0:00 UTC)));
        assert_eq!(
            subscription.may_issue(datetime!(2026-12-31 23:00 UTC)),
            Ok(())
        );
        assert_eq!(
            subscription.may_issue(datetime!(2027-01-01 0:00 UTC)),
            Err(Withheld::SubscriptionEnded)
        );

        let evaluation = Terms {
            evaluation_days: Some(30),
            ..terms(Term::Evaluation)
        };
        assert_eq!(
            evaluation.validity(issued).not_after,
            Some(datetime!(2026-12-23 10:00 UTC))
        );
        assert_eq!(
            evaluation.still_valid(issued, datetime!(2026-12-01 0:00 UTC)),
            Ok(())
        );
        assert_eq!(
            evaluation.still_valid(issued, datetime!(2026-12-24 0:00 UTC)),
            Err(Withheld::EvaluationUsedUp)
        );
    }

    #[test]
    fn inconsistent_terms_are_refused() {
        assert!(check_terms(&terms(Term::Perpetual)).is_ok());
        assert!(check_terms(&terms(Term::Subscription)).is_err(), "no end");
        assert!(check_terms(&terms(Term::Evaluation)).is_err(), "no period");
        assert!(
            check_terms(&Terms {
                starts_at: Some(datetime!(2027-01-01 0:00 UTC)),
                ends_at: Some(datetime!(2026-01-01 0:00 UTC)),
                ..terms(Term::Subscription)
            })
            .is_err(),
            "ends before it starts"
        );
        assert!(
            check_terms(&Terms {
                evaluation_days: Some(30),
                ..terms(Term::Perpetual)
            })
            .is_err()
        );
    }
}
