//! RFC 9646's request for a CSR: a 400 `missing-attribute` whose `error-info` holds the
//! `csr-request`. A step of the exchange, not a fault: it is recorded (the device's event log
//! shows what was asked), but neither counted as a refusal nor struck against the source.
//!
//! May import: `auth`, `bootstrap`, `http`, `store`.

use http::{Response, StatusCode};
use ztp_yang::{Encoding, ErrorInfo, ErrorTag, ErrorType};

use super::DeviceApi;
use super::media::Problem;
use crate::auth::device::AuthenticatedDevice;
use crate::http::{Body, ConnectionInfo};
use crate::store::{EventKind, NewEvent};

impl DeviceApi {
    /// Answers a device that offers CSRs with the `csr-request` of `request`.
    pub(super) async fn ask_for_csr(
        &self,
        device: &AuthenticatedDevice,
        request: ztp_yang::CsrRequest,
        connection: &ConnectionInfo,
        encoding: Encoding,
    ) -> Response<Body> {
        let detail = format!(
            "asked for a {} CSR (RFC 9646){}",
            request.format,
            if request.key_generation.is_some() {
                ", for a new key"
            } else {
                ", for its IDevID key"
            }
        );
        let serial = device.serial();
        tracing::info!(
            kind = EventKind::BootstrapRefused.as_str(),
            %serial,
            status = 400,
            peer = %connection.peer,
            "{detail}"
        );
        let event = NewEvent {
            serial: Some(serial.clone()),
            kind: EventKind::BootstrapRefused,
            status: Some(400),
            peer: Some(connection.peer.to_string()),
            detail,
            notice: None,
            request_id: None,
        };
        if let Err(error) = self.bootstrapper.journal().record(event).await {
            tracing::error!(%error, "could not record an event");
        }
        let mut problem = Problem::new(
            StatusCode::BAD_REQUEST,
            ErrorType::Application,
            ErrorTag::MissingAttribute,
            "send a certificate signing request as the csr-request in error-info describes \
             (RFC 9646)",
        );
        problem.info = Some(Box::new(ErrorInfo::CsrRequest(request)));
        problem.into_response(encoding)
    }
}
