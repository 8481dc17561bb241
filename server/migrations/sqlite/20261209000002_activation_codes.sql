-- Activation codes: HTTP Basic authentication of a device (its serial as the username), as a
-- second factor beside its IDevID, or as the only factor for a device without one (opted in per
-- device). Only an Argon2id hash of the code is kept (a PHC string).
CREATE TABLE activation_codes (
    serial            TEXT    PRIMARY KEY REFERENCES devices (serial),
    hash              TEXT    NOT NULL,
    only_factor       TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL
);
