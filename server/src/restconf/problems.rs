//! What a refused device request is answered with (the RESTCONF error of RFC 8040 §7) and
//! counted as in the metrics.
//!
//! May import: `auth`, `bootstrap`, `licensing`, `nms`, `telemetry`.

use http::StatusCode;
use ztp_yang::{DecodeError, ErrorTag, ErrorType};

use super::media::Problem;
use crate::auth::device::AuthFailure;
use crate::bootstrap::BootstrapError;
use crate::licensing::LicensingError;
use crate::nms::RegistrarError;
use crate::telemetry::metrics::Refusal;

/// The answer to a bootstrapper's refusal, and the reason it is counted under.
pub(super) fn bootstrap_problem(error: &BootstrapError, retry_after: u64) -> (Problem, Refusal) {
    match error {
        // Unknown and mismatched devices look the same from outside: no inventory leaks.
        BootstrapError::UnknownDevice(_) | BootstrapError::PinMismatch { .. } => (
            Problem::access_denied("the client certificate is not accepted"),
            Refusal::UnknownDevice,
        ),
        BootstrapError::NoOwner(_) | BootstrapError::NothingConfigured { .. } => (
            Problem::data_missing("no bootstrapping data is configured for this device"),
            Refusal::NoOwner,
        ),
        BootstrapError::ImportedVoucher { .. } => (
            Problem::data_missing("no valid ownership voucher can be had for this device"),
            Refusal::NoVoucher,
        ),
        BootstrapError::BadTrustAnchor { .. } => (
            Problem::new(
                StatusCode::BAD_REQUEST,
                ErrorType::Protocol,
                ErrorTag::InvalidValue,
                error.to_string(),
            ),
            Refusal::BadRequest,
        ),
        BootstrapError::Ldevid { error: e, .. } if e.is_the_devices() => (
            Problem::new(
                StatusCode::BAD_REQUEST,
                ErrorType::Application,
                ErrorTag::InvalidValue,
                e.to_string(),
            ),
            Refusal::BadRequest,
        ),
        BootstrapError::Ldevid { .. } => {
            tracing::error!(%error, "issuing an LDevID failed");
            (
                Problem::busy(
                    "the certificate for the CSR could not be issued; retry later",
                    retry_after,
                ),
                Refusal::Internal,
            )
        }
        BootstrapError::AwaitingNms { .. } => (
            Problem::busy(
                "the device's registration with its network management system is on its \
                 way; retry later",
                retry_after,
            ),
            Refusal::AwaitingNms,
        ),
        BootstrapError::Store(e)
        | BootstrapError::Registration(RegistrarError::Store(e))
        | BootstrapError::Licensing(LicensingError::Store(e))
            if e.is_unavailable() =>
        {
            tracing::error!(%error, "database unavailable");
            (
                Problem::busy(
                    "the server cannot reach its database; retry later",
                    retry_after,
                ),
                Refusal::DatabaseUnavailable,
            )
        }
        _ => {
            tracing::error!(%error, "building a bootstrap response failed");
            (Problem::internal(), Refusal::Internal)
        }
    }
}

/// The reason a request refused before its input was read (its body, its media types) is
/// counted under, by the status it is answered with.
pub(super) fn input_refusal(status: StatusCode) -> Refusal {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => Refusal::TooLarge,
        StatusCode::REQUEST_TIMEOUT => Refusal::Timeout,
        StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::NOT_ACCEPTABLE => Refusal::MediaType,
        _ => Refusal::BadRequest,
    }
}

/// The reason a device that failed authentication is counted under.
pub(super) fn auth_refusal(failure: &AuthFailure) -> Refusal {
    match failure {
        AuthFailure::Revoked { .. } => Refusal::RevokedCertificate,
        AuthFailure::NotAProxy(_) => Refusal::NotAProxy,
        _ => Refusal::UntrustedCertificate,
    }
}

pub(super) fn decode_problem(error: &DecodeError) -> Problem {
    let tag = match error {
        DecodeError::TooLarge { .. } => return Problem::too_big(error.to_string()),
        DecodeError::UnknownElement { .. } => ErrorTag::UnknownElement,
        DecodeError::Missing(_) => ErrorTag::MissingElement,
        DecodeError::InvalidValue { .. } | DecodeError::Invalid(_) => ErrorTag::InvalidValue,
        _ => ErrorTag::MalformedMessage,
    };
    Problem::new(
        StatusCode::BAD_REQUEST,
        ErrorType::Protocol,
        tag,
        error.to_string(),
    )
}
