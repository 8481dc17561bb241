-- The inventory: customers (device owners), their redirect targets and response rules, devices.
-- Times are Unix milliseconds (BIGINT) so the same queries run on SQLite and PostgreSQL.

CREATE TABLE customers (
    name              TEXT    PRIMARY KEY,
    owner_ca_pem      TEXT    NOT NULL,
    signer_chain_pem  TEXT    NOT NULL,
    signer_key_pem    TEXT    NOT NULL,
    profile           TEXT    NOT NULL DEFAULT 'standard',
    sign              BIGINT  NOT NULL DEFAULT 1,   -- 0 or 1: Any has no SQLite BOOLEAN
    onboarding_json   TEXT,
    -- Bumped by every change to the customer, its targets or its rules: the key of cached
    -- signed artifacts, so that a change on any instance invalidates them everywhere.
    revision          BIGINT  NOT NULL DEFAULT 1,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL
);

CREATE TABLE redirect_targets (
    customer          TEXT    NOT NULL REFERENCES customers (name) ON DELETE CASCADE,
    name              TEXT    NOT NULL,
    address           TEXT    NOT NULL,
    port              INTEGER NOT NULL,
    trust_anchor_pem  TEXT,
    position          BIGINT  NOT NULL,
    PRIMARY KEY (customer, name)
);

CREATE TABLE response_rules (
    customer          TEXT    NOT NULL REFERENCES customers (name) ON DELETE CASCADE,
    position          BIGINT  NOT NULL,
    rule_json         TEXT    NOT NULL,
    PRIMARY KEY (customer, position)
);

CREATE TABLE devices (
    serial            TEXT    PRIMARY KEY,
    model             TEXT    NOT NULL,
    customer          TEXT    REFERENCES customers (name),
    certificate_pin   TEXT,
    state             TEXT    NOT NULL DEFAULT 'shipped',
    state_changed_at  BIGINT  NOT NULL,
    last_contact_at   BIGINT,
    created_at        BIGINT  NOT NULL
);
CREATE INDEX devices_customer ON devices (customer);

-- What happened: every bootstrap request, refusal and progress report, and admin changes.
CREATE TABLE events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    at                BIGINT  NOT NULL,
    serial            TEXT,
    kind              TEXT    NOT NULL,
    status            INTEGER,
    peer              TEXT,
    detail            TEXT    NOT NULL
);
CREATE INDEX events_serial ON events (serial, id);

CREATE TABLE progress_reports (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    serial            TEXT    NOT NULL REFERENCES devices (serial) ON DELETE CASCADE,
    at                BIGINT  NOT NULL,
    progress_type     TEXT    NOT NULL,
    message           TEXT,
    -- bootstrap-complete only: [{"algorithm": …, "key-data": base64}] and base64 CMS bags,
    -- kept for the NMS registration update.
    ssh_host_keys     TEXT,
    trust_anchor_certs TEXT
);
CREATE INDEX progress_reports_serial ON progress_reports (serial, id);
