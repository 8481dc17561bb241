-- The registration outbox: one row per device and NMS connection, committed before the first
-- delivery attempt, so that retries survive NMS outages and ztp restarts.

CREATE TABLE registrations (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    serial            TEXT    NOT NULL,
    customer          TEXT    NOT NULL,
    connection        TEXT    NOT NULL,
    -- <serial>.xml, checked by the connector's file name rules.
    file_name         TEXT    NOT NULL,
    -- The ztp-device-registration XML document, exactly as uploaded.
    content           TEXT    NOT NULL,
    -- Bumped whenever the content changes: an attempt that delivered an older version does not
    -- mark the newer one delivered.
    version           BIGINT  NOT NULL,
    -- pending | delivered | dead
    state             TEXT    NOT NULL,
    attempts          BIGINT  NOT NULL,
    -- When the next attempt is due; while an attempt runs, the end of its lease.
    next_attempt_at   BIGINT  NOT NULL,
    -- Since when the current content waits for delivery (the give-up clock).
    pending_since     BIGINT  NOT NULL,
    last_error        TEXT,
    delivered_at      BIGINT,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    UNIQUE (serial, customer, connection),
    FOREIGN KEY (customer, connection) REFERENCES nms_connections (customer, name)
        ON DELETE CASCADE
);
CREATE INDEX registrations_due ON registrations (state, next_attempt_at);
CREATE INDEX registrations_connection ON registrations (customer, connection, state);

-- The connection's health as the delivery worker last saw it.
ALTER TABLE nms_connections ADD COLUMN last_error TEXT;
ALTER TABLE nms_connections ADD COLUMN last_error_at BIGINT;
ALTER TABLE nms_connections ADD COLUMN last_delivery_at BIGINT;
