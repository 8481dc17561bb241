//! The kinds of things that happen to devices and to the administration, as the event log
//! records them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A device was sent bootstrapping data.
    BootstrapServed,
    /// A device's request was refused (authentication, input, nothing configured).
    BootstrapRefused,
    /// A device reported progress.
    ProgressReported,
    /// A device's progress report was refused.
    ProgressRefused,
    /// The inventory was changed through the admin API.
    AdminChange,
    /// A device's registration reached its owner's NMS.
    RegistrationDelivered,
    /// Retries of a registration gave up: it is a dead letter now.
    RegistrationDead,
    /// An NMS connection started failing, or fails differently now (raised once per change).
    NmsFailing,
    /// An NMS presented a host key that matches none of its pins: nothing was sent.
    NmsHostKeyMismatch,
    /// A failing NMS connection delivered again.
    NmsRecovered,
    /// A license pool had no seat for a device (raised once per device and pool).
    LicenseShortage,
    /// A request to the admin API presented no valid token.
    AdminAuthFailed,
}

impl EventKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BootstrapServed => "bootstrap-served",
            Self::BootstrapRefused => "bootstrap-refused",
            Self::ProgressReported => "progress-reported",
            Self::ProgressRefused => "progress-refused",
            Self::AdminChange => "admin-change",
            Self::RegistrationDelivered => "registration-delivered",
            Self::RegistrationDead => "registration-dead",
            Self::NmsFailing => "nms-failing",
            Self::NmsHostKeyMismatch => "nms-host-key-mismatch",
            Self::NmsRecovered => "nms-recovered",
            Self::LicenseShortage => "license-shortage",
            Self::AdminAuthFailed => "admin-auth-failed",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
