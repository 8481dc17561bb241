//! The admin API's errors: what a request that fails is answered (`{"error": {"status": 404,
//! "message": "…"}}`, with `Allow`, `Retry-After` or `WWW-Authenticate` where the status calls
//! for one), and how the errors of the parts below (store, route table, token authentication)
//! become answers.

use http::header::{ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::context::json;
use super::routes::{NoRoute, Refused};
use crate::auth::token::AuthError;
use crate::http::Body;
use crate::store::StoreError;

/// An error answer: `{"error": {"status": 404, "message": "…"}}`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The error's parts.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// HTTP status.
    pub status: u16,
    /// What went wrong.
    pub message: String,
}

/// An API failure: the status and message the client is answered (see [`ErrorBody`]).
#[derive(Debug)]
pub struct ApiError {
    pub(super) status: StatusCode,
    pub(super) message: String,
    /// For 405: the methods the resource has (the `Allow` header).
    pub(super) allow: Option<String>,
}

/// What a handler answers: a response, or the error the client is answered.
pub type ApiResult = Result<Response<Body>, ApiError>;

impl ApiError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            allow: None,
        }
    }

    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// The JSON answer, with the headers its status calls for.
    pub(super) fn into_response(self) -> Response<Body> {
        let mut response = json(
            self.status,
            &ErrorBody {
                error: ErrorDetail {
                    status: self.status.as_u16(),
                    message: self.message,
                },
            },
        );
        let headers = response.headers_mut();
        match self.status {
            StatusCode::TOO_MANY_REQUESTS => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("60"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            StatusCode::UNAUTHORIZED => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"ztp admin API\""),
                );
            }
            _ => {}
        }
        if let Some(allow) = self.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
            headers.insert(ALLOW, allow);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    /// What the client is told: the object's problem in the API's terms, or that the database
    /// is busy or failed; the database's own words (SQL, files) go to the log only.
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NotFound { .. } => Self::not_found(e.to_string()),
            StoreError::Conflict { .. } | StoreError::InUse { .. } => {
                Self::new(StatusCode::CONFLICT, e.to_string())
            }
            e if e.is_disk_full() => {
                tracing::error!(error = %e, "admin API: the database's disk is full; free space \
                    on its volume (writes succeed again as soon as there is room)");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database's disk is full: nothing was changed; try again once space is \
                     freed",
                )
            }
            e if e.is_unavailable() => {
                tracing::warn!(error = %e, "admin API: the database is unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is busy or unavailable; try again shortly",
                )
            }
            _ => {
                tracing::error!(error = %e, "admin API store failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the request failed on the server's side (see its log)",
                )
            }
        }
    }
}

impl From<Refused> for ApiError {
    fn from(e: Refused) -> Self {
        Self::new(StatusCode::FORBIDDEN, e.to_string())
    }
}

impl From<NoRoute> for ApiError {
    fn from(e: NoRoute) -> Self {
        let status = match &e {
            NoRoute::UnknownPath { .. } => StatusCode::NOT_FOUND,
            NoRoute::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
        };
        Self {
            status,
            message: e.to_string(),
            allow: e.allow(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Store(e) => e.into(),
            AuthError::Invalid => Self::new(StatusCode::UNAUTHORIZED, e.to_string()),
            AuthError::TooMany { .. } => Self::new(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
        }
    }
}
