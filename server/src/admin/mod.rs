//! The administration API: JSON over HTTP on its own listener, bearer-token protected.
//!
//! # What it owns
//! The admin listener's requests, from routing to answer: the route table (`routes`, `table`),
//! which is the dispatch and carries each route's policy (who may call it, how its customer is
//! found, what its audit entry records, its body, its handler); the router (`router`) that
//! applies that policy in one place; the handlers, free functions over the context (`context`)
//! grouped by resource family (`customers`, `devices`, `import`, `nms`, `webhooks`,
//! `licenses`, `registrations`, `events`, `timeline`, `audit`, `tokens`, `health`); tenancy
//! (`access`); the typing of request bodies (`request`); errors (`error`); the OpenAPI document
//! generated from the handlers' annotations (`openapi`); and the API's client (`client`).
//!
//! A request passes, in this order: authentication (401, `auth::token`), the route table (404,
//! 405), the route's access for the token's role (403, [`routes::Access::admits`]), tenancy
//! (another customer's objects answer 404, `access`), then its body is typed (400, `request`),
//! its handler runs and the change is recorded in the audit log (`audit`). Only `/healthz` and
//! `/readyz` need no token.
//!
//! # What it may import
//! `domain`, `store`, `auth`, `artifacts`, `ldevid`, `licensing`, `nms`, `webhooks`, `http`,
//! `address_policy`, `csv_export`, `secrets`, `telemetry` and `tls` (the client's crypto
//! provider) (`tests/boundaries.rs`); nothing imports it but the command line.

/// The API version prefix.
pub const PREFIX: &str = "/api/v1";

mod access;
mod activation_codes;
mod audit;
pub mod client;
mod context;
mod customers;
mod devices;
mod error;
mod events;
mod health;
mod import;
mod licenses;
mod metrics;
mod nms;
pub mod openapi;
mod owner_credentials;
mod registrations;
mod reload;
mod request;
mod router;
pub mod routes;
mod table;
mod timeline;
mod tokens;
mod vouchers;
mod webhooks;

pub use activation_codes::{ActivationCodeView, SetActivationCode};
pub use audit::AuditEntryView;
pub use context::{BareFn, Call, Ctx, HandlerFn, Reply};
pub use customers::{
    CertificateView, CreateCustomer, CustomerView, PatchCustomer, RuleSet, TargetView,
};
pub use devices::{CreateDevice, DeviceView, PatchDevice};
pub use error::{ApiError, ApiResult, ErrorBody, ErrorDetail};
pub use events::{EventView, ProgressView};
pub use import::{ImportLimits, ImportReport, RowError, check_import};
pub use licenses::{
    CreatePool, ExpiringView, LicenseView, PatchPool, PoolView, RevokeLicense, TransferLicenses,
    UsageRow,
};
pub use nms::{
    ConnectionStatusView, CreateNms, FingerprintView, NmsView, PatchNms, ProbeStepView, ProbeView,
};
pub use owner_credentials::ReplaceOwnerCredentials;
pub use registrations::{RegistrationView, RetriedView, RetryRegistrations};
pub use reload::{Reload, Reloaded};
pub use router::{AdminApi, AdminLimits};
pub use timeline::TimelineEntry;
pub use tokens::{CreateToken, CreatedToken, TokenView};
pub use vouchers::{ImportVoucher, VoucherView};
pub use webhooks::{
    CreateWebhook, DeliveryView, PatchWebhook, WebhookStatusView, WebhookTestView, WebhookView,
    WebhookWithSecret,
};
