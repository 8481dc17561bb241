-- Ownership vouchers ztp did not sign (a vendor's MASA, or the manufacturer's when an owner runs
-- ztp as its own bootstrap server), imported per device after their signature, serial and
-- expiry were checked, and served as they are. The CMS is kept as base64 text.
CREATE TABLE imported_vouchers (
    serial            TEXT    PRIMARY KEY REFERENCES devices (serial),
    cms               TEXT    NOT NULL,
    masa              TEXT    NOT NULL,
    expires_at        BIGINT,
    idevid_issuer     TEXT,
    imported_at       BIGINT  NOT NULL
);
