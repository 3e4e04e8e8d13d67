-- A stranger who knows an identification number (printed on many documents) must not be able to keep its holder
-- from signing in by typing wrong passwords (NIST SP 800-63B §5.2.2). Failures are throttled per account *and*
-- source: `source` is the SHA-256 of the client's address (never the address itself). The account-wide count in
-- `accounts.failed_sign_ins` only leads to a hard lockout after 100 consecutive failures from all sources.
CREATE TABLE holder_sign_in_sources (
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    source       TEXT NOT NULL,
    failures     BIGINT NOT NULL,
    locked_until BIGINT,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, source)
);

-- One-time codes sent are counted per destination from the outbox (SMS and e-mail cost money and annoy).
CREATE INDEX outbox_recipient ON outbox (recipient, created_at);
