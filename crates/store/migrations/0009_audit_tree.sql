-- The audit log as a Merkle tree (RFC 9162): every entry is a leaf, numbered by `seq`, with its leaf hash; the
-- head row keeps the tree's size, the roots of its perfect subtrees (the frontier) and its root. The columns of
-- the hash chain (`prev_hash`, `hash`, `last_hash`) are no longer written; the chain's entries become the first
-- leaves once, in this migration, after their chain was checked (crates/store/src/audit/mod.rs, adopt_chain).
ALTER TABLE audit_log ADD COLUMN leaf_hash TEXT;
ALTER TABLE audit_head ADD COLUMN frontier TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_head ADD COLUMN root TEXT NOT NULL DEFAULT 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

-- Signed tree heads (C2SP checkpoints), as the server signed them with its key file; also published elsewhere.
CREATE TABLE audit_checkpoints (
    tree_size BIGINT PRIMARY KEY,
    root      TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    note      TEXT NOT NULL
);
