//! The admin API's routes: the one table the router admits requests by, and that the OpenAPI
//! document is checked against.
//!
//! **Adding a route** takes three steps, and tests fail until all three are done:
//! 1. a [`Route`] in [`ROUTES`] (method, path template, one-line summary): without it the
//!    router answers 404 or 405 before any handler runs;
//! 2. an arm in `AdminApi::dispatch` (or in the nested router it belongs to) that handles it:
//!    without it the e2e test `openapi::every_documented_route_is_answered` fails;
//! 3. a `#[utoipa::path]` item in `openapi.rs`, listed in `ApiDoc`'s `paths(...)`: without it the
//!    unit test `openapi::tests::the_document_lists_exactly_the_routes` fails.
//!
//! A path template's `{name}` stands for one non-empty path segment. Where a literal segment
//! and a parameter could both match (`/devices/import` and `/devices/{serial}`), each route
//! keeps its own methods: `POST /devices/import` imports, `GET /devices/import` shows the
//! device `import`.

use http::Method;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token: liveness and readiness probes.
    Public,
    /// Any valid token, whatever its role or customer: documentation.
    AnyToken,
    /// A valid token whose role and customer allow the request (see `access` and `tokens`).
    Scoped,
}

/// One operation of the admin API.
#[derive(Debug)]
pub struct Route {
    /// The HTTP method.
    pub method: Method,
    /// The path template, e.g. `/api/v1/customers/{name}/nms/{conn}`.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What it does, in one line (the OpenAPI operation's summary).
    pub summary: &'static str,
}

/// Why a request matches no route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoRoute {
    /// No template matches the path.
    #[error("no resource at {path}")]
    UnknownPath {
        /// The request's path.
        path: String,
    },
    /// Templates match the path, but none with this method.
    #[error("{method} is not allowed on {path}; use {}", allowed_list(.allowed))]
    MethodNotAllowed {
        /// The request's method.
        method: Method,
        /// The request's path.
        path: String,
        /// The methods the path has, in table order.
        allowed: Vec<Method>,
    },
}

impl NoRoute {
    /// The `Allow` header's value for a 405 answer.
    pub fn allow(&self) -> Option<String> {
        match self {
            Self::UnknownPath { .. } => None,
            Self::MethodNotAllowed { allowed, .. } => Some(allowed_list(allowed)),
        }
    }
}

fn allowed_list(methods: &[Method]) -> String {
    let names: Vec<&str> = methods.iter().map(Method::as_str).collect();
    names.join(", ")
}

/// The route for `method` on `path` (a request path, without query).
pub fn find(method: &Method, path: &str) -> Result<&'static Route, NoRoute> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut allowed = Vec::new();
    for route in ROUTES.iter().filter(|r| matches(r.path, &segments)) {
        if route.method == *method {
            return Ok(route);
        }
        if !allowed.contains(&route.method) {
            allowed.push(route.method.clone());
        }
    }
    if allowed.is_empty() {
        Err(NoRoute::UnknownPath {
            path: path.to_owned(),
        })
    } else {
        Err(NoRoute::MethodNotAllowed {
            method: method.clone(),
            path: path.to_owned(),
            allowed,
        })
    }
}

/// Whether `segments` (a path's non-empty segments) fit `template`.
fn matches(template: &str, segments: &[&str]) -> bool {
    let mut parts = template.split('/').filter(|s| !s.is_empty());
    let mut segments = segments.iter();
    loop {
        match (parts.next(), segments.next()) {
            (None, None) => return true,
            (Some(part), Some(segment)) if is_parameter(part) || part == *segment => {}
            _ => return false,
        }
    }
}

/// Whether a template segment is a parameter (`{name}`).
pub fn is_parameter(part: &str) -> bool {
    part.starts_with('{') && part.ends_with('}')
}

const fn route(method: Method, path: &'static str, summary: &'static str) -> Route {
    Route {
        method,
        path,
        access: Access::Scoped,
        summary,
    }
}

/// Every route of the admin listener, grouped by concept.
pub const ROUTES: &[Route] = &[
    // Probes and documentation.
    Route {
        method: Method::GET,
        path: "/healthz",
        access: Access::Public,
        summary: "Liveness: the process answers",
    },
    Route {
        method: Method::GET,
        path: "/readyz",
        access: Access::Public,
        summary: "Readiness: the database is reachable",
    },
    Route {
        method: Method::GET,
        path: "/api/v1/openapi.json",
        access: Access::AnyToken,
        summary: "This API's OpenAPI document",
    },
    // Customers.
    route(Method::GET, "/api/v1/customers", "List customers"),
    route(
        Method::POST,
        "/api/v1/customers",
        "Create a customer (owner CA and signer generated or imported)",
    ),
    route(Method::GET, "/api/v1/customers/{name}", "Show a customer"),
    route(
        Method::PATCH,
        "/api/v1/customers/{name}",
        "Change a customer's profile, signing or default onboarding",
    ),
    route(
        Method::DELETE,
        "/api/v1/customers/{name}",
        "Delete a customer",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/owner-ca",
        "A customer's owner CA certificate (PEM)",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/targets",
        "List a customer's redirect targets",
    ),
    route(
        Method::POST,
        "/api/v1/customers/{name}/targets",
        "Add or replace a redirect target",
    ),
    route(
        Method::DELETE,
        "/api/v1/customers/{name}/targets/{target}",
        "Remove a redirect target",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/rules",
        "A customer's ordered response rules",
    ),
    route(
        Method::PUT,
        "/api/v1/customers/{name}/rules",
        "Replace a customer's response rules",
    ),
    // NMS connections.
    route(
        Method::GET,
        "/api/v1/customers/{name}/nms",
        "List a customer's NMS connections",
    ),
    route(
        Method::POST,
        "/api/v1/customers/{name}/nms",
        "Add an NMS connection (a key pair is generated when no password is given)",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/nms/{conn}",
        "Show an NMS connection, with health and queue (never secrets)",
    ),
    route(
        Method::PATCH,
        "/api/v1/customers/{name}/nms/{conn}",
        "Change an NMS connection",
    ),
    route(
        Method::DELETE,
        "/api/v1/customers/{name}/nms/{conn}",
        "Remove an NMS connection",
    ),
    route(
        Method::POST,
        "/api/v1/customers/{name}/nms/{conn}/test",
        "Test an NMS connection: connect, check the pin, log in, upload and remove a probe",
    ),
    route(
        Method::GET,
        "/api/v1/ssh-fingerprint",
        "The host key fingerprint an SSH server presents (to compare, not to trust)",
    ),
    // Webhooks.
    route(
        Method::GET,
        "/api/v1/customers/{name}/webhooks",
        "List a customer's webhooks",
    ),
    route(
        Method::POST,
        "/api/v1/customers/{name}/webhooks",
        "Add a webhook (its secret is shown once)",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/webhooks/{hook}",
        "Show a webhook, with health and queue (never its secret)",
    ),
    route(
        Method::PATCH,
        "/api/v1/customers/{name}/webhooks/{hook}",
        "Change a webhook (a rotated secret is shown once)",
    ),
    route(
        Method::DELETE,
        "/api/v1/customers/{name}/webhooks/{hook}",
        "Remove a webhook and its deliveries",
    ),
    route(
        Method::POST,
        "/api/v1/customers/{name}/webhooks/{hook}/test",
        "Post a signed ping to the receiver now and report its answer",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/webhooks/{hook}/deliveries",
        "A webhook's deliveries, oldest first",
    ),
    route(
        Method::POST,
        "/api/v1/customers/{name}/webhooks/{hook}/deliveries/retry",
        "Retry a webhook's dead letters now",
    ),
    route(
        Method::POST,
        "/api/v1/customers/{name}/webhooks/{hook}/deliveries/{id}/retry",
        "Retry one delivery now",
    ),
    // Licenses.
    route(
        Method::GET,
        "/api/v1/customers/{name}/license-pools",
        "List a customer's license pools",
    ),
    route(
        Method::POST,
        "/api/v1/customers/{name}/license-pools",
        "Create a license pool",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/license-pools/{pool}",
        "Show a license pool (allocated, free, short)",
    ),
    route(
        Method::PATCH,
        "/api/v1/customers/{name}/license-pools/{pool}",
        "Extend, shrink or renew a license pool",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/licenses/expiring",
        "A customer's active licenses that end soon",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/license-usage",
        "License usage per pool",
    ),
    route(
        Method::GET,
        "/api/v1/devices/{serial}/licenses",
        "A device's licenses, active and revoked",
    ),
    route(
        Method::POST,
        "/api/v1/devices/{serial}/licenses/transfer",
        "Move a device's licenses to its replacement (RMA)",
    ),
    route(
        Method::POST,
        "/api/v1/licenses/{id}/revoke",
        "Revoke a license; its seat returns to the pool",
    ),
    // Devices.
    route(Method::GET, "/api/v1/devices", "List devices"),
    route(Method::POST, "/api/v1/devices", "Import one device"),
    route(
        Method::POST,
        "/api/v1/devices/import",
        "Import devices from a streamed CSV file",
    ),
    route(Method::GET, "/api/v1/devices/{serial}", "Show a device"),
    route(
        Method::PATCH,
        "/api/v1/devices/{serial}",
        "Change a device's owner, model or pin",
    ),
    route(
        Method::DELETE,
        "/api/v1/devices/{serial}",
        "Delete a device",
    ),
    route(
        Method::GET,
        "/api/v1/devices/{serial}/progress",
        "A device's progress reports",
    ),
    route(
        Method::GET,
        "/api/v1/devices/{serial}/timeline",
        "A device's timeline, oldest first",
    ),
    route(Method::GET, "/api/v1/events", "Events, newest first"),
    // Registrations.
    route(
        Method::GET,
        "/api/v1/registrations",
        "The registration outbox",
    ),
    route(
        Method::POST,
        "/api/v1/registrations/retry",
        "Deliver all matching registrations again now",
    ),
    route(
        Method::GET,
        "/api/v1/registrations/{id}",
        "Show a registration, with its document",
    ),
    route(
        Method::POST,
        "/api/v1/registrations/{id}/retry",
        "Deliver a registration again now",
    ),
    // Audit and tokens.
    route(Method::GET, "/api/v1/audit", "The audit log"),
    route(Method::GET, "/api/v1/tokens", "List API tokens"),
    route(
        Method::POST,
        "/api/v1/tokens",
        "Create an API token (shown once)",
    ),
    route(Method::DELETE, "/api/v1/tokens/{id}", "Revoke an API token"),
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn paths_find_their_route_or_say_why_not() {
        let found = find(&Method::GET, "/api/v1/customers/acme/nms/main").unwrap();
        assert_eq!(found.path, "/api/v1/customers/{name}/nms/{conn}");
        let found = find(&Method::POST, "/api/v1/devices/import").unwrap();
        assert_eq!(found.path, "/api/v1/devices/import");
        let found = find(&Method::GET, "/api/v1/devices/import").unwrap();
        assert_eq!(
            found.path, "/api/v1/devices/{serial}",
            "a device may be named so"
        );
        assert_eq!(
            find(&Method::GET, "/api/v1/customers/").unwrap().path,
            "/api/v1/customers",
            "empty segments are ignored"
        );

        let unknown = find(&Method::GET, "/api/v1/nothing").unwrap_err();
        assert_eq!(unknown.to_string(), "no resource at /api/v1/nothing");
        assert_eq!(unknown.allow(), None);
        assert!(find(&Method::GET, "/api/v1/customers/acme/nms/main/extra").is_err());

        let wrong = find(&Method::PUT, "/api/v1/customers/acme").unwrap_err();
        assert_eq!(wrong.allow().as_deref(), Some("GET, PATCH, DELETE"));
        assert_eq!(
            wrong.to_string(),
            "PUT is not allowed on /api/v1/customers/acme; use GET, PATCH, DELETE"
        );
    }

    #[test]
    fn every_route_is_listed_once_with_well_formed_parts() {
        let mut seen = HashSet::new();
        for route in ROUTES {
            assert!(
                seen.insert((route.method.clone(), route.path)),
                "{} {} is listed twice",
                route.method,
                route.path
            );
            assert!(route.path.starts_with('/') && !route.path.ends_with('/'));
            assert!(
                route.path.starts_with(super::super::PREFIX) || route.access == Access::Public,
                "{}: only probes live outside {}",
                route.path,
                super::super::PREFIX
            );
            for part in route.path.split('/').skip(1) {
                assert!(!part.is_empty(), "{}", route.path);
                assert!(
                    is_parameter(part) || !part.contains(['{', '}']),
                    "{}",
                    route.path
                );
            }
            assert!(!route.summary.is_empty() && !route.summary.ends_with('.'));
        }
    }
}
