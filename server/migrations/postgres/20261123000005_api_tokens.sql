-- Admin API tokens with roles. Only a digest of each token is kept; the token is shown once.

CREATE TABLE api_tokens (
    id                TEXT    PRIMARY KEY,
    name              TEXT    NOT NULL,
    -- manufacturer-admin | customer-admin | read-only
    role              TEXT    NOT NULL,
    -- The customer a customer-admin or scoped read-only token is limited to.
    customer          TEXT    REFERENCES customers (name),
    -- Lowercase hex SHA-256 of the whole token.
    digest            TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL,
    expires_at        BIGINT,
    revoked_at        BIGINT,
    last_used_at      BIGINT
);
