//! Admin API tokens: who presents a bearer token, and new tokens.
//!
//! A token reads `ztp.<id>.<secret>`: the id finds the stored record, and only the SHA-256 of
//! the whole token is stored, compared in constant time. The bootstrap token `ztp serve` writes
//! to its data directory is held as its digest only and acts as a manufacturer admin. Failed
//! authentications are limited per address (a valid token always passes) and recorded as
//! events, one per failure up to the limit.
//!
//! May import `domain`, `store` and `telemetry` only; the admin API maps [`AuthError`] to its
//! answers (401, 429).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::access::{Principal, Role};
use crate::domain::clock::Clock;
use crate::store::{EventKind, NewEvent, Store, StoreError};

/// Why a request is not let in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No bearer token, or one that is unknown, wrong, revoked or expired (which of these is
    /// logged and recorded, never told the client).
    #[error("the bearer token is missing or not valid")]
    Invalid,
    /// The address failed too often in the current window.
    #[error("too many failed authentications from {peer}; retry in {wait} s")]
    TooMany {
        /// The client's address.
        peer: IpAddr,
        /// Seconds until the window ends.
        wait: u64,
    },
    /// The token's record could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks the bearer tokens of admin API requests: the bootstrap token and stored tokens.
#[derive(Debug)]
pub struct TokenAuthenticator {
    store: Store,
    /// SHA-256 of the bootstrap token.
    bootstrap_digest: Vec<u8>,
    failures: FailedLogins,
    /// What time it is, for tokens' expiry and last use.
    clock: Arc<dyn Clock>,
}

impl TokenAuthenticator {
    /// Accepts `bootstrap` and the tokens in `store` that have not expired by `clock`; at most
    /// `max_failures` failed authentications per address in each `window`.
    pub fn new(
        store: Store,
        bootstrap: &str,
        max_failures: u32,
        window: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            bootstrap_digest: sha256(bootstrap.as_bytes()),
            failures: FailedLogins::new(max_failures, window),
            clock,
        }
    }

    /// Who presents `authorization` (the `Authorization` header's value), from `peer`.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        peer: IpAddr,
    ) -> Result<Principal, AuthError> {
        let presented = authorization
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let outcome = match presented {
            None => Err("no bearer token"),
            Some(token) => self.principal(token).await?,
        };
        outcome.map_err(|reason| self.failed(peer, reason))
    }

    /// Counts and records a failure of `peer`, and says what it is answered.
    fn failed(&self, peer: IpAddr, reason: &'static str) -> AuthError {
        // Only failures are limited: a valid token is let in from an address that failed too
        // often, so that one bad client behind a shared proxy locks no administrator out.
        // Guessing is no threat the limit must stop (a token holds 256 random bits); it keeps a
        // misbehaving client from filling the event log.
        if let Err(wait) = self.failures.check(peer) {
            return AuthError::TooMany { peer, wait };
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
                request_id: None,
            };
            tokio::spawn(async move {
                if let Err(error) = store.record(&event).await {
                    tracing::error!(%error, "could not record a failed authentication");
                }
            });
        }
        AuthError::Invalid
    }

    /// The principal of `token`, or why there is none.
    async fn principal(&self, token: &str) -> Result<Result<Principal, &'static str>, StoreError> {
        let digest = sha256(token.as_bytes());
        if verify_slices_are_equal(&digest, &self.bootstrap_digest).is_ok() {
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
        if verify_slices_are_equal(hex(&digest).as_bytes(), record.digest.as_bytes()).is_err() {
            return Ok(Err("wrong token secret"));
        }
        if record.revoked_at.is_some() {
            return Ok(Err("revoked token"));
        }
        let now = self.clock.now_ms();
        if record.expires_at.is_some_and(|at| at <= now) {
            return Ok(Err("expired token"));
        }
        // Last use to the minute: a busy token does not write on every request.
        if record
            .last_used_at
            .is_none_or(|at| now.saturating_sub(at) >= 60_000)
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
}

/// A token just made: what the client is shown once and what is stored.
#[derive(Debug)]
pub struct NewToken {
    /// The token, `ztp.<id>.<secret>`.
    pub token: String,
    /// Its id (12 hex digits), the key of its record.
    pub id: String,
    /// The hex SHA-256 of the whole token: all that is stored of it.
    pub digest: String,
}

/// The system's random source failed: no token can be made.
#[derive(Debug, thiserror::Error)]
#[error("no randomness")]
pub struct NoRandomness;

impl NewToken {
    /// A fresh token: a 48-bit id and a 256-bit secret.
    pub fn generate() -> Result<Self, NoRandomness> {
        let random = |n: usize| {
            let mut bytes = vec![0u8; n];
            SystemRandom::new()
                .fill(&mut bytes)
                .map(|()| bytes)
                .map_err(|_| NoRandomness)
        };
        let id = hex(&random(6)?);
        let secret = URL_SAFE_NO_PAD.encode(random(32)?);
        let token = format!("ztp.{id}.{secret}");
        let digest = hex(&sha256(token.as_bytes()));
        Ok(Self { token, id, digest })
    }
}

/// Failed authentications per address, in fixed windows.
#[derive(Debug)]
struct FailedLogins {
    limit: u32,
    window: Duration,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl FailedLogins {
    /// At most `limit` failures per address in each `window`.
    fn new(limit: u32, window: Duration) -> Self {
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

fn sha256(bytes: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, bytes).as_ref().to_vec()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_their_id_and_nothing_else_parses() {
        let made = NewToken::generate().unwrap();
        assert_eq!(token_id(&made.token), Some(made.id.as_str()));
        assert_eq!(made.id.len(), 12);
        assert_eq!(made.digest, hex(&sha256(made.token.as_bytes())));
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
