-- ferrocr job store, PostgreSQL schema v1 (same semantics as migrations/sqlite). Times are unix
-- milliseconds. Document blobs are stored in the blobs table (bytea), keyed by sha256.
CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY NOT NULL,
    size       BIGINT NOT NULL,
    data       BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE jobs (
    seq               BIGSERIAL PRIMARY KEY, -- submission order: list cursor, FIFO
    id                TEXT NOT NULL UNIQUE,
    status            TEXT NOT NULL
                      CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    priority          BIGINT NOT NULL,
    options_json      TEXT NOT NULL,
    options_hash      TEXT NOT NULL,                     -- dedupe key with content_sha256
    formats           TEXT NOT NULL,
    content_sha256    TEXT NOT NULL REFERENCES blobs (sha256),
    content_len       BIGINT NOT NULL,
    pages_done        BIGINT NOT NULL DEFAULT 0,
    pages_total       BIGINT,
    created_at        BIGINT NOT NULL,
    started_at        BIGINT,
    finished_at       BIGINT,
    expires_at        BIGINT,
    run_after         BIGINT NOT NULL,                  -- retry backoff: not claimable before
    attempts          BIGINT NOT NULL DEFAULT 0,
    max_attempts      BIGINT NOT NULL,
    last_error        TEXT,
    callback_url      TEXT,
    idempotency_key   TEXT UNIQUE,
    deduplicated_from TEXT,
    lease_token       BIGINT NOT NULL DEFAULT 0,        -- fencing token, +1 per claim
    lease_worker      TEXT,
    lease_expires_at  BIGINT,
    has_result        BIGINT NOT NULL DEFAULT 0,
    webhook_state     TEXT NOT NULL DEFAULT 'none',      -- none | pending | delivered | failed
    webhook_attempts  BIGINT NOT NULL DEFAULT 0,
    webhook_next_at   BIGINT
);
CREATE INDEX jobs_queue ON jobs (status, priority DESC, seq);
CREATE INDEX jobs_lease ON jobs (status, lease_expires_at);
CREATE INDEX jobs_expiry ON jobs (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX jobs_dedupe ON jobs (content_sha256, options_hash) WHERE status = 'succeeded';
CREATE INDEX jobs_webhook ON jobs (webhook_state, webhook_next_at);
CREATE INDEX jobs_status_seq ON jobs (status, seq);

CREATE TABLE job_pages (
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    page_index  BIGINT NOT NULL,
    result_json TEXT NOT NULL,
    lease_token BIGINT NOT NULL,                        -- which claim wrote it
    recorded_at BIGINT NOT NULL,
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
    attempt         BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    http_status     BIGINT,
    error           TEXT,
    next_attempt_at BIGINT,
    PRIMARY KEY (job_id, attempt)
);

-- Monotonic counters for metrics (survive the sweeping of the jobs they counted).
CREATE TABLE store_counters (
    name  TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO store_counters (name, value) VALUES ('lease_expiries', 0), ('fenced_writes', 0);
