//! Tenancy: which customer a request reaches, and whether its token may reach it.
//!
//! The route table says who may call a route ([`Access::admits`]) and how the request names
//! the customer its object belongs to ([`Tenancy`]): a filter,
//! the path's `{name}`, the owner of the path's `{serial}` or the customer of a registration.
//! A token limited to a customer reaches only its own customer's objects; another customer's
//! look exactly like missing ones (404 with the same message), and a filter naming another
//! customer is answered as a filter naming a missing one. What is found here is also the
//! customer the audit log records for a change.

use std::collections::HashMap;

use super::context::Ctx;
use super::error::ApiError;
use super::routes::{Access, Route, Tenancy};
use crate::domain::access::Principal;
use crate::store::StoreError;

/// The customer the request reaches (when its route's tenancy finds one), after checking that
/// `principal` may reach it; a filter (`?customer=`) is narrowed to the principal's customer.
/// `segments` are the request path's non-empty segments.
pub(super) async fn tenancy(
    ctx: &Ctx,
    principal: &Principal,
    route: &Route,
    segments: &[&str],
    query: &mut HashMap<String, String>,
) -> Result<Option<String>, ApiError> {
    let parameter = |name| route.parameter(segments, name).unwrap_or_default();
    let concerned = concerned(ctx, principal, route, segments).await?;
    let Some(own) = principal.customer.as_deref() else {
        return Ok(concerned);
    };
    if route.access != Access::Customer {
        // The route's access admits no other route for a token limited to a customer.
        return Ok(concerned);
    }
    let mine = concerned.as_deref() == Some(own);
    match route.tenancy {
        Tenancy::Filter => {
            let filter = narrow(own, query.get("customer").map(String::as_str))?;
            query.insert("customer".into(), filter);
            Ok(Some(own.to_owned()))
        }
        Tenancy::Path if !mine => Err(missing_customer(concerned.as_deref().unwrap_or_default())),
        Tenancy::Device if !mine => Err(ApiError::not_found(format!(
            "device {:?} does not exist",
            parameter("serial")
        ))),
        Tenancy::Registration if !mine => Err(ApiError::not_found(format!(
            "registration {:?} does not exist",
            parameter("id")
        ))),
        _ => Ok(concerned),
    }
}

/// The customer the route's tenancy finds in the request. A manufacturer's read needs no
/// lookup: nothing is checked and nothing recorded.
async fn concerned(
    ctx: &Ctx,
    principal: &Principal,
    route: &Route,
    segments: &[&str],
) -> Result<Option<String>, ApiError> {
    let parameter = |name| route.parameter(segments, name);
    let scoped = principal.customer.is_some();
    let recorded = route.audit.is_some();
    match route.tenancy {
        Tenancy::Path => Ok(parameter("name").map(str::to_owned)),
        Tenancy::Device if scoped || recorded => {
            let serial = parameter("serial").unwrap_or_default();
            let device = ctx.store.device(serial).await?;
            if scoped && device.is_none() {
                return Err(ApiError::not_found(format!(
                    "device {serial:?} does not exist"
                )));
            }
            Ok(device.and_then(|d| d.customer))
        }
        Tenancy::Registration if scoped || recorded => {
            let id = parameter("id").unwrap_or_default();
            // A manufacturer's request on a missing registration is its handler's to answer.
            let found = match id.parse() {
                Ok(number) => match ctx.store.registration(number).await {
                    Ok(r) => Some(r.customer),
                    Err(StoreError::NotFound { .. }) => None,
                    Err(e) => return Err(e.into()),
                },
                Err(_) => None,
            };
            if scoped && found.is_none() {
                return Err(ApiError::not_found(format!(
                    "registration {id:?} does not exist"
                )));
            }
            Ok(found)
        }
        _ => Ok(None),
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
