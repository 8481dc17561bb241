use super::*;

#[test]
fn settings_have_sane_floors() {
    let settings = DispatcherSettings::from(&WebhooksConfig {
        max_in_flight: 0,
        max_in_flight_per_webhook: 0,
        retry_max_secs: 0,
        ..WebhooksConfig::default()
    });
    assert_eq!(settings.max_in_flight, 1);
    assert_eq!(settings.max_in_flight_per_webhook, 1);
    assert!(settings.schedule.max >= settings.schedule.initial);
    assert!(!settings.allow_private_addresses, "refused by default");
}

/// Rounds driven one at a time against an HTTPS receiver on loopback, on a manual clock.
mod rounds {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};

    use rustls::ServerConfig;
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;
    use ztp_certs::{CertificateAuthority, KeyAlgorithm};

    use super::*;
    use crate::domain::clock::{Clock, ManualClock, SystemClock};
    use crate::domain::notice::Notice;
    use crate::store::testing::{add_device, new_customer, store};
    use crate::store::webhooks::NewWebhook;
    use crate::store::{EventKind, NewEvent};

    const BACKOFF_MAX: Duration = Duration::from_secs(60);
    const GIVE_UP: Duration = Duration::from_secs(600);

    /// An HTTPS receiver that answers every request with `status` and counts them.
    struct Receiver {
        url: String,
        ca_pem: String,
        status: Arc<AtomicU16>,
        received: Arc<AtomicUsize>,
    }

    impl Receiver {
        async fn start() -> Self {
            let ca =
                CertificateAuthority::new_root("Hooks", "Acme", KeyAlgorithm::EcdsaP256).unwrap();
            let (cert, key) = ca
                .issue_tls_server(&["127.0.0.1".to_owned()], KeyAlgorithm::EcdsaP256)
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(key.to_pem().as_bytes()).unwrap();
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert.as_certificate_der().clone()], key)
                .unwrap();
            let acceptor = TlsAcceptor::from(Arc::new(config));
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let status = Arc::new(AtomicU16::new(204));
            let received = Arc::new(AtomicUsize::new(0));
            let (answer, count) = (Arc::clone(&status), Arc::clone(&received));
            tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        continue;
                    };
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 4096];
                    // The headers and the (small) body; then the answer, and the connection
                    // closes.
                    while let Ok(n) = tls.read(&mut buffer).await {
                        request.extend_from_slice(&buffer[..n]);
                        if n == 0 || complete(&request) {
                            break;
                        }
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    let status = answer.load(Ordering::SeqCst);
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = tls.write_all(reply.as_bytes()).await;
                    let _ = tls.shutdown().await;
                }
            });
            Self {
                url: format!("https://127.0.0.1:{port}/hook"),
                ca_pem: ca.cert().pem(),
                status,
                received,
            }
        }

        fn answer(&self, status: u16) {
            self.status.store(status, Ordering::SeqCst);
        }

        fn received(&self) -> usize {
            self.received.load(Ordering::SeqCst)
        }
    }

    /// Whether `request` holds its headers and the body they announce.
    fn complete(request: &[u8]) -> bool {
        let text = String::from_utf8_lossy(request);
        let Some(end) = text.find("\r\n\r\n") else {
            return false;
        };
        let length = text[..end]
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        request.len() >= end + 4 + length
    }

    struct Hooks {
        receiver: Receiver,
        store: Store,
        clock: Arc<ManualClock>,
        dispatcher: Arc<Dispatcher>,
        webhook: i64,
        _dir: crate::store::testing::Scratch,
    }

    impl Hooks {
        async fn start() -> Self {
            let receiver = Receiver::start().await;
            let (store, dir) = store().await;
            store.insert_customer(&new_customer("acme")).await.unwrap();
            add_device(&store, "SN-1", "acme").await;
            let webhook = store
                .insert_webhook(&NewWebhook {
                    customer: "acme".into(),
                    name: "hook".into(),
                    url: receiver.url.clone(),
                    notices: Notice::ALL.to_vec(),
                    ca_pem: Some(receiver.ca_pem.clone()),
                    secret: "s3cret".into(),
                    enabled: true,
                })
                .await
                .unwrap()
                .id;
            let clock = Arc::new(ManualClock::starting_now());
            let settings = DispatcherSettings {
                timeout: Duration::from_secs(5),
                max_in_flight: 4,
                max_in_flight_per_webhook: 1,
                schedule: RetrySchedule {
                    initial: Duration::from_secs(10),
                    max: BACKOFF_MAX,
                    give_up_after: GIVE_UP,
                },
                poll_interval: Duration::from_secs(3600),
                allow_private_addresses: true,
            };
            let dispatcher = Dispatcher::with_clock(store.clone(), settings, clock.clone());
            Self {
                receiver,
                store,
                clock,
                dispatcher,
                webhook,
                _dir: dir,
            }
        }

        /// Records an event that queues a delivery. The event is stamped by the wall clock (the
        /// event log does not take the clock yet), so the manual clock is moved up to it.
        async fn shortage(&self) {
            let event = NewEvent {
                serial: Some(ztp_certs::Serial::parse("SN-1").unwrap()),
                kind: EventKind::LicenseShortage,
                status: None,
                peer: None,
                detail: "no licenses left".into(),
                notice: Some(Notice::LicenseShortage),
                request_id: None,
            };
            self.store.record(&event).await.unwrap();
            let wall = SystemClock.now_ms();
            if self.clock.now_ms() < wall {
                self.clock.set(wall);
            }
        }

        async fn health(&self) -> crate::store::OutboxStatus {
            self.store.webhook_health(self.webhook).await.unwrap()
        }
    }

    fn counts(o: Outcome) -> (usize, usize, usize, usize) {
        (o.claimed, o.delivered, o.retried, o.gave_up)
    }

    #[tokio::test]
    async fn a_failing_receiver_is_retried_after_its_backoff_and_recovers() {
        let hooks = Hooks::start().await;
        hooks.receiver.answer(503);
        hooks.shortage().await;
        assert_eq!(counts(hooks.dispatcher.run_once().await), (1, 0, 1, 0));
        let failing = hooks.health().await;
        assert_eq!(failing.state(), "failing");
        assert_eq!(
            failing.last_error.as_deref(),
            Some("the receiver answered HTTP 503")
        );
        assert!(hooks.dispatcher.run_once().await.is_idle(), "backing off");

        hooks.clock.advance(BACKOFF_MAX);
        hooks.receiver.answer(204);
        assert_eq!(counts(hooks.dispatcher.run_once().await), (1, 1, 0, 0));
        let health = hooks.health().await;
        assert_eq!((health.state(), health.counts()), ("ok", (0, 1, 0)));
        assert_eq!(hooks.receiver.received(), 2);
    }

    #[tokio::test]
    async fn a_delivery_gives_up_at_the_give_up_time_and_a_lease_holds_until_it_ends() {
        let hooks = Hooks::start().await;
        hooks.receiver.answer(500);
        hooks.shortage().await;
        assert_eq!(counts(hooks.dispatcher.run_once().await), (1, 0, 1, 0));
        hooks.clock.advance(GIVE_UP);
        assert_eq!(counts(hooks.dispatcher.run_once().await), (1, 0, 0, 1));
        assert_eq!(hooks.health().await.counts(), (0, 0, 1), "a dead letter");

        // A delivery another instance claimed and died with waits out its lease.
        hooks.receiver.answer(204);
        hooks.shortage().await;
        let now = hooks.clock.now_ms();
        let lease = millis(hooks.dispatcher.lease());
        let taken = hooks
            .store
            .claim_webhook_deliveries(now, now + lease, 1, 10)
            .await
            .unwrap();
        assert_eq!(taken.len(), 1);
        assert!(
            hooks.dispatcher.run_once().await.is_idle(),
            "leased elsewhere"
        );
        hooks.clock.advance(hooks.dispatcher.lease());
        assert_eq!(counts(hooks.dispatcher.run_once().await), (1, 1, 0, 0));
        assert_eq!(hooks.health().await.counts(), (0, 1, 1));
    }
}
