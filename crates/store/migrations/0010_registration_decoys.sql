-- A registration of an identity that already has an account is answered like a fresh one (the real holder is
-- told instead of the caller): the decoy it answers with behaves like a pending registration whose code nobody
-- was sent — wrong codes count down, resends are limited, it expires — and never becomes an account.
CREATE TABLE registration_decoys (
    id              TEXT PRIMARY KEY,
    created_at      BIGINT NOT NULL,
    sent_to         TEXT NOT NULL,
    code_hash       TEXT NOT NULL,
    code_expires_at BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    sends           TEXT NOT NULL
);
CREATE INDEX registration_decoys_created ON registration_decoys (created_at);
