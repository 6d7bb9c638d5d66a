//! Retention on SQLite: expired jobs and unreferenced blobs are deleted in one `BEGIN IMMEDIATE`
//! transaction, blob files unlinked while the write lock is held (see `submit`), plus blob files
//! without a row whose submission intent is still in `tmp/` (a crash between link and commit),
//! then stale temp files. A blob file with neither a row nor an intent is never deleted: the
//! database lost track of it, and the store refuses to open over it (see `SqliteStore::open`).

use std::collections::HashSet;
use std::time::Duration;

use super::SqliteStore;
use crate::jobs::blobs::blocking;
use crate::jobs::{JobError, SweepCounts};

/// Temp files older than this are leftovers of interrupted submissions.
const TEMP_MAX_AGE: Duration = Duration::from_secs(3600);

impl SqliteStore {
    pub(super) async fn sweep_impl(&self, now_ms: i64) -> Result<SweepCounts, JobError> {
        let mut tx = self.write_tx().await?;
        let jobs = sqlx::query(
            "DELETE FROM jobs WHERE expires_at IS NOT NULL AND expires_at <= $1 \
             AND status IN ('succeeded', 'failed', 'canceled')",
        )
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let dead: Vec<(String,)> = sqlx::query_as(
            "DELETE FROM blobs WHERE NOT EXISTS \
             (SELECT 1 FROM jobs WHERE jobs.content_sha256 = blobs.sha256) RETURNING sha256",
        )
        .fetch_all(&mut *tx)
        .await?;
        let live: Vec<(String,)> = sqlx::query_as("SELECT sha256 FROM blobs")
            .fetch_all(&mut *tx)
            .await?;
        let live: HashSet<String> = live.into_iter().map(|(s,)| s).collect();
        let blobs = self.blobs.clone();
        let (removed, unlisted) = blocking(move || {
            let mut n = 0;
            for (sha,) in &dead {
                n += u64::from(blobs.remove(sha)?);
            }
            // No submission is between link and commit while we hold the write lock, so a blob
            // with an intent and no row is an interrupted submission's orphan.
            let intents = blobs.intents()?;
            let mut unlisted = 0;
            for sha in blobs.list()? {
                if live.contains(&sha) {
                    continue;
                }
                if intents.contains(&sha) {
                    n += u64::from(blobs.remove(&sha)?);
                } else {
                    unlisted += 1;
                }
            }
            blobs.clean_temp(TEMP_MAX_AGE)?;
            Ok((n, unlisted))
        })
        .await?;
        if unlisted > 0 {
            tracing::error!(
                unlisted,
                "document blobs the job database does not list were left in place (the database \
                 lost rows it once had; restore it from backup)"
            );
        }
        tx.commit().await?;
        Ok(SweepCounts {
            jobs,
            blobs: removed,
        })
    }
}
