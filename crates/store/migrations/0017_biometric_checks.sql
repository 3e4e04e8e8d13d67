-- Level 2 checks (issue 16, docs/biometrics.md): one row per comparison of a holder's fresh capture with the
-- registry's reference, for a Level 2 sign-in, an online upgrade or an officer's in-person upgrade. The score,
-- the threshold it was decided at and the decision are kept (the audit log has them too); the capture is not.
-- The day's failed comparisons of an account and purpose are counted here (`dinhdanh_domain::biometrics`).
CREATE TABLE biometric_checks (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose         TEXT NOT NULL,
    modality        TEXT NOT NULL,
    finger_position BIGINT,
    score           DOUBLE PRECISION NOT NULL,
    threshold       DOUBLE PRECISION NOT NULL,
    matched         BIGINT NOT NULL,
    checked_at      BIGINT NOT NULL,
    officer_id      TEXT
);
CREATE INDEX biometric_checks_by_account ON biometric_checks (account_id, purpose, checked_at);
{{CHECK biometric_checks.purpose IN ('sign_in', 'upgrade', 'in_person')}}
{{CHECK biometric_checks.modality IN ('finger', 'face')}}
{{CHECK biometric_checks.matched IN (0, 1)}}
-- A session whose sign-in added a biometric match (`POST /v1/holder-sessions/current/biometric`) records which
-- modality it was, for OpenID Connect's `amr` (RFC 8176: `fpt` or `face`); NULL for password and code alone.
ALTER TABLE holder_sessions ADD COLUMN biometric TEXT;
{{CHECK holder_sessions.biometric IN ('finger', 'face')}}
