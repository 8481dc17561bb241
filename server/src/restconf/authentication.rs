//! Who a device request comes from: the verdict on the connection's IDevID chain, and, when
//! `device_api.activation_codes` is on, the device's activation code (HTTP Basic) beside it,
//! or alone for a device whose code is its only factor. Every refusal is recorded, under the
//! serial it concerns.
//!
//! May import: `auth`, `http`, `telemetry`.

use std::borrow::Cow;
use std::time::{Instant, SystemTime};

use http::{HeaderValue, Response};
use ztp_certs::Serial;
use ztp_yang::Encoding;

use super::media::Problem;
use super::{DeviceApi, Rpc, problems, refusals};
use crate::auth::activation::{BasicCredentials, CodeRefusal};
use crate::auth::device::{AuthFailure, AuthenticatedDevice};
use crate::http::{Body, ConnectionInfo};
use crate::telemetry::metrics::Refusal;

/// The challenge of a 401 when devices may authenticate with HTTP Basic.
const CHALLENGE: &str = "Basic realm=\"ztp device\", charset=\"UTF-8\"";

impl DeviceApi {
    /// The device the request authenticates: the connection's verdict on its certificate chain
    /// (made by its first request), with its activation code when it has one; or, without a
    /// certificate, the device whose only factor `basic` carries. A refusal is recorded and
    /// gives `None`.
    pub(super) async fn authenticated<'c>(
        &self,
        rpc: Rpc,
        connection: &'c ConnectionInfo,
        basic: Option<&BasicCredentials>,
    ) -> Option<Cow<'c, AuthenticatedDevice>> {
        let verdict = connection.device.get_or_init(|| {
            let verdict = self
                .verifier
                .load()
                .authenticate(&connection.client_chain, SystemTime::now());
            if verdict.as_ref().is_ok_and(|device| device.legacy_chain) {
                self.metrics.legacy_chain();
            }
            verdict
        });
        let codes = self.codes.as_ref();
        let refused = match (verdict, codes, basic) {
            (Ok(device), None, _) => return Some(Cow::Borrowed(device)),
            (Ok(device), Some(codes), _) => {
                match codes
                    .second_factor(device.serial().as_str(), basic, Instant::now())
                    .await
                {
                    Ok(()) => return Some(Cow::Borrowed(device)),
                    Err(refusal) => refusal,
                }
            }
            (Err(AuthFailure::NoCertificate), Some(codes), Some(basic)) => {
                match codes.only_factor(basic, Instant::now()).await {
                    Ok(serial) => match Serial::parse(&serial) {
                        Ok(serial) => {
                            return Some(Cow::Owned(AuthenticatedDevice::by_activation_code(
                                serial,
                            )));
                        }
                        Err(_) => CodeRefusal::Wrong { serial },
                    },
                    Err(refusal) => refusal,
                }
            }
            (Err(failure), ..) => {
                // Filed under the serial the certificate names, said to be claimed when the
                // certificate is not trusted (see `refusals`).
                let serial_source = self.verifier.load().serial_source();
                let (serial, detail) =
                    refusals::filed_under(failure, &connection.client_chain, serial_source);
                let reason = problems::auth_refusal(failure);
                self.record(rpc, reason, serial, 401, connection, detail)
                    .await;
                return None;
            }
        };
        let serial = refused.serial().and_then(|s| Serial::parse(s).ok());
        self.record(
            rpc,
            Refusal::ActivationCode,
            serial,
            401,
            connection,
            refused.to_string(),
        )
        .await;
        None
    }

    /// The answer to a request no device authenticated: 401, with a Basic challenge when
    /// devices may present activation codes.
    pub(super) fn unauthenticated(&self, encoding: Encoding) -> Response<Body> {
        let mut response =
            Problem::access_denied("the device is not authenticated").into_response(encoding);
        if self.codes.is_some() {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static(CHALLENGE),
            );
        }
        response
    }
}
