use std::time::Duration;

use super::*;

#[test]
fn the_exposition_names_every_family_once_with_its_labels() {
    let metrics = Metrics::new("1.2.3").unwrap();
    let device = DeviceMetrics::default();
    metrics.register(&device).unwrap();
    device.bootstrap(Outcome::Served, Some("strict"));
    device.refused("get_bootstrapping_data", Refusal::UnknownDevice);
    device.answered("get_bootstrapping_data", Duration::from_millis(3));
    metrics.on_scrape(|gauges| gauges.connections("device", 7));
    let text = metrics.encode();
    assert!(
        text.contains("ztp_build_info{version=\"1.2.3\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("ztp_bootstraps_total{outcome=\"served\",profile=\"strict\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "ztp_device_refusals_total{reason=\"unknown_device\",rpc=\"get_bootstrapping_data\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("ztp_open_connections{listener=\"device\"} 7"),
        "{text}"
    );
    assert!(
        text.contains(
            "ztp_device_request_duration_seconds_bucket{rpc=\"get_bootstrapping_data\",le=\"0.005\"} 1"
        ),
        "{text}"
    );
}

#[test]
fn a_family_registered_twice_is_refused() {
    let metrics = Metrics::new("1").unwrap();
    let journal = JournalMetrics::default();
    metrics.register(&journal).unwrap();
    assert!(metrics.register(&journal).is_err());
}

#[test]
fn a_receiver_gone_since_the_last_scrape_is_gone_from_the_exposition() {
    let metrics = Metrics::new("1").unwrap();
    let backlog = |receiver: &str| Backlog {
        customer: "acme".into(),
        receiver: receiver.into(),
        depth: 2,
        oldest_age_secs: 30.0,
    };
    metrics
        .gauges()
        .nms_backlogs(&[backlog("east"), backlog("west")]);
    metrics.gauges().nms_backlogs(&[backlog("east")]);
    let text = metrics.encode();
    assert!(text.contains("connection=\"east\""), "{text}");
    assert!(!text.contains("connection=\"west\""), "{text}");
}

#[test]
fn uncounted_pools_have_no_seats() {
    let metrics = Metrics::new("1").unwrap();
    let seats = |pool: &str, free| Seats {
        customer: "acme".into(),
        pool: pool.into(),
        free,
        allocated: 3,
    };
    metrics
        .gauges()
        .license_seats(&[seats("counted", Some(5)), seats("open", None)]);
    let text = metrics.encode();
    assert!(
        text.contains("ztp_license_seats{customer=\"acme\",pool=\"counted\",state=\"free\"} 5"),
        "{text}"
    );
    assert!(!text.contains("pool=\"open\""), "{text}");
}
