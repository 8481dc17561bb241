-- The device call that wrote an event (its x-request-id), to follow one call through the log
-- and the events; none for what no device call wrote (admin changes, deliveries, summaries).
ALTER TABLE events ADD COLUMN request_id TEXT;
