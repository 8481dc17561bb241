//! Devices in the admin API: list, import one, change owner, model or pin.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use ztp_certs::{ProductId, Serial};

use super::context::{Call, Ctx, json, limit, normalize_pin, nullable};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::openapi::params::{DeviceQuery, Page, SerialPath};
use super::request::Request;
use crate::domain::state::DeviceState;
use crate::store::timestamp;
use crate::store::{DeviceRecord, DeviceUpdate, NewDevice};

/// A device as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceView {
    /// Serial number.
    pub serial: String,
    /// Model.
    pub model: String,
    /// Owner.
    #[schema(required = true)]
    pub customer: Option<String>,
    /// Pinned certificate fingerprint (SHA-256, hex).
    #[schema(required = true)]
    pub certificate_pin: Option<String>,
    /// Onboarding state.
    pub state: DeviceState,
    /// When the state last changed.
    pub state_changed_at: String,
    /// When it last called in.
    #[schema(required = true)]
    pub last_contact_at: Option<String>,
    /// When it was imported.
    pub created_at: String,
}

/// A device to import.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDevice {
    /// Serial number.
    pub serial: String,
    /// Model (product id).
    pub model: String,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// SHA-256 fingerprint its IDevID must have (hex, colons allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_pin: Option<String>,
}

/// Changes to a device; `null` clears owner or pin.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchDevice {
    /// New model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// New owner.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer: Option<Option<String>>,
    /// New pin.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub certificate_pin: Option<Option<String>>,
}

impl Request for CreateDevice {
    fn customer(&self) -> Option<&str> {
        self.customer.as_deref()
    }
}

impl Request for PatchDevice {}

/// List devices.
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices",
    params(DeviceQuery, Page),
    responses(
        (status = 200, description = "One page of devices, by serial", body = Vec<DeviceView>),
        (status = 400, description = "A bad `limit`", body = ErrorBody),
    ))]
pub(super) async fn list_devices(ctx: &Ctx, call: Call) -> ApiResult {
    let query = &call.query;
    let limit = limit(query, 100, 1000)?;
    let devices = ctx
        .store
        .devices(
            query.get("customer").map(String::as_str),
            query.get("after").map(String::as_str),
            limit,
        )
        .await?;
    let views: Vec<DeviceView> = devices.into_iter().map(device_view).collect();
    Ok(json(StatusCode::OK, &views))
}

/// Import one device.
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices",
    request_body = CreateDevice,
    responses(
        (status = 201, description = "Imported", body = DeviceView),
        (status = 400, description = "A bad serial, model or pin", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
        (status = 409, description = "The device exists", body = ErrorBody),
    ))]
pub(super) async fn create_device(ctx: &Ctx, _call: Call, create: CreateDevice) -> ApiResult {
    let serial = Serial::parse(&create.serial).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let model =
        ProductId::parse(&create.model).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let pin = create
        .certificate_pin
        .as_deref()
        .map(normalize_pin)
        .transpose()?;
    let record = ctx
        .store
        .insert_device(&NewDevice {
            serial: serial.as_str().to_owned(),
            model: model.as_str().to_owned(),
            customer: create.customer.clone(),
            certificate_pin: pin,
        })
        .await?;
    ctx.audit(
        Some(serial.as_str()),
        format!(
            "imported device {} ({}) for {}",
            serial.as_str(),
            model.as_str(),
            create.customer.as_deref().unwrap_or("no owner")
        ),
    )
    .await;
    Ok(json(StatusCode::CREATED, &device_view(record)))
}

/// Change a device's owner, model or pin.
#[utoipa::path(patch, path = "/api/v1/devices/{serial}", tag = "devices",
    params(SerialPath),
    request_body = PatchDevice,
    responses(
        (status = 200, description = "Changed", body = DeviceView),
        (status = 400, description = "A bad model or pin", body = ErrorBody),
        (status = 404, description = "No such device or customer", body = ErrorBody),
    ))]
pub(super) async fn patch_device(ctx: &Ctx, call: Call, patch: PatchDevice) -> ApiResult {
    let serial = call.param("serial");
    let model = patch
        .model
        .as_deref()
        .map(|m| ProductId::parse(m).map(|m| m.as_str().to_owned()))
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let certificate_pin = match patch.certificate_pin {
        Some(Some(pin)) => Some(Some(normalize_pin(&pin)?)),
        other => other,
    };
    let record = ctx
        .store
        .update_device(
            serial,
            &DeviceUpdate {
                model,
                customer: patch.customer,
                certificate_pin,
            },
        )
        .await?;
    ctx.audit(Some(serial), format!("changed device {serial}"))
        .await;
    Ok(json(StatusCode::OK, &device_view(record)))
}

/// Show a device.
#[utoipa::path(get, path = "/api/v1/devices/{serial}", tag = "devices",
    params(SerialPath),
    responses(
        (status = 200, description = "The device", body = DeviceView),
        (status = 404, description = "No such device", body = ErrorBody),
    ))]
pub(super) async fn show_device(ctx: &Ctx, call: Call) -> ApiResult {
    let device = ctx.device_record(call.param("serial")).await?;
    Ok(json(StatusCode::OK, &device_view(device)))
}

/// Delete a device.
#[utoipa::path(delete, path = "/api/v1/devices/{serial}", tag = "devices",
    params(SerialPath),
    responses(
        (status = 204, description = "Deleted, with its registrations"),
        (status = 404, description = "No such device", body = ErrorBody),
    ))]
pub(super) async fn delete_device(ctx: &Ctx, call: Call) -> ApiResult {
    let serial = call.param("serial");
    ctx.store.delete_device(serial).await?;
    ctx.audit(Some(serial), format!("deleted device {serial}"))
        .await;
    Ok(crate::http::empty(StatusCode::NO_CONTENT))
}

/// A device as the API shows it.
pub(super) fn device_view(d: DeviceRecord) -> DeviceView {
    DeviceView {
        serial: d.serial,
        model: d.model,
        customer: d.customer,
        certificate_pin: d.certificate_pin,
        state: d.state,
        state_changed_at: timestamp(d.state_changed_at),
        last_contact_at: d.last_contact_at.map(timestamp),
        created_at: timestamp(d.created_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_tell_null_from_absent() {
        let p: PatchDevice = serde_json::from_str(r#"{"customer": null}"#).unwrap();
        assert_eq!(p.customer, Some(None));
        assert_eq!(p.certificate_pin, None);
        let p: PatchDevice = serde_json::from_str(r#"{"customer": "acme"}"#).unwrap();
        assert_eq!(p.customer, Some(Some("acme".into())));
        assert!(serde_json::from_str::<PatchDevice>(r#"{"owner": "acme"}"#).is_err());
    }
}
