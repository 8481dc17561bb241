-- LDevIDs issued for devices' CSRs (RFC 9646), per customer and off by default: where they come
-- from ('off', 'ztp-ca': ztp's own CA of the customer, 'command': the operator's external CA),
-- and ztp's CA of the customer once generated (its key sealed like the owner signing key).
ALTER TABLE customers ADD COLUMN ldevid_issuer TEXT NOT NULL DEFAULT 'off';
ALTER TABLE customers ADD COLUMN ldevid_ca_pem TEXT;
ALTER TABLE customers ADD COLUMN ldevid_ca_key_pem TEXT;
