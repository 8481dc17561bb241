//! The durable outbox: one mechanism for every queue of items ztp delivers to a receiver outside
//! (a device's registration to an NMS connection, an event to a customer's webhook).
//!
//! An item is committed before anything is sent: each queue writes it with its own `INSERT`, in
//! the caller's statement or transaction (a webhook delivery in the transaction of the event that
//! raises it), as `pending`, due at once, with its give-up clock (`pending_since`) started.
//! From there the mechanism is shared and lives here:
//!
//! - **claim**: a worker takes due items and leases them (`leased_until`), counting the attempt,
//!   so that two workers (two ztp instances on one database) never attempt one item at once, and
//!   a worker that dies mid-attempt only delays the item until its lease ends;
//! - **release**: a worker that stops gracefully makes its leased items due again at once;
//! - **settle**: how an attempt ended ([`Settlement`]: delivered, retried at a time, or a dead
//!   letter), the receiver's [`Health`] (recorded, with its event, only when it changes) and the
//!   events the round raises, in one transaction;
//! - **status**: a receiver's health and its items by state ([`OutboxStatus`]).
//!
//! Each queue is described by a [`Queue`]: its tables, how an item names its receiver, which
//! receivers are delivered to, and what else a settlement writes. Times come from the caller
//! (a [`Clock`](crate::domain::clock::Clock)); nothing here reads the system's time. Backoff and
//! give-up are the domain's ([`RetrySchedule`](crate::domain::delivery::RetrySchedule)).
//!
//! May import: the store's own modules and the domain.

mod status;
#[cfg(test)]
mod tests;

pub use status::{Backlog, OutboxStatus};

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe};

use super::events::insert_event;
use super::{NewEvent, Store, StoreError};
use crate::domain::delivery::{RegistrationState, Settlement};

/// One queue of the outbox: where its items and receivers are kept. The SQL of every operation
/// is built from these names (static text only, never input).
#[derive(Debug)]
pub struct Queue {
    /// The items' table.
    items: &'static str,
    /// The receivers' table.
    receivers: &'static str,
    /// The items' columns that name their receiver.
    item_key: &'static [&'static str],
    /// The receivers' columns those match, in the same order.
    receiver_key: &'static [&'static str],
    /// Which receivers (alias `r`) are delivered to at all.
    active: &'static str,
    /// Whether a receiver with an attempt running gets no other claimed until it ends.
    exclusive: bool,
    /// Whether a retry holds the receiver's other waiting items back until that time too
    /// (what failed for one would fail for the others).
    hold_backlog: bool,
    /// What else a settlement writes (`SET` items; `$5` is the time, `$7` the status).
    settle_set: &'static str,
    /// What else a settlement requires (`WHERE` conditions; `$6` is the version).
    settle_guard: &'static str,
    /// What a receiver is called in errors.
    receiver_what: &'static str,
}

/// Registrations, to NMS connections that are not switched off. An attempt settles only the
/// version it carried: content that changed meanwhile stays pending.
pub const REGISTRATIONS: Queue = Queue {
    items: "registrations",
    receivers: "nms_connections",
    item_key: &["customer", "connection"],
    receiver_key: &["customer", "name"],
    active: "r.policy <> 'off'",
    exclusive: false,
    hold_backlog: false,
    settle_set: ", updated_at = $5",
    settle_guard: " AND version = $6",
    receiver_what: "NMS connection",
};

/// Webhook deliveries, to enabled subscriptions: a few at once per receiver, none while one of
/// its attempts runs, and a receiver that fails is left alone until its retry.
pub const WEBHOOK_DELIVERIES: Queue = Queue {
    items: "webhook_deliveries",
    receivers: "webhooks",
    item_key: &["webhook_id"],
    receiver_key: &["id"],
    active: "r.enabled = 1",
    exclusive: true,
    hold_backlog: true,
    settle_set: ", last_status = $7",
    settle_guard: "",
    receiver_what: "webhook",
};

/// One column's value of a receiver's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key<'a> {
    /// A text column (a customer's name, a connection's name).
    Text(&'a str),
    /// An integer column (a webhook's id).
    Int(i64),
}

/// What to claim: due items (at `now`) leased until `lease_until`, at most `per_receiver` of one
/// receiver and `limit` in all; of one receiver only when `receiver` is given.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// Only this receiver's items.
    pub receiver: Option<&'a [Key<'a>]>,
    /// The time due items are due by (Unix ms).
    pub now: i64,
    /// The end of the lease (Unix ms).
    pub lease_until: i64,
    /// At most this many of one receiver.
    pub per_receiver: u32,
    /// At most this many in all.
    pub limit: u32,
}

/// How one attempt of one item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt<'a> {
    /// The item.
    pub id: i64,
    /// Where it leaves the item.
    pub settlement: Settlement,
    /// Why it failed (`None` when delivered).
    pub error: Option<&'a str>,
    /// The content version attempted (queues whose items change while queued: registrations).
    pub version: Option<i64>,
    /// The receiver's answer (queues that keep it: webhooks' HTTP status).
    pub status: Option<u16>,
}

/// A receiver's health after a round: `error` is the failure that made the whole round fail,
/// `None` after a delivery. `event`, if any, is recorded when the health changes (a new alarm, a
/// different one, or the end of one), never once per attempt.
#[derive(Debug, Clone)]
pub struct Health<'a> {
    /// The receiver.
    pub receiver: &'a [Key<'a>],
    /// The failure, or `None`.
    pub error: Option<&'a str>,
    /// The event to record if this is news.
    pub event: Option<NewEvent>,
}

/// What [`Store::settle`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// Per attempt, whether it applied (not when the item changed, was settled or removed
    /// meanwhile).
    pub applied: Vec<bool>,
    /// Whether the receiver's health changed (and its event, if any, was recorded).
    pub health_changed: bool,
}

impl Queue {
    /// The condition under which an item (alias `i`, or none) is due at `$param`.
    pub(crate) fn due(&self, alias: &str, param: usize) -> String {
        let a = if alias.is_empty() {
            String::new()
        } else {
            format!("{alias}.")
        };
        format!(
            "{a}state = 'pending' AND {a}next_attempt_at <= ${param} \
             AND ({a}leased_until IS NULL OR {a}leased_until <= ${param})"
        )
    }

    /// The join of an item (alias `i`) to its receiver (alias `r`).
    fn join(&self, item: &str, receiver: &str) -> String {
        pairs(self.item_key, self.receiver_key)
            .map(|(i, r)| format!("{receiver}.{r} = {item}.{i}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// `columns` (of alias `alias`) equal to the parameters from `$first` on.
    fn key_match(alias: &str, columns: &[&str], first: usize) -> String {
        columns
            .iter()
            .enumerate()
            .map(|(n, c)| format!("{alias}.{c} = ${}", first + n))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    fn claim_sql(&self, columns: &str, scoped: bool) -> String {
        let (items, receivers) = (self.items, self.receivers);
        let partition = self
            .item_key
            .iter()
            .map(|c| format!("i.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let exclusive = if self.exclusive {
            format!(
                " AND NOT EXISTS (SELECT 1 FROM {items} x WHERE {} AND x.leased_until > $1)",
                pairs(self.item_key, self.item_key)
                    .map(|(x, i)| format!("x.{x} = i.{i}"))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            )
        } else {
            String::new()
        };
        let scope = if scoped {
            format!(" AND {}", Self::key_match("i", self.item_key, 5))
        } else {
            String::new()
        };
        // The outer condition repeats "due": on PostgreSQL a row that another claim updated
        // meanwhile is re-checked against it and skipped.
        format!(
            "UPDATE {items} SET leased_until = $2, attempts = attempts + 1 \
             WHERE {due} AND id IN ( \
               SELECT id FROM ( \
                 SELECT i.id, i.next_attempt_at, ROW_NUMBER() OVER ( \
                   PARTITION BY {partition} ORDER BY i.next_attempt_at, i.id) AS n \
                 FROM {items} i JOIN {receivers} r ON {join} \
                 WHERE {due_i} AND {active}{exclusive}{scope}) due \
               WHERE n <= $3 ORDER BY next_attempt_at, id LIMIT $4) \
             RETURNING {columns}",
            due = self.due("", 1),
            due_i = self.due("i", 1),
            join = self.join("i", "r"),
            active = self.active,
        )
    }
}

fn pairs<'a>(
    a: &'a [&'static str],
    b: &'a [&'static str],
) -> impl Iterator<Item = (&'static str, &'static str)> + 'a {
    a.iter().copied().zip(b.iter().copied())
}

/// Binds `keys` to `query`, in order.
fn bind_keys<'q>(
    mut query: Query<'q, Any, AnyArguments>,
    keys: &[Key<'_>],
) -> Query<'q, Any, AnyArguments> {
    for key in keys {
        query = match *key {
            Key::Text(text) => query.bind(text.to_owned()),
            Key::Int(n) => query.bind(n),
        };
    }
    query
}

impl Store {
    /// Claims what `claim` asks of `queue`: each item gets its attempt counted and is leased.
    /// Returns the items' `columns`, by id.
    pub(crate) async fn claim(
        &self,
        queue: &Queue,
        columns: &str,
        claim: Claim<'_>,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let sql = queue.claim_sql(columns, claim.receiver.is_some());
        let query = sqlx::query(AssertSqlSafe(sql))
            .bind(claim.now)
            .bind(claim.lease_until)
            .bind(i64::from(claim.per_receiver))
            .bind(i64::from(claim.limit));
        let query = bind_keys(query, claim.receiver.unwrap_or_default());
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// Makes items claimed with a lease due again at once, each `(id, lease_until)` only if it is
    /// still pending under that very lease (not settled or claimed anew meanwhile). Returns how
    /// many were released.
    pub(crate) async fn release(
        &self,
        queue: &Queue,
        held: &[(i64, i64)],
    ) -> Result<u64, StoreError> {
        let sql = format!(
            "UPDATE {} SET leased_until = NULL \
             WHERE id = $1 AND leased_until = $2 AND state = 'pending'",
            queue.items
        );
        let mut released = 0;
        for (id, lease_until) in held {
            released += sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(id)
                .bind(lease_until)
                .execute(self.pool())
                .await?
                .rows_affected();
        }
        Ok(released)
    }

    /// Records the `attempts` of a round at `now`, the receiver's `health` and the round's
    /// `events`, in one transaction.
    pub(crate) async fn settle(
        &self,
        queue: &Queue,
        attempts: &[Attempt<'_>],
        health: &Health<'_>,
        events: &[NewEvent],
        now: i64,
    ) -> Result<Settled, StoreError> {
        let mut tx = self.pool().begin().await?;
        // Every statement here writes, so SQLite takes the write lock with the first one and
        // never has to upgrade a read lock (which could fail with SQLITE_BUSY).
        let health_changed = record_health(&mut tx, queue, health, now).await?;
        if health_changed && let Some(event) = &health.event {
            insert_event(&mut tx, event).await?;
        }
        let settle = format!(
            "UPDATE {} SET state = $2, last_error = $3, \
               next_attempt_at = COALESCE($4, next_attempt_at), \
               delivered_at = CASE WHEN $2 = 'delivered' THEN $5 ELSE delivered_at END, \
               leased_until = NULL{} \
             WHERE id = $1 AND state = 'pending'{}",
            queue.items, queue.settle_set, queue.settle_guard
        );
        let mut applied = Vec::with_capacity(attempts.len());
        for attempt in attempts {
            let (state, retry_at) = match attempt.settlement {
                Settlement::Delivered => (RegistrationState::Delivered, None),
                Settlement::RetryAt(at) => (RegistrationState::Pending, Some(at)),
                Settlement::Dead => (RegistrationState::Dead, None),
            };
            let done = sqlx::query(AssertSqlSafe(settle.clone()))
                .bind(attempt.id)
                .bind(state.as_str())
                .bind(attempt.error)
                .bind(retry_at)
                .bind(now)
                .bind(attempt.version)
                .bind(attempt.status.map(i32::from))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if done
                && queue.hold_backlog
                && let Some(retry_at) = retry_at
            {
                hold_backlog(&mut tx, queue, health.receiver, retry_at).await?;
            }
            applied.push(done);
        }
        for event in events {
            insert_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(Settled {
            applied,
            health_changed,
        })
    }

    /// A receiver's health and its items by state, read in one statement (one snapshot: an item
    /// settled meanwhile shows in both or in neither).
    pub(crate) async fn status(
        &self,
        queue: &Queue,
        receiver: &[Key<'_>],
    ) -> Result<OutboxStatus, StoreError> {
        let count = |state: &str| {
            format!("COALESCE(SUM(CASE WHEN i.state = '{state}' THEN 1 ELSE 0 END), 0) AS {state}")
        };
        let sql = format!(
            "SELECT r.last_error, r.last_error_at, r.last_delivery_at, {}, {}, {} \
             FROM {} r LEFT JOIN {} i ON {} WHERE {} GROUP BY {}",
            count("pending"),
            count("delivered"),
            count("dead"),
            queue.receivers,
            queue.items,
            queue.join("i", "r"),
            Queue::key_match("r", queue.receiver_key, 1),
            queue
                .receiver_key
                .iter()
                .map(|c| format!("r.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        let row = bind_keys(sqlx::query(AssertSqlSafe(sql)), receiver)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: queue.receiver_what,
                key: receiver
                    .iter()
                    .map(|k| match k {
                        Key::Text(t) => (*t).to_owned(),
                        Key::Int(n) => n.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("/"),
            })?;
        OutboxStatus::from_row(&row)
    }
}

/// Records a receiver's health at `now`; returns whether it changed.
async fn record_health(
    tx: &mut sqlx::AnyConnection,
    queue: &Queue,
    health: &Health<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    let receivers = queue.receivers;
    let changed = match health.error {
        None => {
            let key = Queue::key_match("r", queue.receiver_key, 2);
            let sql = format!("UPDATE {receivers} AS r SET last_delivery_at = $1 WHERE {key}");
            bind_keys(sqlx::query(AssertSqlSafe(sql)).bind(now), health.receiver)
                .execute(&mut *tx)
                .await?;
            let key = Queue::key_match("r", queue.receiver_key, 1);
            let sql = format!(
                "UPDATE {receivers} AS r SET last_error = NULL, last_error_at = NULL \
                 WHERE {key} AND r.last_error IS NOT NULL"
            );
            bind_keys(sqlx::query(AssertSqlSafe(sql)), health.receiver)
                .execute(&mut *tx)
                .await?
        }
        Some(error) => {
            let key = Queue::key_match("r", queue.receiver_key, 3);
            let sql = format!(
                "UPDATE {receivers} AS r SET last_error = $1, last_error_at = $2 \
                 WHERE {key} AND (r.last_error IS NULL OR r.last_error <> $1)"
            );
            bind_keys(
                sqlx::query(AssertSqlSafe(sql)).bind(error).bind(now),
                health.receiver,
            )
            .execute(&mut *tx)
            .await?
        }
    };
    Ok(changed.rows_affected() > 0)
}

/// Holds a receiver's waiting items (not leased) back until `until`.
async fn hold_backlog(
    tx: &mut sqlx::AnyConnection,
    queue: &Queue,
    receiver: &[Key<'_>],
    until: i64,
) -> Result<(), StoreError> {
    let key = Queue::key_match("i", queue.item_key, 2);
    let sql = format!(
        "UPDATE {} AS i SET next_attempt_at = $1 \
         WHERE {key} AND i.state = 'pending' AND i.leased_until IS NULL \
           AND i.next_attempt_at < $1",
        queue.items
    );
    bind_keys(sqlx::query(AssertSqlSafe(sql)).bind(until), receiver)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
