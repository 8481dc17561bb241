//! What a customer's webhooks can be told about a device.

use super::event::EventKind;
use super::progress::Milestone;
use serde::{Deserialize, Serialize};

/// A device event a customer can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Notice {
    /// The device's registration reached the customer's NMS.
    RegisteredInNms,
    /// The device reported `bootstrap-complete`.
    BootstrapComplete,
    /// The device reported an error that ends its bootstrapping with this server.
    BootstrapFailed,
    /// A license pool had no seat for the device: it was answered without that license.
    LicenseShortage,
}

spellings!(Notice, "webhook event", {
    RegisteredInNms => "registered-in-nms",
    BootstrapComplete => "bootstrap-complete",
    BootstrapFailed => "bootstrap-failed",
    LicenseShortage => "license-shortage",
});

impl Notice {
    /// The notice an event of `kind` raises; a progress report raises one only when it ends
    /// bootstrapping (`progress` is the milestone it marks).
    pub fn of(kind: EventKind, progress: Option<Milestone>) -> Option<Self> {
        match kind {
            EventKind::RegistrationDelivered => Some(Self::RegisteredInNms),
            EventKind::LicenseShortage => Some(Self::LicenseShortage),
            EventKind::ProgressReported => match progress? {
                Milestone::Complete => Some(Self::BootstrapComplete),
                Milestone::Failed => Some(Self::BootstrapFailed),
                Milestone::Underway => None,
            },
            _ => None,
        }
    }

    /// The event type a webhook receiver sees, e.g. `device.bootstrap-complete`.
    pub fn event_type(self) -> String {
        format!("device.{}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ends_of_bootstrapping_notify() {
        let progress = |p| Notice::of(EventKind::ProgressReported, Some(p));
        assert_eq!(
            progress(Milestone::Complete),
            Some(Notice::BootstrapComplete)
        );
        assert_eq!(progress(Milestone::Failed), Some(Notice::BootstrapFailed));
        assert_eq!(progress(Milestone::Underway), None);
        assert_eq!(
            Notice::of(EventKind::RegistrationDelivered, None),
            Some(Notice::RegisteredInNms)
        );
        assert_eq!(Notice::of(EventKind::BootstrapServed, None), None);
        assert_eq!(Notice::of(EventKind::ProgressReported, None), None);
    }
}
