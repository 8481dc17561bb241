//! How a device's registration reaches its owner's NMS relative to the device's answer.

use serde::{Deserialize, Serialize};

/// When the device gets its answer, relative to the delivery of its registration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryPolicy {
    /// The device is answered only once the NMS has its registration (503 with Retry-After
    /// meanwhile), so that the NMS knows the device before it calls home.
    #[default]
    NmsFirst,
    /// The device is answered at once; the registration is delivered beside it.
    Parallel,
    /// Nothing is delivered (the connection is kept, e.g. while the NMS is being set up).
    Off,
}

spellings!(DeliveryPolicy, "delivery policy", {
    NmsFirst => "nms-first",
    Parallel => "parallel",
    Off => "off",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_serde_agrees() {
        for policy in DeliveryPolicy::ALL {
            assert_eq!(policy.as_str().parse::<DeliveryPolicy>(), Ok(policy));
            assert_eq!(serde_json::to_value(policy).unwrap(), policy.as_str());
        }
        assert!("later".parse::<DeliveryPolicy>().is_err());
    }
}
