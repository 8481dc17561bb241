//! NMS connections in the admin API: add, change, remove, list, show (with health and queue,
//! never secrets), test, and the SSH fingerprint helper.

use std::time::Duration;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use ztp_nms_connector::ProbeReport;

use super::context::{Call, Ctx, check_address, distinct, json, page};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::openapi::params::{ConnectionPath, CustomerPath, FingerprintQuery, Page};
use super::request::Request;
use crate::address_policy::AddressPolicy;
use crate::domain::delivery::DeliveryPolicy;
use crate::domain::response::valid_name;
use crate::secrets::Secret;
use crate::store::timestamp;
use crate::store::{NmsConnectionRecord, OutboxStatus};

/// An NMS connection as the API shows it: never its password or private key.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NmsView {
    /// Name, unique per customer.
    pub name: String,
    /// SFTP host.
    pub host: String,
    /// SFTP port.
    pub port: u16,
    /// The account ztp logs in as on the NMS host.
    pub username: String,
    /// `password` or `key`.
    pub auth: String,
    /// For key authentication: the public key the NMS administrator installs.
    #[schema(required = true)]
    pub public_key: Option<String>,
    /// Pinned host key fingerprints.
    pub pins: Vec<String>,
    /// Remote directory.
    pub directory: String,
    /// Delivery policy.
    pub policy: DeliveryPolicy,
    /// When it was created, RFC 3339.
    pub created_at: String,
    /// When it was last changed, RFC 3339.
    pub updated_at: String,
    /// Health and queue, as the delivery worker left them.
    #[serde(default)]
    pub status: ConnectionStatusView,
}

/// An NMS connection's health and registration queue.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConnectionStatusView {
    /// `ok`, `failing`, or `unknown` (nothing attempted yet).
    pub state: String,
    /// The failure of the last attempt, until one succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Since when attempts fail with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
    /// The last successful delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivery_at: Option<String>,
    /// Registrations waiting.
    pub pending: i64,
    /// Registrations delivered.
    pub delivered: i64,
    /// Dead letters.
    pub dead: i64,
}

/// An NMS connection to add. Without a password, ztp generates a key pair and shows its public
/// key.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNms {
    /// Name: 1 to 64 of `[A-Za-z0-9._-]`.
    pub name: String,
    /// SFTP host.
    pub host: String,
    /// SFTP port (default 22).
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    /// The account ztp logs in as on the NMS host.
    pub username: String,
    /// Password (omit for key authentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub password: Option<Secret>,
    /// Pinned host key fingerprints, `SHA256:…` (at least one).
    pub pins: Vec<String>,
    /// Remote directory (default: the account's home).
    #[serde(default)]
    pub directory: String,
    /// Delivery policy (default nms-first).
    #[serde(default)]
    pub policy: DeliveryPolicy,
}

/// What `POST /customers/{name}/nms/{conn}/test` found, step by step.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProbeView {
    /// Whether every step succeeded.
    pub ok: bool,
    /// The host key the server presented (`SHA256:…`), once the handshake got that far: also on
    /// a mismatch, to compare.
    #[schema(required = true)]
    pub presented_fingerprint: Option<String>,
    /// The steps that ran, in order; only the last can have failed.
    pub steps: Vec<ProbeStepView>,
}

/// One step of a connection test.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProbeStepView {
    /// `tcp connect`, `host key check`, `authentication`, `sftp subsystem`,
    /// `upload of a probe file` or `removal of the probe file`.
    pub step: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// What happened.
    pub message: String,
}

impl From<&ProbeReport> for ProbeView {
    fn from(report: &ProbeReport) -> Self {
        Self {
            ok: report.ok(),
            presented_fingerprint: report.presented.map(|f| f.to_string()),
            steps: report
                .steps
                .iter()
                .map(|s| ProbeStepView {
                    step: s.step.as_str().to_owned(),
                    ok: s.ok,
                    message: s.message.clone(),
                })
                .collect(),
        }
    }
}

/// What an SSH server presents (`GET /ssh-fingerprint`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FingerprintView {
    /// The host asked.
    pub host: String,
    /// The port asked.
    pub port: u16,
    /// The host key's fingerprint, `SHA256:…`.
    pub fingerprint: String,
    /// A reminder that this is not a trust decision.
    pub note: String,
}

fn default_ssh_port() -> u16 {
    22
}

/// Changes to an NMS connection.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchNms {
    /// New host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// New port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// New account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Switch to password authentication with this password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub password: Option<Secret>,
    /// Switch to key authentication with a freshly generated key pair.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub generate_key: bool,
    /// New pins (replacing the old ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pins: Option<Vec<String>>,
    /// New directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    /// New delivery policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<DeliveryPolicy>,
}

impl Request for CreateNms {}

impl Request for PatchNms {}

/// Test an NMS connection.
#[utoipa::path(post, path = "/api/v1/customers/{name}/nms/{conn}/test", tag = "nms",
    params(CustomerPath, ConnectionPath),
    responses(
        (status = 200, description = "What each step did (a failed test is still a 200)",
            body = ProbeView),
        (status = 404, description = "No such customer or connection", body = ErrorBody),
        (status = 409, description = "The stored connection cannot be used", body = ErrorBody),
    ))]
pub(super) async fn test_nms(ctx: &Ctx, call: Call) -> ApiResult {
    let (customer, conn) = (call.param("name"), call.param("conn"));
    let record = ctx.store.nms_connection(customer, conn).await?;
    let mut endpoint = crate::nms::endpoint(&record)
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, e.to_string()))?;
    endpoint.address_filter = crate::nms::address_filter(&ctx.nms_hosts);
    let report = ztp_nms_connector::probe(&endpoint).await;
    ctx.audit(
        None,
        format!(
            "tested NMS connection {customer}/{conn}: {}",
            if report.ok() { "ok" } else { "failed" }
        ),
    )
    .await;
    Ok(json(StatusCode::OK, &ProbeView::from(&report)))
}

/// List a customer's NMS connections.
#[utoipa::path(get, path = "/api/v1/customers/{name}/nms", tag = "nms",
    params(CustomerPath, Page),
    responses(
        (status = 200, description = "One page of connections, by name", body = Vec<NmsView>),
        (status = 400, description = "A bad `limit`", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) async fn list_nms(ctx: &Ctx, call: Call) -> ApiResult {
    let (customer, query) = (call.param("name"), &call.query);
    ctx.customer_record(customer).await?;
    let connections = ctx.store.nms_connections(customer).await?;
    let mut views = Vec::new();
    for record in page(connections, |c| &c.name, query)? {
        views.push(nms_view(ctx, &record).await?);
    }
    Ok(json(StatusCode::OK, &views))
}

/// Add an NMS connection.
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
pub(super) async fn create_nms(ctx: &Ctx, call: Call, create: CreateNms) -> ApiResult {
    let customer = call.param("name");
    ctx.customer_record(customer).await?;
    if !valid_name(&create.name) {
        return Err(ApiError::bad_request(format!(
            "NMS connection name {:?} must be 1 to 64 letters, digits, '.', '_' or '-'",
            create.name
        )));
    }
    let connections = ctx.store.nms_connections(customer).await?;
    distinct(
        "NMS connection",
        &create.name,
        connections.iter().map(|c| c.name.as_str()),
    )?;
    let (password, private_key_pem) = match create.password {
        Some(password) => (Some(password.into_exposed()), None),
        None => (None, Some(new_client_key()?)),
    };
    let record = NmsConnectionRecord {
        customer: customer.to_owned(),
        name: create.name,
        host: create.host,
        port: create.port,
        username: create.username,
        password,
        private_key_pem,
        pins: create.pins,
        directory: create.directory,
        policy: create.policy,
        created_at: 0,
        updated_at: 0,
    };
    check_nms(&record)?;
    check_host(&ctx.nms_hosts, &record.host)?;
    let stored = ctx.store.insert_nms_connection(&record).await?;
    ctx.audit(
        None,
        format!(
            "added NMS connection {customer}/{} to {}@{}:{} ({} pin(s), {})",
            stored.name,
            stored.username,
            stored.host,
            stored.port,
            stored.pins.len(),
            stored.policy
        ),
    )
    .await;
    Ok(json(StatusCode::CREATED, &nms_view(ctx, &stored).await?))
}

/// Change an NMS connection.
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
pub(super) async fn patch_nms(ctx: &Ctx, call: Call, patch: PatchNms) -> ApiResult {
    let (customer, name) = (call.param("name"), call.param("conn"));
    let mut record = ctx.store.nms_connection(customer, name).await?;
    if let Some(host) = patch.host {
        check_host(&ctx.nms_hosts, &host)?;
        record.host = host;
    }
    if let Some(port) = patch.port {
        record.port = port;
    }
    if let Some(username) = patch.username {
        record.username = username;
    }
    if let Some(pins) = patch.pins {
        record.pins = pins;
    }
    if let Some(directory) = patch.directory {
        record.directory = directory;
    }
    if let Some(policy) = patch.policy {
        record.policy = policy;
    }
    match (patch.password, patch.generate_key) {
        (Some(_), true) => {
            return Err(ApiError::bad_request(
                "give a password or generate_key, not both",
            ));
        }
        (Some(password), false) => {
            record.password = Some(password.into_exposed());
            record.private_key_pem = None;
        }
        (None, true) => {
            record.password = None;
            record.private_key_pem = Some(new_client_key()?);
        }
        (None, false) => {}
    }
    check_nms(&record)?;
    let stored = ctx.store.put_nms_connection(&record).await?;
    ctx.audit(None, format!("changed NMS connection {customer}/{name}"))
        .await;
    // Whatever kept its registrations failing may be fixed now: try them at once.
    if ctx.store.hasten_registrations(customer, name).await? > 0 {
        ctx.outbox.wake();
    }
    Ok(json(StatusCode::OK, &nms_view(ctx, &stored).await?))
}

/// Show an NMS connection.
#[utoipa::path(get, path = "/api/v1/customers/{name}/nms/{conn}", tag = "nms",
    params(CustomerPath, ConnectionPath),
    responses(
        (status = 200, description = "The connection", body = NmsView),
        (status = 404, description = "No such customer or connection", body = ErrorBody),
    ))]
pub(super) async fn show_nms(ctx: &Ctx, call: Call) -> ApiResult {
    let (customer, conn) = (call.param("name"), call.param("conn"));
    let record = ctx.store.nms_connection(customer, conn).await?;
    Ok(json(StatusCode::OK, &nms_view(ctx, &record).await?))
}

/// Remove an NMS connection.
#[utoipa::path(delete, path = "/api/v1/customers/{name}/nms/{conn}", tag = "nms",
    params(CustomerPath, ConnectionPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such customer or connection", body = ErrorBody),
    ))]
pub(super) async fn delete_nms(ctx: &Ctx, call: Call) -> ApiResult {
    let (customer, conn) = (call.param("name"), call.param("conn"));
    ctx.store.delete_nms_connection(customer, conn).await?;
    ctx.audit(None, format!("removed NMS connection {customer}/{conn}"))
        .await;
    Ok(crate::http::empty(StatusCode::NO_CONTENT))
}

async fn nms_view(ctx: &Ctx, record: &NmsConnectionRecord) -> Result<NmsView, ApiError> {
    let status = ctx
        .store
        .connection_status(&record.customer, &record.name)
        .await?;
    Ok(NmsView {
        name: record.name.clone(),
        host: record.host.clone(),
        port: record.port,
        username: record.username.clone(),
        auth: if record.password.is_some() {
            "password"
        } else {
            "key"
        }
        .into(),
        public_key: crate::nms::public_key(record),
        pins: record.pins.clone(),
        directory: record.directory.clone(),
        policy: record.policy,
        created_at: timestamp(record.created_at),
        updated_at: timestamp(record.updated_at),
        status: status_view(status),
    })
}

fn new_client_key() -> Result<String, ApiError> {
    ztp_nms_connector::generate_client_key()
        .and_then(|key| key.to_openssh_pem())
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// Checks what the connector would refuse, so that a broken connection is never stored.
fn check_nms(record: &NmsConnectionRecord) -> Result<(), ApiError> {
    if record.pins.is_empty() {
        return Err(ApiError::bad_request(
            "at least one pinned host key fingerprint (SHA256:…) is required: ztp never trusts a \
             host key on first use",
        ));
    }
    check_address("host", &record.host, record.port)?;
    if record.username.is_empty() || record.username.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "username must be non-empty printable text",
        ));
    }
    if record.directory.len() > 1024 || record.directory.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "directory must be printable text of at most 1024 bytes",
        ));
    }
    crate::nms::endpoint(record).map_err(|e| ApiError::bad_request(e.reason))?;
    Ok(())
}

/// Refuses a host given as an address `hosts` does not allow (a name's addresses are checked
/// at every connection).
fn check_host(hosts: &AddressPolicy, host: &str) -> Result<(), ApiError> {
    hosts
        .check_host(host)
        .map_err(|e| ApiError::bad_request(format!("host {host:?}: {e}")))
}

/// `GET /ssh-fingerprint?host=&port=`: what an SSH server at an address `hosts` allows
/// presents.
#[utoipa::path(get, path = "/api/v1/ssh-fingerprint", tag = "nms",
    params(FingerprintQuery),
    responses(
        (status = 200, description = "The fingerprint presented now", body = FingerprintView),
        (status = 400, description = "No host, or a bad port", body = ErrorBody),
        (status = 502, description = "The SSH server could not be reached or spoke no SSH",
            body = ErrorBody),
    ))]
pub(super) async fn ssh_fingerprint(ctx: &Ctx, call: Call) -> ApiResult {
    let (hosts, query) = (&ctx.nms_hosts, &call.query);
    let host = query
        .get("host")
        .ok_or_else(|| ApiError::bad_request("give ?host=…&port=…"))?;
    let port = query
        .get("port")
        .map(|p| {
            p.parse::<u16>()
                .map_err(|_| ApiError::bad_request("port must be 1 to 65535"))
        })
        .transpose()?
        .unwrap_or(22);
    check_host(hosts, host)?;
    let filter = crate::nms::address_filter(hosts);
    let fingerprint =
        ztp_nms_connector::presented_fingerprint(host, port, &filter, Duration::from_secs(10))
            .await
            .map_err(|e| match e {
                ztp_nms_connector::Error::AddressNotAllowed { .. } => {
                    ApiError::bad_request(e.to_string())
                }
                _ => ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()),
            })?;
    Ok(json(
        StatusCode::OK,
        &FingerprintView {
            host: host.clone(),
            port,
            fingerprint: fingerprint.to_string(),
            note: "what the server presents now: compare it with the fingerprint the NMS \
                   administrator gave you before pinning it; this is not a trust decision"
                .into(),
        },
    ))
}

fn status_view(status: OutboxStatus) -> ConnectionStatusView {
    ConnectionStatusView {
        state: status.state().into(),
        last_error: status.last_error,
        failing_since: status.last_error_at.map(timestamp),
        last_delivery_at: status.last_delivery_at.map(timestamp),
        pending: status.pending,
        delivered: status.delivered,
        dead: status.dead,
    }
}
