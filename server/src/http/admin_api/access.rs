//! Tenancy: what a token limited to one customer may reach. Its own customer's devices, NMS
//! connections, redirect targets and rules, licenses, registrations and events; another
//! customer's objects look exactly like missing ones (404 with the same message), and the
//! manufacturer's own business (customers, entitlements, revocation, RMA, tokens, network
//! probes) is refused (403). Lists are narrowed to the customer.

use std::collections::HashMap;

use http::{Method, StatusCode};
use serde_json::Value;

use super::{AdminApi, ApiError};
use crate::domain::access::Principal;

impl AdminApi {
    /// Lets a request through, narrowing `query` to the principal's customer, or refuses it.
    pub(super) async fn admit(
        &self,
        principal: &Principal,
        method: &Method,
        segments: &[&str],
        query: &mut HashMap<String, String>,
        body: &[u8],
    ) -> Result<(), ApiError> {
        let Some(own) = principal.customer.as_deref() else {
            return Ok(());
        };
        let manufacturer_only = || {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "this is for the manufacturer's administrators",
            ))
        };
        match (method, segments) {
            // Lists, narrowed to the customer.
            (&Method::GET, ["customers" | "devices" | "events" | "registrations" | "audit"]) => {
                query.insert("customer".into(), own.to_owned());
                Ok(())
            }
            (&Method::POST, ["customers"]) => manufacturer_only(),
            (_, ["customers", customer, rest @ ..]) => {
                if *customer != own {
                    return Err(missing_customer(customer));
                }
                match (method, rest) {
                    (&Method::GET, _)
                    | (_, ["targets", ..] | ["rules"] | ["nms", ..] | ["webhooks", ..]) => Ok(()),
                    _ => manufacturer_only(),
                }
            }
            (&Method::POST, ["devices"]) => claims_own(body, own),
            (_, ["devices", serial, rest @ ..]) => {
                let device = self.device_record(serial).await?;
                if device.customer.as_deref() != Some(own) {
                    return Err(ApiError::not_found(format!(
                        "device {serial:?} does not exist"
                    )));
                }
                match (method, rest) {
                    (&Method::PATCH, []) => moves_within(body, own),
                    (_, ["licenses", "transfer"]) => manufacturer_only(),
                    _ => Ok(()),
                }
            }
            (&Method::POST, ["registrations", "retry"]) => claims_own(body, own),
            (_, ["registrations", id, ..]) => {
                let not_found =
                    || ApiError::not_found(format!("registration {id:?} does not exist"));
                let id = id.parse().map_err(|_| not_found())?;
                match self.store.registration(id).await {
                    Ok(r) if r.customer == own => Ok(()),
                    Ok(_) => Err(not_found()),
                    Err(e) => Err(e.into()),
                }
            }
            _ => manufacturer_only(),
        }
    }
}

fn missing_customer(name: &str) -> ApiError {
    ApiError::not_found(format!("customer {name:?} does not exist"))
}

/// A body that names a customer must name `own` (a device created under another customer, a
/// retry of another customer's registrations).
fn claims_own(body: &[u8], own: &str) -> Result<(), ApiError> {
    match customer_in(body)? {
        Some(Value::String(c)) if c == own => Ok(()),
        Some(Value::String(c)) => Err(missing_customer(&c)),
        _ => Err(ApiError::bad_request(format!(
            "give \"customer\": \"{own}\""
        ))),
    }
}

/// A change may not move a device to another customer (or leave it without one).
fn moves_within(body: &[u8], own: &str) -> Result<(), ApiError> {
    match customer_in(body)? {
        None => Ok(()),
        Some(Value::String(c)) if c == own => Ok(()),
        Some(Value::String(c)) => Err(missing_customer(&c)),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "a device stays with its customer",
        )),
    }
}

fn customer_in(body: &[u8]) -> Result<Option<Value>, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    Ok(value.get("customer").cloned())
}
