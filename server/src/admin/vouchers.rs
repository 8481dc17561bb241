//! Ownership vouchers ztp did not sign: a vendor's MASA, or the manufacturer's when an owner
//! runs ztp as its own bootstrap server. `PUT /api/v1/devices/{serial}/voucher` imports one
//! (RFC 8366 CMS, base64) after checking it: signed by a voucher signer under one of
//! `manufacturer.voucher_import_anchors`, for this serial, not expired, without a nonce, and
//! pinning a certificate the device's owner certificate chains to. The device then gets it, as
//! it was imported, in place of a voucher ztp signs.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use ztp_certs::cms::{self, TrustPolicy};
use ztp_certs::{Cert, Voucher};

use super::context::{Call, Ctx, json};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::openapi::params::SerialPath;
use super::request::Request;
use crate::store::ImportedVoucherRecord;
use crate::store::vouchers::lower_hex;

/// A voucher to import.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportVoucher {
    /// The voucher: a CMS SignedData over an RFC 8366 JSON voucher (DER), base64.
    pub voucher: String,
}

impl Request for ImportVoucher {}

/// A device's imported voucher, as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VoucherView {
    /// The device.
    pub serial: String,
    /// The subject of the MASA certificate that signed it.
    pub masa: String,
    /// When it expires (RFC 3339); absent: it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<String>,
    /// The `idevid-issuer` it names (hex), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idevid_issuer: Option<String>,
    /// When it was imported (RFC 3339).
    pub imported_at: String,
    /// The voucher as imported (base64 CMS).
    pub voucher: String,
}

fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

impl From<ImportedVoucherRecord> for VoucherView {
    fn from(record: ImportedVoucherRecord) -> Self {
        Self {
            voucher: STANDARD.encode(&record.cms),
            serial: record.serial,
            masa: record.masa,
            expires_on: record.expires_at.map(rfc3339),
            idevid_issuer: record.idevid_issuer,
            imported_at: rfc3339(record.imported_at),
        }
    }
}

/// Import a voucher another party's MASA signed for a device.
#[utoipa::path(put, path = "/api/v1/devices/{serial}/voucher", tag = "devices",
    params(SerialPath),
    request_body = ImportVoucher,
    description = "The voucher is checked (signature under manufacturer.voucher_import_anchors, \
        serial, expiry, no nonce, the owner certificate chaining to its pinned-domain-cert) and \
        then served to the device as it is, in place of one ztp signs. A change of the device's \
        owner drops it.",
    responses(
        (status = 200, description = "Imported", body = VoucherView),
        (status = 400, description = "Not a voucher this device can be served", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
        (status = 409, description = "No anchor configured, or the device has no owner", body = ErrorBody),
    ))]
pub(super) async fn import_voucher(ctx: &Ctx, call: Call, body: ImportVoucher) -> ApiResult {
    let serial = call.param("serial");
    let device = ctx.device_record(serial).await?;
    let anchors = anchors(ctx)?;
    let cms = STANDARD
        .decode(body.voucher.trim())
        .map_err(|e| ApiError::bad_request(format!("voucher: not base64: {e}")))?;
    let now = OffsetDateTime::now_utc();
    let refused = |e: &dyn std::fmt::Display| ApiError::bad_request(format!("voucher: {e}"));
    let (voucher, masa) = Voucher::verify_signed(&cms, &anchors, now).map_err(|e| refused(&e))?;
    voucher
        .check_importable(serial, now)
        .map_err(|e| refused(&e))?;
    let customer = device.customer.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            format!("device {serial} has no owner: a voucher pins its owner's certificate"),
        )
    })?;
    check_pins_owner(
        &voucher,
        &ctx.customer_record(&customer).await?.signer_chain_pem,
        now,
    )?;
    let record = ctx
        .store
        .put_imported_voucher(&ImportedVoucherRecord {
            serial: serial.to_owned(),
            cms,
            masa: masa.subject(),
            expires_at: voucher
                .expires_on
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64),
            idevid_issuer: voucher.idevid_issuer.as_deref().map(lower_hex),
            imported_at: 0,
        })
        .await?;
    ctx.audit(
        Some(serial),
        format!("imported a voucher for {serial} signed by {}", record.masa),
    )
    .await;
    Ok(json(StatusCode::OK, &VoucherView::from(record)))
}

/// The certificates of the configured import anchors; 409 when none is configured.
fn anchors(ctx: &Ctx) -> Result<Vec<Cert>, ApiError> {
    if ctx.voucher_import_anchors.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no voucher can be imported: manufacturer.voucher_import_anchors names no MASA CA",
        ));
    }
    let mut anchors = Vec::new();
    for path in &ctx.voucher_import_anchors {
        let unusable = |e: &dyn std::fmt::Display| {
            tracing::error!(path = %path.display(), error = %e, "voucher import anchor");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "a voucher import anchor (manufacturer.voucher_import_anchors) cannot be read",
            )
        };
        let pem = std::fs::read_to_string(path).map_err(|e| unusable(&e))?;
        anchors.extend(Cert::chain_from_pem(&pem).map_err(|e| unusable(&e))?);
    }
    Ok(anchors)
}

/// Checks that the owner certificate the device is sent (the leaf of `signer_chain_pem`)
/// chains to the voucher's pinned-domain-cert, as the device will check.
fn check_pins_owner(
    voucher: &Voucher,
    signer_chain_pem: &str,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let pinned = Cert::from_der(voucher.pinned_domain_cert.clone()).map_err(|e| {
        ApiError::bad_request(format!(
            "voucher: its pinned-domain-cert is no certificate: {e}"
        ))
    })?;
    let chain = Cert::chain_from_pem(signer_chain_pem)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let (owner, up) = chain
        .split_first()
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "no owner certificate"))?;
    let policy = TrustPolicy {
        anchors: std::slice::from_ref(&pinned),
        extra_certificates: up,
        at: now,
    };
    cms::verify_certificate(owner, &policy).map_err(|e| {
        ApiError::bad_request(format!(
            "voucher: it pins {}, which the owner certificate of the device's owner does not \
             chain to ({e})",
            pinned.subject()
        ))
    })
}

/// A device's imported voucher.
#[utoipa::path(get, path = "/api/v1/devices/{serial}/voucher", tag = "devices",
    params(SerialPath),
    responses(
        (status = 200, description = "The imported voucher", body = VoucherView),
        (status = 404, description = "No such device, or none imported", body = ErrorBody),
    ))]
pub(super) async fn show_voucher(ctx: &Ctx, call: Call) -> ApiResult {
    let serial = call.param("serial");
    let record =
        ctx.store.imported_voucher(serial).await?.ok_or_else(|| {
            ApiError::not_found(format!("device {serial:?} has no imported voucher"))
        })?;
    Ok(json(StatusCode::OK, &VoucherView::from(record)))
}

/// Remove a device's imported voucher: ztp signs its vouchers again.
#[utoipa::path(delete, path = "/api/v1/devices/{serial}/voucher", tag = "devices",
    params(SerialPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such device, or none imported", body = ErrorBody),
    ))]
pub(super) async fn delete_voucher(ctx: &Ctx, call: Call) -> ApiResult {
    let serial = call.param("serial");
    if !ctx.store.delete_imported_voucher(serial).await? {
        return Err(ApiError::not_found(format!(
            "device {serial:?} has no imported voucher"
        )));
    }
    ctx.audit(
        Some(serial),
        format!("removed the imported voucher of {serial}"),
    )
    .await;
    Ok(crate::http::empty(StatusCode::NO_CONTENT))
}
