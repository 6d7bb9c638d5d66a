//! [`JobError`]: every failure of the job store and webhooks, classified by [`ErrorKind`].

use thiserror::Error;

use super::JobId;
use crate::error::ErrorKind;

/// Why a lease no longer entitles its holder to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseLostReason {
    /// The job was claimed again (the lease expired); the presented token is stale.
    Fenced,
    /// The job was canceled.
    Canceled,
    /// The job is no longer running (finished, or back in the queue).
    NotRunning,
}

/// Every error of the job store, the blob store and webhook delivery.
#[derive(Debug, Error)]
pub enum JobError {
    /// No such job (or it expired and was swept).
    #[error("job {0} not found")]
    NotFound(JobId),
    /// A worker's write was refused: its lease is no longer valid (see [`LeaseLostReason`]).
    #[error("lease on job {job} lost ({reason:?})")]
    LeaseLost {
        /// The job.
        job: JobId,
        /// Why.
        reason: LeaseLostReason,
    },
    /// The request conflicts with stored state (e.g. an idempotency key reused for another
    /// document or other options).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller's input is invalid (spec, cursor, URL, ...); nothing was written.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The database failed.
    #[error("job store database error: {0}")]
    Store(#[from] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("job store migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Filesystem failure (blobs).
    #[error("job store I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Stored data is inconsistent (a missing blob, an unreadable row).
    #[error("job store corrupt: {0}")]
    Corrupt(String),
    /// The store cannot be opened without losing work: its database is missing, empty, rolled
    /// back or unreadable while documents it once listed are still stored.
    #[error("job store refused to open: {0}")]
    StoreLost(String),
}

impl JobError {
    /// The classification the HTTP layer maps to a status code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            JobError::NotFound(_) => ErrorKind::NotFound,
            JobError::LeaseLost { .. } | JobError::Conflict(_) => ErrorKind::Conflict,
            JobError::BadRequest(_) => ErrorKind::BadParameter,
            JobError::Store(_) | JobError::Migrate(_) | JobError::Io(_) => ErrorKind::Io,
            JobError::Corrupt(_) | JobError::StoreLost(_) => ErrorKind::Internal,
        }
    }

    /// Whether this is a stale-lease refusal (the worker should stop working on the job).
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, JobError::LeaseLost { .. })
    }
}
