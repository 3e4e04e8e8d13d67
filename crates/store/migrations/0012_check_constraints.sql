-- Every column that holds one of a closed set of words or numbers accepts only those. Each placeholder below
-- names a column and either `IN (…)`, the values allowed, or `WORDS (…)`, a space-separated set of them, each at
-- most once (roles, scopes). crates/store/src/migrate/check.rs renders each as a CHECK constraint on PostgreSQL
-- and as BEFORE INSERT and BEFORE UPDATE triggers that abort on SQLite (which cannot add a constraint to an
-- existing table), after refusing to upgrade a database that already holds another value. A later migration
-- widens a set by declaring the column again. The lists are the domain's enums; a test in migrate.rs fails when
-- an enum and its list part.
-- Not checked: outbox.kind and audit_log.outcome (open sets of names), requests.route (JSON),
-- request_targets.outcome (the bulk service's words).
{{CHECK registry_citizens.gender IN ('male', 'female')}}
{{CHECK registry_citizens.card_status IN ('valid', 'revoked', 'retained')}}
{{CHECK registry_foreigners.gender IN ('male', 'female')}}
{{CHECK accounts.holder_kind IN ('citizen', 'foreigner')}}
{{CHECK accounts.level IN (1, 2)}}
{{CHECK accounts.status IN ('pending_activation', 'active')}}
{{CHECK outbox.channel IN ('sms', 'email')}}
{{CHECK outbox.status IN ('pending', 'sent', 'failed')}}
{{CHECK organizations.kind IN ('operator', 'prosecuting_agency', 'competent_authority', 'relying_party')}}
{{CHECK organizations.status IN ('active', 'suspended')}}
{{CHECK api_clients.auth_method IN ('private_key_jwt', 'client_secret')}}
{{CHECK api_clients.status IN ('active', 'revoked')}}
{{CHECK api_clients.scopes WORDS ('locks:request', 'locks:lift', 'accounts:status')}}
{{CHECK client_credentials.kind IN ('jwk', 'secret')}}
{{CHECK access_tokens.scopes WORDS ('locks:request', 'locks:lift', 'accounts:status')}}
{{CHECK officers.roles WORDS ('reviewer', 'supervisor', 'administrator')}}
{{CHECK officers.status IN ('pending_enrolment', 'active', 'disabled')}}
{{CHECK locks.ground IN ('holder_request', 'authority_request', 'relying_party_request', 'terms_violation', 'identity_document_revoked', 'holder_deceased', 'travel_document_expired', 'residence_expired')}}
{{CHECK requests.kind IN ('lock', 'unlock')}}
{{CHECK requests.ground IN ('holder_request', 'authority_request', 'relying_party_request', 'terms_violation', 'identity_document_revoked', 'holder_deceased', 'travel_document_expired', 'residence_expired')}}
{{CHECK requests.status IN ('received', 'verifying', 'approved', 'effective', 'rejected', 'cancelled', 'expired')}}
{{CHECK requests.is_override IN (0, 1)}}
{{CHECK request_steps.status IN ('received', 'verifying', 'approved', 'effective', 'rejected', 'cancelled', 'expired')}}
{{CHECK request_steps.event IN ('received', 'claimed', 'released', 'forwarded', 'approved', 'effective', 'rejected', 'cancelled', 'expired', 'lifted_by_override', 'recorded')}}
{{CHECK holder_sign_ins.channel IN ('sms', 'email')}}
{{CHECK holder_sign_ins.purpose IN ('sign_in', 'restore', 'lost_phone_lock')}}
{{CHECK holder_sessions.assurance IN (1, 2)}}
{{CHECK holder_sessions.purpose IN ('full', 'restore')}}
