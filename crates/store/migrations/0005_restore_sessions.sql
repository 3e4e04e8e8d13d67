-- A holder whose account is locked may still sign in to dinhdanh to follow their locks and ask for their own
-- lock to be lifted: such sign-ins and sessions have the purpose 'restore'. Ordinary sign-ins ('sign_in' /
-- 'full' sessions) — and, later, relying parties' sign-ins — stay refused while any lock is in force.
ALTER TABLE holder_sign_ins ADD COLUMN purpose TEXT NOT NULL DEFAULT 'sign_in';
ALTER TABLE holder_sessions ADD COLUMN purpose TEXT NOT NULL DEFAULT 'full';
