//! One documentation-only function per route: its `#[utoipa::path]` attribute is the
//! operation (method, path, tag, parameters, request body, answers particular to it); the body
//! never runs. Summaries, security and the answers every operation shares (401, 403, 413, 429,
//! 503) are added from `routes::ROUTES` by `Conventions` in the parent module.
//!
//! The method and path of each must be exactly those of a route in `ROUTES`.

// The functions are never called: `ApiDoc` reads the types their attributes generate.
#![allow(dead_code)]

use super::super::{
    AuditEntryView, CreateCustomer, CreateDevice, CreateNms, CreatePool, CreateToken, CreatedToken,
    CustomerView, DeviceView, ErrorBody, EventView, ExpiringView, FingerprintView, ImportReport,
    LicenseView, NmsView, PatchCustomer, PatchDevice, PatchNms, PatchPool, PoolView, ProbeView,
    ProgressView, RegistrationView, RetriedView, RetryRegistrations, RevokeLicense, RuleSet,
    TargetView, TimelineEntry, TokenView, TransferLicenses, UsageRow,
};
use super::super::{
    CreateWebhook, DeliveryView, PatchWebhook, WebhookTestView, WebhookView, WebhookWithSecret,
};
use super::params::{
    AuditQuery, ConnectionPath, CustomerPath, CustomerQuery, DeviceQuery, EventQuery,
    ExpiringQuery, FingerprintQuery, ImportQuery, LicensePath, Page, PoolPath, RegistrationPath,
    RegistrationQuery, SerialPath, TargetPath, TokenPath, UsageQuery,
};
use super::params::{DeliveryPath, DeliveryQuery, WebhookPath};
use crate::domain::response::Rule;

// === Probes and documentation ===

#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")))]
pub(super) fn healthz() {}

#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "`ready`", body = String, content_type = "text/plain"),
        (status = 503, description = "The database cannot be reached", body = ErrorBody),
    ))]
pub(super) fn readyz() {}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "documentation",
    description = "Any valid token may read it, whatever its role or customer.",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = serde_json::Value)))]
pub(super) fn openapi_document() {}

// === Customers ===

#[utoipa::path(get, path = "/api/v1/customers", tag = "customers",
    params(CustomerQuery, Page),
    responses(
        (status = 200, description = "One page of customers, by name", body = Vec<CustomerView>),
        (status = 400, description = "A bad `limit`", body = ErrorBody),
    ))]
pub(super) fn list_customers() {}

#[utoipa::path(post, path = "/api/v1/customers", tag = "customers",
    description = "Without certificates and key, an owner CA and signer are generated; \
                   imported ones must be given together and chain to the owner CA.",
    request_body = CreateCustomer,
    responses(
        (status = 201, description = "Created", body = CustomerView),
        (status = 400, description = "A bad name, or unusable owner credentials", body = ErrorBody),
        (status = 409, description = "The customer exists", body = ErrorBody),
    ))]
pub(super) fn create_customer() {}

#[utoipa::path(get, path = "/api/v1/customers/{name}", tag = "customers",
    params(CustomerPath),
    responses(
        (status = 200, description = "The customer", body = CustomerView),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) fn show_customer() {}

#[utoipa::path(patch, path = "/api/v1/customers/{name}", tag = "customers",
    params(CustomerPath),
    request_body = PatchCustomer,
    responses(
        (status = 200, description = "Changed", body = CustomerView),
        (status = 400, description = "Bad onboarding information", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) fn patch_customer() {}

#[utoipa::path(delete, path = "/api/v1/customers/{name}", tag = "customers",
    params(CustomerPath),
    responses(
        (status = 204, description = "Deleted, with its targets, rules, connections and pools"),
        (status = 404, description = "No such customer", body = ErrorBody),
        (status = 409, description = "Devices still belong to it", body = ErrorBody),
    ))]
pub(super) fn delete_customer() {}

#[utoipa::path(get, path = "/api/v1/customers/{name}/owner-ca", tag = "customers",
    params(CustomerPath),
    responses(
        (status = 200, description = "The owner CA certificate (the vouchers' pinned-domain-cert)",
            body = String, content_type = "application/x-pem-file"),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) fn owner_ca() {}

#[utoipa::path(get, path = "/api/v1/customers/{name}/targets", tag = "customers",
    params(CustomerPath),
    responses(
        (status = 200, description = "The redirect targets, in order", body = Vec<TargetView>),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) fn list_targets() {}

#[utoipa::path(post, path = "/api/v1/customers/{name}/targets", tag = "customers",
    description = "A target of the same name is replaced.",
    params(CustomerPath),
    request_body = TargetView,
    responses(
        (status = 200, description = "Stored", body = TargetView),
        (status = 400, description = "A bad name, address, port or trust anchor", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) fn put_target() {}

#[utoipa::path(delete, path = "/api/v1/customers/{name}/targets/{target}", tag = "customers",
    params(CustomerPath, TargetPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such customer or target", body = ErrorBody),
        (status = 409, description = "A rule redirects to it", body = ErrorBody),
    ))]
pub(super) fn delete_target() {}

#[utoipa::path(get, path = "/api/v1/customers/{name}/rules", tag = "customers",
    params(CustomerPath),
    responses(
        (status = 200, description = "The rules, in the order they are tried", body = Vec<Rule>),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) fn list_rules() {}

#[utoipa::path(put, path = "/api/v1/customers/{name}/rules", tag = "customers",
    params(CustomerPath),
    request_body = RuleSet,
    responses(
        (status = 200, description = "Replaced", body = Vec<Rule>),
        (status = 400, description = "A rule cannot be used (unknown target, bad onboarding, …)",
            body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) fn set_rules() {}

// === Webhooks ===

#[utoipa::path(get, path = "/api/v1/customers/{name}/webhooks", tag = "webhooks",
    params(CustomerPath, Page),
    responses(
        (status = 200, description = "One page of webhooks, by name", body = Vec<WebhookView>),
        (status = 400, description = "A bad `limit`", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) fn list_webhooks() {}

#[utoipa::path(post, path = "/api/v1/customers/{name}/webhooks", tag = "webhooks",
    params(CustomerPath),
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "Added, with its secret (shown this once)",
            body = WebhookWithSecret),
        (status = 400, description = "A bad name, URL, event, CA certificate or secret",
            body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
        (status = 409, description = "The webhook exists", body = ErrorBody),
    ))]
pub(super) fn create_webhook() {}

#[utoipa::path(get, path = "/api/v1/customers/{name}/webhooks/{hook}", tag = "webhooks",
    params(CustomerPath, WebhookPath),
    responses(
        (status = 200, description = "The webhook", body = WebhookView),
        (status = 404, description = "No such customer or webhook", body = ErrorBody),
    ))]
pub(super) fn show_webhook() {}

#[utoipa::path(patch, path = "/api/v1/customers/{name}/webhooks/{hook}", tag = "webhooks",
    params(CustomerPath, WebhookPath),
    request_body = PatchWebhook,
    responses(
        (status = 200, description = "Changed; with `rotate_secret`, the new `secret` is added \
                                      (shown this once)", body = WebhookView),
        (status = 400, description = "A bad URL, event or CA certificate", body = ErrorBody),
        (status = 404, description = "No such customer or webhook", body = ErrorBody),
    ))]
pub(super) fn patch_webhook() {}

#[utoipa::path(delete, path = "/api/v1/customers/{name}/webhooks/{hook}", tag = "webhooks",
    params(CustomerPath, WebhookPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such customer or webhook", body = ErrorBody),
    ))]
pub(super) fn delete_webhook() {}

#[utoipa::path(post, path = "/api/v1/customers/{name}/webhooks/{hook}/test", tag = "webhooks",
    params(CustomerPath, WebhookPath),
    responses(
        (status = 200, description = "The receiver's answer (a failed test is still a 200)",
            body = WebhookTestView),
        (status = 404, description = "No such customer or webhook", body = ErrorBody),
    ))]
pub(super) fn test_webhook() {}

#[utoipa::path(get, path = "/api/v1/customers/{name}/webhooks/{hook}/deliveries",
    tag = "webhooks",
    params(CustomerPath, WebhookPath, DeliveryQuery),
    responses(
        (status = 200, description = "One page of deliveries, oldest first",
            body = Vec<DeliveryView>),
        (status = 400, description = "A bad `state`, `after` or `limit`", body = ErrorBody),
        (status = 404, description = "No such customer or webhook", body = ErrorBody),
    ))]
pub(super) fn webhook_deliveries() {}

#[utoipa::path(post, path = "/api/v1/customers/{name}/webhooks/{hook}/deliveries/retry",
    tag = "webhooks",
    params(CustomerPath, WebhookPath),
    responses(
        (status = 200, description = "How many dead letters are due again", body = RetriedView),
        (status = 404, description = "No such customer or webhook", body = ErrorBody),
    ))]
pub(super) fn retry_webhook_deliveries() {}

#[utoipa::path(post, path = "/api/v1/customers/{name}/webhooks/{hook}/deliveries/{id}/retry",
    tag = "webhooks",
    params(CustomerPath, WebhookPath, DeliveryPath),
    responses(
        (status = 200, description = "1 if it is due again, 0 if it was delivered",
            body = RetriedView),
        (status = 404, description = "No such customer, webhook or delivery", body = ErrorBody),
    ))]
pub(super) fn retry_webhook_delivery() {}

// === NMS connections ===

#[utoipa::path(get, path = "/api/v1/customers/{name}/nms", tag = "nms",
    params(CustomerPath, Page),
    responses(
        (status = 200, description = "One page of connections, by name", body = Vec<NmsView>),
        (status = 400, description = "A bad `limit`", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) fn list_nms() {}

#[utoipa::path(post, path = "/api/v1/customers/{name}/nms", tag = "nms",
    params(CustomerPath),
    request_body = CreateNms,
    responses(
        (status = 201, description = "Added; for key authentication, with the public key to \
                                      install", body = NmsView),
        (status = 400, description = "A bad name, host, port, account, pin or directory",
            body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
        (status = 409, description = "The connection exists", body = ErrorBody),
    ))]
pub(super) fn create_nms() {}

#[utoipa::path(get, path = "/api/v1/customers/{name}/nms/{conn}", tag = "nms",
    params(CustomerPath, ConnectionPath),
    responses(
        (status = 200, description = "The connection", body = NmsView),
        (status = 404, description = "No such customer or connection", body = ErrorBody),
    ))]
pub(super) fn show_nms() {}

#[utoipa::path(patch, path = "/api/v1/customers/{name}/nms/{conn}", tag = "nms",
    description = "Registrations waiting for the connection are tried again at once.",
    params(CustomerPath, ConnectionPath),
    request_body = PatchNms,
    responses(
        (status = 200, description = "Changed", body = NmsView),
        (status = 400, description = "A bad value, or both a password and `generate_key`",
            body = ErrorBody),
        (status = 404, description = "No such customer or connection", body = ErrorBody),
    ))]
pub(super) fn patch_nms() {}

#[utoipa::path(delete, path = "/api/v1/customers/{name}/nms/{conn}", tag = "nms",
    params(CustomerPath, ConnectionPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such customer or connection", body = ErrorBody),
    ))]
pub(super) fn delete_nms() {}

#[utoipa::path(post, path = "/api/v1/customers/{name}/nms/{conn}/test", tag = "nms",
    params(CustomerPath, ConnectionPath),
    responses(
        (status = 200, description = "What each step did (a failed test is still a 200)",
            body = ProbeView),
        (status = 404, description = "No such customer or connection", body = ErrorBody),
        (status = 409, description = "The stored connection cannot be used", body = ErrorBody),
    ))]
pub(super) fn test_nms() {}

#[utoipa::path(get, path = "/api/v1/ssh-fingerprint", tag = "nms",
    params(FingerprintQuery),
    responses(
        (status = 200, description = "The fingerprint presented now", body = FingerprintView),
        (status = 400, description = "No host, or a bad port", body = ErrorBody),
        (status = 502, description = "The SSH server could not be reached or spoke no SSH",
            body = ErrorBody),
    ))]
pub(super) fn ssh_fingerprint() {}

// === Licenses ===

#[utoipa::path(get, path = "/api/v1/customers/{name}/license-pools", tag = "licenses",
    params(CustomerPath, Page),
    responses(
        (status = 200, description = "One page of pools, by name", body = Vec<PoolView>),
        (status = 400, description = "A bad `limit`", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) fn list_pools() {}

#[utoipa::path(post, path = "/api/v1/customers/{name}/license-pools", tag = "licenses",
    params(CustomerPath),
    request_body = CreatePool,
    responses(
        (status = 201, description = "Created", body = PoolView),
        (status = 400, description = "A bad name, feature, seat count or terms", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
        (status = 409, description = "The pool exists", body = ErrorBody),
    ))]
pub(super) fn create_pool() {}

#[utoipa::path(get, path = "/api/v1/customers/{name}/license-pools/{pool}", tag = "licenses",
    params(CustomerPath, PoolPath),
    responses(
        (status = 200, description = "The pool", body = PoolView),
        (status = 404, description = "No such customer or pool", body = ErrorBody),
    ))]
pub(super) fn show_pool() {}

#[utoipa::path(patch, path = "/api/v1/customers/{name}/license-pools/{pool}", tag = "licenses",
    params(CustomerPath, PoolPath),
    request_body = PatchPool,
    responses(
        (status = 200, description = "Changed", body = PoolView),
        (status = 400, description = "Bad seats or terms", body = ErrorBody),
        (status = 404, description = "No such customer or pool", body = ErrorBody),
        (status = 409, description = "Fewer seats than are allocated", body = ErrorBody),
    ))]
pub(super) fn patch_pool() {}

#[utoipa::path(get, path = "/api/v1/customers/{name}/licenses/expiring", tag = "licenses",
    params(CustomerPath, ExpiringQuery),
    responses(
        (status = 200, description = "Active licenses ending within the window, soonest first",
            body = Vec<ExpiringView>),
        (status = 400, description = "A bad `days`", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) fn expiring() {}

#[utoipa::path(get, path = "/api/v1/customers/{name}/license-usage", tag = "licenses",
    params(CustomerPath, UsageQuery),
    responses(
        (status = 200, description = "One row per pool", content(
            (Vec<UsageRow> = "application/json"),
            (String = "text/csv"),
            (String = "text/plain"),
        )),
        (status = 400, description = "A bad `days` or `format`", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) fn license_usage() {}

#[utoipa::path(get, path = "/api/v1/devices/{serial}/licenses", tag = "licenses",
    params(SerialPath),
    responses(
        (status = 200, description = "The device's licenses", body = Vec<LicenseView>),
        (status = 404, description = "No such device", body = ErrorBody),
    ))]
pub(super) fn device_licenses() {}

#[utoipa::path(post, path = "/api/v1/devices/{serial}/licenses/transfer", tag = "licenses",
    description = "The failed device's active licenses are revoked and reissued to its \
                   replacement, which must belong to the same customer.",
    params(SerialPath),
    request_body = TransferLicenses,
    responses(
        (status = 200, description = "The replacement's new licenses", body = Vec<LicenseView>),
        (status = 400, description = "The replacement is the device itself or another \
                                      customer's", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
    ))]
pub(super) fn transfer_licenses() {}

#[utoipa::path(post, path = "/api/v1/licenses/{id}/revoke", tag = "licenses",
    params(LicensePath),
    request_body = RevokeLicense,
    responses(
        (status = 200, description = "Revoked", body = LicenseView),
        (status = 404, description = "No such license", body = ErrorBody),
    ))]
pub(super) fn revoke_license() {}

// === Devices and events ===

#[utoipa::path(get, path = "/api/v1/devices", tag = "devices",
    params(DeviceQuery, Page),
    responses(
        (status = 200, description = "One page of devices, by serial", body = Vec<DeviceView>),
        (status = 400, description = "A bad `limit`", body = ErrorBody),
    ))]
pub(super) fn list_devices() {}

#[utoipa::path(post, path = "/api/v1/devices", tag = "devices",
    request_body = CreateDevice,
    responses(
        (status = 201, description = "Imported", body = DeviceView),
        (status = 400, description = "A bad serial, model or pin", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
        (status = 409, description = "The device exists", body = ErrorBody),
    ))]
pub(super) fn create_device() {}

#[utoipa::path(post, path = "/api/v1/devices/import", tag = "devices",
    description = "The body is read as it arrives: a header row naming the columns \
                   `serial`, `model` and optionally `customer`, `certificate_pin`, \
                   `license_pools` (`;`-separated), then one device per row. A serial imported \
                   again is updated; a serial repeated within the body is a bad row. The body's \
                   size, its longest row and the time it may take are limited (413, 408: the \
                   message says how many devices of the rows before were imported, or that \
                   nothing was kept).",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "The devices, one per row after the header row"),
    responses(
        (status = 200, description = "What was imported, and the refused rows", body = ImportReport),
        (status = 400, description = "A bad header row, mode or CSV syntax", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 422, description = "All-or-nothing with bad rows: nothing was kept",
            body = ImportReport),
    ))]
pub(super) fn import_devices() {}

#[utoipa::path(get, path = "/api/v1/devices/{serial}", tag = "devices",
    params(SerialPath),
    responses(
        (status = 200, description = "The device", body = DeviceView),
        (status = 404, description = "No such device", body = ErrorBody),
    ))]
pub(super) fn show_device() {}

#[utoipa::path(patch, path = "/api/v1/devices/{serial}", tag = "devices",
    params(SerialPath),
    request_body = PatchDevice,
    responses(
        (status = 200, description = "Changed", body = DeviceView),
        (status = 400, description = "A bad model or pin", body = ErrorBody),
        (status = 404, description = "No such device or customer", body = ErrorBody),
    ))]
pub(super) fn patch_device() {}

#[utoipa::path(delete, path = "/api/v1/devices/{serial}", tag = "devices",
    params(SerialPath),
    responses(
        (status = 204, description = "Deleted, with its registrations"),
        (status = 404, description = "No such device", body = ErrorBody),
    ))]
pub(super) fn delete_device() {}

#[utoipa::path(get, path = "/api/v1/devices/{serial}/progress", tag = "devices",
    params(SerialPath),
    responses(
        (status = 200, description = "Its progress reports, oldest first", body = Vec<ProgressView>),
        (status = 404, description = "No such device", body = ErrorBody),
    ))]
pub(super) fn device_progress() {}

#[utoipa::path(get, path = "/api/v1/devices/{serial}/timeline", tag = "devices",
    params(SerialPath),
    responses(
        (status = 200, description = "Bootstrap attempts, progress, NMS deliveries, licenses and \
                                      changes, oldest first", body = Vec<TimelineEntry>),
        (status = 404, description = "No such device", body = ErrorBody),
    ))]
pub(super) fn device_timeline() {}

#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(EventQuery),
    responses(
        (status = 200, description = "One page of events, newest first", body = Vec<EventView>),
        (status = 400, description = "A bad `kind`, `before` or `limit`", body = ErrorBody),
    ))]
pub(super) fn list_events() {}

// === Registrations ===

#[utoipa::path(get, path = "/api/v1/registrations", tag = "registrations",
    params(RegistrationQuery),
    responses(
        (status = 200, description = "One page of registrations, by sequence number (without \
                                      their documents)", body = Vec<RegistrationView>),
        (status = 400, description = "A bad `state`, `after` or `limit`", body = ErrorBody),
    ))]
pub(super) fn list_registrations() {}

#[utoipa::path(post, path = "/api/v1/registrations/retry", tag = "registrations",
    description = "Typically `{\"state\": \"dead\"}` once the NMS is fixed.",
    request_body = RetryRegistrations,
    responses(
        (status = 200, description = "How many were retried", body = RetriedView),
        (status = 400, description = "A bad filter", body = ErrorBody),
    ))]
pub(super) fn retry_registrations() {}

#[utoipa::path(get, path = "/api/v1/registrations/{id}", tag = "registrations",
    params(RegistrationPath),
    responses(
        (status = 200, description = "The registration, with its document", body = RegistrationView),
        (status = 400, description = "Not a registration id", body = ErrorBody),
        (status = 404, description = "No such registration", body = ErrorBody),
    ))]
pub(super) fn show_registration() {}

#[utoipa::path(post, path = "/api/v1/registrations/{id}/retry", tag = "registrations",
    params(RegistrationPath),
    responses(
        (status = 200, description = "Due now", body = RegistrationView),
        (status = 400, description = "Not a registration id", body = ErrorBody),
        (status = 404, description = "No such registration", body = ErrorBody),
    ))]
pub(super) fn retry_registration() {}

// === Audit and tokens ===

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    description = "Every successful change (any request but a GET), oldest first.",
    params(AuditQuery),
    responses(
        (status = 200, description = "One page of entries", content(
            (Vec<AuditEntryView> = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "A bad time, `after`, `limit` or `format`", body = ErrorBody),
    ))]
pub(super) fn audit_log() {}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    description = "For manufacturer admins only.",
    params(Page),
    responses(
        (status = 200, description = "One page of tokens, by id (never the tokens themselves)",
            body = Vec<TokenView>),
        (status = 400, description = "A bad `limit`", body = ErrorBody),
    ))]
pub(super) fn list_tokens() {}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens",
    description = "For manufacturer admins only. The token is in this answer and nowhere else.",
    request_body = CreateToken,
    responses(
        (status = 201, description = "Created", body = CreatedToken),
        (status = 400, description = "A bad name, role, customer or expiry", body = ErrorBody),
    ))]
pub(super) fn create_token() {}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    description = "For manufacturer admins only.",
    params(TokenPath),
    responses(
        (status = 200, description = "Revoked", body = TokenView),
        (status = 404, description = "No such token", body = ErrorBody),
    ))]
pub(super) fn revoke_token() {}
