-- Customers' webhook subscriptions and the webhook outbox: a delivery row per subscription and
-- event, written in the event's own transaction, so that a notification survives receiver
-- outages and ztp restarts exactly like an NMS registration.

CREATE TABLE webhooks (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    customer          TEXT    NOT NULL REFERENCES customers (name) ON DELETE CASCADE,
    name              TEXT    NOT NULL,
    -- https://… only.
    url               TEXT    NOT NULL,
    -- Space-separated notices: registered-in-nms bootstrap-complete bootstrap-failed
    -- license-shortage.
    events            TEXT    NOT NULL,
    -- PEM certificates the receiver's chain must lead to; NULL: the system's roots.
    ca_pem            TEXT,
    -- The HMAC key the customer verifies signatures with (sealed).
    secret            TEXT    NOT NULL,
    enabled           BIGINT  NOT NULL,   -- 0 or 1: Any has no SQLite BOOLEAN
    -- The receiver's health as the sender last saw it.
    last_error        TEXT,
    last_error_at     BIGINT,
    last_delivery_at  BIGINT,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    UNIQUE (customer, name)
);

CREATE TABLE webhook_deliveries (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id        BIGINT  NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id          BIGINT  NOT NULL REFERENCES events (id),
    notice            TEXT    NOT NULL,
    -- pending | delivered | dead
    state             TEXT    NOT NULL,
    attempts          BIGINT  NOT NULL,
    -- When the next attempt is due.
    next_attempt_at   BIGINT  NOT NULL,
    -- While an attempt runs: the end of its lease. A receiver with an attempt running gets no
    -- other until the attempts end (at most max_in_flight_per_webhook at once).
    leased_until      BIGINT,
    -- The receiver's last answer (HTTP status), or the last error.
    last_status       INTEGER,
    last_error        TEXT,
    delivered_at      BIGINT,
    -- Since when it waits (the give-up clock; restarted when a dead letter is retried).
    pending_since     BIGINT  NOT NULL,
    created_at        BIGINT  NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);
