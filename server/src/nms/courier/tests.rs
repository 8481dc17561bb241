use super::*;

#[test]
fn settings_come_from_the_configuration_with_sane_floors() {
    let settings = CourierSettings::from(&NmsConfig {
        max_sessions: 0,
        retry_max_secs: 0,
        ..NmsConfig::default()
    });
    assert_eq!(settings.max_sessions, 1);
    assert_eq!(settings.batch(), 16);
    assert!(settings.schedule.max >= settings.schedule.initial);
    assert!(settings.lease() > settings.timeouts.operation * 6);
}

/// Rounds driven one at a time against a real OpenSSH sshd on loopback, on a manual clock: no
/// test waits for the courier, it asks for a round.
mod rounds {
    use std::sync::Arc;
    use std::time::Duration;

    use ztp_nms_connector::generate_client_key;
    use ztp_tests::sshd::{Sshd, short_timeouts};

    use super::*;
    use crate::domain::clock::ManualClock;
    use crate::domain::delivery::RegistrationState;
    use crate::store::testing::{new_customer, store};
    use crate::store::{EventFilter, NewRegistration};

    const BACKOFF_MAX: Duration = Duration::from_secs(60);
    const GIVE_UP: Duration = Duration::from_secs(600);

    struct Nms {
        sshd: Sshd,
        store: Store,
        clock: Arc<ManualClock>,
        registrar: Arc<Registrar>,
        courier: Arc<Courier>,
        _dir: crate::store::testing::Scratch,
    }

    impl Nms {
        /// A courier delivering to a fresh sshd, on a manual clock started at the wall time.
        async fn start() -> Self {
            let sshd = Sshd::start();
            let key = generate_client_key().unwrap();
            sshd.authorize(&key);
            let (store, dir) = store().await;
            store.insert_customer(&new_customer("acme")).await.unwrap();
            store
                .put_nms_connection(&NmsConnectionRecord {
                    customer: "acme".into(),
                    name: "main".into(),
                    host: "127.0.0.1".into(),
                    port: sshd.port(),
                    username: "root".into(),
                    password: None,
                    private_key_pem: Some(key.to_openssh_pem().unwrap()),
                    pins: vec![sshd.host_fingerprint().to_string()],
                    directory: sshd.incoming().display().to_string(),
                    policy: DeliveryPolicy::Parallel,
                    created_at: 0,
                    updated_at: 0,
                })
                .await
                .unwrap();
            let clock = Arc::new(ManualClock::starting_now());
            let registrar = Arc::new(Registrar::with_clock(store.clone(), clock.clone()));
            let config = NmsConfig {
                allowed_private_networks: vec!["127.0.0.0/8".parse().unwrap()],
                ..NmsConfig::default()
            };
            let settings = CourierSettings {
                max_sessions: 1,
                timeouts: short_timeouts(),
                schedule: RetrySchedule {
                    initial: Duration::from_secs(10),
                    max: BACKOFF_MAX,
                    give_up_after: GIVE_UP,
                },
                poll_interval: Duration::from_secs(3600),
            };
            let courier = Courier::new(
                Arc::clone(&registrar),
                settings,
                &crate::nms::host_policy(&config),
            );
            Self {
                sshd,
                store,
                clock,
                registrar,
                courier,
                _dir: dir,
            }
        }

        async fn queue(&self, serial: &str) -> i64 {
            let new = NewRegistration {
                serial: Serial::parse(serial).unwrap(),
                customer: "acme".into(),
                connection: "main".into(),
                file_name: format!("{serial}.xml"),
                content: format!("<registration>{serial}</registration>"),
            };
            let now = self.registrar.clock().now_ms();
            self.store.put_registration(&new, now).await.unwrap().id
        }

        async fn state(&self, id: i64) -> RegistrationState {
            self.store.registration(id).await.unwrap().state
        }

        async fn events(&self, kind: EventKind) -> usize {
            let filter = EventFilter {
                limit: 100,
                ..Default::default()
            };
            let events = self.store.events(&filter).await.unwrap();
            events.iter().filter(|e| e.kind == kind.as_str()).count()
        }
    }

    fn counts(o: Outcome) -> (usize, usize, usize, usize) {
        (o.claimed, o.delivered, o.retried, o.gave_up)
    }

    #[tokio::test]
    async fn a_round_delivers_backs_off_while_the_nms_is_down_and_recovers_once_it_is_back() {
        let mut nms = Nms::start().await;
        let first = nms.queue("SN-1").await;
        assert_eq!(counts(nms.courier.run_once().await), (1, 1, 0, 0));
        assert_eq!(nms.state(first).await, RegistrationState::Delivered);
        assert_eq!(nms.sshd.incoming_files(), ["SN-1.xml"]);
        assert!(nms.courier.run_once().await.is_idle(), "nothing due");

        nms.sshd.stop();
        let second = nms.queue("SN-2").await;
        assert_eq!(counts(nms.courier.run_once().await), (1, 0, 1, 0));
        let status = nms.store.connection_status("acme", "main").await.unwrap();
        assert_eq!(status.state(), "failing");
        assert!(
            nms.courier.run_once().await.is_idle(),
            "backing off: not due again at once"
        );
        nms.clock.advance(BACKOFF_MAX);
        assert_eq!(
            counts(nms.courier.run_once().await),
            (1, 0, 1, 0),
            "retried once the backoff ran out"
        );
        assert_eq!(nms.events(EventKind::NmsFailing).await, 1, "one alarm");

        nms.sshd.restart();
        nms.clock.advance(BACKOFF_MAX);
        assert_eq!(counts(nms.courier.run_once().await), (1, 1, 0, 0));
        assert_eq!(nms.state(second).await, RegistrationState::Delivered);
        let status = nms.store.connection_status("acme", "main").await.unwrap();
        assert_eq!((status.state(), status.counts()), ("ok", (0, 2, 0)));
        assert_eq!(nms.events(EventKind::NmsRecovered).await, 1);
        assert_eq!(nms.events(EventKind::RegistrationDelivered).await, 2);
    }

    #[tokio::test]
    async fn retries_give_up_at_the_give_up_time_and_leave_a_dead_letter() {
        let mut nms = Nms::start().await;
        nms.sshd.stop();
        let id = nms.queue("SN-1").await;
        assert_eq!(counts(nms.courier.run_once().await), (1, 0, 1, 0));
        nms.clock.advance(GIVE_UP);
        assert_eq!(counts(nms.courier.run_once().await), (1, 0, 0, 1));
        assert_eq!(nms.state(id).await, RegistrationState::Dead);
        assert_eq!(nms.events(EventKind::RegistrationDead).await, 1);
        nms.clock.advance(GIVE_UP);
        assert!(
            nms.courier.run_once().await.is_idle(),
            "a dead letter waits"
        );
    }

    #[tokio::test]
    async fn a_registration_leased_by_a_worker_that_died_is_delivered_when_the_lease_ends() {
        let nms = Nms::start().await;
        let id = nms.queue("SN-1").await;
        // Another instance claimed it and died.
        let now = nms.clock.now_ms();
        let lease = millis(nms.courier.settings.lease());
        let taken = nms
            .store
            .claim_registrations("acme", "main", now, now + lease, 10)
            .await
            .unwrap();
        assert_eq!(taken.len(), 1);
        assert!(nms.courier.run_once().await.is_idle(), "leased elsewhere");
        nms.clock
            .advance(nms.courier.settings.lease() - Duration::from_millis(1));
        assert!(nms.courier.run_once().await.is_idle(), "still leased");
        nms.clock.advance(Duration::from_millis(1));
        assert_eq!(counts(nms.courier.run_once().await), (1, 1, 0, 0));
        let delivered = nms.store.registration(id).await.unwrap();
        assert_eq!(
            (delivered.state, delivered.attempts),
            (RegistrationState::Delivered, 2),
            "the dead worker's attempt counts"
        );
    }
}
