//! The registration outbox in the admin API: list, show (with the document), and retry, one or
//! many (dead letters, typically, once the NMS is fixed).

use std::collections::HashMap;

use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use super::access::narrow;
use super::request::Request;
use super::{AdminApi, ApiError, ApiResult, json, limit, parse, timestamp};
use crate::domain::access::Principal;
use crate::domain::delivery::RegistrationState;
use crate::store::{RegistrationFilter, RegistrationRecord};

/// A registration as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegistrationView {
    /// Sequence number.
    pub id: i64,
    /// The device.
    pub serial: String,
    /// The owner.
    pub customer: String,
    /// The owner's NMS connection.
    pub connection: String,
    /// The remote file name.
    pub file_name: String,
    /// `pending`, `delivered` or `dead`.
    pub state: RegistrationState,
    /// Attempts since the content changed or the last retry.
    pub attempts: i64,
    /// For a pending registration: when the next attempt is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the current content was delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    /// Since when the current content waits.
    pub pending_since: String,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
    /// The document (shown for one registration, not in lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// Which registrations to retry; all matching ones are delivered again now.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRegistrations {
    /// Only in this state (typically `dead`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<RegistrationState>,
    /// Only of this customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Only to this connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// Only of this device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
}

/// How many registrations or webhook deliveries a retry made due now.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RetriedView {
    /// How many were retried.
    pub retried: u64,
}

impl Request for RetryRegistrations {
    fn customer(&self) -> Option<&str> {
        self.customer.as_deref()
    }
}

impl AdminApi {
    /// `/registrations[/{id}[/retry]]`, `/registrations/retry`.
    pub(super) async fn registrations_route(
        &self,
        principal: &Principal,
        method: &Method,
        rest: &[&str],
        query: &HashMap<String, String>,
        body: &[u8],
    ) -> ApiResult {
        match (method, rest) {
            (&Method::GET, []) => self.list_registrations(query).await,
            (&Method::POST, ["retry"]) => {
                let mut retry: RetryRegistrations = parse(body)?;
                if let Some(own) = &principal.customer {
                    retry.customer = Some(narrow(own, retry.customer.as_deref())?);
                }
                self.retry_many(retry).await
            }
            (&Method::GET, [id]) => {
                let record = self.store.registration(registration_id(id)?).await?;
                Ok(json(StatusCode::OK, &view(record, true)))
            }
            (&Method::POST, [id, "retry"]) => self.retry_one(registration_id(id)?).await,
            _ => Err(ApiError::not_found(format!(
                "no resource {method} /registrations/{}",
                rest.join("/")
            ))),
        }
    }

    async fn list_registrations(&self, query: &HashMap<String, String>) -> ApiResult {
        let state = query
            .get("state")
            .map(|s| {
                s.parse::<RegistrationState>()
                    .map_err(ApiError::bad_request)
            })
            .transpose()?;
        let after = query
            .get("after")
            .map(|a| registration_id(a))
            .transpose()?
            .unwrap_or(0);
        let filter = RegistrationFilter {
            state,
            customer: query.get("customer").cloned(),
            connection: query.get("connection").cloned(),
            serial: query.get("serial").cloned(),
        };
        let records = self
            .store
            .registrations(&filter, after, limit(query, 100, 1000)?)
            .await?;
        let views: Vec<RegistrationView> = records.into_iter().map(|r| view(r, false)).collect();
        Ok(json(StatusCode::OK, &views))
    }

    async fn retry_one(&self, id: i64) -> ApiResult {
        let filter = RegistrationFilter::default();
        if self.store.retry_registrations(&filter, Some(id)).await? == 0 {
            return Err(ApiError::not_found(format!(
                "registration {id} does not exist"
            )));
        }
        self.outbox.wake();
        let record = self.store.registration(id).await?;
        self.audit(
            Some(&record.serial),
            format!(
                "retry of registration {id} ({} with NMS {}/{})",
                record.serial, record.customer, record.connection
            ),
        )
        .await;
        Ok(json(StatusCode::OK, &view(record, false)))
    }

    async fn retry_many(&self, retry: RetryRegistrations) -> ApiResult {
        let filter = RegistrationFilter {
            state: retry.state,
            customer: retry.customer,
            connection: retry.connection,
            serial: retry.serial,
        };
        let retried = self.store.retry_registrations(&filter, None).await?;
        if retried > 0 {
            self.outbox.wake();
        }
        self.audit(
            filter.serial.as_deref(),
            format!("retry of {retried} registration(s) ({filter:?})"),
        )
        .await;
        Ok(json(StatusCode::OK, &RetriedView { retried }))
    }
}

fn registration_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("{text:?} is not a registration id")))
}

fn view(r: RegistrationRecord, with_content: bool) -> RegistrationView {
    RegistrationView {
        id: r.id,
        serial: r.serial,
        customer: r.customer,
        connection: r.connection,
        file_name: r.file_name,
        state: r.state,
        attempts: r.attempts,
        next_attempt_at: (r.state == RegistrationState::Pending)
            .then(|| timestamp(r.next_attempt_at)),
        last_error: r.last_error,
        delivered_at: r.delivered_at.map(timestamp),
        pending_since: timestamp(r.pending_since),
        created_at: timestamp(r.created_at),
        updated_at: timestamp(r.updated_at),
        content: with_content.then_some(r.content),
    }
}
