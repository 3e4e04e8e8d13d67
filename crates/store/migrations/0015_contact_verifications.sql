-- Which of a holder's contacts the holder has proved to control (OpenID Connect's `phone_number_verified` and
-- `email_verified`, docs/oidc.md): one row per account and channel, written when a sign-in code sent by that
-- channel is entered correctly. It keeps the SHA-256 of the destination the code went to, not the destination,
-- so a contact changed later is not verified until a code reaches the new one, and no second copy of it is kept.
CREATE TABLE contact_verifications (
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    channel          TEXT NOT NULL,
    destination_hash TEXT NOT NULL,
    verified_at      BIGINT NOT NULL,
    PRIMARY KEY (account_id, channel)
);
{{CHECK contact_verifications.channel IN ('sms', 'email')}}
