//! The YANG library (RFC 8525) of ztp's device API: the modules a RESTCONF client may find at
//! `/restconf/data/ietf-yang-library:yang-library` (RFC 8040 §10), which the RESTCONF root
//! advertises by its `yang-library-version`.
//!
//! One module set, one schema, one datastore (`operational`, where the library itself lives):
//! implemented are the modules whose RPCs, augments, documents and identities the device API
//! speaks; import-only are those they import for types. The `content-id` is a digest of that
//! set, so that it changes exactly when the set does, and is the same on every instance of one
//! build. The deprecated `modules-state` tree (RFC 7895, which RFC 8040 §10 names) lists the
//! same modules under the same digest, for clients written before RFC 8525.

use crate::modules::{
    CRYPTO_TYPES, DATASTORES, INET_TYPES, Module, NETCONF_ACM, RESTCONF, SZTP_BOOTSTRAP_SERVER,
    SZTP_CONVEYED_INFO, SZTP_CSR, YANG_LIBRARY as LIB, YANG_STRUCTURE_EXT, YANG_TYPES,
    ZTP_LICENSES, ZTP_TYPES,
};
use crate::tree::{Out, Scalar};
use crate::{Encoding, json, xml};

/// The name of the module set, and of the schema made of it.
const SET: &str = "ztp-device-api";

/// What a YANG library lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YangLibrary {
    /// Modules implemented (RFC 7950 §5.6.5).
    pub implemented: Vec<&'static Module>,
    /// Modules only imported from.
    pub import_only: Vec<&'static Module>,
}

impl YangLibrary {
    /// The library of ztp's device API.
    pub fn device_api() -> Self {
        Self {
            implemented: vec![
                &DATASTORES,
                &RESTCONF,
                &SZTP_BOOTSTRAP_SERVER,
                &SZTP_CONVEYED_INFO,
                &LIB,
                &ZTP_LICENSES,
                &SZTP_CSR,
                &ZTP_TYPES,
            ],
            import_only: vec![
                &INET_TYPES,
                &YANG_TYPES,
                &YANG_STRUCTURE_EXT,
                &NETCONF_ACM,
                &CRYPTO_TYPES,
            ],
        }
    }

    /// The `content-id`: FNV-1a (64 bits, hex) over every module's name, revision and whether
    /// it is implemented.
    pub fn content_id(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let entries = self
            .implemented
            .iter()
            .map(|m| (m, "implement"))
            .chain(self.import_only.iter().map(|m| (m, "import")));
        for (module, how) in entries {
            let entry = format!("{}@{}/{how};", module.name, module.revision);
            for byte in entry.bytes() {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        format!("{hash:016x}")
    }

    /// The `ietf-yang-library:yang-library` document in `encoding`.
    pub fn encode(&self, encoding: Encoding) -> String {
        let tree = self.to_tree();
        match encoding {
            Encoding::Xml => xml::write(&tree),
            Encoding::Json => json::write(&tree),
        }
    }

    /// The deprecated `ietf-yang-library:modules-state` document in `encoding`.
    pub fn encode_modules_state(&self, encoding: Encoding) -> String {
        let module = |m: &Module, conformance: &str| {
            Out::entry(
                &LIB,
                "module",
                vec![
                    Out::string(&LIB, "name", m.name),
                    Out::string(&LIB, "revision", m.revision),
                    Out::string(&LIB, "namespace", m.namespace),
                    Out::string(&LIB, "conformance-type", conformance),
                ],
            )
        };
        let mut children = vec![Out::string(&LIB, "module-set-id", &self.content_id())];
        children.extend(self.implemented.iter().map(|m| module(m, "implement")));
        children.extend(self.import_only.iter().map(|m| module(m, "import")));
        let tree = Out::container(&LIB, "modules-state", children);
        match encoding {
            Encoding::Xml => xml::write(&tree),
            Encoding::Json => json::write(&tree),
        }
    }

    fn to_tree(&self) -> Out {
        let identified = |m: &Module| {
            vec![
                Out::string(&LIB, "name", m.name),
                Out::string(&LIB, "revision", m.revision),
                Out::string(&LIB, "namespace", m.namespace),
            ]
        };
        let mut set = vec![Out::string(&LIB, "name", SET)];
        set.extend(
            self.implemented
                .iter()
                .map(|m| Out::entry(&LIB, "module", identified(m))),
        );
        set.extend(
            self.import_only
                .iter()
                .map(|m| Out::entry(&LIB, "import-only-module", identified(m))),
        );
        let schema = vec![
            Out::string(&LIB, "name", SET),
            Out::item(&LIB, "module-set", Scalar::Str(SET.to_owned())),
        ];
        let datastore = vec![
            Out::leaf(
                &LIB,
                "name",
                Scalar::Identity {
                    module: &DATASTORES,
                    name: "operational",
                },
            ),
            Out::string(&LIB, "schema", SET),
        ];
        Out::container(
            &LIB,
            "yang-library",
            vec![
                Out::entry(&LIB, "module-set", set),
                Out::entry(&LIB, "schema", schema),
                Out::entry(&LIB, "datastore", datastore),
                Out::string(&LIB, "content-id", &self.content_id()),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_lists_each_module_with_its_revision_in_both_encodings() {
        let library = YangLibrary::device_api();
        let json: serde_json::Value =
            serde_json::from_str(&library.encode(Encoding::Json)).unwrap();
        let root = &json["ietf-yang-library:yang-library"];
        let set = &root["module-set"][0];
        assert_eq!(set["name"], SET);
        let module = set["module"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "ietf-sztp-bootstrap-server")
            .unwrap();
        assert_eq!(module["revision"], "2019-04-30");
        assert_eq!(set["import-only-module"].as_array().unwrap().len(), 5);
        assert_eq!(root["datastore"][0]["name"], "ietf-datastores:operational");
        assert_eq!(root["content-id"], library.content_id());

        let xml = library.encode(Encoding::Xml);
        assert!(
            xml.starts_with(
                "<yang-library xmlns=\"urn:ietf:params:xml:ns:yang:ietf-yang-library\">"
            ),
            "{xml}"
        );
        assert!(xml.contains("<revision>2019-04-30</revision>"), "{xml}");
    }

    #[test]
    fn modules_state_lists_the_same_modules_under_the_same_digest() {
        let library = YangLibrary::device_api();
        let json: serde_json::Value =
            serde_json::from_str(&library.encode_modules_state(Encoding::Json)).unwrap();
        let state = &json["ietf-yang-library:modules-state"];
        assert_eq!(state["module-set-id"], library.content_id());
        let modules = state["module"].as_array().unwrap();
        assert_eq!(
            modules.len(),
            library.implemented.len() + library.import_only.len()
        );
        assert!(
            modules
                .iter()
                .any(|m| m["name"] == "ietf-inet-types" && m["conformance-type"] == "import")
        );
    }

    #[test]
    fn the_content_id_changes_with_the_set_and_only_with_it() {
        let library = YangLibrary::device_api();
        assert_eq!(library.content_id(), YangLibrary::device_api().content_id());
        let mut fewer = library.clone();
        fewer.implemented.pop();
        assert_ne!(fewer.content_id(), library.content_id());
        let mut moved = library.clone();
        let module = moved.implemented.pop().unwrap();
        moved.import_only.push(module);
        assert_ne!(moved.content_id(), library.content_id());
    }
}
