//! The admin API's OpenAPI 3.1 document, generated from the code and served at
//! `GET /api/v1/openapi.json`: schemas are the API's own request and response types
//! (`utoipa::ToSchema` derives beside them), operations are the handlers' own
//! `#[utoipa::path]` attributes (parameters in `params`), and summaries, security, the
//! answers every operation shares and each operation's declared access and tenancy
//! (`x-ztp-access`, `x-ztp-tenancy`) come from [`routes::ROUTES`](super::routes::ROUTES)
//! (`Conventions`).
//!
//! **Adding a route** (see `routes` for all three steps): annotate its handler, with method
//! and path exactly as in `ROUTES`, its parameters (`params`), request body and the answers
//! particular to it, and list the handler in `ApiDoc`'s `paths(...)` below. The test
//! `the_document_lists_exactly_the_routes` fails until the document and `ROUTES` agree.

pub(super) mod params;

use std::sync::OnceLock;

use http::{Method, StatusCode};
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi, ToSchema};

use super::context::Ctx;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::routes::{Access, ROUTES, Route};
use super::{
    activation_codes, audit, customers, devices, events, health, import, licenses, metrics, nms,
    owner_credentials, registrations, reload, timeline, tokens, vouchers, webhooks,
};
use crate::http::response;

/// Where the document is served.
pub const PATH: &str = "/api/v1/openapi.json";

/// The name of the bearer token security scheme (`security(...)` of `ApiDoc` spells it too).
const BEARER: &str = "bearer";

/// The admin API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ztp admin API",
        description = "Administration of ztp, a zero-touch provisioning server (RFC 8572): \
            customers, devices, NMS connections and their registration outbox, webhooks, licenses, \
            tokens, events and the audit log.\n\n\
            Every request but `/healthz` and `/readyz` needs `Authorization: Bearer <token>`. \
            Read-only tokens may only GET; a token limited to a customer reaches only that \
            customer's objects (another customer's look missing). Errors are \
            `{\"error\": {\"status\": …, \"message\": \"…\"}}`; a path the API does not have \
            is answered 404, a method it does not have on a path 405 with `Allow`."
    ),
    paths(
        health::healthz,
        health::readyz,
        metrics::metrics,
        reload::reload,
        openapi_document,
        customers::list_customers,
        customers::create_customer,
        customers::show_customer,
        customers::patch_customer,
        customers::delete_customer,
        customers::owner_ca,
        owner_credentials::replace_owner_credentials,
        vouchers::import_voucher,
        vouchers::show_voucher,
        vouchers::delete_voucher,
        activation_codes::set_activation_code,
        activation_codes::show_activation_code,
        activation_codes::delete_activation_code,
        customers::list_targets,
        customers::put_target,
        customers::delete_target,
        customers::list_rules,
        customers::set_rules,
        nms::list_nms,
        nms::create_nms,
        nms::show_nms,
        nms::patch_nms,
        nms::delete_nms,
        nms::test_nms,
        nms::ssh_fingerprint,
        webhooks::list_webhooks,
        webhooks::create_webhook,
        webhooks::show_webhook,
        webhooks::patch_webhook,
        webhooks::delete_webhook,
        webhooks::test_webhook,
        webhooks::webhook_deliveries,
        webhooks::retry_webhook_deliveries,
        webhooks::retry_webhook_delivery,
        licenses::list_pools,
        licenses::create_pool,
        licenses::show_pool,
        licenses::patch_pool,
        licenses::expiring,
        licenses::license_usage,
        licenses::device_licenses,
        licenses::transfer_licenses,
        licenses::revoke_license,
        devices::list_devices,
        devices::create_device,
        import::import_devices,
        devices::show_device,
        devices::patch_device,
        devices::delete_device,
        events::device_progress,
        timeline::device_timeline,
        events::list_events,
        registrations::list_registrations,
        registrations::retry_registrations,
        registrations::show_registration,
        registrations::retry_registration,
        audit::audit_log,
        tokens::list_tokens,
        tokens::create_token,
        tokens::revoke_token,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Conventions),
    security(("bearer" = [])),
    tags(
        (name = "health", description = "Liveness and readiness probes (no token), metrics"),
        (name = "server", description = "The running server: reload its certificates"),
        (name = "documentation", description = "This document"),
        (name = "customers", description = "Customers: owner credentials, redirect targets, \
                                            response rules"),
        (name = "nms", description = "NMS connections that receive device registrations"),
        (name = "webhooks", description = "Customers' receivers of signed device events, and \
                                           their deliveries"),
        (name = "licenses", description = "License pools and node-locked licenses"),
        (name = "devices", description = "The device inventory and what devices reported"),
        (name = "events", description = "What happened, newest first"),
        (name = "registrations", description = "The registration outbox"),
        (name = "audit", description = "Who changed what"),
        (name = "tokens", description = "API tokens (manufacturer admins only)"),
    )
)]
pub struct ApiDoc;

/// This API's OpenAPI document (generated once).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "documentation",
    description = "Any valid token may read it, whatever its role or customer.",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = serde_json::Value)))]
pub(super) async fn openapi_document(_ctx: &Ctx) -> ApiResult {
    serve()
}

/// The document, generated once.
fn serve() -> ApiResult {
    static DOCUMENT: OnceLock<Result<String, String>> = OnceLock::new();
    match DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .map_err(|e| e.to_string())
    }) {
        Ok(document) => Ok(response(
            StatusCode::OK,
            "application/json",
            document.clone(),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the OpenAPI document cannot be written: {e}"),
        )),
    }
}

/// What every operation shares, from the route table: its summary, its security (none for the
/// probes) and the answers the router and the store give any request.
struct Conventions;

/// Answers every operation with a token may get, as `#/components/responses/<name>`.
const SHARED: [(&str, u16, &str); 5] = [
    (
        "Unauthorized",
        401,
        "The bearer token is missing or not valid",
    ),
    (
        "Forbidden",
        403,
        "The token's role or customer does not allow this (read-only tokens may only GET)",
    ),
    (
        "PayloadTooLarge",
        413,
        "The request body is larger than the server's limit",
    ),
    (
        "TooManyRequests",
        429,
        "Too many failed authentications from this address: retry after `Retry-After` seconds",
    ),
    ("Unavailable", 503, "The database cannot be reached"),
];

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`ztp.<id>.<secret>` from `POST /api/v1/tokens`, or the bootstrap token \
                         `ztp serve` writes to its data directory",
                    ))
                    .build(),
            ),
        );
        let error = || {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                .build()
        };
        for (name, status, description) in SHARED {
            let mut shared = ResponseBuilder::new()
                .description(description)
                .content("application/json", error());
            if status == 429 {
                shared = shared.header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(ObjectBuilder::new().schema_type(Type::Integer))
                        .description(Some("Seconds until the address may try again"))
                        .build(),
                );
            }
            components
                .responses
                .insert(name.into(), shared.build().into());
        }
        for route in ROUTES {
            let Some(operation) = operation(openapi, &route.method, route.path) else {
                continue; // The coverage test names it.
            };
            conform(operation, route);
        }
    }
}

/// `operation` as `route` declares it: its summary, who may call it (in words, and as
/// `x-ztp-access`, `x-ztp-tenancy`), its security and the shared answers it may get.
fn conform(operation: &mut Operation, route: &Route) {
    operation.summary = Some(route.summary.into());
    // The route's declared policy, for clients and for the e2e tenancy matrix, which
    // holds it to its own.
    let policy = ExtensionsBuilder::new()
        .add("x-ztp-access", route.access.as_str())
        .add("x-ztp-tenancy", route.tenancy.as_str())
        .build();
    operation
        .extensions
        .get_or_insert_with(Default::default)
        .merge(policy);
    let who = who_may_call(route.access);
    operation.description = Some(match operation.description.take() {
        Some(text) if !text.is_empty() => format!("{text}\n\n{who}"),
        _ => who.to_owned(),
    });
    let shared: &[&str] = match route.access {
        Access::Public => {
            // No token: an empty list of requirements overrides the document's.
            operation.security = Some(Vec::new());
            &[]
        }
        Access::AnyToken => &["Unauthorized", "TooManyRequests"],
        _ if operation.request_body.is_some() => &[
            "Unauthorized",
            "Forbidden",
            "PayloadTooLarge",
            "TooManyRequests",
            "Unavailable",
        ],
        _ => &[
            "Unauthorized",
            "Forbidden",
            "TooManyRequests",
            "Unavailable",
        ],
    };
    for name in shared {
        let status = SHARED
            .iter()
            .find(|(n, _, _)| n == name)
            .map_or(500, |(_, status, _)| *status);
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| Ref::from_response_name(*name).into());
    }
}

/// Who may call an operation with `access`, for its description.
fn who_may_call(access: Access) -> &'static str {
    match access {
        Access::Public => "Who may call: anyone, without a token.",
        Access::AnyToken => "Who may call: any valid token.",
        Access::ManufacturerAdmin => "Who may call: manufacturer admins.",
        Access::Manufacturer => {
            "Who may call: manufacturer admins; read-only tokens not limited to a customer \
             read. Tokens limited to a customer get 403."
        }
        Access::Customer => {
            "Who may call: manufacturer admins, and customer admins for their own customer's \
             objects; read-only tokens read (those limited to a customer, its objects only). \
             Another customer's objects answer 404, as missing ones do."
        }
    }
}

/// The operation for `method` at `path` in `openapi`, if it has one.
fn operation<'a>(
    openapi: &'a mut utoipa::openapi::OpenApi,
    method: &Method,
    path: &str,
) -> Option<&'a mut Operation> {
    let item = openapi.paths.paths.get_mut(path)?;
    let operation = match *method {
        Method::GET => &mut item.get,
        Method::POST => &mut item.post,
        Method::PUT => &mut item.put,
        Method::PATCH => &mut item.patch,
        Method::DELETE => &mut item.delete,
        Method::HEAD => &mut item.head,
        Method::OPTIONS => &mut item.options,
        Method::TRACE => &mut item.trace,
        _ => return None,
    };
    operation.as_mut()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// (method, path) of every operation in the document.
    fn documented() -> BTreeSet<(String, String)> {
        let document = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut operations = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if [
                    "get", "put", "post", "delete", "options", "head", "patch", "trace",
                ]
                .contains(&method.as_str())
                {
                    operations.insert((method.to_ascii_uppercase(), path.clone()));
                }
            }
        }
        operations
    }

    #[test]
    fn the_document_lists_exactly_the_routes() {
        let routes: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|r| (r.method.to_string(), r.path.to_owned()))
            .collect();
        let documented = documented();
        let undocumented: Vec<_> = routes.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routes).collect();
        assert!(
            undocumented.is_empty(),
            "routes without an operation in openapi.rs (add a #[utoipa::path] function and \
             list it in ApiDoc): {undocumented:?}"
        );
        assert!(
            unrouted.is_empty(),
            "operations without a route in routes::ROUTES (the router would refuse them): \
             {unrouted:?}"
        );
    }

    #[test]
    fn operations_carry_the_routes_summaries_security_and_shared_answers() {
        let document = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut ids = BTreeSet::new();
        for route in ROUTES {
            let method = route.method.as_str().to_ascii_lowercase();
            let operation = &document["paths"][route.path][&method];
            assert_eq!(operation["summary"], route.summary, "{}", route.path);
            assert_eq!(
                operation["x-ztp-access"],
                route.access.as_str(),
                "{}",
                route.path
            );
            assert_eq!(
                operation["x-ztp-tenancy"],
                route.tenancy.as_str(),
                "{}",
                route.path
            );
            assert!(
                ids.insert(operation["operationId"].as_str().unwrap().to_owned()),
                "operation ids are unique"
            );
            let responses = operation["responses"].as_object().unwrap();
            match route.access {
                Access::Public => {
                    assert_eq!(
                        operation["security"],
                        serde_json::json!([]),
                        "{}",
                        route.path
                    );
                    assert!(!responses.contains_key("401"));
                }
                _ => {
                    assert!(
                        operation.get("security").is_none(),
                        "the document's applies"
                    );
                    assert!(responses.contains_key("401") && responses.contains_key("429"));
                }
            }
            // Path parameters are declared exactly as the template names them.
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            let templated: BTreeSet<&str> = route
                .path
                .split('/')
                .filter(|part| super::super::routes::is_parameter(part))
                .map(|part| &part[1..part.len() - 1])
                .collect();
            assert_eq!(declared, templated, "{} {}", route.method, route.path);
        }
        assert_eq!(
            document["components"]["securitySchemes"][BEARER]["scheme"],
            "bearer"
        );
    }

    #[test]
    fn the_document_is_served_as_json() {
        let served = serve().unwrap();
        assert_eq!(served.status(), StatusCode::OK);
        assert_eq!(served.headers()["content-type"], "application/json");
    }
}
