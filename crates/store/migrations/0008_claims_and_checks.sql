-- A claim keeps a request one officer's for a while (domain::request::CLAIM_HOURS); an officer's in-person check
-- before filing a holder's own unlock is kept with the request (document kind and number seen, office), as JSON.
ALTER TABLE requests ADD COLUMN claimed_at BIGINT;
ALTER TABLE requests ADD COLUMN in_person_check TEXT;
