-- A holder session carries the assurance its own sign-in reached (domain.md "Assurance of a sign-in"), not the
-- account's level. The column said `level` and was filled from the account: rename it, and bring every session
-- opened so far down to Level 1, since every sign-in so far was a password and a code, which prove Level 1.
ALTER TABLE holder_sessions RENAME COLUMN level TO assurance;
UPDATE holder_sessions SET assurance = 1;
