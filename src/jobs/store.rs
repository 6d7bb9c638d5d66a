//! The [`JobStore`] trait: the one door between the HTTP layer / workers and job persistence.
//!
//! Methods return boxed `Send` futures ([`StoreFuture`]) rather than being `async fn`s so that
//! the trait is object-safe: the server holds an `Arc<dyn JobStore>` chosen at start-up by
//! [`super::open_store`] (SQLite or PostgreSQL) without making every caller generic.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;

use super::{
    CancelOutcome, ClaimedJob, JobError, JobId, JobPage, JobRecord, JobResult, JobSpec, JobStatus,
    Lease, StoreStats, SubmitOutcome, SweepCounts, WebhookAttempt,
};

/// The future every [`JobStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, JobError>> + Send + 'a>>;

/// Durable job persistence: submission, leasing to workers, progress, results, retention and
/// webhook bookkeeping.
///
/// Worker writes (`heartbeat`, `set_pages_total`, `record_page`, `complete`, `fail`) are fenced:
/// they succeed only while the presented [`Lease`]'s token is the job's current token and the job
/// is `running`; otherwise they fail with [`JobError::LeaseLost`], change nothing, and count in
/// [`StoreStats::fenced_writes`]. A lease past its expiry stays valid until another worker
/// re-claims the job.
pub trait JobStore: Send + Sync + 'static {
    /// Store a new job and its document, or return the earlier job with the same idempotency key
    /// (`created == false`; [`JobError::Conflict`] if that job has another document or other
    /// options). With deduplication on, a document+options pair that already succeeded yields a
    /// new job born `succeeded` with a copy of that result. Validation happens before any write:
    /// a refused submission leaves nothing behind.
    fn submit(&self, spec: JobSpec, document: Bytes) -> StoreFuture<'_, SubmitOutcome>;

    /// One job; [`JobError::NotFound`] if unknown or swept.
    fn get(&self, id: JobId) -> StoreFuture<'_, JobRecord>;

    /// Jobs newest first, optionally only those in `status`; `limit` is clamped to 1..=1000.
    /// `cursor` is a previous page's `next_cursor` (opaque; a malformed one is a bad request).
    fn list(
        &self,
        status: Option<JobStatus>,
        limit: u32,
        cursor: Option<String>,
    ) -> StoreFuture<'_, JobPage>;

    /// Cancel a queued or running job (its worker's next write fails with `LeaseLost`); a
    /// terminal job is returned unchanged with `canceled == false`.
    fn cancel(&self, id: JobId) -> StoreFuture<'_, CancelOutcome>;

    /// Lease the next job: highest priority, then oldest; queued jobs whose retry backoff has
    /// passed and running jobs whose lease expired (each claim counts an attempt; an expired job
    /// with no attempts left is failed instead). `None` if nothing is ready.
    fn claim<'a>(
        &'a self,
        worker_id: &'a str,
        lease_for: Duration,
    ) -> StoreFuture<'a, Option<ClaimedJob>>;

    /// Extend a lease to now + `extend`; returns the new expiry (unix ms).
    fn heartbeat<'a>(&'a self, lease: &'a Lease, extend: Duration) -> StoreFuture<'a, i64>;

    /// Record the document's page count (shown as `pages_total`).
    fn set_pages_total<'a>(&'a self, lease: &'a Lease, total: i64) -> StoreFuture<'a, ()>;

    /// Store one page's result (the page JSON) so that a retry after a crash skips it.
    fn record_page<'a>(
        &'a self,
        lease: &'a Lease,
        page_index: i64,
        page_json: String,
    ) -> StoreFuture<'a, ()>;

    /// Pages already done for `id`, as `(page_index, page_json)` in page order.
    fn completed_pages(&self, id: JobId) -> StoreFuture<'_, Vec<(i64, String)>>;

    /// Finish the job with its rendered outputs: `succeeded`, result stored until the retention
    /// TTL, webhook due.
    fn complete<'a>(&'a self, lease: &'a Lease, result: JobResult) -> StoreFuture<'a, JobRecord>;

    /// Report a failure: permanent (`retryable == false`) or out of attempts → `failed` with
    /// `error` as `last_error`; otherwise back to `queued` after an exponential backoff.
    fn fail<'a>(
        &'a self,
        lease: &'a Lease,
        error: &'a str,
        retryable: bool,
    ) -> StoreFuture<'a, JobRecord>;

    /// The stored result of a succeeded job; `None` if it has none (not finished, or failed).
    fn result(&self, id: JobId) -> StoreFuture<'_, Option<JobResult>>;

    /// End a finished job's retention now (its `expires_at` becomes the store's now), so that
    /// the next [`JobStore::sweep_expired`] deletes it with its pages, results and document
    /// (kept while another job shares that document). False when the job is not terminal.
    fn expire_now(&self, id: JobId) -> StoreFuture<'_, bool>;

    /// Delete terminal jobs whose `expires_at <= now_ms` (records, pages, results, webhook
    /// attempts) and every blob no remaining job references.
    fn sweep_expired(&self, now_ms: i64) -> StoreFuture<'_, SweepCounts>;

    /// Counters for metrics.
    fn stats(&self) -> StoreFuture<'_, StoreStats>;

    /// Take up to `limit` due webhook deliveries, hiding them from other callers for `hold` (so
    /// that several nodes never deliver the same one at once).
    fn claim_webhooks(&self, limit: u32, hold: Duration) -> StoreFuture<'_, Vec<JobRecord>>;

    /// Record a delivery attempt and set the job's delivery state from it: `delivered` (2xx),
    /// `pending` until `next_attempt_at`, or `failed` (no next attempt).
    fn record_webhook_attempt(&self, id: JobId, attempt: WebhookAttempt) -> StoreFuture<'_, ()>;

    /// Make a finished job's webhook due again now (`POST /v1/jobs/{id}/webhook`): one more
    /// attempt, recorded like the others, whatever became of the earlier ones. A job without a
    /// `callback_url`, or not finished yet, is a [`JobError::Conflict`].
    fn redeliver_webhook(&self, id: JobId) -> StoreFuture<'_, JobRecord>;

    /// Every recorded delivery attempt of `id`, oldest first.
    fn webhook_attempts(&self, id: JobId) -> StoreFuture<'_, Vec<WebhookAttempt>>;

    /// The document bytes `id` was submitted with (shared with jobs of the same content), until
    /// the job is swept.
    fn document(&self, id: JobId) -> StoreFuture<'_, Bytes>;

    /// Cheap liveness check of the database (for `/readyz`).
    fn ping(&self) -> StoreFuture<'_, ()>;

    /// Close the connection pool (graceful shutdown).
    fn close(&self) -> StoreFuture<'_, ()>;

    /// The store's clock (unix ms): webhook scheduling and sweeps use the same time source.
    fn now_ms(&self) -> i64;
}
