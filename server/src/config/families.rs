//! `[[device_families]]`: the manufacturer's device families, beside the built-in ones
//! (`ios-xe`, `opi-sztp`; see `docs/devices.md`). Each entry names a family, the models it
//! covers and the quirks its devices need:
//!
//! ```toml
//! [[device_families]]
//! name = "edge-router"          # named like a built-in family: changes what it gives
//! models = ["ER-4*", "ER-8000"] # the input's hw-model, else the IDevID's product id
//! conveyed_json = true          # conveyed information always JSON
//! always_signed = true          # always signed, with owner certificate and voucher
//! core_only = false             # only RFC 8572's fields (no license bundle)
//! unsigned = false              # no signature, owner certificate or voucher unless asked
//! ```
//!
//! The list is checked when the configuration loads (names, patterns, no name twice), so that
//! `ztp serve` and `ztp check-config` refuse a bad one with the reason.
//!
//! May import: `domain`.

use serde::{Deserialize, Serialize};

use crate::domain::response::family::{Families, FamilyEntry, FamilyError};

/// The configured device families (checked), and the families in force with them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<FamilyEntry>", into = "Vec<FamilyEntry>")]
pub struct DeviceFamilies {
    configured: Vec<FamilyEntry>,
    in_force: Families,
}

impl Default for DeviceFamilies {
    /// None configured: the built-in families alone.
    fn default() -> Self {
        Self {
            configured: Vec::new(),
            in_force: Families::default(),
        }
    }
}

impl TryFrom<Vec<FamilyEntry>> for DeviceFamilies {
    type Error = FamilyError;

    fn try_from(configured: Vec<FamilyEntry>) -> Result<Self, FamilyError> {
        let in_force = Families::new(&configured)?;
        Ok(Self {
            configured,
            in_force,
        })
    }
}

impl From<DeviceFamilies> for Vec<FamilyEntry> {
    fn from(families: DeviceFamilies) -> Self {
        families.configured
    }
}

impl DeviceFamilies {
    /// The families in force: the configured ones, then the built-in ones they leave.
    pub fn in_force(&self) -> &Families {
        &self.in_force
    }

    /// The families as configured.
    pub fn configured(&self) -> &[FamilyEntry] {
        &self.configured
    }
}

#[cfg(test)]
// figment's test jail returns its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use std::path::Path;

    use figment::Jail;

    use crate::config::{Config, Overrides};

    #[test]
    fn families_come_from_the_file_and_the_environment() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "ztp.toml",
                r#"
                    [[device_families]]
                    name = "edge-router"
                    models = ["ER-4*"]
                    conveyed_json = true
                "#,
            )?;
            let config = Config::load(Some(Path::new("ztp.toml")), &Overrides::default()).unwrap();
            let families = config.device_families.in_force();
            let edge = families.of(Some("ER-4100"), None).unwrap();
            assert_eq!(edge.name, "edge-router");
            assert!(edge.conveyed_json && !edge.always_signed);
            assert_eq!(
                families.of(Some("C9300-24T"), None).unwrap().name,
                "ios-xe",
                "the built-in families stay"
            );

            jail.set_env("ZTP_DEVICE_FAMILIES", r#"[{name="ios-xe",models=[]}]"#);
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(config.device_families.configured().len(), 1);
            assert_eq!(
                config
                    .device_families
                    .in_force()
                    .of(Some("C9300-24T"), None),
                None,
                "switched off from the environment"
            );
            Ok(())
        });
    }

    #[test]
    fn a_bad_family_stops_the_load_with_the_reason() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "ztp.toml",
                "[[device_families]]\nname = \"x\"\nmodels = [\"C*9\"]\n",
            )?;
            let error = Config::load(Some(Path::new("ztp.toml")), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(error.contains("C*9"), "{error}");
            jail.create_file(
                "ztp.toml",
                "[[device_families]]\nname = \"x\"\njson = true\n",
            )?;
            let error = Config::load(Some(Path::new("ztp.toml")), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(error.contains("json"), "{error}");
            Ok(())
        });
    }
}
