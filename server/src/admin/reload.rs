//! `POST /api/v1/reload`: the server reads its device TLS certificate, the manufacturer's trust
//! anchors, intermediates and CRLs, and its voucher and license signers again, as SIGHUP makes
//! it do. Connections in flight keep
//! what they negotiated; new handshakes and new connections' devices see the new material.
//! What reloads is the composition root's business ([`Reload`]); this is its door.

use std::fmt::Debug;

use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::context::{Call, Ctx, json};
use super::error::{ApiError, ApiResult, ErrorBody};

/// What a reload read, for the answer and the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Reloaded {
    /// The device TLS certificate now served: its subject.
    pub tls_subject: String,
    /// Its fingerprint (SHA-256, hex).
    pub tls_fingerprint: String,
    /// When it expires (RFC 3339).
    pub tls_not_after: String,
    /// The voucher (MASA) signer now signing: its subject.
    pub voucher_signer: String,
    /// The license signer now signing: its subject.
    pub license_signer: String,
    /// Trust anchors of device certificates.
    pub trust_anchors: usize,
    /// Intermediates of device certificates.
    pub intermediates: usize,
    /// CRLs in force.
    pub crls: usize,
}

/// The server's reload of its certificates and trust material; all or nothing: when a file
/// does not load, what was in force stays.
pub trait Reload: Send + Sync + Debug {
    /// Reads them again and puts them in force; the error says which file and why.
    fn reload(&self) -> Result<Reloaded, String>;
}

/// Reload the device TLS certificate, trust anchors, CRLs and signers (as SIGHUP does).
#[utoipa::path(post, path = "/api/v1/reload", tag = "server",
    responses(
        (status = 200, description = "In force now", body = Reloaded),
        (status = 422, description = "A file did not load: what was in force stays",
            body = ErrorBody),
    ))]
pub(super) async fn reload(ctx: &Ctx, _call: Call) -> ApiResult {
    let reloaded = ctx
        .reload
        .reload()
        .map_err(|error| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error))?;
    ctx.audit(
        None,
        format!(
            "reload: TLS certificate {} ({}), voucher signer {}, license signer {}, {} trust \
             anchors, {} CRLs",
            reloaded.tls_subject,
            reloaded.tls_fingerprint,
            reloaded.voucher_signer,
            reloaded.license_signer,
            reloaded.trust_anchors,
            reloaded.crls
        ),
    )
    .await;
    Ok(json(StatusCode::OK, &reloaded))
}
