-- Customers' NMS connections: where device registrations are delivered over SFTP.
-- Secrets (password, private key) are stored as given; encryption at rest under a master key
-- comes with the administration work.

CREATE TABLE nms_connections (
    customer          TEXT    NOT NULL REFERENCES customers (name),
    name              TEXT    NOT NULL,
    host              TEXT    NOT NULL,
    port              INTEGER NOT NULL,
    username          TEXT    NOT NULL,
    password          TEXT,
    private_key_pem   TEXT,
    -- Space-separated OpenSSH SHA-256 fingerprints (several, for key rotation).
    pins              TEXT    NOT NULL,
    directory         TEXT    NOT NULL,
    -- nms-first | parallel | off
    policy            TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    PRIMARY KEY (customer, name)
);
