//! Who may do what in the admin API: roles, and the principal a request acts as.

use serde::{Deserialize, Serialize};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Everything.
    ManufacturerAdmin,
    /// Its own customer's devices, NMS connections, redirect targets, licenses and events.
    CustomerAdmin,
    /// Reading only (everything, or one customer's objects).
    ReadOnly,
}

spellings!(Role, "role", {
    ManufacturerAdmin => "manufacturer-admin",
    CustomerAdmin => "customer-admin",
    ReadOnly => "read-only",
});

/// The identity a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's id (`bootstrap` for the token file of `ztp serve`).
    pub token: String,
    /// Its role.
    pub role: Role,
    /// The customer it is limited to, if any.
    pub customer: Option<String>,
}

impl Principal {
    /// Whether it may change anything.
    pub fn may_change(&self) -> bool {
        self.role != Role::ReadOnly
    }

    /// Whether it acts for the manufacturer (not limited to a customer, and not read-only).
    pub fn is_manufacturer_admin(&self) -> bool {
        self.role == Role::ManufacturerAdmin
    }
}

/// Checks a role and scope before a token is made: a customer-admin needs a customer, a
/// manufacturer-admin cannot have one.
pub fn check_scope(role: Role, customer: Option<&str>) -> Result<(), String> {
    match (role, customer) {
        (Role::CustomerAdmin, None) => Err("a customer-admin token needs a customer".into()),
        (Role::ManufacturerAdmin, Some(_)) => {
            Err("a manufacturer-admin token is not limited to a customer".into())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, customer: Option<&str>) -> Principal {
        Principal {
            token: "t".into(),
            role,
            customer: customer.map(str::to_owned),
        }
    }

    #[test]
    fn scopes_and_roles() {
        let admin = principal(Role::ManufacturerAdmin, None);
        assert!(admin.may_change() && admin.is_manufacturer_admin());
        let acme = principal(Role::CustomerAdmin, Some("acme"));
        assert!(acme.may_change() && !acme.is_manufacturer_admin());
        let reader = principal(Role::ReadOnly, None);
        assert!(!reader.may_change() && !reader.is_manufacturer_admin());
        assert!(check_scope(Role::CustomerAdmin, None).is_err());
        assert!(check_scope(Role::ManufacturerAdmin, Some("acme")).is_err());
        assert!(check_scope(Role::ReadOnly, Some("acme")).is_ok());
    }
}
