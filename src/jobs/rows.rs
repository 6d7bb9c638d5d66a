//! Row decoding and small SQL helpers shared by the SQLite and PostgreSQL stores.
//!
//! Both schemas use the same column names and only 64-bit integers and text (no booleans, no
//! native UUIDs), so one generic decoder serves both backends.

use sqlx::{ColumnIndex, Decode, Row, Type};

use super::{JobError, JobId, JobRecord, JobSpec, JobStatus, format_name, parse_format};
use crate::render::OutputFormat;

/// Columns selected for a [`JobRecord`] (plus `seq`, the list cursor).
pub(crate) const JOB_COLUMNS: &str = "seq, id, status, priority, options_json, formats, \
     content_sha256, content_len, pages_done, pages_total, created_at, started_at, finished_at, \
     expires_at, attempts, max_attempts, last_error, callback_url, idempotency_key, \
     deduplicated_from, has_result, webhook_state, webhook_attempts";

/// SQL assignments that make a job terminal at `$1` (now) with expiry `$2`: timestamps, lease
/// cleared (the token stays, so stale writers remain fenced), webhook due if there is a target.
pub(crate) const TERMINAL_SET: &str = "finished_at = $1, expires_at = $2, lease_worker = NULL, \
     lease_expires_at = NULL, webhook_state = CASE WHEN callback_url IS NULL THEN 'none' \
     ELSE 'pending' END, webhook_next_at = $1";

/// The stored form of a format list: comma-separated names.
pub(crate) fn formats_to_db(formats: &[OutputFormat]) -> String {
    let mut names: Vec<&str> = formats.iter().map(|f| format_name(*f)).collect();
    names.dedup();
    names.join(",")
}

/// Inverse of [`formats_to_db`].
pub(crate) fn formats_from_db(s: &str) -> Result<Vec<OutputFormat>, JobError> {
    s.split(',')
        .filter(|n| !n.is_empty())
        .map(parse_format)
        .collect()
}

/// Encode a list position (the job's `seq`) as an opaque cursor.
pub(crate) fn encode_cursor(seq: i64) -> String {
    hex::encode(format!("v1:{seq}"))
}

/// Decode a cursor made by [`encode_cursor`].
pub(crate) fn decode_cursor(cursor: &str) -> Result<i64, JobError> {
    let bad = || JobError::BadRequest(format!("invalid cursor {cursor:?}"));
    let raw = hex::decode(cursor).map_err(|_| bad())?;
    let s = String::from_utf8(raw).map_err(|_| bad())?;
    s.strip_prefix("v1:")
        .and_then(|n| n.parse::<i64>().ok())
        .ok_or_else(bad)
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> JobError {
    JobError::Corrupt(format!("{what}: {e}"))
}

/// Decode a job row selected with [`JOB_COLUMNS`]; returns the record and its `seq`.
pub(crate) fn job_from_row<'r, R>(row: &'r R) -> Result<(JobRecord, i64), JobError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let formats: String = row.try_get("formats")?;
    let dedup: Option<String> = row.try_get("deduplicated_from")?;
    let priority: i64 = row.try_get("priority")?;
    let record = JobRecord {
        id: id.parse().map_err(|e| corrupt("job id", e))?,
        status: status
            .parse::<JobStatus>()
            .map_err(|e| corrupt("status", e))?,
        priority: i32::try_from(priority).map_err(|e| corrupt("priority", e))?,
        options_json: row.try_get("options_json")?,
        formats: formats_from_db(&formats).map_err(|e| corrupt("formats", e))?,
        content_sha256: row.try_get("content_sha256")?,
        content_len: row.try_get("content_len")?,
        pages_done: row.try_get("pages_done")?,
        pages_total: row.try_get("pages_total")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        expires_at: row.try_get("expires_at")?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        last_error: row.try_get("last_error")?,
        callback_url: row.try_get("callback_url")?,
        idempotency_key: row.try_get("idempotency_key")?,
        deduplicated_from: dedup
            .map(|d| d.parse::<JobId>())
            .transpose()
            .map_err(|e| corrupt("deduplicated_from", e))?,
        has_result: row.try_get::<i64, _>("has_result")? != 0,
        webhook_state: row.try_get("webhook_state")?,
        webhook_attempts: row.try_get("webhook_attempts")?,
    };
    Ok((record, row.try_get("seq")?))
}

/// Check that a stored job matches a resubmission with the same idempotency key.
pub(crate) fn check_idempotent_match(
    existing: &JobRecord,
    content_sha256: &str,
    spec: &JobSpec,
) -> Result<(), JobError> {
    let differs = if existing.content_sha256 != content_sha256 {
        Some("document")
    } else if existing.options_json != spec.options_json {
        Some("options")
    } else if existing.formats != spec.formats {
        Some("formats")
    } else if existing.priority != spec.priority {
        Some("priority")
    } else if existing.callback_url != spec.callback_url {
        Some("callback_url")
    } else if spec
        .max_attempts
        .is_some_and(|n| i64::from(n) != existing.max_attempts)
    {
        Some("max_attempts")
    } else {
        None
    };
    if let Some(field) = differs {
        return Err(JobError::Conflict(format!(
            "Idempotency-Key already used by job {} for a different request (its {field} differs)",
            existing.id
        )));
    }
    Ok(())
}

/// Classify a job whose fence check failed.
pub(crate) fn lease_lost(
    id: JobId,
    status: &str,
    token: i64,
    presented: i64,
) -> Result<(), JobError> {
    use super::LeaseLostReason as R;
    let reason = if token != presented {
        R::Fenced
    } else if status == "canceled" {
        R::Canceled
    } else if status != "running" {
        R::NotRunning
    } else {
        return Ok(());
    };
    Err(JobError::LeaseLost { job: id, reason })
}

/// The webhook delivery state after `attempt`.
pub(crate) fn webhook_state_after(attempt: &super::WebhookAttempt) -> &'static str {
    if attempt.delivered() {
        "delivered"
    } else if attempt.next_attempt_at.is_some() {
        "pending"
    } else {
        "failed"
    }
}
