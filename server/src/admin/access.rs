//! Tenancy: which customer a request reaches, and whether its token may reach it.
//!
//! The route table says who may call a route ([`Access::admits`]); for a route over a
//! customer's objects it also says how the request names that customer ([`Tenancy`]): a filter,
//! the path's `{name}`, the owner of the path's `{serial}` or the customer of a registration.
//! A token limited to a customer reaches only its own customer's objects; another customer's
//! look exactly like missing ones (404 with the same message), and a filter naming another
//! customer is answered as a filter naming a missing one. What is found here is also the
//! customer the audit log records for a change.

use std::collections::HashMap;

use http::Method;

use super::routes::{Access, Route, Tenancy};
use super::{AdminApi, ApiError};
use crate::domain::access::Principal;

impl AdminApi {
    /// The customer the request reaches (when its path names one), after checking that
    /// `principal` may reach it; a filter (`?customer=`) is narrowed to the principal's
    /// customer. `segments` are the request path's non-empty segments.
    pub(super) async fn tenancy(
        &self,
        principal: &Principal,
        route: &Route,
        method: &Method,
        segments: &[&str],
        query: &mut HashMap<String, String>,
    ) -> Result<Option<String>, ApiError> {
        let parameter = |name| route.parameter(segments, name);
        let scoped = principal.customer.is_some();
        // A manufacturer's read needs no lookup: nothing is checked and nothing recorded.
        let recorded = method != Method::GET;
        let concerned = if let Some(name) = parameter("name") {
            Some(name.to_owned())
        } else if let Some(serial) = parameter("serial")
            && (scoped || recorded)
        {
            let missing = || ApiError::not_found(format!("device {serial:?} does not exist"));
            let device = self.store.device(serial).await?;
            if scoped && device.is_none() {
                return Err(missing());
            }
            device.and_then(|d| d.customer)
        } else if route.access == Access::Customer(Tenancy::Registration)
            && let Some(id) = parameter("id")
            && (scoped || recorded)
        {
            let missing = || ApiError::not_found(format!("registration {id:?} does not exist"));
            // A manufacturer's request on a missing registration is its handler's to answer.
            let found = match id.parse() {
                Ok(id) => match self.store.registration(id).await {
                    Ok(r) => Some(r.customer),
                    Err(crate::store::StoreError::NotFound { .. }) => None,
                    Err(e) => return Err(e.into()),
                },
                Err(_) => None,
            };
            if scoped && found.is_none() {
                return Err(missing());
            }
            found
        } else {
            None
        };
        let Some(own) = principal.customer.as_deref() else {
            return Ok(concerned);
        };
        match route.access {
            Access::Customer(Tenancy::Filter) => {
                let filter = narrow(own, query.get("customer").map(String::as_str))?;
                query.insert("customer".into(), filter);
                Ok(Some(own.to_owned()))
            }
            Access::Customer(Tenancy::Path) if concerned.as_deref() != Some(own) => {
                Err(missing_customer(concerned.as_deref().unwrap_or_default()))
            }
            Access::Customer(Tenancy::Device) if concerned.as_deref() != Some(own) => {
                let serial = parameter("serial").unwrap_or_default();
                Err(ApiError::not_found(format!(
                    "device {serial:?} does not exist"
                )))
            }
            Access::Customer(Tenancy::Registration) if concerned.as_deref() != Some(own) => {
                let id = parameter("id").unwrap_or_default();
                Err(ApiError::not_found(format!(
                    "registration {id:?} does not exist"
                )))
            }
            // The route table admits no other route for a token limited to a customer.
            _ => Ok(concerned),
        }
    }
}

/// The customer a filter of a token limited to `own` names: its own, whether it names none or
/// its own; naming another is answered as naming a missing one.
pub(super) fn narrow(own: &str, requested: Option<&str>) -> Result<String, ApiError> {
    match requested {
        None => Ok(own.to_owned()),
        Some(c) if c == own => Ok(own.to_owned()),
        Some(other) => Err(missing_customer(other)),
    }
}

fn missing_customer(name: &str) -> ApiError {
    ApiError::not_found(format!("customer {name:?} does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_is_narrowed_to_the_own_customer_and_never_widened() {
        assert_eq!(narrow("acme", None).unwrap(), "acme");
        assert_eq!(narrow("acme", Some("acme")).unwrap(), "acme");
        let other = narrow("acme", Some("globex")).unwrap_err();
        let missing = narrow("acme", Some("ghost")).unwrap_err();
        assert_eq!(other.status, missing.status);
        assert_eq!(
            other.message.replace("globex", "ghost"),
            missing.message,
            "another customer looks missing"
        );
    }
}
