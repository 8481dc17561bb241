//! Path and query parameters of the admin API, as the OpenAPI document shows them. The handlers
//! read the same names from the query string (`query` in the parent module); these types only
//! describe them.

// Never built: the derives read the fields, nothing else does.
#![allow(dead_code)]

use utoipa::IntoParams;

use crate::domain::delivery::RegistrationState;
use crate::store::EventKind;

/// `{name}`: a customer.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::admin) struct CustomerPath {
    /// The customer's name.
    name: String,
}

/// `{target}`: a customer's redirect target.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::admin) struct TargetPath {
    /// The target's name.
    target: String,
}

/// `{conn}`: a customer's NMS connection.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::admin) struct ConnectionPath {
    /// The connection's name.
    conn: String,
}

/// `{hook}`: a customer's webhook.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::admin) struct WebhookPath {
    /// The webhook's name.
    hook: String,
}

/// `{id}`: a webhook delivery.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::admin) struct DeliveryPath {
    /// The delivery's id.
    id: i64,
}

/// `GET …/deliveries`: a state, and one page by id.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(in crate::admin) struct DeliveryQuery {
    /// Only deliveries in this state (`pending`, `delivered`, `dead`).
    #[param(inline)]
    state: Option<RegistrationState>,
    /// Only deliveries after this id: the last id of the previous page.
    after: Option<i64>,
    /// At most this many.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
}

/// `{pool}`: a customer's license pool.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::admin) struct PoolPath {
    /// The pool's name.
    pool: String,
}

/// `{serial}`: a device.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::admin) struct SerialPath {
    /// The device's serial number.
    serial: String,
}

/// `{id}`: a license.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::admin) struct LicensePath {
    /// The license's id.
    id: String,
}

/// `{id}`: a registration.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::admin) struct RegistrationPath {
    /// The registration's sequence number.
    id: i64,
}

/// `{id}`: an API token.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::admin) struct TokenPath {
    /// The token's id (the part between `ztp.` and the next `.`).
    id: String,
}

/// One page of a list ordered by name (or id): `?after=&limit=`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(in crate::admin) struct Page {
    /// Only items whose key sorts after this one: the last key of the previous page.
    after: Option<String>,
    /// At most this many items.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
}

/// `GET /customers`: a page, optionally only one customer.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(in crate::admin) struct CustomerQuery {
    /// Only this customer (a token limited to a customer always gets only its own).
    customer: Option<String>,
}

/// `GET /devices`: one page of devices by serial.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(in crate::admin) struct DeviceQuery {
    /// Only this customer's devices.
    customer: Option<String>,
}

/// `GET /events`: newest first, one page before an event.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(in crate::admin) struct EventQuery {
    /// Only this device's events.
    serial: Option<String>,
    /// Only events of this kind.
    #[param(inline)]
    kind: Option<EventKind>,
    /// Only events of this customer's devices.
    customer: Option<String>,
    /// Only events older than this one (its id): the last id of the previous page.
    before: Option<i64>,
    /// At most this many events.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
}

/// `GET /registrations`: filters, and one page by sequence number.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(in crate::admin) struct RegistrationQuery {
    /// Only registrations in this state.
    #[param(inline)]
    state: Option<RegistrationState>,
    /// Only this customer's.
    customer: Option<String>,
    /// Only to this NMS connection.
    connection: Option<String>,
    /// Only this device's.
    serial: Option<String>,
    /// Only registrations after this sequence number: the last id of the previous page.
    after: Option<i64>,
    /// At most this many.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
}

/// `GET /audit`: filters, one page by entry id, and the format.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(in crate::admin) struct AuditQuery {
    /// Only objects whose path starts with this, e.g. `/customers/acme`.
    object: Option<String>,
    /// Only changes concerning this customer.
    customer: Option<String>,
    /// From this time on (RFC 3339 or `YYYY-MM-DD`).
    since: Option<String>,
    /// Before this time (RFC 3339 or `YYYY-MM-DD`).
    until: Option<String>,
    /// Only entries after this id: the last id of the previous page.
    after: Option<i64>,
    /// At most this many entries.
    #[param(minimum = 1, maximum = 100_000, default = 1000)]
    limit: Option<u32>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
}

/// `GET /customers/{name}/licenses/expiring`: the window.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(in crate::admin) struct ExpiringQuery {
    /// Licenses ending within this many days.
    #[param(minimum = 0, maximum = 3650, default = 30)]
    days: Option<u32>,
}

/// `GET /customers/{name}/license-usage`: the window and the format.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(in crate::admin) struct UsageQuery {
    /// Count licenses ending within this many days as expiring.
    #[param(minimum = 0, maximum = 3650, default = 30)]
    days: Option<u32>,
    /// `json` (default), `csv` or `table` (aligned text).
    #[param(pattern = "^(json|csv|table)$")]
    format: Option<String>,
}

/// `POST /devices/import`: how bad rows are handled.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(in crate::admin) struct ImportQuery {
    /// `partial` (default): good rows go in, bad ones are reported; `all-or-nothing`: one
    /// transaction, kept only if every row is good.
    #[param(pattern = "^(partial|all-or-nothing)$")]
    mode: Option<String>,
}

/// `GET /ssh-fingerprint`: the SSH server to ask.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(in crate::admin) struct FingerprintQuery {
    /// Host name or address.
    host: String,
    /// The SSH server's TCP port (default 22).
    #[param(minimum = 1, maximum = 65535, default = 22)]
    port: Option<u16>,
}
