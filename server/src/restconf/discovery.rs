//! What a RESTCONF client reads before it calls an operation: host-meta (RFC 6415, RFC 8040
//! §3.1), the RESTCONF root, the YANG library version and the YANG library itself (RFC 8040
//! §10, RFC 8525), which the root's `yang-library-version` says is there.
//!
//! May import: `http`.

use http::{Response, StatusCode};
use ztp_yang::{Encoding, YangLibrary};

use crate::http::{Body, response};

/// Where the RESTCONF root is (RFC 8040 §3.1).
pub(super) const HOST_META: &str = "<XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\
    <Link rel=\"restconf\" href=\"/restconf\"/></XRD>";
const YANG_LIBRARY_VERSION: &str = "2019-01-04";
/// The YANG library's data resource (RFC 8040 §3.3.1, §10).
pub(super) const YANG_LIBRARY: &str = "/restconf/data/ietf-yang-library:yang-library";
/// Its deprecated form (RFC 7895), which RFC 8040 §10 names.
pub(super) const MODULES_STATE: &str = "/restconf/data/ietf-yang-library:modules-state";

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

/// The device API's YANG library (RFC 8525) at `path`, [`YANG_LIBRARY`] or
/// [`MODULES_STATE`].
pub(super) fn yang_library(path: &str, encoding: Encoding) -> Response<Body> {
    let library = YangLibrary::device_api();
    let body = if path == MODULES_STATE {
        library.encode_modules_state(encoding)
    } else {
        library.encode(encoding)
    };
    response(StatusCode::OK, encoding.media_type(), body)
}
