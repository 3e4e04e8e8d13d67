-- Automatic locks from the registries: the reconciliation job looks only at registry rows that show a ground
-- (a card revoked or retained, a death, an expiry date) and at active locks of the automatic grounds. Partial
-- indexes keep the first small (most rows have a valid card and no death) and cost nothing for the other rows
-- on import; the expiry dates get plain indexes for their range scans.
CREATE INDEX registry_citizens_card_flagged ON registry_citizens (card_status) WHERE card_status <> 'valid';
CREATE INDEX registry_citizens_deceased ON registry_citizens (died_on) WHERE died_on IS NOT NULL;
CREATE INDEX registry_foreigners_passport_expiry ON registry_foreigners (passport_expires_on);
CREATE INDEX registry_foreigners_stay_expiry ON registry_foreigners (stay_expires_on);
CREATE INDEX registry_foreigners_deceased ON registry_foreigners (died_on) WHERE died_on IS NOT NULL;
-- The active locks of a ground (which may have ended), and whether an account holds one of a ground.
CREATE INDEX locks_ground_active ON locks (ground, lifted_at);
CREATE INDEX locks_account_ground ON locks (account_id, ground);
