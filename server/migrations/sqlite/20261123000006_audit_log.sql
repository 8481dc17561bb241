-- The audit log: every change made through the admin API, who made it and from where.
-- Append-only: the triggers refuse any change to a recorded entry.

CREATE TABLE audit_log (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    at                BIGINT  NOT NULL,
    -- The token's id (`bootstrap` for the token file) and its role.
    token             TEXT    NOT NULL,
    role              TEXT    NOT NULL,
    peer              TEXT    NOT NULL,
    -- create | update | replace | delete | action
    action            TEXT    NOT NULL,
    -- The resource, e.g. /customers/acme/nms/main, and what kind of object it is.
    object            TEXT    NOT NULL,
    object_kind       TEXT    NOT NULL,
    customer          TEXT,
    -- The request's fields as JSON, secrets redacted.
    fields            TEXT,
    summary           TEXT    NOT NULL
);
CREATE INDEX audit_log_object ON audit_log (object, id);
CREATE INDEX audit_log_customer ON audit_log (customer, id);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
