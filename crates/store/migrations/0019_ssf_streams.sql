-- Relying parties' Shared Signals streams (issue 17, docs/events.md): one per relying party's API client (SSF
-- lets a transmitter allow one stream per receiver), its settings as the receiver set them (JSON: delivery,
-- events_requested, description) and its status. The new scope `ssf:streams` joins the closed sets of scopes.
CREATE TABLE ssf_streams (
    id            TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL UNIQUE REFERENCES api_clients (id) ON DELETE CASCADE,
    settings      TEXT NOT NULL,
    status        TEXT NOT NULL,
    status_reason TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
{{CHECK ssf_streams.status IN ('enabled', 'paused', 'disabled')}}
{{CHECK api_clients.scopes WORDS ('locks:request', 'locks:lift', 'accounts:status', 'ssf:streams')}}
{{CHECK access_tokens.scopes WORDS ('locks:request', 'locks:lift', 'accounts:status', 'ssf:streams')}}
