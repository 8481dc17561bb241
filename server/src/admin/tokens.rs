//! Admin API tokens: authentication of every request (the bootstrap token of `ztp serve`, or a
//! stored token checked for revocation and expiry), failures limited per address (a valid
//! token always passes), and the token resources (`/tokens`), for manufacturer admins only.
//!
//! A token reads `ztp.<id>.<secret>`: the id finds the stored record, and only the SHA-256 of
//! the whole token is stored, compared in constant time. It is shown once, when created.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use super::licenses::when;
use super::request::Request;
use super::{AdminApi, ApiError, ApiResult, json, page, parse, timestamp};
use crate::domain::access::{Principal, Role, check_scope};
use crate::domain::response::valid_name;
use crate::store::licenses::ms_of;
use crate::store::tokens::TokenRecord;
use crate::store::{EventKind, NewEvent, now_ms};

/// A token as the API lists it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenView {
    /// Id.
    pub id: String,
    /// What it is for.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The customer it is limited to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub state: String,
    /// Created.
    pub created_at: String,
    /// Expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// Last used.
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
    /// Role.
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

/// Failed authentications per address, in fixed windows.
#[derive(Debug)]
pub(super) struct FailedLogins {
    limit: u32,
    window: Duration,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl FailedLogins {
    /// At most `limit` failures per address in each `window`.
    pub(super) fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit: limit.max(1),
            window: window.max(Duration::from_secs(1)),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` when `peer` failed too often in the current window.
    fn check(&self, peer: IpAddr) -> Result<(), u64> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        match windows.get(&peer) {
            Some((start, count)) if *count >= self.limit && start.elapsed() < self.window => {
                Err((self.window - start.elapsed()).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failure; returns the count in the window.
    fn failed(&self, peer: IpAddr) -> u32 {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        // Forget old windows, so that the map stays as small as the set of recent offenders.
        windows.retain(|_, (start, _)| start.elapsed() < self.window);
        let entry = windows.entry(peer).or_insert((Instant::now(), 0));
        entry.1 += 1;
        entry.1
    }
}

impl Request for CreateToken {
    fn customer(&self) -> Option<&str> {
        self.customer.as_deref()
    }
}

impl AdminApi {
    /// Who presents `authorization` (the `Authorization` header), from `peer`.
    pub(super) async fn authenticate(
        &self,
        authorization: Option<&str>,
        peer: IpAddr,
    ) -> Result<Principal, ApiError> {
        let presented = authorization
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let outcome = match presented {
            None => Err("no bearer token"),
            Some(token) => self.principal(token).await?,
        };
        outcome.map_err(|reason| {
            // Only failures are limited: a valid token is let in from an address that failed
            // too often, so that one bad client behind a shared proxy locks no administrator
            // out. Guessing is no threat the limit must stop (a token holds 256 random bits);
            // it keeps a misbehaving client from filling the event log.
            if let Err(wait) = self.failures.check(peer) {
                return ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("too many failed authentications from {peer}; retry in {wait} s"),
                );
            }
            let count = self.failures.failed(peer);
            tracing::warn!(%peer, count, reason, "admin API authentication failed");
            // One event per failure up to the limit, then silence until the window ends.
            if count <= self.failures.limit {
                let store = self.store.clone();
                let event = NewEvent {
                    serial: None,
                    kind: EventKind::AdminAuthFailed,
                    status: Some(401),
                    peer: Some(peer.to_string()),
                    detail: reason.to_owned(),
                    notice: None,
                };
                tokio::spawn(async move {
                    if let Err(error) = store.record(&event).await {
                        tracing::error!(%error, "could not record a failed authentication");
                    }
                });
            }
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "the bearer token is missing or not valid",
            )
        })
    }

    /// The principal of `token`, or why there is none.
    async fn principal(&self, token: &str) -> Result<Result<Principal, &'static str>, ApiError> {
        let digest = digest::digest(&digest::SHA256, token.as_bytes());
        if verify_slices_are_equal(digest.as_ref(), &self.token_digest).is_ok() {
            return Ok(Ok(Principal {
                token: "bootstrap".into(),
                role: Role::ManufacturerAdmin,
                customer: None,
            }));
        }
        let Some(id) = token_id(token) else {
            return Ok(Err("not a ztp token"));
        };
        let Some(record) = self.store.token(id).await? else {
            return Ok(Err("unknown token"));
        };
        if verify_slices_are_equal(hex(digest.as_ref()).as_bytes(), record.digest.as_bytes())
            .is_err()
        {
            return Ok(Err("wrong token secret"));
        }
        if record.revoked_at.is_some() {
            return Ok(Err("revoked token"));
        }
        if record.expires_at.is_some_and(|at| at <= now_ms()) {
            return Ok(Err("expired token"));
        }
        // Last use to the minute: a busy token does not write on every request.
        if record
            .last_used_at
            .is_none_or(|at| now_ms().saturating_sub(at) >= 60_000)
            && let Err(error) = self.store.token_used(&record.id).await
        {
            tracing::warn!(%error, "could not note a token's use");
        }
        Ok(Ok(Principal {
            token: record.id,
            role: record.role,
            customer: record.customer,
        }))
    }

    /// `/tokens[/{id}]`.
    pub(super) async fn tokens_route(
        &self,
        method: &Method,
        rest: &[&str],
        query: &HashMap<String, String>,
        body: &[u8],
    ) -> ApiResult {
        match (method, rest) {
            (&Method::GET, []) => {
                let views: Vec<TokenView> =
                    self.store.tokens().await?.into_iter().map(view).collect();
                Ok(json(StatusCode::OK, &page(views, |t| &t.id, query)?))
            }
            (&Method::POST, []) => self.create_token(parse(body)?).await,
            (&Method::DELETE, [id]) => {
                let revoked = self.store.revoke_token(id).await?;
                self.audit(None, format!("revoked token {id} ({})", revoked.name))
                    .await;
                Ok(json(StatusCode::OK, &view(revoked)))
            }
            _ => Err(ApiError::not_found(format!(
                "no resource {method} /tokens/{}",
                rest.join("/")
            ))),
        }
    }

    async fn create_token(&self, create: CreateToken) -> ApiResult {
        if !valid_name(&create.name) {
            return Err(ApiError::bad_request(format!(
                "token name {:?} must be 1 to 64 letters, digits, '.', '_' or '-'",
                create.name
            )));
        }
        check_scope(create.role, create.customer.as_deref()).map_err(ApiError::bad_request)?;
        let (token, id) = new_token()?;
        let digest = hex(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
        let expires_at = match (create.expires_in_days, create.expires_at.as_deref()) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "give expires_in_days or expires_at, not both",
                ));
            }
            (Some(days), None) => Some(now_ms().saturating_add(i64::from(days) * 86_400_000)),
            (None, Some(at)) => {
                let at = ms_of(when(at)?);
                if at <= now_ms() {
                    return Err(ApiError::bad_request("expires_at is in the past"));
                }
                Some(at)
            }
            (None, None) => None,
        };
        let record = self
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
        self.audit(
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
                view: view(record),
            },
        ))
    }
}

/// A new token and its id.
fn new_token() -> Result<(String, String), ApiError> {
    let random = |n: usize| {
        let mut bytes = vec![0u8; n];
        SystemRandom::new()
            .fill(&mut bytes)
            .map(|()| bytes)
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "no randomness"))
    };
    let id = hex(&random(6)?);
    let secret = URL_SAFE_NO_PAD.encode(random(32)?);
    Ok((format!("ztp.{id}.{secret}"), id))
}

/// The id part of a `ztp.<id>.<secret>` token.
fn token_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix("ztp.")?;
    let (id, secret) = rest.split_once('.')?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()) && !secret.is_empty())
        .then_some(id)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn view(t: TokenRecord) -> TokenView {
    let now = now_ms();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_their_id_and_nothing_else_parses() {
        let (token, id) = new_token().unwrap();
        assert_eq!(token_id(&token), Some(id.as_str()));
        assert_eq!(id.len(), 12);
        assert_eq!(token_id("ztp.zz.secret"), None, "the id is hex");
        assert_eq!(token_id("ztp.abc."), None);
        assert_eq!(token_id("Bearer"), None);
    }

    #[test]
    fn failures_are_limited_per_address_and_window() {
        let failures = FailedLogins::new(10, Duration::from_secs(60));
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..10 {
            assert!(failures.check(peer).is_ok());
            failures.failed(peer);
        }
        assert!(failures.check(peer).is_err());
        assert!(failures.check("192.0.2.2".parse().unwrap()).is_ok());
    }
}
