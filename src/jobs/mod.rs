//! Asynchronous jobs: a durable job store with leases, retries, page progress, retention and
//! webhook bookkeeping (issue 6).
//!
//! The door is the object-safe [`JobStore`] trait; [`open_store`] picks the backend at start-up:
//! [`SqliteStore`] (embedded, the default: `DATA_DIR/jobs.sqlite` + content-addressed blob files)
//! or [`PostgresStore`] (`postgres://…`, for a farm of API and worker nodes; blobs in a `bytea`
//! table). Both share their SQL (the `common_*` macros) and pass the same test suite.
//! [`webhook`] signs, checks and delivers terminal-state callbacks.
//!
//! Lease protocol: `claim` hands a worker the job with a [`Lease`] whose fencing token is the
//! job's claim counter; the worker `heartbeat`s before the lease expires, `record_page`s as it
//! goes, and ends with `complete` or `fail`. A lease that expires lets another worker re-claim the
//! job (a new attempt, a higher token); from then on every write of the old worker is refused.

#[macro_use]
mod common_reads;
#[macro_use]
mod common_lease;
#[macro_use]
mod common_submit;

mod blobs;
mod config;
mod error;
mod postgres;
mod rows;
mod sqlite;
mod store;
mod types;
pub mod webhook;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;

pub use blobs::sha256_hex;
pub use config::{Clock, StoreConfig, backoff_ms};
pub use error::{JobError, LeaseLostReason};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use store::{JobStore, StoreFuture};
pub use types::{
    CancelOutcome, ClaimedJob, JobId, JobPage, JobRecord, JobResult, JobSpec, JobStatus, Lease,
    MAX_IDEMPOTENCY_KEY_LEN, RenderedOutput, StoreStats, SubmitOutcome, SweepCounts,
    WebhookAttempt, format_name, parse_format, rfc3339_ms,
};

/// The default data directory (`--data-dir`).
pub const DEFAULT_DATA_DIR: &str = "./ferrocr-data";

/// Open the job store named by `--store`: `postgres://…` / `postgresql://…` → [`PostgresStore`];
/// `None` (or `sqlite:`) → [`SqliteStore`] in `data_dir`. Migrations are applied before it
/// returns. Any other scheme is a bad request.
pub async fn open_store(
    url: Option<&str>,
    data_dir: &Path,
    config: StoreConfig,
) -> Result<Arc<dyn JobStore>, JobError> {
    match url {
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            Ok(Arc::new(PostgresStore::open(u, config).await?))
        }
        None | Some("sqlite:") => Ok(Arc::new(SqliteStore::open(data_dir, config).await?)),
        Some(other) => {
            let scheme = other.split(':').next().unwrap_or_default();
            Err(JobError::BadRequest(format!(
                "unsupported --store scheme {scheme:?} (expected postgres://…, or none for the \
                 embedded SQLite store)"
            )))
        }
    }
}
