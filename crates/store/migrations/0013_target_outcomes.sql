-- A bulk order's entries hold one of the outcomes the domain stores (dinhdanh_domain::bulk::TargetOutcome; not
-- `not_locked`, which is only ever shown). Entries written before `inactive` existed say `invalid` for an account
-- that was not active, which stays allowed.
{{CHECK request_targets.outcome IN ('pending', 'locked', 'already_locked', 'invalid', 'not_found', 'inactive', 'duplicate')}}
