//! A device's onboarding state: `shipped` when imported, `contacted` when it calls in,
//! `redirected` or `onboarding` when it was answered, `completed` or `failed` when it says so.

use super::progress::Milestone;
use serde::{Deserialize, Serialize};

/// Where a device is in its onboarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceState {
    /// Imported, never seen.
    Shipped,
    /// Called in and was authenticated, but has not been answered (yet).
    Contacted,
    /// Received redirect information.
    Redirected,
    /// Received onboarding information.
    Onboarding,
    /// Reported `bootstrap-complete`.
    Completed,
    /// Reported an error that ends its bootstrapping with this server.
    Failed,
}

/// Something ztp learned about a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// It called get-bootstrapping-data with a valid certificate.
    Contacted,
    /// It was sent redirect information.
    Redirected,
    /// It was sent onboarding information.
    Onboarded,
    /// It reported progress that marks this milestone.
    Progress(Milestone),
}

spellings!(DeviceState, "device state", {
    Shipped => "shipped",
    Contacted => "contacted",
    Redirected => "redirected",
    Onboarding => "onboarding",
    Completed => "completed",
    Failed => "failed",
});

impl DeviceState {
    /// The state after `observation`. A device that calls in again starts a new round, whatever
    /// happened before (it may have been reset to factory defaults); progress reports only
    /// move it on when they end bootstrapping.
    pub fn after(self, observation: Observation) -> Self {
        observation.moves_to().unwrap_or(self)
    }
}

impl Observation {
    /// The state this observation moves any device to, or `None` when it leaves the state as
    /// it is (progress that does not end bootstrapping). The state it leads to never depends on
    /// the state before, so a store can apply it in one write.
    pub fn moves_to(self) -> Option<DeviceState> {
        match self {
            Self::Contacted => Some(DeviceState::Contacted),
            Self::Redirected => Some(DeviceState::Redirected),
            Self::Onboarded => Some(DeviceState::Onboarding),
            Self::Progress(Milestone::Complete) => Some(DeviceState::Completed),
            Self::Progress(Milestone::Failed) => Some(DeviceState::Failed),
            Self::Progress(Milestone::Underway) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_round_from_shipped_to_completed() {
        let state = DeviceState::Shipped
            .after(Observation::Contacted)
            .after(Observation::Redirected)
            .after(Observation::Progress(Milestone::Underway));
        assert_eq!(state, DeviceState::Redirected);
        assert_eq!(
            state.after(Observation::Progress(Milestone::Complete)),
            DeviceState::Completed
        );
    }

    #[test]
    fn terminal_errors_fail_and_warnings_do_not() {
        let onboarding = DeviceState::Onboarding;
        assert_eq!(
            onboarding.after(Observation::Progress(Milestone::Failed)),
            DeviceState::Failed
        );
        assert_eq!(
            onboarding.after(Observation::Progress(Milestone::Underway)),
            onboarding
        );
    }

    #[test]
    fn calling_in_again_starts_a_new_round() {
        for state in DeviceState::ALL {
            assert_eq!(state.after(Observation::Contacted), DeviceState::Contacted);
        }
    }

    #[test]
    fn names_round_trip() {
        for state in DeviceState::ALL {
            assert_eq!(state.as_str().parse::<DeviceState>(), Ok(state));
        }
        assert!("lost".parse::<DeviceState>().is_err());
    }
}
