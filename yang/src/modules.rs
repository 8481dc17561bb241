//! The YANG modules ztp speaks, embedded in the binary.
//!
//! The files live in `yang/modules/` ([`DIR`]); [`write_all`] writes them to another directory
//! for tools that need them on disk (yanglint in tests, an NMS team's toolchain).

use std::{fs, io, path::Path};

/// Directory of the module files in the source tree.
pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/modules");

/// One YANG module: identity and full text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Module {
    /// Module name, e.g. `ietf-sztp-bootstrap-server`.
    pub name: &'static str,
    /// Revision date, e.g. `2019-04-30`.
    pub revision: &'static str,
    /// XML namespace URI.
    pub namespace: &'static str,
    /// The module's own prefix.
    pub prefix: &'static str,
    /// The module text.
    pub text: &'static str,
}

impl Module {
    /// The conventional file name, `name@revision.yang`.
    pub fn file_name(&self) -> String {
        format!("{}@{}.yang", self.name, self.revision)
    }
}

macro_rules! module {
    ($name:literal, $rev:literal, $ns:literal, $prefix:literal) => {
        Module {
            name: $name,
            revision: $rev,
            namespace: $ns,
            prefix: $prefix,
            text: include_str!(concat!("../modules/", $name, "@", $rev, ".yang")),
        }
    };
}

/// `ietf-sztp-bootstrap-server` (RFC 8572): the RPCs devices call.
pub const SZTP_BOOTSTRAP_SERVER: Module = module!(
    "ietf-sztp-bootstrap-server",
    "2019-04-30",
    "urn:ietf:params:xml:ns:yang:ietf-sztp-bootstrap-server",
    "sztp-svr"
);
/// `ietf-sztp-conveyed-info` (RFC 8572): redirect and onboarding information.
pub const SZTP_CONVEYED_INFO: Module = module!(
    "ietf-sztp-conveyed-info",
    "2019-04-30",
    "urn:ietf:params:xml:ns:yang:ietf-sztp-conveyed-info",
    "sztp-info"
);
/// `ietf-voucher` (RFC 8366): ownership vouchers.
pub const VOUCHER: Module = module!(
    "ietf-voucher",
    "2018-05-09",
    "urn:ietf:params:xml:ns:yang:ietf-voucher",
    "vch"
);
/// `ietf-restconf` (RFC 8040): `yang-data` and the `errors` document.
pub const RESTCONF: Module = module!(
    "ietf-restconf",
    "2017-01-26",
    "urn:ietf:params:xml:ns:yang:ietf-restconf",
    "rc"
);
/// `ietf-inet-types` (RFC 6991).
pub const INET_TYPES: Module = module!(
    "ietf-inet-types",
    "2013-07-15",
    "urn:ietf:params:xml:ns:yang:ietf-inet-types",
    "inet"
);
/// `ietf-yang-types` (RFC 6991).
pub const YANG_TYPES: Module = module!(
    "ietf-yang-types",
    "2013-07-15",
    "urn:ietf:params:xml:ns:yang:ietf-yang-types",
    "yang"
);
/// `ietf-yang-structure-ext` (RFC 8791). Not imported by ztp's own modules (yanglint 2.1
/// cannot validate `sx:structure` instances); shipped for peers' modules that use it.
pub const YANG_STRUCTURE_EXT: Module = module!(
    "ietf-yang-structure-ext",
    "2020-06-17",
    "urn:ietf:params:xml:ns:yang:ietf-yang-structure-ext",
    "sx"
);
/// `ztp-device-registration`: the document ztp uploads to a customer's NMS per device.
pub const ZTP_DEVICE_REGISTRATION: Module = module!(
    "ztp-device-registration",
    "2026-12-09",
    "urn:ztp:yang:ztp-device-registration",
    "ztp-reg"
);
/// `ztp-licenses`: the license bundle and its `get-bootstrapping-data` output augment.
pub const ZTP_LICENSES: Module = module!(
    "ztp-licenses",
    "2026-11-23",
    "urn:ztp:yang:ztp-licenses",
    "ztp-lic"
);

/// `ietf-datastores` (RFC 8342): the datastore identities the YANG library names.
pub const DATASTORES: Module = module!(
    "ietf-datastores",
    "2018-02-14",
    "urn:ietf:params:xml:ns:yang:ietf-datastores",
    "ds"
);
/// `ietf-yang-library` (RFC 8525): what a RESTCONF server implements, which it serves at
/// `/restconf/data/ietf-yang-library:yang-library`.
pub const YANG_LIBRARY: Module = module!(
    "ietf-yang-library",
    "2019-01-04",
    "urn:ietf:params:xml:ns:yang:ietf-yang-library",
    "yanglib"
);
/// `ietf-netconf-acm` (RFC 8341): imported by `ietf-crypto-types` for its access-control
/// extensions.
pub const NETCONF_ACM: Module = module!(
    "ietf-netconf-acm",
    "2018-02-14",
    "urn:ietf:params:xml:ns:yang:ietf-netconf-acm",
    "nacm"
);
/// `ietf-crypto-types` (RFC 9640): the `p10-csr` and `csr-info` types RFC 9646 uses.
pub const CRYPTO_TYPES: Module = module!(
    "ietf-crypto-types",
    "2024-10-10",
    "urn:ietf:params:xml:ns:yang:ietf-crypto-types",
    "ct"
);
/// `ietf-ztp-types` (RFC 9646): the CSR groupings and the certificate request formats.
pub const ZTP_TYPES: Module = module!(
    "ietf-ztp-types",
    "2024-10-10",
    "urn:ietf:params:xml:ns:yang:ietf-ztp-types",
    "zt"
);
/// `ietf-sztp-csr` (RFC 9646): `csr-support` and `csr` in the `get-bootstrapping-data` input,
/// and the `csr-request` structure a server answers with.
pub const SZTP_CSR: Module = module!(
    "ietf-sztp-csr",
    "2024-10-10",
    "urn:ietf:params:xml:ns:yang:ietf-sztp-csr",
    "sztp-csr"
);

/// Every module ztp ships, imports first.
pub const ALL: &[Module] = &[
    INET_TYPES,
    YANG_TYPES,
    DATASTORES,
    YANG_LIBRARY,
    YANG_STRUCTURE_EXT,
    RESTCONF,
    SZTP_BOOTSTRAP_SERVER,
    SZTP_CONVEYED_INFO,
    VOUCHER,
    ZTP_DEVICE_REGISTRATION,
    ZTP_LICENSES,
    NETCONF_ACM,
    CRYPTO_TYPES,
    ZTP_TYPES,
    SZTP_CSR,
];

/// The module with this name, if ztp ships it.
pub fn by_name(name: &str) -> Option<&'static Module> {
    ALL.iter().find(|m| m.name == name)
}

/// The module with this namespace URI, if ztp ships it.
pub fn by_namespace(namespace: &str) -> Option<&'static Module> {
    ALL.iter().find(|m| m.namespace == namespace)
}

/// Writes every module in [`ALL`] into `dir` (which must exist) as `name@revision.yang`.
pub fn write_all(dir: &Path) -> io::Result<()> {
    for module in ALL {
        fs::write(dir.join(module.file_name()), module.text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_identity_matches_text() {
        for m in ALL {
            assert!(
                m.text.contains(&format!("module {} {{", m.name)),
                "{} name",
                m.name
            );
            assert!(
                m.text.contains(&format!("namespace \"{}\";", m.namespace)),
                "{} namespace",
                m.name
            );
            assert!(
                m.text.contains(&format!("prefix {};", m.prefix))
                    || m.text.contains(&format!("prefix \"{}\";", m.prefix)),
                "{} prefix",
                m.name
            );
            assert!(
                m.text.contains(&format!("revision {}", m.revision))
                    || m.text.contains(&format!("revision \"{}\"", m.revision)),
                "{} revision",
                m.name
            );
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(by_name("ztp-licenses"), Some(&ZTP_LICENSES));
        assert_eq!(
            by_namespace("urn:ztp:yang:ztp-device-registration"),
            Some(&ZTP_DEVICE_REGISTRATION)
        );
        assert_eq!(by_name("nope"), None);
    }
}
