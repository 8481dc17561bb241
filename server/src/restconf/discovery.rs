//! What a RESTCONF client reads before it calls an operation: host-meta (RFC 6415, RFC 8040
//! §3.1), the RESTCONF root and the YANG library version.
//!
//! May import: `http`.

use http::{Response, StatusCode};
use ztp_yang::Encoding;

use crate::http::{Body, response};

/// Where the RESTCONF root is (RFC 8040 §3.1).
pub(super) const HOST_META: &str = "<XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\
    <Link rel=\"restconf\" href=\"/restconf\"/></XRD>";
const YANG_LIBRARY_VERSION: &str = "2019-01-04";

pub(super) fn restconf_root(encoding: Encoding) -> Response<Body> {
    let body = match encoding {
        Encoding::Json => format!(
            "{{\"ietf-restconf:restconf\":{{\"data\":{{}},\"operations\":{{}},\"yang-library-version\":\"{YANG_LIBRARY_VERSION}\"}}}}"
        ),
        Encoding::Xml => format!(
            "<restconf xmlns=\"urn:ietf:params:xml:ns:yang:ietf-restconf\"><data/><operations/>\
             <yang-library-version>{YANG_LIBRARY_VERSION}</yang-library-version></restconf>"
        ),
    };
    response(StatusCode::OK, encoding.media_type(), body)
}

pub(super) fn yang_library_version(encoding: Encoding) -> Response<Body> {
    let body = match encoding {
        Encoding::Json => {
            format!("{{\"ietf-restconf:yang-library-version\":\"{YANG_LIBRARY_VERSION}\"}}")
        }
        Encoding::Xml => format!(
            "<yang-library-version xmlns=\"urn:ietf:params:xml:ns:yang:ietf-restconf\">{YANG_LIBRARY_VERSION}</yang-library-version>"
        ),
    };
    response(StatusCode::OK, encoding.media_type(), body)
}
