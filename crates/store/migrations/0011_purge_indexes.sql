-- The scheduled purge (crates/store/src/purge.rs) finds expired rows by their time, in batches: each table it
-- purges gets an index on the column it compares. Pending registrations are found by `accounts_status_created`
-- and decoys by `registration_decoys_created` already.
CREATE INDEX holder_sessions_expires ON holder_sessions (expires_at);
CREATE INDEX officer_sessions_expires ON officer_sessions (expires_at);
CREATE INDEX holder_sign_ins_expires ON holder_sign_ins (expires_at);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);
CREATE INDEX client_assertions_expires ON client_assertions (expires_at);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
