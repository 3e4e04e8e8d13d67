-- The lock engine: locks, requests and their steps and targets, idempotency keys; holders' sign-in and
-- sessions; the hash chain of the audit log.

CREATE TABLE locks (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    ground          TEXT NOT NULL,
    placed_by       TEXT NOT NULL,
    placed_by_org   TEXT,
    legal_basis     TEXT,
    reference       TEXT,
    reason          TEXT NOT NULL,
    effective_at    BIGINT NOT NULL,
    ends_at         BIGINT,
    request_id      TEXT,
    lifted_at       BIGINT,
    lifted_by       TEXT,
    lift_basis      TEXT,
    lift_reason     TEXT,
    lift_request_id TEXT
);
CREATE INDEX locks_account ON locks (account_id, lifted_at);

CREATE TABLE requests (
    id              TEXT PRIMARY KEY,
    tracking_code   TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    account_id      TEXT REFERENCES accounts (id),
    ground          TEXT NOT NULL,
    lock_id         TEXT,
    requester       TEXT NOT NULL,
    requester_org   TEXT,
    route           TEXT NOT NULL,
    is_override     BIGINT NOT NULL,
    status          TEXT NOT NULL,
    legal_basis     TEXT,
    reason          TEXT NOT NULL,
    reference       TEXT,
    lock_ends_at    BIGINT,
    received_at     BIGINT NOT NULL,
    deadline        BIGINT,
    claimed_by      TEXT,
    forwarded_at    BIGINT,
    forwarded_by    TEXT,
    decided_at      BIGINT,
    decided_by      TEXT,
    decision_reason TEXT,
    effective_at    BIGINT,
    closed_at       BIGINT,
    bulk_order_id   TEXT
);
CREATE INDEX requests_queue ON requests (status, deadline);
CREATE INDEX requests_account ON requests (account_id);
CREATE INDEX requests_requester_org ON requests (requester_org);

CREATE TABLE request_steps (
    id         {{ID}},
    request_id TEXT NOT NULL REFERENCES requests (id),
    at         BIGINT NOT NULL,
    status     TEXT NOT NULL,
    event      TEXT NOT NULL,
    by_party   TEXT NOT NULL,
    note       TEXT
);
CREATE INDEX request_steps_request ON request_steps (request_id);

-- A bulk order's accounts, one row each, with what became of it.
CREATE TABLE request_targets (
    request_id TEXT NOT NULL REFERENCES requests (id),
    position   BIGINT NOT NULL,
    identifier TEXT NOT NULL,
    account_id TEXT,
    outcome    TEXT NOT NULL,
    detail     TEXT,
    lock_id    TEXT,
    PRIMARY KEY (request_id, position)
);

-- An operation retried with the same key has its effect once and gets the first answer again.
CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       BIGINT NOT NULL,
    response     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE holder_sign_ins (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    channel     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    consumed_at BIGINT
);
CREATE INDEX holder_sign_ins_account ON holder_sign_ins (account_id);

CREATE TABLE holder_sessions (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    level      BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX holder_sessions_account ON holder_sessions (account_id);

ALTER TABLE accounts ADD COLUMN failed_sign_ins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN sign_in_locked_until BIGINT;

-- Each audit entry carries the SHA-256 of the one before it; the head row is what appenders queue on and where
-- the last link is kept (so deleting the newest entry is noticed too).
ALTER TABLE audit_log ADD COLUMN seq BIGINT;
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq);
CREATE TABLE audit_head (
    id        BIGINT PRIMARY KEY,
    last_seq  BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
