//! Devices' activation codes (HTTP Basic authentication of devices, `device_api.
//! activation_codes`): set one (given, or generated and shown once), see whether a device has
//! one, remove it. Only its Argon2id hash is stored.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::context::{Call, Ctx, json};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::openapi::params::SerialPath;
use super::request::Request;
use crate::auth::activation;
use crate::secrets::Secret;
use crate::store::activation_codes::ActivationCodeRecord;

/// An activation code to set.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetActivationCode {
    /// The code (12 to 128 printable ASCII characters); absent: ztp generates one and shows
    /// it in the answer, once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub code: Option<Secret>,
    /// The code alone authenticates the device (a device without an IDevID: a virtual
    /// appliance, an older box); otherwise it is a second factor beside the IDevID.
    #[serde(default)]
    pub only_factor: bool,
}

impl Request for SetActivationCode {}

/// A device's activation code, as the API shows it (never the code, but once when generated).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivationCodeView {
    /// The device.
    pub serial: String,
    /// Whether the code alone authenticates the device.
    pub only_factor: bool,
    /// When it was set (RFC 3339).
    pub created_at: String,
    /// The code ztp generated: shown in this answer only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl ActivationCodeView {
    fn of(record: &ActivationCodeRecord, code: Option<String>) -> Self {
        let created_at =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(record.created_at) * 1_000_000)
                .ok()
                .and_then(|t| t.format(&Rfc3339).ok())
                .unwrap_or_default();
        Self {
            serial: record.serial.clone(),
            only_factor: record.only_factor,
            created_at,
            code,
        }
    }
}

/// Set a device's activation code.
#[utoipa::path(put, path = "/api/v1/devices/{serial}/activation-code", tag = "devices",
    params(SerialPath),
    request_body = SetActivationCode,
    description = "Devices present it with HTTP Basic (the serial as username) when \
        device_api.activation_codes is on: beside their IDevID, or alone when only_factor is \
        set. Without a code in the request, ztp generates one and shows it in this answer \
        only.",
    responses(
        (status = 200, description = "Set", body = ActivationCodeView),
        (status = 400, description = "An unusable code", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
    ))]
pub(super) async fn set_activation_code(
    ctx: &Ctx,
    call: Call,
    body: SetActivationCode,
) -> ApiResult {
    let serial = call.param("serial");
    ctx.device_record(serial).await?;
    let (code, generated) = match body.code {
        Some(code) => {
            let code = code.into_exposed();
            activation::check_code(&code)
                .map_err(|e| ApiError::bad_request(format!("code: {e}")))?;
            (code, false)
        }
        None => (activation::generate(), true),
    };
    let hash = tokio::task::spawn_blocking(move || activation::hash(&code).map(|h| (h, code)))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let record = ctx
        .store
        .put_activation_code(&ActivationCodeRecord {
            serial: serial.to_owned(),
            hash: hash.0,
            only_factor: body.only_factor,
            created_at: 0,
        })
        .await?;
    let factor = if record.only_factor {
        "its only factor"
    } else {
        "a second factor beside its IDevID"
    };
    ctx.audit(
        Some(serial),
        format!("set an activation code for {serial}, {factor}"),
    )
    .await;
    let shown = generated.then_some(hash.1);
    Ok(json(
        StatusCode::OK,
        &ActivationCodeView::of(&record, shown),
    ))
}

/// Whether a device has an activation code, and of which kind.
#[utoipa::path(get, path = "/api/v1/devices/{serial}/activation-code", tag = "devices",
    params(SerialPath),
    responses(
        (status = 200, description = "It has one", body = ActivationCodeView),
        (status = 404, description = "No such device, or no code", body = ErrorBody),
    ))]
pub(super) async fn show_activation_code(ctx: &Ctx, call: Call) -> ApiResult {
    let serial = call.param("serial");
    let record =
        ctx.store.activation_code(serial).await?.ok_or_else(|| {
            ApiError::not_found(format!("device {serial:?} has no activation code"))
        })?;
    Ok(json(StatusCode::OK, &ActivationCodeView::of(&record, None)))
}

/// Remove a device's activation code.
#[utoipa::path(delete, path = "/api/v1/devices/{serial}/activation-code", tag = "devices",
    params(SerialPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such device, or no code", body = ErrorBody),
    ))]
pub(super) async fn delete_activation_code(ctx: &Ctx, call: Call) -> ApiResult {
    let serial = call.param("serial");
    if !ctx.store.delete_activation_code(serial).await? {
        return Err(ApiError::not_found(format!(
            "device {serial:?} has no activation code"
        )));
    }
    ctx.audit(
        Some(serial),
        format!("removed the activation code of {serial}"),
    )
    .await;
    Ok(crate::http::empty(StatusCode::NO_CONTENT))
}
