-- ferrocr job store, SQLite schema v1. Times are unix milliseconds. Document blobs live on the
-- filesystem (DATA_DIR/blobs/ab/cd/<sha256>); the blobs table records which are stored.
CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE jobs (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT, -- submission order: list cursor, FIFO
    id                TEXT NOT NULL UNIQUE,
    status            TEXT NOT NULL
                      CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    priority          INTEGER NOT NULL,
    options_json      TEXT NOT NULL,
    options_hash      TEXT NOT NULL,                     -- dedupe key with content_sha256
    formats           TEXT NOT NULL,
    content_sha256    TEXT NOT NULL REFERENCES blobs (sha256),
    content_len       INTEGER NOT NULL,
    pages_done        INTEGER NOT NULL DEFAULT 0,
    pages_total       INTEGER,
    created_at        INTEGER NOT NULL,
    started_at        INTEGER,
    finished_at       INTEGER,
    expires_at        INTEGER,
    run_after         INTEGER NOT NULL,                  -- retry backoff: not claimable before
    attempts          INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER NOT NULL,
    last_error        TEXT,
    callback_url      TEXT,
    idempotency_key   TEXT UNIQUE,
    deduplicated_from TEXT,
    lease_token       INTEGER NOT NULL DEFAULT 0,        -- fencing token, +1 per claim
    lease_worker      TEXT,
    lease_expires_at  INTEGER,
    has_result        INTEGER NOT NULL DEFAULT 0,
    webhook_state     TEXT NOT NULL DEFAULT 'none',      -- none | pending | delivered | failed
    webhook_attempts  INTEGER NOT NULL DEFAULT 0,
    webhook_next_at   INTEGER
);
CREATE INDEX jobs_queue ON jobs (status, priority DESC, seq);
CREATE INDEX jobs_lease ON jobs (status, lease_expires_at);
CREATE INDEX jobs_expiry ON jobs (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX jobs_dedupe ON jobs (content_sha256, options_hash) WHERE status = 'succeeded';
CREATE INDEX jobs_webhook ON jobs (webhook_state, webhook_next_at);
CREATE INDEX jobs_status_seq ON jobs (status, seq);

CREATE TABLE job_pages (
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    page_index  INTEGER NOT NULL,
    result_json TEXT NOT NULL,
    lease_token INTEGER NOT NULL,                        -- which claim wrote it
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (job_id, page_index)
);

CREATE TABLE job_results (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    format TEXT NOT NULL,
    body   TEXT NOT NULL,
    PRIMARY KEY (job_id, format)
);

CREATE TABLE webhook_attempts (
    job_id          TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    http_status     INTEGER,
    error           TEXT,
    next_attempt_at INTEGER,
    PRIMARY KEY (job_id, attempt)
);

-- Monotonic counters for metrics (survive the sweeping of the jobs they counted).
CREATE TABLE store_counters (
    name  TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
);
INSERT INTO store_counters (name, value) VALUES ('lease_expiries', 0), ('fenced_writes', 0);
