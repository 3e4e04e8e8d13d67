-- The Security Events waiting for each stream (issue 17, docs/events.md): one row per event and stream, made from
-- the accounts' event feed (whose row is marked fanned out in the same transaction); the claims without `iss`,
-- which the transmitter adds as it signs at delivery, with the key current then. `acked_at` once the receiver
-- acknowledged it (RFC 8936). Oldest first per stream.
CREATE TABLE ssf_events (
    id         {{ID}},
    stream_id  TEXT NOT NULL REFERENCES ssf_streams (id) ON DELETE CASCADE,
    jti        TEXT NOT NULL UNIQUE,
    claims     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    acked_at   BIGINT
);
CREATE INDEX ssf_events_unacked ON ssf_events (stream_id, acked_at, id);
