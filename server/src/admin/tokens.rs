//! The token resources of the admin API (`/tokens`), for manufacturer admins only: list, make
//! (the token is shown once, when created; only its digest is stored) and revoke. Checking a
//! presented token is `auth::token`'s.

use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::context::{Call, Ctx, json, page};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::licenses::when;
use super::openapi::params::{Page, TokenPath};
use super::request::Request;
use crate::auth::token::NewToken;
use crate::domain::access::{Role, check_scope};
use crate::domain::response::valid_name;
use crate::store::licenses::ms_of;
use crate::store::timestamp;
use crate::store::tokens::TokenRecord;

/// A token as the API lists it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenView {
    /// The token's id: the `<id>` of `ztp.<id>.<secret>`, and what the audit log names.
    pub id: String,
    /// What it is for.
    pub name: String,
    /// What the token may do (see the roles in `docs/admin-security.md`).
    pub role: Role,
    /// The customer it is limited to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub state: String,
    /// When it was created, RFC 3339.
    pub created_at: String,
    /// When it stops being accepted, RFC 3339 (none: until revoked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// When it was revoked, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// When it last authenticated a request, to the minute, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
}

/// A token just made: the only time the token itself is shown.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The token, for `Authorization: Bearer …` (not stored: keep it now).
    pub token: String,
    /// Its record.
    #[serde(flatten)]
    pub view: TokenView,
}

/// A token to make.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// What it is for (1 to 64 letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// What the token may do: `manufacturer-admin`, `customer-admin` or `read-only`.
    pub role: Role,
    /// The customer it is limited to (required for customer-admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Lifetime in days (none: until revoked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<u32>,
    /// Or the moment it expires (RFC 3339 or `YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl Request for CreateToken {
    fn customer(&self) -> Option<&str> {
        self.customer.as_deref()
    }
}

/// Create an API token.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens",
    description = "For manufacturer admins only. The token is in this answer and nowhere else.",
    request_body = CreateToken,
    responses(
        (status = 201, description = "Created", body = CreatedToken),
        (status = 400, description = "A bad name, role, customer or expiry", body = ErrorBody),
    ))]
pub(super) async fn create_token(ctx: &Ctx, _call: Call, create: CreateToken) -> ApiResult {
    if !valid_name(&create.name) {
        return Err(ApiError::bad_request(format!(
            "token name {:?} must be 1 to 64 letters, digits, '.', '_' or '-'",
            create.name
        )));
    }
    check_scope(create.role, create.customer.as_deref()).map_err(ApiError::bad_request)?;
    let NewToken { token, id, digest } = NewToken::generate()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let expires_at = match (create.expires_in_days, create.expires_at.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give expires_in_days or expires_at, not both",
            ));
        }
        (Some(days), None) => Some(ctx.now_ms().saturating_add(i64::from(days) * 86_400_000)),
        (None, Some(at)) => {
            let at = ms_of(when(at)?);
            if at <= ctx.now_ms() {
                return Err(ApiError::bad_request("expires_at is in the past"));
            }
            Some(at)
        }
        (None, None) => None,
    };
    let record = ctx
        .store
        .insert_token(&TokenRecord {
            id,
            name: create.name,
            role: create.role,
            customer: create.customer,
            digest,
            created_at: 0,
            expires_at,
            revoked_at: None,
            last_used_at: None,
        })
        .await?;
    ctx.audit(
        None,
        format!(
            "created token {} ({}, {}{})",
            record.id,
            record.name,
            record.role,
            record
                .customer
                .as_deref()
                .map(|c| format!(" of customer {c}"))
                .unwrap_or_default()
        ),
    )
    .await;
    Ok(json(
        StatusCode::CREATED,
        &CreatedToken {
            token,
            view: view(record, ctx.now_ms()),
        },
    ))
}

/// List API tokens.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    description = "For manufacturer admins only.",
    params(Page),
    responses(
        (status = 200, description = "One page of tokens, by id (never the tokens themselves)",
            body = Vec<TokenView>),
        (status = 400, description = "A bad `limit`", body = ErrorBody),
    ))]
pub(super) async fn list_tokens(ctx: &Ctx, call: Call) -> ApiResult {
    let views: Vec<TokenView> = ctx
        .store
        .tokens()
        .await?
        .into_iter()
        .map(|t| view(t, ctx.now_ms()))
        .collect();
    Ok(json(StatusCode::OK, &page(views, |t| &t.id, &call.query)?))
}

/// Revoke an API token.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    description = "For manufacturer admins only.",
    params(TokenPath),
    responses(
        (status = 200, description = "Revoked", body = TokenView),
        (status = 404, description = "No such token", body = ErrorBody),
    ))]
pub(super) async fn revoke_token(ctx: &Ctx, call: Call) -> ApiResult {
    let id = call.param("id");
    let revoked = ctx.store.revoke_token(id).await?;
    ctx.audit(None, format!("revoked token {id} ({})", revoked.name))
        .await;
    Ok(json(StatusCode::OK, &view(revoked, ctx.now_ms())))
}

/// `t` as the API shows it, its state as of `now` (Unix ms).
fn view(t: TokenRecord, now: i64) -> TokenView {
    let state = if t.revoked_at.is_some() {
        "revoked"
    } else if t.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "active"
    };
    TokenView {
        id: t.id,
        name: t.name,
        role: t.role,
        customer: t.customer,
        state: state.into(),
        created_at: timestamp(t.created_at),
        expires_at: t.expires_at.map(timestamp),
        revoked_at: t.revoked_at.map(timestamp),
        last_used_at: t.last_used_at.map(timestamp),
    }
}
