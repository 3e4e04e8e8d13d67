-- The accounts' event feed (issue 17, docs/events.md): what everyone who trusts an account must learn, written in
-- the transaction of the change itself, so that nothing committed is ever missed. `disabled` when an account gets
-- its first lock in force, `enabled` when its last one is lifted (never for a lock that leaves another), and
-- `level_changed` with the levels in `detail`. `txn` is shared by the events of one request (every account of a
-- bulk order). Relying parties' streams are fed from it (`fanned_out_at` set once that is done).
CREATE TABLE account_events (
    id            {{ID}},
    account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    txn           TEXT NOT NULL,
    detail        TEXT NOT NULL,
    occurred_at   BIGINT NOT NULL,
    fanned_out_at BIGINT
);
CREATE INDEX account_events_by_account ON account_events (account_id, id);
CREATE INDEX account_events_pending ON account_events (fanned_out_at, id);
{{CHECK account_events.kind IN ('disabled', 'enabled', 'level_changed')}}
