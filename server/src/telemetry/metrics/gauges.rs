//! The gauges set before each scrape, from the state they describe: open connections, outbox
//! backlogs, license seats, CRL ages.

use prometheus::core::Collector;
use prometheus::{GaugeVec, IntGaugeVec, Opts};

/// One receiver's backlog: its items waiting and the age of the oldest.
#[derive(Debug, Clone, PartialEq)]
pub struct Backlog {
    /// The receiver's owner.
    pub customer: String,
    /// The receiver's name.
    pub receiver: String,
    /// Items waiting.
    pub depth: i64,
    /// Seconds since the oldest waiting item was queued (0: none waits).
    pub oldest_age_secs: f64,
}

/// One license pool's seats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seats {
    /// The owner.
    pub customer: String,
    /// The pool.
    pub pool: String,
    /// Seats left (`None`: the pool is uncounted).
    pub free: Option<i64>,
    /// Active licenses drawn from it.
    pub allocated: i64,
}

/// The gauges set before each scrape, from the state they describe.
#[derive(Debug, Clone)]
pub struct Gauges {
    connections: IntGaugeVec,
    nms_depth: IntGaugeVec,
    nms_age: GaugeVec,
    webhook_depth: IntGaugeVec,
    webhook_age: GaugeVec,
    seats: IntGaugeVec,
    crl_age: GaugeVec,
    crl_next_update: GaugeVec,
}

impl Gauges {
    pub(super) fn new() -> Result<Self, prometheus::Error> {
        let ints = |name: &str, help: &str, labels: &[&str]| {
            IntGaugeVec::new(Opts::new(name, help), labels)
        };
        let floats =
            |name: &str, help: &str, labels: &[&str]| GaugeVec::new(Opts::new(name, help), labels);
        let receiver = ["customer", "connection"];
        let webhook = ["customer", "webhook"];
        Ok(Self {
            connections: ints(
                "ztp_open_connections",
                "Connections open now, by listener (handshakes included).",
                &["listener"],
            )?,
            nms_depth: ints(
                "ztp_nms_outbox_depth",
                "Registrations waiting for delivery, by NMS connection.",
                &receiver,
            )?,
            nms_age: floats(
                "ztp_nms_outbox_oldest_age_seconds",
                "Age of the oldest registration waiting for delivery, by NMS connection (0: none \
                 waits).",
                &receiver,
            )?,
            webhook_depth: ints(
                "ztp_webhook_outbox_depth",
                "Events waiting for delivery, by webhook.",
                &webhook,
            )?,
            webhook_age: floats(
                "ztp_webhook_outbox_oldest_age_seconds",
                "Age of the oldest event waiting for delivery, by webhook (0: none waits).",
                &webhook,
            )?,
            seats: ints(
                "ztp_license_seats",
                "Seats of each counted license pool, free or allocated.",
                &["customer", "pool", "state"],
            )?,
            crl_age: floats(
                "ztp_crl_age_seconds",
                "Seconds since the thisUpdate of each configured CRL.",
                &["crl"],
            )?,
            crl_next_update: floats(
                "ztp_crl_next_update_seconds",
                "Seconds until the nextUpdate of each configured CRL (negative: past).",
                &["crl"],
            )?,
        })
    }

    pub(super) fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.connections.clone()),
            Box::new(self.nms_depth.clone()),
            Box::new(self.nms_age.clone()),
            Box::new(self.webhook_depth.clone()),
            Box::new(self.webhook_age.clone()),
            Box::new(self.seats.clone()),
            Box::new(self.crl_age.clone()),
            Box::new(self.crl_next_update.clone()),
        ]
    }

    /// `listener` holds `open` connections.
    pub fn connections(&self, listener: &str, open: usize) {
        self.connections
            .with_label_values(&[listener])
            .set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    /// The NMS connections' backlogs, replacing the last scrape's (a connection removed since
    /// is gone from the exposition).
    pub fn nms_backlogs(&self, backlogs: &[Backlog]) {
        set_backlogs(&self.nms_depth, &self.nms_age, backlogs);
    }

    /// The webhooks' backlogs, replacing the last scrape's.
    pub fn webhook_backlogs(&self, backlogs: &[Backlog]) {
        set_backlogs(&self.webhook_depth, &self.webhook_age, backlogs);
    }

    /// The counted pools' seats, replacing the last scrape's.
    pub fn license_seats(&self, pools: &[Seats]) {
        self.seats.reset();
        for pool in pools {
            let Some(free) = pool.free else { continue };
            let labels = |state| [pool.customer.as_str(), pool.pool.as_str(), state];
            self.seats.with_label_values(&labels("free")).set(free);
            self.seats
                .with_label_values(&labels("allocated"))
                .set(pool.allocated);
        }
    }

    /// The CRL called `crl` was issued `age` seconds ago and is next updated in `next_update`
    /// seconds (`None`: it names no next update).
    pub fn crl(&self, crl: &str, age: f64, next_update: Option<f64>) {
        self.crl_age.with_label_values(&[crl]).set(age);
        if let Some(next) = next_update {
            self.crl_next_update.with_label_values(&[crl]).set(next);
        }
    }
}

fn set_backlogs(depth: &IntGaugeVec, age: &GaugeVec, backlogs: &[Backlog]) {
    depth.reset();
    age.reset();
    for backlog in backlogs {
        let labels = [backlog.customer.as_str(), backlog.receiver.as_str()];
        depth.with_label_values(&labels).set(backlog.depth);
        age.with_label_values(&labels).set(backlog.oldest_age_secs);
    }
}
