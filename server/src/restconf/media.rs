//! RESTCONF (RFC 8040) media types and error documents.

use http::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use ztp_yang::{Document, Encoding, ErrorInfo, ErrorTag, ErrorType, RestconfError, RestconfErrors};

use crate::http::{Body, EarlyError, response};

/// The request's media types do not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The body's Content-Type is not YANG data (415).
    #[error(
        "unsupported Content-Type {0:?}: use application/yang-data+json or application/yang-data+xml"
    )]
    UnsupportedContentType(String),
    /// A body without a Content-Type (415).
    #[error(
        "a request body needs a Content-Type: application/yang-data+json or application/yang-data+xml"
    )]
    MissingContentType,
    /// Nothing in Accept can be produced (406).
    #[error(
        "cannot answer in any of the accepted media types {0:?}: use application/yang-data+json or application/yang-data+xml"
    )]
    NotAcceptable(String),
}

impl MediaError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnsupportedContentType(_) | Self::MissingContentType => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
        }
    }
}

/// The encoding of a request body, from its Content-Type (`None`: no body).
pub fn request_encoding(
    headers: &HeaderMap,
    has_body: bool,
) -> Result<Option<Encoding>, MediaError> {
    match headers.get(CONTENT_TYPE) {
        None if has_body => Err(MediaError::MissingContentType),
        None => Ok(None),
        Some(value) => {
            let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match Encoding::from_media_type(&text) {
                Some(encoding) => Ok(Some(encoding)),
                // A body-less request may carry any Content-Type: there is nothing to decode.
                None if !has_body => Ok(None),
                None => Err(MediaError::UnsupportedContentType(text)),
            }
        }
    }
}

/// The encoding of the response, from Accept (RFC 8040 §5.2: without Accept, the request's own
/// encoding; JSON when there is neither).
pub fn response_encoding(
    headers: &HeaderMap,
    request: Option<Encoding>,
) -> Result<Encoding, MediaError> {
    let fallback = request.unwrap_or(Encoding::Json);
    let accept: Vec<&str> = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if accept.is_empty() {
        return Ok(fallback);
    }
    let mut ranked: Vec<(u16, usize, &str)> = accept
        .iter()
        .enumerate()
        .map(|(i, item)| (quality(item), i, *item))
        .filter(|(q, _, _)| *q > 0)
        .collect();
    // Highest quality first; among equals, the order given.
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, item) in ranked {
        let essence = item.split(';').next().unwrap_or_default().trim();
        if essence == "*/*" || essence.eq_ignore_ascii_case("application/*") {
            return Ok(fallback);
        }
        if let Some(encoding) = Encoding::from_media_type(essence) {
            return Ok(encoding);
        }
    }
    Err(MediaError::NotAcceptable(accept.join(", ")))
}

/// The q parameter of an Accept item, in thousandths.
fn quality(item: &str) -> u16 {
    item.split(';')
        .skip(1)
        .filter_map(|p| p.trim().strip_prefix("q="))
        .filter_map(|q| q.trim().parse::<f32>().ok())
        .map(|q| (q.clamp(0.0, 1.0) * 1000.0) as u16)
        .next()
        .unwrap_or(1000)
}

/// A RESTCONF error response.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// `error-type`.
    pub error_type: ErrorType,
    /// `error-tag`.
    pub error_tag: ErrorTag,
    /// `error-message`.
    pub message: String,
    /// Seconds for a Retry-After header.
    pub retry_after: Option<u64>,
    /// `error-info` (boxed: most problems have none).
    pub info: Option<Box<ErrorInfo>>,
}

impl Problem {
    /// A problem with these parts.
    pub fn new(
        status: StatusCode,
        error_type: ErrorType,
        error_tag: ErrorTag,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error_type,
            error_tag,
            message: message.into(),
            retry_after: None,
            info: None,
        }
    }

    /// 401 access-denied.
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorType::Protocol,
            ErrorTag::AccessDenied,
            message,
        )
    }

    /// 400 malformed-message.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::Protocol,
            ErrorTag::MalformedMessage,
            message,
        )
    }

    /// 400 invalid-value.
    pub fn invalid_value(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::Protocol,
            ErrorTag::InvalidValue,
            message,
        )
    }

    /// 404 data-missing (RFC 8572: nothing is configured for the device).
    pub fn data_missing(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorType::Application,
            ErrorTag::DataMissing,
            message,
        )
    }

    /// 404 invalid-value for a resource that does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorType::Protocol,
            ErrorTag::InvalidValue,
            message,
        )
    }

    /// 405 operation-not-supported.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorType::Protocol,
            ErrorTag::OperationNotSupported,
            message,
        )
    }

    /// 413 too-big.
    pub fn too_big(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorType::Transport,
            ErrorTag::TooBig,
            message,
        )
    }

    /// 500 operation-failed (details go to the log, not to the device).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::Application,
            ErrorTag::OperationFailed,
            "internal error; the server log has the details",
        )
    }

    /// 503 resource-denied with Retry-After.
    pub fn busy(message: impl Into<String>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorType::Transport,
                ErrorTag::ResourceDenied,
                message,
            )
        }
    }

    /// A media type problem.
    pub fn media(error: &MediaError) -> Self {
        Self::new(
            error.status(),
            ErrorType::Protocol,
            ErrorTag::InvalidValue,
            error.to_string(),
        )
    }

    /// The response, as an `ietf-restconf:errors` document in `encoding`.
    pub fn into_response(self, encoding: Encoding) -> Response<Body> {
        let mut error = RestconfError::new(self.error_type, self.error_tag, self.message);
        error.error_info = self.info.map(|info| *info);
        let document = RestconfErrors::single(error);
        let mut response = response(
            self.status,
            encoding.media_type(),
            document.encode(encoding),
        );
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The RESTCONF error answering a request refused before it was read (see
/// [`crate::http::early_errors`]).
pub(super) fn early_problem(error: &EarlyError) -> Response<Body> {
    let declared = request_encoding(&error.headers, false).ok().flatten();
    let encoding = response_encoding(&error.headers, declared).unwrap_or(Encoding::Json);
    let problem = match error.status {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE | StatusCode::URI_TOO_LONG => Problem::new(
            error.status,
            ErrorType::Transport,
            ErrorTag::TooBig,
            &error.message,
        ),
        StatusCode::NOT_IMPLEMENTED | StatusCode::HTTP_VERSION_NOT_SUPPORTED => Problem::new(
            error.status,
            ErrorType::Transport,
            ErrorTag::OperationNotSupported,
            &error.message,
        ),
        status => Problem::new(
            status,
            ErrorType::Transport,
            ErrorTag::MalformedMessage,
            &error.message,
        ),
    };
    problem.into_response(encoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn without_accept_the_answer_speaks_the_request_language() {
        let h = headers(&[("content-type", "application/yang-data+xml")]);
        let request = request_encoding(&h, true).unwrap();
        assert_eq!(request, Some(Encoding::Xml));
        assert_eq!(response_encoding(&h, request), Ok(Encoding::Xml));
        assert_eq!(
            response_encoding(&HeaderMap::new(), None),
            Ok(Encoding::Json)
        );
    }

    #[test]
    fn accept_is_ranked_by_quality_then_order() {
        let h = headers(&[(
            "accept",
            "application/yang-data+json;q=0.5, application/yang-data+xml",
        )]);
        assert_eq!(response_encoding(&h, None), Ok(Encoding::Xml));
        let h = headers(&[("accept", "text/html, */*;q=0.1")]);
        assert_eq!(
            response_encoding(&h, Some(Encoding::Xml)),
            Ok(Encoding::Xml)
        );
        let h = headers(&[("accept", "application/yang.data+json; charset=utf-8")]);
        assert_eq!(
            response_encoding(&h, Some(Encoding::Xml)),
            Ok(Encoding::Json)
        );
    }

    #[test]
    fn unusable_media_types_are_415_and_406() {
        let h = headers(&[("content-type", "text/plain")]);
        let e = request_encoding(&h, true).unwrap_err();
        assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            request_encoding(&h, false),
            Ok(None),
            "no body, nothing to decode"
        );
        assert_eq!(
            request_encoding(&HeaderMap::new(), true)
                .unwrap_err()
                .status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let h = headers(&[("accept", "text/html, application/yang-data+json;q=0")]);
        assert_eq!(
            response_encoding(&h, None).unwrap_err().status(),
            StatusCode::NOT_ACCEPTABLE
        );
    }

    #[test]
    fn problems_are_restconf_documents() {
        let response = Problem::busy("later", 7).into_response(Encoding::Json);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], "7");
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "application/yang-data+json"
        );
    }
}
