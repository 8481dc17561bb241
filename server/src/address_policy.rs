//! Which network addresses ztp connects to when a customer names the host.
//!
//! A customer's admin chooses the hosts of its NMS connections and webhooks. Left unchecked,
//! ztp would connect wherever it is told: to its own loopback services, to the cloud metadata
//! endpoint (`169.254.169.254`), into the manufacturer's private network; and each answer
//! ("connection refused", a host key, a timeout) would tell the customer what is there. So
//! ztp connects to public addresses ([`is_public`]) and to non-public ones only within the
//! networks the manufacturer lists ([`AddressPolicy`]). The check applies to the addresses a
//! host name resolves to, at every connection: a name that resolves to a public address today
//! may resolve to `127.0.0.1` tomorrow (DNS rebinding).
//!
//! May import: nothing else of ztp.

use std::net::IpAddr;

use ipnet::IpNet;

/// Public addresses, and non-public ones within the networks the manufacturer allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPolicy {
    /// The configuration setting that lists the networks, for messages.
    setting: &'static str,
    allowed_private_networks: Vec<IpNet>,
}

/// An address the policy refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{address} is not allowed: it is not a public address, and no network in {setting} \
     contains it"
)]
pub struct NotAllowed {
    /// The address.
    pub address: IpAddr,
    /// The configuration setting that would allow it.
    pub setting: &'static str,
}

impl AddressPolicy {
    /// Public addresses, and those in `allowed_private_networks` (the value of `setting`).
    pub fn new(setting: &'static str, allowed_private_networks: Vec<IpNet>) -> Self {
        Self {
            setting,
            allowed_private_networks,
        }
    }

    /// Whether ztp may connect to `address`.
    pub fn check(&self, address: IpAddr) -> Result<(), NotAllowed> {
        // An IPv4-mapped IPv6 address reaches the IPv4 host: it is judged as that.
        let canonical = address.to_canonical();
        if is_public(canonical)
            || self
                .allowed_private_networks
                .iter()
                .any(|net| net.contains(&canonical) || net.contains(&address))
        {
            Ok(())
        } else {
            Err(NotAllowed {
                address,
                setting: self.setting,
            })
        }
    }

    /// Whether ztp may connect to `host` as far as can be told without resolving it: an IP
    /// address literal is checked, a name passes (its addresses are checked at every
    /// connection).
    pub fn check_host(&self, host: &str) -> Result<(), NotAllowed> {
        let literal = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match literal.parse::<IpAddr>() {
            Ok(address) => self.check(address),
            Err(_) => Ok(()),
        }
    }
}

/// Whether `ip` is a public unicast address: not loopback, private, shared (CGNAT),
/// link-local, unique-local, unspecified, multicast, broadcast or documentation.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTING: &str = "[nms] allowed_private_networks";

    fn policy(networks: &[&str]) -> AddressPolicy {
        AddressPolicy::new(
            SETTING,
            networks.iter().map(|n| n.parse().unwrap()).collect(),
        )
    }

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "193.0.14.129", "2a00:1450::1", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn by_default_only_public_addresses_are_allowed() {
        let strict = policy(&[]);
        for refused in [
            "127.0.0.1",
            "::1",
            "0.0.0.0",
            "169.254.169.254",
            "10.8.1.1",
            "fd00::1",
        ] {
            let error = strict.check(refused.parse().unwrap()).unwrap_err();
            let message = error.to_string();
            assert!(
                message.contains(refused) && message.contains(SETTING),
                "{message}"
            );
        }
        assert_eq!(strict.check("193.0.14.129".parse().unwrap()), Ok(()));
    }

    #[test]
    fn listed_networks_are_allowed_and_nothing_beside_them() {
        let lab = policy(&["10.8.0.0/16", "::1/128"]);
        assert_eq!(lab.check("10.8.200.1".parse().unwrap()), Ok(()));
        assert_eq!(lab.check("::1".parse().unwrap()), Ok(()));
        assert!(lab.check("10.9.0.1".parse().unwrap()).is_err());
        assert!(lab.check("127.0.0.1".parse().unwrap()).is_err());
        assert!(lab.check("169.254.169.254".parse().unwrap()).is_err());
    }

    #[test]
    fn ipv4_mapped_addresses_are_judged_as_the_ipv4_host_they_reach() {
        assert!(
            policy(&[])
                .check("::ffff:127.0.0.1".parse().unwrap())
                .is_err()
        );
        let loopback = policy(&["127.0.0.0/8"]);
        assert_eq!(loopback.check("::ffff:127.0.0.1".parse().unwrap()), Ok(()));
        assert!(loopback.check("::ffff:10.0.0.1".parse().unwrap()).is_err());
    }

    #[test]
    fn host_names_wait_for_resolution_and_address_literals_are_checked_at_once() {
        let strict = policy(&[]);
        assert_eq!(strict.check_host("localhost"), Ok(()));
        assert_eq!(strict.check_host("nms.example.net"), Ok(()));
        for refused in ["127.0.0.1", "::1", "[::1]", "0.0.0.0", "169.254.169.254"] {
            assert!(strict.check_host(refused).is_err(), "{refused}");
        }
        assert_eq!(strict.check_host("193.0.14.129"), Ok(()));
    }
}
