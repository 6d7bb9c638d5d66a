//! The job store's value types: ids, states, submissions, records, leases and results.
//!
//! Plain data shared by both store backends, the workers and the HTTP layer. Timestamps are unix
//! milliseconds (`i64`); [`rfc3339_ms`] renders them for JSON.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::JobError;
use crate::render::OutputFormat;

/// A job's identifier: a random UUID v4, so ids reveal nothing and cannot be guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub Uuid);

impl JobId {
    /// A fresh random id.
    pub fn new() -> Self {
        JobId(Uuid::new_v4())
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for JobId {
    type Err = JobError;
    fn from_str(s: &str) -> Result<Self, JobError> {
        Uuid::parse_str(s)
            .map(JobId)
            .map_err(|_| JobError::BadRequest(format!("not a job id: {s:?}")))
    }
}

/// A job's lifecycle state; the names are the API's (`queued | running | succeeded | failed |
/// canceled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Accepted and waiting for a worker (also after a retryable failure, until its backoff).
    Queued,
    /// Leased by a worker.
    Running,
    /// Finished; the result is stored until the retention TTL.
    Succeeded,
    /// Gave up: a permanent error, or `max_attempts` used up. `last_error` says why.
    Failed,
    /// Canceled by the client before it finished.
    Canceled,
}

impl JobStatus {
    /// Every state, in lifecycle order (used for per-state metrics).
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Canceled,
    ];

    /// The name stored in the database and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Canceled => "canceled",
        }
    }

    /// Whether the job will never change state again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Canceled
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = JobError;
    fn from_str(s: &str) -> Result<Self, JobError> {
        JobStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| JobError::BadRequest(format!("unknown job status {s:?}")))
    }
}

/// The stored name of an output format (the `format=` spelling).
pub fn format_name(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::Text => "text",
        OutputFormat::Json => "json",
        OutputFormat::Hocr => "hocr",
        OutputFormat::Alto => "alto",
        OutputFormat::Tsv => "tsv",
        OutputFormat::Pdf => "pdf",
    }
}

/// Parse a stored format name back (inverse of [`format_name`]).
pub fn parse_format(name: &str) -> Result<OutputFormat, JobError> {
    [
        OutputFormat::Text,
        OutputFormat::Json,
        OutputFormat::Hocr,
        OutputFormat::Alto,
        OutputFormat::Tsv,
        OutputFormat::Pdf,
    ]
    .into_iter()
    .find(|f| format_name(*f) == name)
    .ok_or_else(|| JobError::BadRequest(format!("unknown output format {name:?}")))
}

/// The longest accepted `Idempotency-Key`, in bytes (the OpenAPI document says the same).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;

/// What a client submits besides the document bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    /// The OCR options as a JSON object (the inputs of `/v1/ocr`), stored verbatim for the worker.
    pub options_json: String,
    /// The output formats to render; at least one.
    pub formats: Vec<OutputFormat>,
    /// Higher runs first; `-1000..=1000`, default 0.
    pub priority: i32,
    /// Where to POST the job summary on a terminal state (checked against the allow-list by the
    /// HTTP layer with [`super::webhook::CallbackPolicy`] before submitting).
    pub callback_url: Option<String>,
    /// The client's `Idempotency-Key`: a second submission with the same key returns the first
    /// job (and is refused as a conflict if its document, options, formats, priority, callback
    /// or attempt limit differ).
    pub idempotency_key: Option<String>,
    /// Attempts before giving up; `None` takes the store's default.
    pub max_attempts: Option<u32>,
}

impl JobSpec {
    /// A spec with default priority and no callback, key or attempt override.
    pub fn new(options_json: impl Into<String>, formats: Vec<OutputFormat>) -> Self {
        JobSpec {
            options_json: options_json.into(),
            formats,
            priority: 0,
            callback_url: None,
            idempotency_key: None,
            max_attempts: None,
        }
    }

    /// Check every field; a spec that passes can be stored as is. Called by `submit` before
    /// anything is written, so a bad submission leaves nothing behind.
    pub fn validate(&self) -> Result<(), JobError> {
        let bad = |m: String| Err(JobError::BadRequest(m));
        match serde_json::from_str::<serde_json::Value>(&self.options_json) {
            Ok(serde_json::Value::Object(_)) => {}
            _ => return bad("options must be a JSON object".into()),
        }
        if self.formats.is_empty() {
            return bad("at least one output format is required".into());
        }
        if !(-1000..=1000).contains(&self.priority) {
            return bad(format!(
                "priority {} is outside -1000..=1000",
                self.priority
            ));
        }
        if let Some(url) = &self.callback_url
            && (!(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 2048)
        {
            return bad(format!("callback_url must be an http(s) URL: {url:?}"));
        }
        if let Some(key) = &self.idempotency_key
            && (key.is_empty()
                || key.len() > MAX_IDEMPOTENCY_KEY_LEN
                || key.chars().any(char::is_control))
        {
            return bad(format!(
                "Idempotency-Key must be 1..={MAX_IDEMPOTENCY_KEY_LEN} printable characters"
            ));
        }
        if self.max_attempts == Some(0) || self.max_attempts.is_some_and(|n| n > 100) {
            return bad("max_attempts must be 1..=100".into());
        }
        Ok(())
    }

    /// Hash of the options and the sorted format list: with the document's sha256 it is the
    /// duplicate-detection key (same bytes + same options → same result).
    pub fn options_hash(&self) -> String {
        let mut names: Vec<&str> = self.formats.iter().map(|f| format_name(*f)).collect();
        names.sort_unstable();
        names.dedup();
        let mut h = Sha256::new();
        h.update(self.options_json.as_bytes());
        h.update(b"\n");
        h.update(names.join(",").as_bytes());
        hex::encode(h.finalize())
    }
}

/// A job as stored: everything `GET /v1/jobs/{id}` shows plus what the workers need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRecord {
    /// The job's id.
    pub id: JobId,
    /// Current state.
    pub status: JobStatus,
    /// Higher runs first.
    pub priority: i32,
    /// The OCR options JSON as submitted.
    pub options_json: String,
    /// Wanted output formats.
    pub formats: Vec<OutputFormat>,
    /// sha256 (hex) of the document bytes; also the blob's key.
    pub content_sha256: String,
    /// Document size in bytes.
    pub content_len: i64,
    /// Pages with a stored result (see `record_page`).
    pub pages_done: i64,
    /// Pages in the document, once a worker has decoded it.
    pub pages_total: Option<i64>,
    /// Submission time (unix ms).
    pub created_at: i64,
    /// First claim time (unix ms).
    pub started_at: Option<i64>,
    /// Terminal-state time (unix ms).
    pub finished_at: Option<i64>,
    /// When the result, blob and record are deleted by the sweeper (unix ms; terminal jobs).
    pub expires_at: Option<i64>,
    /// Claims so far (each claim, including the re-claim of an expired lease, counts one).
    pub attempts: i64,
    /// Claims allowed before the job fails.
    pub max_attempts: i64,
    /// The latest failure's message.
    pub last_error: Option<String>,
    /// Webhook target, if any.
    pub callback_url: Option<String>,
    /// The client's idempotency key, if any.
    pub idempotency_key: Option<String>,
    /// Set when the result was copied from an earlier job with the same document and options.
    pub deduplicated_from: Option<JobId>,
    /// Whether a result is stored (`succeeded` and not yet swept).
    pub has_result: bool,
    /// Webhook delivery state: `none`, `pending`, `delivered` or `failed`.
    pub webhook_state: String,
    /// Webhook delivery attempts so far.
    pub webhook_attempts: i64,
}

impl JobRecord {
    /// The job's links under `base` (the API's public URL, or empty for links relative to the
    /// API's root): `self` and `result`.
    pub fn links(&self, base: &str) -> serde_json::Value {
        let own = format!("{}/v1/jobs/{}", base.trim_end_matches('/'), self.id);
        serde_json::json!({ "self": own, "result": format!("{own}/result") })
    }

    /// The JSON summary POSTed to webhooks (and usable as the body of `GET /v1/jobs/{id}`).
    pub fn summary_json(&self) -> serde_json::Value {
        let ts = |ms: Option<i64>| ms.map(rfc3339_ms);
        serde_json::json!({
            "id": self.id,
            "status": self.status,
            "priority": self.priority,
            "pages_done": self.pages_done,
            "pages_total": self.pages_total,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "last_error": self.last_error,
            "created_at": rfc3339_ms(self.created_at),
            "started_at": ts(self.started_at),
            "finished_at": ts(self.finished_at),
            "expires_at": ts(self.expires_at),
            "formats": self.formats,
            "deduplicated_from": self.deduplicated_from,
        })
    }
}

/// A worker's right to write to one running job until `expires_at`.
///
/// `token` is the fencing token: it grows by one on every claim of the job, and every write a
/// worker makes names it; the store refuses writes whose token is not the job's current one, so a
/// worker whose lease expired and was re-claimed elsewhere can no longer change the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The leased job.
    pub job_id: JobId,
    /// Who holds it (free text: host/pid/task).
    pub worker_id: String,
    /// Fencing token, monotonically increasing per job.
    pub token: i64,
    /// Lease end (unix ms); extend with `heartbeat`.
    pub expires_at: i64,
}

/// A job handed to a worker by `claim`.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// The job as of the claim.
    pub job: JobRecord,
    /// The lease every write must present.
    pub lease: Lease,
    /// The document bytes.
    pub document: bytes::Bytes,
}

/// The answer to `submit`.
#[derive(Debug, Clone)]
pub struct SubmitOutcome {
    /// The job (new, or the earlier one with the same idempotency key).
    pub job: JobRecord,
    /// False when an earlier job with the same idempotency key was returned.
    pub created: bool,
}

/// The answer to `cancel`.
#[derive(Debug, Clone)]
pub struct CancelOutcome {
    /// The job after the call.
    pub job: JobRecord,
    /// True if this call canceled it; false if it was already terminal (and left unchanged).
    pub canceled: bool,
}

/// One page of `list`.
#[derive(Debug, Clone)]
pub struct JobPage {
    /// Jobs, newest first.
    pub jobs: Vec<JobRecord>,
    /// Opaque cursor for the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// One rendered output of a finished job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedOutput {
    /// Its format.
    pub format: OutputFormat,
    /// The rendered text (JSON, XML, TSV, ...); a PDF as standard base64 (the result table
    /// holds text), decoded again when it is served.
    pub body: String,
}

/// A finished job's stored result: one entry per wanted format.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobResult {
    /// The rendered outputs.
    pub outputs: Vec<RenderedOutput>,
}

impl JobResult {
    /// The body rendered in `format`, if stored.
    pub fn get(&self, format: OutputFormat) -> Option<&str> {
        self.outputs
            .iter()
            .find(|o| o.format == format)
            .map(|o| o.body.as_str())
    }
}

/// What `sweep_expired` deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepCounts {
    /// Expired job records (with their pages, results and webhook attempts).
    pub jobs: u64,
    /// Document blobs no remaining job references (plus orphans from interrupted submissions).
    pub blobs: u64,
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Jobs per state, in [`JobStatus::ALL`] order.
    pub per_status: Vec<(JobStatus, u64)>,
    /// Age of the oldest queued job in ms (0 if none).
    pub oldest_queued_age_ms: i64,
    /// Leases that expired and were re-claimed (or failed the job), total.
    pub lease_expiries: u64,
    /// Writes refused because their fencing token was stale or the job canceled, total.
    pub fenced_writes: u64,
    /// Webhook delivery states: `(pending, delivered, failed)` job counts.
    pub webhooks: (u64, u64, u64),
}

/// One recorded webhook delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    /// 1 for the first attempt.
    pub attempt: i64,
    /// When it was made (unix ms).
    pub at: i64,
    /// The receiver's HTTP status, if it answered.
    pub http_status: Option<u16>,
    /// Connection/timeout/policy error, if it did not (or a non-2xx description).
    pub error: Option<String>,
    /// When to retry (unix ms); `None` = delivered (2xx) or given up.
    pub next_attempt_at: Option<i64>,
}

impl WebhookAttempt {
    /// Whether the receiver accepted the delivery (2xx).
    pub fn delivered(&self) -> bool {
        self.http_status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Render unix milliseconds as RFC 3339 UTC with millisecond precision, e.g.
/// `2026-01-31T12:00:00.123Z` (no date crate: days → civil date, H. Hinnant's algorithm).
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}
