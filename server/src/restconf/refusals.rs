//! Refusal events, aggregated: a device retrying with a revoked certificate, or a client sending
//! the same bad request in a loop, must not cost a database write per request. The first
//! refusal of a kind (source, client certificate, event kind, status, serial, reason) is recorded at once and opens
//! a window; the same refusals within the window are only counted, and when it closes one
//! summary event says how many there were ("41 more refusals like this from 192.0.2.7 in 60 s").
//! The next refusal after that opens a new window, so a steady stream costs two rows a window.
//!
//! The reason is the whole detail: a device retrying repeats its refusal word for word (with
//! the same certificate), while two different refusals (other bad input, another certificate
//! refused for the same reason) are two facts an operator may need. A client that varies its refusals to dodge the aggregation runs into the refusal
//! strikes instead (see `strikes`): its burst, then the bench.
//!
//! A source is its IPv4 address or IPv6 /64, as for connection slots and strikes. The table of
//! open windows is bounded: when it is full, a refusal of a new kind is recorded as a first one
//! without opening a window (strikes bound how many a source can cause). Time is tokio's clock.
//!
//! Every refusal of a request whose certificate names a serial is filed under that serial, so
//! that the device's timeline shows it ([`filed_under`]). A certificate that did not verify can
//! name any serial: its refusal is filed under the serial all the same (a device with a broken
//! chain is exactly what an operator looks for in its timeline), but its detail begins
//! "serial … claimed by an untrusted certificate", so that a forged certificate never writes
//! into a real device's timeline as if it were the device. A revoked certificate's chain did
//! verify: its serial is the device's, not a claim. Such claimed refusals are aggregated and
//! struck like any other, so a forger cannot flood a timeline.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use tokio::time::Instant;
use ztp_certs::{Cert, DeviceIdentity, Serial, SerialSource};

use crate::auth::device::AuthFailure;
use crate::http::slots::source;
use crate::store::{EventKind, NewEvent};

/// What to do with a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Note {
    /// The first of its kind in its window: record it.
    First,
    /// Counted toward its window's summary.
    Repeat,
}

/// The windows of refusals open now.
#[derive(Debug)]
pub(super) struct Refusals {
    window: Duration,
    capacity: usize,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    open: HashMap<Key, Window>,
    /// Summaries of windows that ended when a refusal reopened them, before [`Refusals::close`]
    /// came by.
    ended: Vec<NewEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    source: IpAddr,
    /// A digest of the client's certificate (0: none).
    client: u64,
    kind: EventKind,
    status: Option<u16>,
    serial: Option<Serial>,
    reason: String,
}

#[derive(Debug)]
struct Window {
    opened: Instant,
    repeats: u64,
    last_detail: String,
}

impl Refusals {
    /// Windows of `window`; at most `capacity` open at once. A zero window records every
    /// refusal.
    pub(super) fn new(window: Duration, capacity: usize) -> Self {
        Self {
            window,
            capacity,
            table: Mutex::new(Table::default()),
        }
    }

    /// Notes `event`, a refusal of a request from `peer` presenting `client` (its leaf
    /// certificate, if any).
    pub(super) fn note(&self, event: &NewEvent, peer: SocketAddr, client: Option<&[u8]>) -> Note {
        if self.window.is_zero() {
            return Note::First;
        }
        let key = Key {
            source: source(peer.ip()),
            client: client.map_or(0, |der| {
                let mut hasher = std::hash::DefaultHasher::new();
                der.hash(&mut hasher);
                hasher.finish()
            }),
            kind: event.kind,
            status: event.status,
            serial: event.serial.clone(),
            reason: event.detail.clone(),
        };
        let now = Instant::now();
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let Table { open, ended } = &mut *table;
        if let Some(window) = open.get_mut(&key) {
            if now < window.opened + self.window {
                window.repeats += 1;
                window.last_detail.clone_from(&event.detail);
                return Note::Repeat;
            }
            // Past its end, not closed yet: its summary goes now, and this one starts anew.
            if window.repeats > 0 {
                ended.push(summary(&key, window, now));
            }
            *window = Window::new(now, &event.detail);
        } else if open.len() < self.capacity {
            open.insert(key, Window::new(now, &event.detail));
        }
        Note::First
    }

    /// The summaries of the windows closed by now (all of them when `all`), to record.
    pub(super) fn close(&self, all: bool) -> Vec<NewEvent> {
        let now = Instant::now();
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let Table { open, ended } = &mut *table;
        let mut summaries = std::mem::take(ended);
        open.retain(|key, window| {
            if !all && now < window.opened + self.window {
                return true;
            }
            if window.repeats > 0 {
                summaries.push(summary(key, window, now));
            }
            false
        });
        summaries
    }

    /// When the next window closes.
    pub(super) fn next_close(&self) -> Option<Instant> {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        table.open.values().map(|w| w.opened + self.window).min()
    }
}

/// The serial to file a refusal to authenticate under, and the event's detail: the serial a
/// revoked certificate names, or the one an untrusted certificate (`chain`'s leaf) claims, read
/// at `serial_source` and said to be claimed in the detail; none for a certificate that names
/// no usable serial or none at all.
pub(super) fn filed_under(
    failure: &AuthFailure,
    chain: &[CertificateDer<'static>],
    serial_source: SerialSource,
) -> (Option<Serial>, String) {
    match failure {
        AuthFailure::Revoked { serial } => (Serial::parse(serial).ok(), failure.to_string()),
        AuthFailure::Untrusted { .. } => {
            let claimed = chain
                .first()
                .and_then(|leaf| Cert::from_der(leaf.to_vec()).ok())
                .and_then(|cert| DeviceIdentity::from_certificate(&cert, serial_source).ok())
                .map(|identity| identity.serial);
            match claimed {
                Some(serial) => {
                    let detail =
                        format!("serial {serial} claimed by an untrusted certificate: {failure}");
                    (Some(serial), detail)
                }
                None => (None, failure.to_string()),
            }
        }
        _ => (None, failure.to_string()),
    }
}

impl Window {
    fn new(opened: Instant, detail: &str) -> Self {
        Self {
            opened,
            repeats: 0,
            last_detail: detail.to_owned(),
        }
    }
}

fn summary(key: &Key, window: &Window, now: Instant) -> NewEvent {
    let seconds = now.duration_since(window.opened).as_secs().max(1);
    let source = match key.source {
        IpAddr::V6(v6) => format!("{v6}/64"),
        v4 => v4.to_string(),
    };
    let plural = if window.repeats == 1 { "" } else { "s" };
    NewEvent {
        serial: key.serial.clone(),
        kind: key.kind,
        status: key.status,
        peer: Some(source.clone()),
        detail: format!(
            "{} more refusal{plural} like this from {source} in {seconds} s (last: {})",
            window.repeats, window.last_detail
        ),
        notice: None,
        request_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(serial: Option<&str>, status: u16, detail: &str) -> NewEvent {
        NewEvent {
            serial: serial.map(|s| Serial::parse(s).unwrap()),
            kind: EventKind::BootstrapRefused,
            status: Some(status),
            peer: None,
            detail: detail.to_owned(),
            notice: None,
            request_id: None,
        }
    }

    fn peer(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const WINDOW: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn repeats_within_a_window_become_one_summary_when_it_closes() {
        let refusals = Refusals::new(WINDOW, 100);
        let revoked = refusal(Some("SN-1"), 401, "the certificate of SN-1 is revoked");
        assert_eq!(
            refusals.note(&revoked, peer("192.0.2.7:1000"), None),
            Note::First
        );
        for port in 1001..1042 {
            tokio::time::advance(Duration::from_secs(1)).await;
            let from = peer(&format!("192.0.2.7:{port}"));
            assert_eq!(refusals.note(&revoked, from, None), Note::Repeat);
        }
        assert!(refusals.close(false).is_empty(), "the window is still open");
        assert_eq!(
            refusals.next_close(),
            Some(Instant::now() + Duration::from_secs(19))
        );

        tokio::time::advance(Duration::from_secs(19)).await;
        let summaries = refusals.close(false);
        assert_eq!(summaries.len(), 1);
        let summary = &summaries[0];
        assert_eq!(summary.kind, EventKind::BootstrapRefused);
        assert_eq!(
            (summary.status, summary.serial.as_ref().map(Serial::as_str)),
            (Some(401), Some("SN-1"))
        );
        assert_eq!(summary.peer.as_deref(), Some("192.0.2.7"));
        assert_eq!(
            summary.detail,
            "41 more refusals like this from 192.0.2.7 in 60 s \
             (last: the certificate of SN-1 is revoked)"
        );
        assert_eq!(refusals.next_close(), None);
        assert_eq!(
            refusals.note(&revoked, peer("192.0.2.7:2000"), None),
            Note::First,
            "a new window"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn different_refusals_and_sources_each_get_their_first_event() {
        let refusals = Refusals::new(WINDOW, 100);
        let from = peer("192.0.2.7:1");
        let cases = [
            refusal(None, 401, "no client certificate was presented"),
            refusal(None, 401, "the certificate (CN=x) is not trusted: expired"),
            refusal(Some("SN-1"), 400, "bad input: expected `}`"),
            refusal(Some("SN-1"), 415, "unsupported Content-Type \"text/plain\""),
            refusal(Some("SN-2"), 400, "bad input: expected `}`"),
        ];
        for case in &cases {
            assert_eq!(
                refusals.note(case, from, None),
                Note::First,
                "{}",
                case.detail
            );
        }
        assert_eq!(
            refusals.note(
                &refusal(Some("SN-1"), 400, "bad input: unknown element"),
                from,
                None
            ),
            Note::First,
            "the same refusal with other particulars is another fact"
        );
        assert_eq!(
            refusals.note(
                &refusal(Some("SN-1"), 400, "bad input: expected `}`"),
                from,
                None
            ),
            Note::Repeat
        );
        assert_eq!(
            refusals.note(&cases[0], peer("192.0.2.8:1"), None),
            Note::First,
            "another source"
        );
        assert_eq!(
            refusals.note(&cases[0], peer("[2001:db8::1]:1"), None),
            Note::First
        );
        assert_eq!(
            refusals.note(&cases[0], peer("[2001:db8::ffff]:1"), None),
            Note::Repeat,
            "the same /64"
        );
        let summaries = refusals.close(true);
        assert_eq!(
            summaries.len(),
            2,
            "only windows with repeats: {summaries:#?}"
        );
        assert!(
            summaries
                .iter()
                .any(|s| s.peer.as_deref() == Some("2001:db8::/64"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_same_refusal_of_two_certificates_is_two_facts() {
        let refusals = Refusals::new(WINDOW, 100);
        let from = peer("192.0.2.7:1");
        let event = refusal(
            None,
            401,
            "the certificate names no usable serial number: '/'",
        );
        assert_eq!(refusals.note(&event, from, Some(b"one")), Note::First);
        assert_eq!(refusals.note(&event, from, Some(b"two")), Note::First);
        assert_eq!(refusals.note(&event, from, Some(b"one")), Note::Repeat);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_table_records_new_refusals_without_aggregating_them() {
        let refusals = Refusals::new(WINDOW, 2);
        let from = peer("192.0.2.7:1");
        for serial in ["SN-1", "SN-2", "SN-3", "SN-3"] {
            assert_eq!(
                refusals.note(&refusal(Some(serial), 401, "x"), from, None),
                Note::First
            );
        }
        assert_eq!(
            refusals.note(&refusal(Some("SN-1"), 401, "x"), from, None),
            Note::Repeat
        );
    }

    fn idevid(serial: &str) -> CertificateDer<'static> {
        use ztp_certs::{CertificateAuthority, IdevidSpec, KeyAlgorithm, ProductId};
        let ca = CertificateAuthority::new_root("forger", "x", KeyAlgorithm::EcdsaP256).unwrap();
        let (cert, _key) = ca
            .issue_idevid(&IdevidSpec {
                serial: Serial::parse(serial).unwrap(),
                model: ProductId::parse("uCPE-100").unwrap(),
                placement: ztp_certs::SerialPlacement::SerialNumber,
                hardware_module_name: false,
                key_algorithm: KeyAlgorithm::EcdsaP256,
            })
            .unwrap();
        cert.as_certificate_der().clone()
    }

    #[test]
    fn refusals_are_filed_under_the_serial_trusted_or_claimed() {
        let source = SerialSource::SubjectSerialNumber;
        let chain = [idevid("SN-0007")];
        let untrusted = AuthFailure::Untrusted {
            subject: "CN=x".into(),
            reason: "UnknownIssuer".into(),
        };
        let (serial, detail) = filed_under(&untrusted, &chain, source);
        assert_eq!(serial.as_ref().map(Serial::as_str), Some("SN-0007"));
        assert!(
            detail.starts_with("serial SN-0007 claimed by an untrusted certificate: "),
            "{detail}"
        );
        assert!(detail.contains("UnknownIssuer"), "{detail}");

        let revoked = AuthFailure::Revoked {
            serial: "SN-0007".into(),
        };
        let (serial, detail) = filed_under(&revoked, &chain, source);
        assert_eq!(serial.as_ref().map(Serial::as_str), Some("SN-0007"));
        assert!(!detail.contains("claimed"), "{detail}");

        // A certificate whose serial is elsewhere, or no certificate: filed under none.
        let (serial, detail) = filed_under(&untrusted, &chain, SerialSource::HardwareModuleName);
        assert_eq!((serial, detail), (None, untrusted.to_string()));
        let (serial, _) = filed_under(&untrusted, &[CertificateDer::from(vec![0x30, 0])], source);
        assert_eq!(serial, None);
        assert_eq!(
            filed_under(&AuthFailure::NoCertificate, &[], source).0,
            None
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_window_records_every_refusal() {
        let refusals = Refusals::new(Duration::ZERO, 2);
        let event = refusal(Some("SN-1"), 401, "x");
        for _ in 0..3 {
            assert_eq!(
                refusals.note(&event, peer("192.0.2.7:1"), None),
                Note::First
            );
        }
        assert!(refusals.close(true).is_empty());
    }
}
