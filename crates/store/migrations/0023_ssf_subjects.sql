-- Subjects a relying party removed from its Shared Signals stream (SSF 1.0 §8.1.3; issue 17, docs/events.md). A
-- stream's subjects are "ALL" by default (every account that relying party signed in); a removed subject is kept
-- here as the relying party names it (its pairwise `sub`), whether or not it is one of its subjects, so that the
-- answer never tells which it is. Fan-out skips a stream's removed subjects; adding one back deletes its row.
-- And when a stream last asked for a verification event, so that a request within `min_verification_interval`
-- is answered 429, whichever node it reaches.
CREATE TABLE ssf_removed_subjects (
    stream_id  TEXT NOT NULL REFERENCES ssf_streams (id) ON DELETE CASCADE,
    sub        TEXT NOT NULL,
    removed_at BIGINT NOT NULL,
    PRIMARY KEY (stream_id, sub)
);
ALTER TABLE ssf_streams ADD COLUMN verification_requested_at BIGINT;
