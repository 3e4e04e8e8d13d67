-- Push delivery of Shared Signals events (RFC 8935; issue 17, docs/events.md). A stream keeps the issuer it was
-- created under (the `iss` of its configuration and of every SET it gets, signed without a request at hand), and
-- a lease so that one worker of one node pushes a stream at a time, in order. Each queued event counts its failed
-- pushes, waits until `next_attempt_at` before the next (exponential backoff), keeps the last error, and is dead
-- (`dead_at`, a dead letter officers can see and replay) once the receiver refused it or the tries ran out.
ALTER TABLE ssf_streams ADD COLUMN issuer TEXT;
ALTER TABLE ssf_streams ADD COLUMN push_lease_until BIGINT;
ALTER TABLE ssf_events ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ssf_events ADD COLUMN next_attempt_at BIGINT;
ALTER TABLE ssf_events ADD COLUMN last_error TEXT;
ALTER TABLE ssf_events ADD COLUMN dead_at BIGINT;
