-- Licensing: customers' entitlement pools and the node-locked licenses allocated from them.

CREATE TABLE license_pools (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    customer          TEXT    NOT NULL REFERENCES customers (name),
    name              TEXT    NOT NULL,
    -- The feature tag (SKU-like), e.g. ESS-ED-100G-SIA3.
    feature           TEXT    NOT NULL,
    -- perpetual | subscription | evaluation
    license_type      TEXT    NOT NULL,
    -- NULL: uncounted.
    seats             BIGINT,
    -- Active licenses of the pool, changed in the same transaction as they are: the guard
    -- against over-allocation (a conditional UPDATE is atomic on every backend).
    allocated         BIGINT  NOT NULL DEFAULT 0,
    starts_at         BIGINT,
    ends_at           BIGINT,
    evaluation_days   BIGINT,
    -- Scope: space-separated product ids (empty: every model), or serials.
    scope_kind        TEXT    NOT NULL,
    scope_values      TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    UNIQUE (customer, name)
);

CREATE TABLE licenses (
    id                TEXT    PRIMARY KEY,
    pool_id           BIGINT  NOT NULL REFERENCES license_pools (id),
    serial            TEXT    NOT NULL,
    product_id        TEXT    NOT NULL,
    -- active | revoked
    state             TEXT    NOT NULL,
    issued_at         BIGINT  NOT NULL,
    revoked_at        BIGINT,
    revoke_reason     TEXT,
    -- RMA: the license that replaced this one.
    replaced_by       TEXT
);
-- One active license per device and pool, whatever the concurrency.
CREATE UNIQUE INDEX licenses_active ON licenses (pool_id, serial) WHERE state = 'active';
CREATE INDEX licenses_serial ON licenses (serial);

-- Devices a pool had no seat for: the shortage alarm, cleared when the device gets a license.
CREATE TABLE license_shortages (
    pool_id           BIGINT  NOT NULL REFERENCES license_pools (id),
    serial            TEXT    NOT NULL,
    first_at          BIGINT  NOT NULL,
    last_at           BIGINT  NOT NULL,
    PRIMARY KEY (pool_id, serial)
);
