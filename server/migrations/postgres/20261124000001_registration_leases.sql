-- One outbox mechanism for registrations and webhook deliveries: a claimed registration is
-- leased in its own column, as a webhook delivery is, instead of in `next_attempt_at`. A row
-- claimed before this migration keeps its lease there: it is due again when that lease ends.
ALTER TABLE registrations ADD COLUMN leased_until BIGINT;
