//! The admin API's routes: the one table the router admits requests by, and that the OpenAPI
//! document is checked against.
//!
//! **Adding a route** takes four steps, and tests fail until all four are done:
//! 1. a [`Route`] in [`ROUTES`] (method, path template, who may call it, its body, a one-line
//!    summary): without it the router answers 404 or 405 before any handler runs;
//! 2. an arm in `AdminApi::dispatch` (or in the nested router it belongs to) that handles it:
//!    without it the e2e test `openapi::every_documented_route_is_answered` fails;
//! 3. a `#[utoipa::path]` item in `openapi.rs`, listed in `ApiDoc`'s `paths(...)`: without it the
//!    unit test `openapi::tests::the_document_lists_exactly_the_routes` fails;
//! 4. its line in `POLICY` of the e2e test `admin_matrix` (who may call it, written there
//!    independently of this table): without it that test fails.
//!
//! A path template's `{name}` stands for one non-empty path segment. Where a literal segment
//! and a parameter could both match (`/devices/import` and `/devices/{serial}`), each route
//! keeps its own methods: `POST /devices/import` imports, `GET /devices/import` shows the
//! device `import`.

use http::Method;

use crate::domain::access::Principal;

/// Who may call a route. Whatever it says, a read-only token may only `GET`; the decision is
/// [`Access::admits`], made from this table alone before any handler, tenancy check or body
/// parser runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token: liveness and readiness probes.
    Public,
    /// Any valid token, whatever its role or customer: documentation.
    AnyToken,
    /// Manufacturer admins only: tokens, and probes of the network ztp sits in.
    ManufacturerAdmin,
    /// The manufacturer's business (customers, devices and their owners, entitlements,
    /// revocation, RMA): manufacturer admins change it, read-only tokens not limited to a
    /// customer read it, and no token limited to a customer reaches it.
    Manufacturer,
    /// A customer's objects: the manufacturer's tokens, and tokens limited to the customer
    /// that [`Tenancy`] finds in the request (another customer's objects look missing).
    Customer(Tenancy),
}

/// How a request names the customer whose objects it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tenancy {
    /// A filter: `?customer=` on a list (or `customer` in a filtered action's body); a token
    /// limited to a customer gets its own when it names none.
    Filter,
    /// The path's `{name}`.
    Path,
    /// The owner of the path's `{serial}`.
    Device,
    /// The customer of the path's `{id}`, a registration.
    Registration,
}

/// Why [`Access::admits`] refuses a principal (answered 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// A read-only token asked for a change.
    #[error("this token may only read")]
    ReadOnly,
    /// A customer's token asked for the manufacturer's business.
    #[error("this is for the manufacturer's administrators")]
    ManufacturersOnly,
}

impl Access {
    /// Whether `principal` may call a route with this access by `method` (tenancy aside).
    pub fn admits(self, principal: &Principal, method: &Method) -> Result<(), Refused> {
        let manufacturer = principal.customer.is_none();
        match self {
            Self::Public | Self::AnyToken => Ok(()),
            _ if !principal.may_change() && method != Method::GET => Err(Refused::ReadOnly),
            Self::ManufacturerAdmin if principal.is_manufacturer_admin() => Ok(()),
            Self::ManufacturerAdmin => Err(Refused::ManufacturersOnly),
            Self::Manufacturer if manufacturer => Ok(()),
            Self::Manufacturer => Err(Refused::ManufacturersOnly),
            Self::Customer(_) => Ok(()),
        }
    }
}

/// What a route's request body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody {
    /// None: the body must be empty (or `{}`, which the command line sends).
    Empty,
    /// A JSON object of the route's request type.
    Json,
    /// A CSV file, streamed (not read into memory).
    Csv,
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
    /// What its request body is.
    pub body: RequestBody,
    /// What it does, in one line (the OpenAPI operation's summary).
    pub summary: &'static str,
}

impl Route {
    /// The value of the path parameter `name` (`{name}` in the template) in `segments`, the
    /// request path's non-empty segments.
    pub fn parameter<'a>(&self, segments: &[&'a str], name: &str) -> Option<&'a str> {
        self.path
            .split('/')
            .filter(|s| !s.is_empty())
            .zip(segments)
            .find(|(part, _)| {
                part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) == Some(name)
            })
            .map(|(_, segment)| *segment)
    }
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

/// A route whose request has no body.
const fn route(method: Method, path: &'static str, access: Access, summary: &'static str) -> Route {
    Route {
        method,
        path,
        access,
        body: RequestBody::Empty,
        summary,
    }
}

/// A route whose request is a JSON object.
const fn with_json(
    method: Method,
    path: &'static str,
    access: Access,
    summary: &'static str,
) -> Route {
    Route {
        method,
        path,
        access,
        body: RequestBody::Json,
        summary,
    }
}

/// Shorthands for the table.
const PUBLIC: Access = Access::Public;
const ADMINS: Access = Access::ManufacturerAdmin;
const MANUFACTURER: Access = Access::Manufacturer;
const BY_FILTER: Access = Access::Customer(Tenancy::Filter);
const BY_NAME: Access = Access::Customer(Tenancy::Path);
const BY_DEVICE: Access = Access::Customer(Tenancy::Device);
const BY_REGISTRATION: Access = Access::Customer(Tenancy::Registration);

/// Every route of the admin listener, grouped by concept, with who may call it.
pub const ROUTES: &[Route] = &[
    // Probes and documentation.
    route(
        Method::GET,
        "/healthz",
        PUBLIC,
        "Liveness: the process answers",
    ),
    route(
        Method::GET,
        "/readyz",
        PUBLIC,
        "Readiness: the database is reachable",
    ),
    route(
        Method::GET,
        "/api/v1/openapi.json",
        Access::AnyToken,
        "This API's OpenAPI document",
    ),
    // Customers.
    route(
        Method::GET,
        "/api/v1/customers",
        BY_FILTER,
        "List customers",
    ),
    with_json(
        Method::POST,
        "/api/v1/customers",
        MANUFACTURER,
        "Create a customer (owner CA and signer generated or imported)",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}",
        BY_NAME,
        "Show a customer",
    ),
    with_json(
        Method::PATCH,
        "/api/v1/customers/{name}",
        MANUFACTURER,
        "Change a customer's profile, signing or default onboarding",
    ),
    route(
        Method::DELETE,
        "/api/v1/customers/{name}",
        MANUFACTURER,
        "Delete a customer",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/owner-ca",
        BY_NAME,
        "A customer's owner CA certificate (PEM)",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/targets",
        BY_NAME,
        "List a customer's redirect targets",
    ),
    with_json(
        Method::POST,
        "/api/v1/customers/{name}/targets",
        BY_NAME,
        "Add or replace a redirect target",
    ),
    route(
        Method::DELETE,
        "/api/v1/customers/{name}/targets/{target}",
        BY_NAME,
        "Remove a redirect target",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/rules",
        BY_NAME,
        "A customer's ordered response rules",
    ),
    with_json(
        Method::PUT,
        "/api/v1/customers/{name}/rules",
        BY_NAME,
        "Replace a customer's response rules",
    ),
    // NMS connections.
    route(
        Method::GET,
        "/api/v1/customers/{name}/nms",
        BY_NAME,
        "List a customer's NMS connections",
    ),
    with_json(
        Method::POST,
        "/api/v1/customers/{name}/nms",
        BY_NAME,
        "Add an NMS connection (a key pair is generated when no password is given)",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/nms/{conn}",
        BY_NAME,
        "Show an NMS connection, with health and queue (never secrets)",
    ),
    with_json(
        Method::PATCH,
        "/api/v1/customers/{name}/nms/{conn}",
        BY_NAME,
        "Change an NMS connection",
    ),
    route(
        Method::DELETE,
        "/api/v1/customers/{name}/nms/{conn}",
        BY_NAME,
        "Remove an NMS connection",
    ),
    route(
        Method::POST,
        "/api/v1/customers/{name}/nms/{conn}/test",
        BY_NAME,
        "Test an NMS connection: connect, check the pin, log in, upload and remove a probe",
    ),
    route(
        Method::GET,
        "/api/v1/ssh-fingerprint",
        ADMINS,
        "The host key fingerprint an SSH server presents (to compare, not to trust)",
    ),
    // Webhooks.
    route(
        Method::GET,
        "/api/v1/customers/{name}/webhooks",
        BY_NAME,
        "List a customer's webhooks",
    ),
    with_json(
        Method::POST,
        "/api/v1/customers/{name}/webhooks",
        BY_NAME,
        "Add a webhook (its secret is shown once)",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/webhooks/{hook}",
        BY_NAME,
        "Show a webhook, with health and queue (never its secret)",
    ),
    with_json(
        Method::PATCH,
        "/api/v1/customers/{name}/webhooks/{hook}",
        BY_NAME,
        "Change a webhook (a rotated secret is shown once)",
    ),
    route(
        Method::DELETE,
        "/api/v1/customers/{name}/webhooks/{hook}",
        BY_NAME,
        "Remove a webhook and its deliveries",
    ),
    route(
        Method::POST,
        "/api/v1/customers/{name}/webhooks/{hook}/test",
        BY_NAME,
        "Post a signed ping to the receiver now and report its answer",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/webhooks/{hook}/deliveries",
        BY_NAME,
        "A webhook's deliveries, oldest first",
    ),
    route(
        Method::POST,
        "/api/v1/customers/{name}/webhooks/{hook}/deliveries/retry",
        BY_NAME,
        "Retry a webhook's dead letters now",
    ),
    route(
        Method::POST,
        "/api/v1/customers/{name}/webhooks/{hook}/deliveries/{id}/retry",
        BY_NAME,
        "Retry one delivery now",
    ),
    // Licenses.
    route(
        Method::GET,
        "/api/v1/customers/{name}/license-pools",
        BY_NAME,
        "List a customer's license pools",
    ),
    with_json(
        Method::POST,
        "/api/v1/customers/{name}/license-pools",
        MANUFACTURER,
        "Create a license pool",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/license-pools/{pool}",
        BY_NAME,
        "Show a license pool (allocated, free, short)",
    ),
    with_json(
        Method::PATCH,
        "/api/v1/customers/{name}/license-pools/{pool}",
        MANUFACTURER,
        "Extend, shrink or renew a license pool",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/licenses/expiring",
        BY_NAME,
        "A customer's active licenses that end soon",
    ),
    route(
        Method::GET,
        "/api/v1/customers/{name}/license-usage",
        BY_NAME,
        "License usage per pool",
    ),
    route(
        Method::GET,
        "/api/v1/devices/{serial}/licenses",
        BY_DEVICE,
        "A device's licenses, active and revoked",
    ),
    with_json(
        Method::POST,
        "/api/v1/devices/{serial}/licenses/transfer",
        MANUFACTURER,
        "Move a device's licenses to its replacement (RMA)",
    ),
    with_json(
        Method::POST,
        "/api/v1/licenses/{id}/revoke",
        MANUFACTURER,
        "Revoke a license; its seat returns to the pool",
    ),
    // Devices: their owners are the manufacturer's to assign (the voucher certifies them).
    route(Method::GET, "/api/v1/devices", BY_FILTER, "List devices"),
    with_json(
        Method::POST,
        "/api/v1/devices",
        MANUFACTURER,
        "Import one device",
    ),
    Route {
        method: Method::POST,
        path: "/api/v1/devices/import",
        access: MANUFACTURER,
        body: RequestBody::Csv,
        summary: "Import devices from a streamed CSV file",
    },
    route(
        Method::GET,
        "/api/v1/devices/{serial}",
        BY_DEVICE,
        "Show a device",
    ),
    with_json(
        Method::PATCH,
        "/api/v1/devices/{serial}",
        MANUFACTURER,
        "Change a device's owner, model or pin",
    ),
    route(
        Method::DELETE,
        "/api/v1/devices/{serial}",
        MANUFACTURER,
        "Delete a device",
    ),
    route(
        Method::GET,
        "/api/v1/devices/{serial}/progress",
        BY_DEVICE,
        "A device's progress reports",
    ),
    route(
        Method::GET,
        "/api/v1/devices/{serial}/timeline",
        BY_DEVICE,
        "A device's timeline, oldest first",
    ),
    route(
        Method::GET,
        "/api/v1/events",
        BY_FILTER,
        "Events, newest first",
    ),
    // Registrations.
    route(
        Method::GET,
        "/api/v1/registrations",
        BY_FILTER,
        "The registration outbox",
    ),
    with_json(
        Method::POST,
        "/api/v1/registrations/retry",
        BY_FILTER,
        "Deliver all matching registrations again now",
    ),
    route(
        Method::GET,
        "/api/v1/registrations/{id}",
        BY_REGISTRATION,
        "Show a registration, with its document",
    ),
    route(
        Method::POST,
        "/api/v1/registrations/{id}/retry",
        BY_REGISTRATION,
        "Deliver a registration again now",
    ),
    // Audit and tokens.
    route(Method::GET, "/api/v1/audit", BY_FILTER, "The audit log"),
    route(Method::GET, "/api/v1/tokens", ADMINS, "List API tokens"),
    with_json(
        Method::POST,
        "/api/v1/tokens",
        ADMINS,
        "Create an API token (shown once)",
    ),
    route(
        Method::DELETE,
        "/api/v1/tokens/{id}",
        ADMINS,
        "Revoke an API token",
    ),
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
    fn access_is_decided_by_role_and_method_alone() {
        use crate::domain::access::Role;
        let who = |role, customer: Option<&str>| Principal {
            token: "t".into(),
            role,
            customer: customer.map(str::to_owned),
        };
        let admin = who(Role::ManufacturerAdmin, None);
        let tenant = who(Role::CustomerAdmin, Some("acme"));
        let reader = who(Role::ReadOnly, None);
        let tenant_reader = who(Role::ReadOnly, Some("acme"));
        let (get, post) = (Method::GET, Method::POST);
        let tenancy = Access::Customer(Tenancy::Path);
        for access in [ADMINS, MANUFACTURER, tenancy] {
            assert_eq!(access.admits(&admin, &post), Ok(()));
            assert_eq!(access.admits(&reader, &post), Err(Refused::ReadOnly));
            assert_eq!(access.admits(&tenant_reader, &post), Err(Refused::ReadOnly));
        }
        assert_eq!(
            ADMINS.admits(&reader, &get),
            Err(Refused::ManufacturersOnly)
        );
        assert_eq!(MANUFACTURER.admits(&reader, &get), Ok(()));
        for access in [ADMINS, MANUFACTURER] {
            assert_eq!(
                access.admits(&tenant, &get),
                Err(Refused::ManufacturersOnly)
            );
            assert_eq!(
                access.admits(&tenant_reader, &get),
                Err(Refused::ManufacturersOnly)
            );
        }
        assert_eq!(tenancy.admits(&tenant, &post), Ok(()));
        assert_eq!(tenancy.admits(&tenant_reader, &get), Ok(()));
        assert_eq!(Access::AnyToken.admits(&tenant_reader, &get), Ok(()));
    }

    #[test]
    fn devices_and_their_owners_are_the_manufacturers_business() {
        for route in ROUTES
            .iter()
            .filter(|r| r.path.starts_with("/api/v1/devices"))
        {
            if route.method != Method::GET {
                assert_eq!(
                    route.access, MANUFACTURER,
                    "{} {}",
                    route.method, route.path
                );
            }
        }
    }

    #[test]
    fn path_parameters_are_read_by_name() {
        let route = find(&Method::GET, "/api/v1/customers/acme/nms/main").unwrap();
        let segments = ["api", "v1", "customers", "acme", "nms", "main"];
        assert_eq!(route.parameter(&segments, "name"), Some("acme"));
        assert_eq!(route.parameter(&segments, "conn"), Some("main"));
        assert_eq!(route.parameter(&segments, "serial"), None);
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
