//! The route table: every operation of the admin listener, grouped by concept, with its whole
//! policy (see `routes` for what each field means and how to add a route). The router
//! (`router`) admits and runs requests by this table alone.

use http::Method;

use super::context::{bare, handler, typed};
use super::routes::Action::{Action, Create, Delete, Replace, Update};
use super::routes::{Access, Audit, Handler, Route, Tenancy};
use super::{
    CreateCustomer, CreateDevice, CreateNms, CreatePool, CreateToken, CreateWebhook, ImportVoucher,
    PatchCustomer, PatchDevice, PatchNms, PatchPool, PatchWebhook, ReplaceOwnerCredentials,
    RetryRegistrations, RevokeLicense, RuleSet, SetActivationCode, TargetView, TransferLicenses,
};
use super::{
    activation_codes, audit, customers, devices, events, health, import, licenses, metrics, nms,
    openapi, owner_credentials, registrations, reload, timeline, tokens, vouchers, webhooks,
};

/// A change's audit entry: the kind of object and of change.
const fn audits(kind: &'static str, action: super::routes::Action) -> Option<Audit> {
    Some(Audit { kind, action })
}

/// Every route of the admin listener. Each entry: method, path template, who may call it, how
/// its customer is found, what its audit entry records, its one-line summary, and its handler
/// (which says what it takes of the body).
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    Route {
        method: Method::GET, path: "/healthz",
        access: Access::Public, tenancy: Tenancy::Unscoped, audit: None,
        summary: "Liveness: the process answers",
        handler: Handler::Bare(bare!(health::healthz)),
    },
    Route {
        method: Method::GET, path: "/readyz",
        access: Access::Public, tenancy: Tenancy::Unscoped, audit: None,
        summary: "Readiness: the database is reachable",
        handler: Handler::Bare(bare!(health::readyz)),
    },
    Route {
        method: Method::GET, path: "/metrics",
        access: Access::Manufacturer, tenancy: Tenancy::Unscoped, audit: None,
        summary: "Metrics in Prometheus' text format",
        handler: Handler::Bare(bare!(metrics::metrics)),
    },
    Route {
        method: Method::POST, path: "/api/v1/reload",
        access: Access::ManufacturerAdmin, tenancy: Tenancy::Unscoped, audit: audits("server", Action),
        summary: "Reload the TLS certificate, trust anchors, CRLs and signers (as SIGHUP does)",
        handler: Handler::Empty(handler!(reload::reload)),
    },
    Route {
        method: Method::GET, path: openapi::PATH,
        access: Access::AnyToken, tenancy: Tenancy::Unscoped, audit: None,
        summary: "This API's OpenAPI document",
        handler: Handler::Bare(bare!(openapi::openapi_document)),
    },
    // Customers.
    Route {
        method: Method::GET, path: "/api/v1/customers",
        access: Access::Customer, tenancy: Tenancy::Filter, audit: None,
        summary: "List customers",
        handler: Handler::Empty(handler!(customers::list_customers)),
    },
    Route {
        method: Method::POST, path: "/api/v1/customers",
        access: Access::Manufacturer, tenancy: Tenancy::Unscoped, audit: audits("customer", Create),
        summary: "Create a customer (owner CA and signer generated or imported)",
        handler: Handler::Json(typed!(CreateCustomer, customers::create_customer)),
    },
    Route {
        method: Method::GET, path: "/api/v1/customers/{name}",
        access: Access::Customer, tenancy: Tenancy::Path, audit: None,
        summary: "Show a customer",
        handler: Handler::Empty(handler!(customers::show_customer)),
    },
    Route {
        method: Method::PATCH, path: "/api/v1/customers/{name}",
        access: Access::Manufacturer, tenancy: Tenancy::Path, audit: audits("customer", Update),
        summary: "Change a customer's profile, signing or default onboarding",
        handler: Handler::Json(typed!(PatchCustomer, customers::patch_customer)),
    },
    Route {
        method: Method::DELETE, path: "/api/v1/customers/{name}",
        access: Access::Manufacturer, tenancy: Tenancy::Path, audit: audits("customer", Delete),
        summary: "Delete a customer",
        handler: Handler::Empty(handler!(customers::delete_customer)),
    },
    Route {
        method: Method::GET, path: "/api/v1/customers/{name}/owner-ca",
        access: Access::Customer, tenancy: Tenancy::Path, audit: None,
        summary: "A customer's owner CA certificate (PEM)",
        handler: Handler::Empty(handler!(customers::owner_ca)),
    },
    Route {
        method: Method::PUT, path: "/api/v1/customers/{name}/owner-credentials",
        access: Access::Manufacturer, tenancy: Tenancy::Path, audit: audits("customer", Replace),
        summary: "Replace a customer's owner CA and signer (rotate its signing key)",
        handler: Handler::Json(typed!(ReplaceOwnerCredentials, owner_credentials::replace_owner_credentials)),
    },
    Route {
        method: Method::GET, path: "/api/v1/customers/{name}/targets",
        access: Access::Customer, tenancy: Tenancy::Path, audit: None,
        summary: "List a customer's redirect targets",
        handler: Handler::Empty(handler!(customers::list_targets)),
    },
    Route {
        method: Method::POST, path: "/api/v1/customers/{name}/targets",
        access: Access::Customer, tenancy: Tenancy::Path, audit: audits("redirect-target", Create),
        summary: "Add or replace a redirect target",
        handler: Handler::Json(typed!(TargetView, customers::put_target)),
    },
    Route {
        method: Method::DELETE, path: "/api/v1/customers/{name}/targets/{target}",
        access: Access::Customer, tenancy: Tenancy::Path, audit: audits("redirect-target", Delete),
        summary: "Remove a redirect target",
        handler: Handler::Empty(handler!(customers::delete_target)),
    },
    Route {
        method: Method::GET, path: "/api/v1/customers/{name}/rules",
        access: Access::Customer, tenancy: Tenancy::Path, audit: None,
        summary: "A customer's ordered response rules",
        handler: Handler::Empty(handler!(customers::list_rules)),
    },
    Route {
        method: Method::PUT, path: "/api/v1/customers/{name}/rules",
        access: Access::Customer, tenancy: Tenancy::Path, audit: audits("rules", Replace),
        summary: "Replace a customer's response rules",
        handler: Handler::Json(typed!(RuleSet, customers::set_rules)),
    },
    // NMS connections.
    Route {
        method: Method::GET, path: "/api/v1/customers/{name}/nms",
        access: Access::Customer, tenancy: Tenancy::Path, audit: None,
        summary: "List a customer's NMS connections",
        handler: Handler::Empty(handler!(nms::list_nms)),
    },
    Route {
        method: Method::POST, path: "/api/v1/customers/{name}/nms",
        access: Access::Customer, tenancy: Tenancy::Path, audit: audits("nms-connection", Create),
        summary: "Add an NMS connection (a key pair is generated when no password is given)",
        handler: Handler::Json(typed!(CreateNms, nms::create_nms)),
    },
    Route {
        method: Method::GET, path: "/api/v1/customers/{name}/nms/{conn}",
        access: Access::Customer, tenancy: Tenancy::Path, audit: None,
        summary: "Show an NMS connection, with health and queue (never secrets)",
        handler: Handler::Empty(handler!(nms::show_nms)),
    },
    Route {
        method: Method::PATCH, path: "/api/v1/customers/{name}/nms/{conn}",
        access: Access::Customer, tenancy: Tenancy::Path, audit: audits("nms-connection", Update),
        summary: "Change an NMS connection",
        handler: Handler::Json(typed!(PatchNms, nms::patch_nms)),
    },
    Route {
        method: Method::DELETE, path: "/api/v1/customers/{name}/nms/{conn}",
        access: Access::Customer, tenancy: Tenancy::Path, audit: audits("nms-connection", Delete),
        summary: "Remove an NMS connection",
        handler: Handler::Empty(handler!(nms::delete_nms)),
    },
    Route {
        method: Method::POST, path: "/api/v1/customers/{name}/nms/{conn}/test",
        access: Access::Customer, tenancy: Tenancy::Path, audit: audits("nms-connection", Action),
        summary: "Test an NMS connection: connect, check the pin, log in, upload and remove a probe",
        handler: Handler::Empty(handler!(nms::test_nms)),
    },
    Route {
        method: Method::GET, path: "/api/v1/ssh-fingerprint",
        access: Access::ManufacturerAdmin, tenancy: Tenancy::Unscoped, audit: None,
        summary: "The host key fingerprint an SSH server presents (to compare, not to trust)",
        handler: Handler::Empty(handler!(nms::ssh_fingerprint)),
    },
    // Webhooks.
    Route {
        method: Method::GET, path: "/api/v1/customers/{name}/webhooks",
        access: Access::Customer, tenancy: Tenancy::Path, audit: None,
        summary: "List a customer's webhooks",
        handler: Handler::Empty(handler!(webhooks::list_webhooks)),
    },
    Route {
        method: Method::POST, path: "/api/v1/customers/{name}/webhooks",
        access: Access::Customer, tenancy: Tenancy::Path, audit: audits("webhook", Create),
        summary: "Add a webhook (its secret is shown once)",
        handler: Handler::Json(typed!(CreateWebhook, webhooks::create_webhook)),
    },
    Route {
        method: Method::GET, path: "/api/v1/customers/{name}/webhooks/{hook}",
        access: Access::Customer, tenancy: Tenancy::Path, audit: None,
        summary: "Show a webhook, with health and queue (never its secret)",
        handler: Handler::Empty(handler!(webhooks::show_webhook)),
    },
    Route {
        method: Method::PATCH, path: "/api/v1/customers/{name}/webhooks/{hook}",
        access: Access::Customer, tenancy: Tenancy::Path, audit: audits("webhook", Update),
        summary: "Change a webhook (a rotated secret is shown once)",
        handler: Handler::Json(typed!(PatchWebhook, webhooks::patch_webhook)),
    },
    Route {
        method: Method::DELETE, path: "/api/v1/customers/{name}/webhooks/{hook}",
        access: Access::Customer, tenancy: Tenancy::Path, audit: audits("webhook", Delete),
        summary: "Remove a webhook and its deliveries",
        handler: Handler::Empty(handler!(webhooks::delete_webhook)),
    },
    Route {
        method: Method::POST, path: "/api/v1/customers/{name}/webhooks/{hook}/test",
        access: Access::Customer, tenancy: Tenancy::Path, audit: audits("webhook", Action),
        summary: "Post a signed ping to the receiver now and report its answer",
        handler: Handler::Empty(handler!(webhooks::test_webhook)),
    },
    Route {
        method: Method::GET, path: "/api/v1/customers/{name}/webhooks/{hook}/deliveries",
        access: Access::Customer, tenancy: Tenancy::Path, audit: None,
        summary: "A webhook's deliveries, oldest first",
        handler: Handler::Empty(handler!(webhooks::webhook_deliveries)),
    },
    Route {
        method: Method::POST, path: "/api/v1/customers/{name}/webhooks/{hook}/deliveries/retry",
        access: Access::Customer, tenancy: Tenancy::Path, audit: audits("webhook", Action),
        summary: "Retry a webhook's dead letters now",
        handler: Handler::Empty(handler!(webhooks::retry_webhook_deliveries)),
    },
    Route {
        method: Method::POST, path: "/api/v1/customers/{name}/webhooks/{hook}/deliveries/{id}/retry",
        access: Access::Customer, tenancy: Tenancy::Path, audit: audits("webhook", Action),
        summary: "Retry one delivery now",
        handler: Handler::Empty(handler!(webhooks::retry_webhook_delivery)),
    },
    // Licenses.
    Route {
        method: Method::GET, path: "/api/v1/customers/{name}/license-pools",
        access: Access::Customer, tenancy: Tenancy::Path, audit: None,
        summary: "List a customer's license pools",
        handler: Handler::Empty(handler!(licenses::list_pools)),
    },
    Route {
        method: Method::POST, path: "/api/v1/customers/{name}/license-pools",
        access: Access::Manufacturer, tenancy: Tenancy::Path, audit: audits("license-pool", Create),
        summary: "Create a license pool",
        handler: Handler::Json(typed!(CreatePool, licenses::create_pool)),
    },
    Route {
        method: Method::GET, path: "/api/v1/customers/{name}/license-pools/{pool}",
        access: Access::Customer, tenancy: Tenancy::Path, audit: None,
        summary: "Show a license pool (allocated, free, short)",
        handler: Handler::Empty(handler!(licenses::show_pool)),
    },
    Route {
        method: Method::PATCH, path: "/api/v1/customers/{name}/license-pools/{pool}",
        access: Access::Manufacturer, tenancy: Tenancy::Path, audit: audits("license-pool", Update),
        summary: "Extend, shrink or renew a license pool",
        handler: Handler::Json(typed!(PatchPool, licenses::patch_pool)),
    },
    Route {
        method: Method::GET, path: "/api/v1/customers/{name}/licenses/expiring",
        access: Access::Customer, tenancy: Tenancy::Path, audit: None,
        summary: "A customer's active licenses that end soon",
        handler: Handler::Empty(handler!(licenses::expiring)),
    },
    Route {
        method: Method::GET, path: "/api/v1/customers/{name}/license-usage",
        access: Access::Customer, tenancy: Tenancy::Path, audit: None,
        summary: "License usage per pool",
        handler: Handler::Empty(handler!(licenses::license_usage)),
    },
    Route {
        method: Method::GET, path: "/api/v1/devices/{serial}/licenses",
        access: Access::Customer, tenancy: Tenancy::Device, audit: None,
        summary: "A device's licenses, active and revoked",
        handler: Handler::Empty(handler!(licenses::device_licenses)),
    },
    Route {
        method: Method::POST, path: "/api/v1/devices/{serial}/licenses/transfer",
        access: Access::Manufacturer, tenancy: Tenancy::Device, audit: audits("license", Action),
        summary: "Move a device's licenses to its replacement (RMA)",
        handler: Handler::Json(typed!(TransferLicenses, licenses::transfer_licenses)),
    },
    Route {
        method: Method::POST, path: "/api/v1/licenses/{id}/revoke",
        access: Access::Manufacturer, tenancy: Tenancy::Unscoped, audit: audits("license", Action),
        summary: "Revoke a license; its seat returns to the pool",
        handler: Handler::Json(typed!(RevokeLicense, licenses::revoke_license)),
    },
    // Devices: their owners are the manufacturer's to assign (the voucher certifies them).
    Route {
        method: Method::GET, path: "/api/v1/devices",
        access: Access::Customer, tenancy: Tenancy::Filter, audit: None,
        summary: "List devices",
        handler: Handler::Empty(handler!(devices::list_devices)),
    },
    Route {
        method: Method::POST, path: "/api/v1/devices",
        access: Access::Manufacturer, tenancy: Tenancy::Unscoped, audit: audits("device", Create),
        summary: "Import one device",
        handler: Handler::Json(typed!(CreateDevice, devices::create_device)),
    },
    Route {
        method: Method::POST, path: "/api/v1/devices/import",
        access: Access::Manufacturer, tenancy: Tenancy::Unscoped, audit: audits("device-import", Action),
        summary: "Import devices from a streamed CSV file",
        handler: Handler::Csv(handler!(import::import_devices)),
    },
    Route {
        method: Method::GET, path: "/api/v1/devices/{serial}",
        access: Access::Customer, tenancy: Tenancy::Device, audit: None,
        summary: "Show a device",
        handler: Handler::Empty(handler!(devices::show_device)),
    },
    Route {
        method: Method::PATCH, path: "/api/v1/devices/{serial}",
        access: Access::Manufacturer, tenancy: Tenancy::Device, audit: audits("device", Update),
        summary: "Change a device's owner, model or pin",
        handler: Handler::Json(typed!(PatchDevice, devices::patch_device)),
    },
    Route {
        method: Method::DELETE, path: "/api/v1/devices/{serial}",
        access: Access::Manufacturer, tenancy: Tenancy::Device, audit: audits("device", Delete),
        summary: "Delete a device",
        handler: Handler::Empty(handler!(devices::delete_device)),
    },
    Route {
        method: Method::GET, path: "/api/v1/devices/{serial}/progress",
        access: Access::Customer, tenancy: Tenancy::Device, audit: None,
        summary: "A device's progress reports",
        handler: Handler::Empty(handler!(events::device_progress)),
    },
    Route {
        method: Method::GET, path: "/api/v1/devices/{serial}/timeline",
        access: Access::Customer, tenancy: Tenancy::Device, audit: None,
        summary: "A device's timeline, oldest first",
        handler: Handler::Empty(handler!(timeline::device_timeline)),
    },
    Route {
        method: Method::PUT, path: "/api/v1/devices/{serial}/voucher",
        access: Access::Manufacturer, tenancy: Tenancy::Device, audit: audits("voucher", Replace),
        summary: "Import a voucher another party's MASA signed for a device",
        handler: Handler::Json(typed!(ImportVoucher, vouchers::import_voucher)),
    },
    Route {
        method: Method::GET, path: "/api/v1/devices/{serial}/voucher",
        access: Access::Customer, tenancy: Tenancy::Device, audit: None,
        summary: "A device's imported voucher",
        handler: Handler::Empty(handler!(vouchers::show_voucher)),
    },
    Route {
        method: Method::DELETE, path: "/api/v1/devices/{serial}/voucher",
        access: Access::Manufacturer, tenancy: Tenancy::Device, audit: audits("voucher", Delete),
        summary: "Remove a device's imported voucher (ztp signs its vouchers again)",
        handler: Handler::Empty(handler!(vouchers::delete_voucher)),
    },
    Route {
        method: Method::PUT, path: "/api/v1/devices/{serial}/activation-code",
        access: Access::Manufacturer, tenancy: Tenancy::Device, audit: audits("activation-code", Replace),
        summary: "Set a device's activation code (HTTP Basic), given or generated",
        handler: Handler::Json(typed!(SetActivationCode, activation_codes::set_activation_code)),
    },
    Route {
        method: Method::GET, path: "/api/v1/devices/{serial}/activation-code",
        access: Access::Customer, tenancy: Tenancy::Device, audit: None,
        summary: "Whether a device has an activation code (never the code)",
        handler: Handler::Empty(handler!(activation_codes::show_activation_code)),
    },
    Route {
        method: Method::DELETE, path: "/api/v1/devices/{serial}/activation-code",
        access: Access::Manufacturer, tenancy: Tenancy::Device, audit: audits("activation-code", Delete),
        summary: "Remove a device's activation code",
        handler: Handler::Empty(handler!(activation_codes::delete_activation_code)),
    },
    Route {
        method: Method::GET, path: "/api/v1/events",
        access: Access::Customer, tenancy: Tenancy::Filter, audit: None,
        summary: "Events, newest first",
        handler: Handler::Empty(handler!(events::list_events)),
    },
    // Registrations.
    Route {
        method: Method::GET, path: "/api/v1/registrations",
        access: Access::Customer, tenancy: Tenancy::Filter, audit: None,
        summary: "The registration outbox",
        handler: Handler::Empty(handler!(registrations::list_registrations)),
    },
    Route {
        method: Method::POST, path: "/api/v1/registrations/retry",
        access: Access::Customer, tenancy: Tenancy::Filter, audit: audits("registration", Action),
        summary: "Deliver all matching registrations again now",
        handler: Handler::Json(typed!(RetryRegistrations, registrations::retry_registrations)),
    },
    Route {
        method: Method::GET, path: "/api/v1/registrations/{id}",
        access: Access::Customer, tenancy: Tenancy::Registration, audit: None,
        summary: "Show a registration, with its document",
        handler: Handler::Empty(handler!(registrations::show_registration)),
    },
    Route {
        method: Method::POST, path: "/api/v1/registrations/{id}/retry",
        access: Access::Customer, tenancy: Tenancy::Registration, audit: audits("registration", Action),
        summary: "Deliver a registration again now",
        handler: Handler::Empty(handler!(registrations::retry_registration)),
    },
    // Audit and tokens.
    Route {
        method: Method::GET, path: "/api/v1/audit",
        access: Access::Customer, tenancy: Tenancy::Filter, audit: None,
        summary: "The audit log",
        handler: Handler::Empty(handler!(audit::audit_log)),
    },
    Route {
        method: Method::GET, path: "/api/v1/tokens",
        access: Access::ManufacturerAdmin, tenancy: Tenancy::Unscoped, audit: None,
        summary: "List API tokens",
        handler: Handler::Empty(handler!(tokens::list_tokens)),
    },
    Route {
        method: Method::POST, path: "/api/v1/tokens",
        access: Access::ManufacturerAdmin, tenancy: Tenancy::Unscoped, audit: audits("token", Create),
        summary: "Create an API token (shown once)",
        handler: Handler::Json(typed!(CreateToken, tokens::create_token)),
    },
    Route {
        method: Method::DELETE, path: "/api/v1/tokens/{id}",
        access: Access::ManufacturerAdmin, tenancy: Tenancy::Unscoped, audit: audits("token", Delete),
        summary: "Revoke an API token",
        handler: Handler::Empty(handler!(tokens::revoke_token)),
    },
];
