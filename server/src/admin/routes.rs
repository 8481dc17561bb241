//! The admin API's route table: the one place that says what exists and who may call it.
//!
//! Each [`Route`] declares its method and path template, who may call it ([`Access`]), how the
//! customer its object belongs to is found ([`Tenancy`]), what its audit entry records
//! ([`Audit`]), its body and its handler ([`Handler`]). The router (`router`) admits a request
//! by this table alone, in this order: authentication (401), the table (404, 405), the route's
//! access (403), tenancy (another customer's objects answer 404), the body (400), the handler;
//! then it records the audit entry the route declares. The table is [`ROUTES`] (in `table`).
//!
//! **Adding a route** takes three steps, and tests fail until all three are done:
//! 1. its handler, a free `async fn` over the context (`context::Ctx`) and the request's parts
//!    (`context::Call`), with a `#[utoipa::path]` attribute whose method and path are the
//!    route's; list it in `openapi::ApiDoc`'s `paths(...)` (the unit test
//!    `openapi::tests::the_document_lists_exactly_the_routes` compares the two);
//! 2. a [`Route`] in `table.rs`;
//! 3. its line in `POLICY` of the e2e test `admin_matrix`, which reads each route's declared
//!    access and tenancy from the OpenAPI document (`x-ztp-access`, `x-ztp-tenancy`) and holds
//!    them to its own, independent view.
//!
//! A path template's `{name}` stands for one non-empty path segment. Where a literal segment
//! and a parameter could both match (`/devices/import` and `/devices/{serial}`), each route
//! keeps its own methods: `POST /devices/import` imports, `GET /devices/import` shows the
//! device `import`.

use http::Method;

use super::context::{BareFn, HandlerFn};
use crate::domain::access::Principal;

pub use super::table::ROUTES;

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
    /// that the route's [`Tenancy`] finds in the request (another customer's objects look
    /// missing).
    Customer,
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
            Self::Customer => Ok(()),
        }
    }

    /// The name the OpenAPI document publishes (`x-ztp-access`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::AnyToken => "any-token",
            Self::ManufacturerAdmin => "manufacturer-admin",
            Self::Manufacturer => "manufacturer",
            Self::Customer => "customer",
        }
    }
}

/// How a request names the customer whose object it reaches: for a route of
/// [`Access::Customer`], the customer a token limited to one must be; for any change, the
/// customer its audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tenancy {
    /// No customer is found in the request: the manufacturer's own objects (tokens, probes), or
    /// ones whose customer the body names (`request::Request::customer`).
    Unscoped,
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

impl Tenancy {
    /// The name the OpenAPI document publishes (`x-ztp-tenancy`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unscoped => "unscoped",
            Self::Filter => "filter",
            Self::Path => "path",
            Self::Device => "device",
            Self::Registration => "registration",
        }
    }
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

/// What the audit entry of a change records besides who, from where, the object's path and
/// the customer tenancy found: the kind of object and the kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audit {
    /// The kind of object, e.g. `nms-connection` (the entry's `object_kind`).
    pub kind: &'static str,
    /// The kind of change (the entry's `action`).
    pub action: Action,
}

/// The kind of change an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Something was done that is not a change of a resource (a test, a retry, a revocation).
    Action,
    /// A resource was made.
    Create,
    /// A resource was removed.
    Delete,
    /// A resource was replaced whole.
    Replace,
    /// A resource was changed in part.
    Update,
}

impl Action {
    /// The name the audit log shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Action => "action",
            Self::Create => "create",
            Self::Delete => "delete",
            Self::Replace => "replace",
            Self::Update => "update",
        }
    }
}

/// A route's handler, by what it takes of the request's body.
#[derive(Clone, Copy)]
pub enum Handler {
    /// Takes nothing of the request: no body is read, no tenancy or audit applies (probes and
    /// documentation).
    Bare(BareFn),
    /// Takes no body: the body must be empty (or `{}`, which the command line sends).
    Empty(HandlerFn),
    /// Takes a JSON object of the route's request type, typed before the handler runs.
    Json(HandlerFn),
    /// Takes a CSV file, streamed (not read into memory).
    Csv(HandlerFn),
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Bare(_) => "Bare",
            Self::Empty(_) => "Empty",
            Self::Json(_) => "Json",
            Self::Csv(_) => "Csv",
        })
    }
}

/// One operation of the admin API, with its whole policy.
#[derive(Debug)]
pub struct Route {
    /// The HTTP method.
    pub method: Method,
    /// The path template, e.g. `/api/v1/customers/{name}/nms/{conn}`.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// How the customer its object belongs to is found.
    pub tenancy: Tenancy,
    /// What its audit entry records: every route but a `GET` has one.
    pub audit: Option<Audit>,
    /// What it does, in one line (the OpenAPI operation's summary).
    pub summary: &'static str,
    /// What it takes of the body, and what answers it.
    pub handler: Handler,
}

impl Route {
    /// The value of the path parameter `name` (`{name}` in the template) in `segments`, the
    /// request path's non-empty segments.
    pub fn parameter<'a>(&self, segments: &[&'a str], name: &str) -> Option<&'a str> {
        self.parameters(segments)
            .find(|(part, _)| *part == name)
            .map(|(_, segment)| segment)
    }

    /// Each path parameter's name and value in `segments`, the request path's non-empty
    /// segments.
    pub fn parameters<'a>(
        &self,
        segments: &[&'a str],
    ) -> impl Iterator<Item = (&'static str, &'a str)> {
        self.path
            .split('/')
            .filter(|s| !s.is_empty())
            .zip(segments.to_vec())
            .filter_map(|(part, segment)| {
                let name = part.strip_prefix('{')?.strip_suffix('}')?;
                Some((name, segment))
            })
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
        const ADMINS: Access = Access::ManufacturerAdmin;
        const MANUFACTURER: Access = Access::Manufacturer;
        let tenancy = Access::Customer;
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
                    route.access,
                    Access::Manufacturer,
                    "{} {}",
                    route.method,
                    route.path
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
    fn tenancy_follows_the_path_and_every_change_is_audited() {
        for route in ROUTES {
            let what = format!("{} {}", route.method, route.path);
            let expected = if route.path.contains("{name}") {
                Tenancy::Path
            } else if route.path.contains("{serial}") {
                Tenancy::Device
            } else if route.path.starts_with("/api/v1/registrations/{id}") {
                Tenancy::Registration
            } else if route.tenancy == Tenancy::Filter {
                assert!(
                    !route.path.contains('{'),
                    "{what}: a filter is for collections"
                );
                Tenancy::Filter
            } else {
                Tenancy::Unscoped
            };
            assert_eq!(route.tenancy, expected, "{what}");
            if route.access == Access::Customer {
                assert_ne!(route.tenancy, Tenancy::Unscoped, "{what}: whose objects?");
            }
            assert_eq!(
                route.audit.is_some(),
                route.method != Method::GET,
                "{what}: every change and nothing else is audited"
            );
            let bare = matches!(route.handler, Handler::Bare(_));
            assert_eq!(
                bare,
                matches!(route.access, Access::Public | Access::AnyToken) || route.path == METRICS,
                "{what}: probes, documentation and metrics take nothing of the request"
            );
        }
    }

    /// Where Prometheus scrapes by default: outside the API's prefix, and taking nothing of the
    /// request, though it needs a token.
    const METRICS: &str = "/metrics";

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
                route.path.starts_with(super::super::PREFIX)
                    || route.access == Access::Public
                    || route.path == METRICS,
                "{}: only probes and the metrics scrapers expect at /metrics live outside {}",
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
