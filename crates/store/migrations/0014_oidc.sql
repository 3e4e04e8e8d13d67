-- The OpenID Connect provider (issue 14, docs/oidc.md).
--
-- Signing keys: one row per ES256 key (dinhdanh_oidc::keys::StoredKey), the private key as base64 of its PKCS#8
-- DER in TEXT so the schema stays portable. Exactly one `current` and one `next` at a time (the key set checks it
-- when it loads them).
CREATE TABLE oidc_keys (
    kid          TEXT PRIMARY KEY,
    state        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    activated_at BIGINT,
    retire_after BIGINT,
    private_key  TEXT NOT NULL
);
{{CHECK oidc_keys.state IN ('next', 'current', 'retired')}}

-- The provider's own settings that every node must share: the pairwise-subject salt (base64), and a row that
-- transactions creating or rotating the keys hold, so two nodes starting at once make one key set.
CREATE TABLE oidc_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- A relying party's registration (dinhdanh_oidc::client::ClientRegistration as JSON), beside its organization's
-- API client: same id, same credentials.
CREATE TABLE oidc_clients (
    client_id    TEXT PRIMARY KEY REFERENCES api_clients (id) ON DELETE CASCADE,
    registration TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- A browser's way through the sign-in pages: the validated authorization request (JSON), the hash of the CSRF
-- token its forms carry, and the sign-in challenge once the password was accepted.
CREATE TABLE oidc_interactions (
    id         TEXT PRIMARY KEY,
    request    TEXT NOT NULL,
    csrf_hash  TEXT NOT NULL,
    sign_in_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_interactions_expires ON oidc_interactions (expires_at);

-- What one sign-in gave a client (dinhdanh_oidc::tokens::Grant as JSON), with the hash of the holder session it
-- came from. A grant is refused once a lock has taken effect on its account after `created_at` (store/src/oidc.rs):
-- every code, access token and refresh token of it, from the lock's commit on, lifted or not.
CREATE TABLE oidc_grants (
    id             TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    holder_session TEXT NOT NULL,
    grant_data     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT
);
CREATE INDEX oidc_grants_account ON oidc_grants (account_id);
CREATE INDEX oidc_grants_session ON oidc_grants (holder_session);

-- Authorization codes under their hash (dinhdanh_oidc::tokens::AuthorizationCode as JSON); `used_at` is set
-- with a conditional update so that two exchanges cannot both win.
CREATE TABLE oidc_codes (
    hash       TEXT PRIMARY KEY,
    grant_id   TEXT NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    code_data  TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX oidc_codes_expires ON oidc_codes (expires_at);

-- Access tokens (RFC 9068 JWTs) by `jti`, so that userinfo and introspection see a revocation before `exp`.
CREATE TABLE oidc_access_tokens (
    jti        TEXT PRIMARY KEY,
    grant_id   TEXT NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX oidc_access_tokens_grant ON oidc_access_tokens (grant_id);
CREATE INDEX oidc_access_tokens_expires ON oidc_access_tokens (expires_at);

-- A holder's remembered consent per client (dinhdanh_oidc::consent::Consent as JSON).
CREATE TABLE oidc_consents (
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL,
    consent_data TEXT NOT NULL,
    granted_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

-- Refresh-token families (dinhdanh_oidc::tokens::RefreshFamily as JSON), one per grant with `offline_access`,
-- and their tokens under their hash. A token presented after it was rotated is reuse: the family is revoked.
CREATE TABLE oidc_refresh_families (
    grant_id    TEXT PRIMARY KEY REFERENCES oidc_grants (id) ON DELETE CASCADE,
    family_data TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX oidc_refresh_families_expires ON oidc_refresh_families (expires_at);
CREATE TABLE oidc_refresh_tokens (
    hash       TEXT PRIMARY KEY,
    grant_id   TEXT NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX oidc_refresh_tokens_grant ON oidc_refresh_tokens (grant_id);
CREATE INDEX oidc_refresh_tokens_expires ON oidc_refresh_tokens (expires_at);

-- Pushed authorization requests (RFC 9126; dinhdanh_oidc::authorize::PushedRequest as JSON) under the hash of
-- their `request_uri`, taken (deleted) by the front channel's first use.
CREATE TABLE oidc_pushed_requests (
    hash         TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL,
    request_data TEXT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX oidc_pushed_requests_expires ON oidc_pushed_requests (expires_at);
