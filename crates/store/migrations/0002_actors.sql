-- Organizations, their API clients and credentials, access tokens, officers and their sessions.

CREATE TABLE organizations (
    id            TEXT PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    parent_id     TEXT REFERENCES organizations (id),
    status        TEXT NOT NULL,
    contact_email TEXT,
    contact_phone TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE api_clients (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    auth_method     TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX api_clients_organization ON api_clients (organization_id);

-- Several live credentials per client let keys and secrets rotate without downtime.
CREATE TABLE client_credentials (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES api_clients (id),
    kind       TEXT NOT NULL,
    key_id     TEXT,
    material   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX client_credentials_client ON client_credentials (client_id);

-- JWT ids of client assertions already used, kept until the assertion would have expired (replay guard).
CREATE TABLE client_assertions (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);

CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES api_clients (id),
    scopes     TEXT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX access_tokens_client ON access_tokens (client_id);

CREATE TABLE officers (
    id                   TEXT PRIMARY KEY,
    username             TEXT NOT NULL UNIQUE,
    full_name            TEXT NOT NULL,
    organization_id      TEXT NOT NULL REFERENCES organizations (id),
    roles                TEXT NOT NULL,
    status               TEXT NOT NULL,
    password_hash        TEXT,
    totp_secret          TEXT,
    totp_last_step       BIGINT,
    enrolment_token_hash TEXT,
    enrolment_expires_at BIGINT,
    failed_sign_ins      BIGINT NOT NULL DEFAULT 0,
    locked_until         BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX officers_enrolment ON officers (enrolment_token_hash);

CREATE TABLE officer_sessions (
    token_hash TEXT PRIMARY KEY,
    officer_id TEXT NOT NULL REFERENCES officers (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX officer_sessions_officer ON officer_sessions (officer_id);
