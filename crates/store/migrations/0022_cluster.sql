-- The scheduled jobs of a cluster (issue 17, docs/scaling.md "Several nodes"): each periodic job (the automatic
-- locks' reconciliation, the purge with the signing keys' schedule, the audit checkpoint) is run by one node per
-- period, whichever claims this row first once the period has passed; the others skip that tick. `node` is who
-- ran it last, `runs` how many times it was run and `attempts` how many ticks of any node asked, both for the
-- operator (and the tests that prove one run with two nodes up). A run that never finished (its node died) is
-- taken over: on PostgreSQL at once (the run holds an advisory lock its connection's end releases), on SQLite
-- once it is `stale` (docs/scaling.md).
CREATE TABLE scheduled_jobs (
    name        TEXT PRIMARY KEY,
    node        TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    runs        BIGINT NOT NULL DEFAULT 0,
    attempts    BIGINT NOT NULL DEFAULT 0
);

-- The nodes whose listeners hear the credential cache's invalidations (PostgreSQL; `crates/store/src/cluster.rs`):
-- each writes `seen_at` (PostgreSQL's clock, Unix milliseconds) every second while it listens, and a commit that
-- invalidates waits until every node seen in the last five seconds has acknowledged it, so that a lock answered
-- by one node is refused by every other on its very next request.
CREATE TABLE cluster_nodes (
    node    TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);
