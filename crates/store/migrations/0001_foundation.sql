-- Foundation: reference registries, accounts, activation, outbox, audit.
-- Shared by SQLite and PostgreSQL. Portable types only: TEXT, BIGINT; instants are Unix milliseconds (BIGINT),
-- calendar dates are ISO 8601 text (YYYY-MM-DD). {{ID}} becomes each dialect's auto-increment key.

CREATE TABLE registry_citizens (
    id_number           TEXT PRIMARY KEY,
    full_name           TEXT NOT NULL,
    date_of_birth       TEXT NOT NULL,
    gender              TEXT NOT NULL,
    place_of_origin     TEXT,
    permanent_residence TEXT,
    card_status         TEXT NOT NULL DEFAULT 'valid',
    died_on             TEXT,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE registry_foreigners (
    nationality         TEXT NOT NULL,
    passport_number     TEXT NOT NULL,
    full_name           TEXT NOT NULL,
    date_of_birth       TEXT NOT NULL,
    gender              TEXT NOT NULL,
    passport_expires_on TEXT,
    stay_expires_on     TEXT,
    died_on             TEXT,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (nationality, passport_number)
);

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    identity_key  TEXT NOT NULL UNIQUE,
    holder_kind   TEXT NOT NULL,
    full_name     TEXT NOT NULL,
    level         BIGINT NOT NULL,
    status        TEXT NOT NULL,
    phone         TEXT,
    email         TEXT,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    activated_at  BIGINT
);
CREATE INDEX accounts_status_created ON accounts (status, created_at);

CREATE TABLE activation_codes (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE activation_sends (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    sent_at    BIGINT NOT NULL
);
CREATE INDEX activation_sends_account ON activation_sends (account_id, sent_at);

CREATE TABLE outbox (
    id              {{ID}},
    kind            TEXT NOT NULL,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE audit_log (
    id      {{ID}},
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT,
    outcome TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject);
