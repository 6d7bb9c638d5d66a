//! `submit` and retention on PostgreSQL. The blob row is upserted with `DO UPDATE` (which locks
//! it) in the transaction that inserts the job, and `jobs.content_sha256` references it, so a
//! concurrent sweep either waits and then finds the new reference (its delete of that blob fails
//! and is skipped) or commits first and the upsert re-creates the row.

use bytes::Bytes;

use super::PostgresStore;
use crate::jobs::{JobError, SubmitOutcome, SweepCounts};

/// SQLSTATE of a unique violation (two concurrent submissions with one idempotency key).
const UNIQUE_VIOLATION: &str = "23505";
/// SQLSTATE of a foreign-key violation (a blob referenced again while being swept).
const FK_VIOLATION: &str = "23503";

fn has_code(e: &JobError, code: &str) -> bool {
    matches!(e, JobError::Store(sqlx::Error::Database(d)) if d.code().as_deref() == Some(code))
}

impl PostgresStore {
    store_submit_common!(sqlx::Postgres);

    pub(super) async fn submit_impl(
        &self,
        spec: crate::jobs::JobSpec,
        document: Bytes,
    ) -> Result<SubmitOutcome, JobError> {
        let sha = self.check_submission(&spec, &document)?;
        // A lost race on the idempotency key's unique index is retried once: the second try
        // finds the winner's job.
        for try_no in 0..2 {
            match self.submit_once(&spec, &document, &sha).await {
                Err(e) if try_no == 0 && has_code(&e, UNIQUE_VIOLATION) => continue,
                other => return other,
            }
        }
        unreachable!("the loop returns on its second iteration")
    }

    async fn submit_once(
        &self,
        spec: &crate::jobs::JobSpec,
        document: &[u8],
        sha: &str,
    ) -> Result<SubmitOutcome, JobError> {
        let mut tx = self.write_tx().await?;
        let key = spec.idempotency_key.as_deref();
        if let Some(job) = Self::find_by_key(&mut tx, key, sha, spec).await? {
            tx.commit().await?;
            return Ok(SubmitOutcome {
                job,
                created: false,
            });
        }
        sqlx::query(
            "INSERT INTO blobs (sha256, size, data, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (sha256) DO UPDATE SET size = excluded.size",
        )
        .bind(sha)
        .bind(document.len() as i64)
        .bind(document)
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        let job = self
            .insert_job(&mut tx, spec, sha, document.len() as i64)
            .await?;
        tx.commit().await?;
        Ok(SubmitOutcome { job, created: true })
    }

    pub(super) async fn sweep_impl(&self, now_ms: i64) -> Result<SweepCounts, JobError> {
        let jobs = sqlx::query(
            "DELETE FROM jobs WHERE expires_at IS NOT NULL AND expires_at <= $1 \
             AND status IN ('succeeded', 'failed', 'canceled')",
        )
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let dead: Vec<(String,)> = sqlx::query_as(
            "SELECT sha256 FROM blobs WHERE NOT EXISTS \
             (SELECT 1 FROM jobs WHERE jobs.content_sha256 = blobs.sha256)",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut blobs = 0;
        for (sha,) in dead {
            let deleted = sqlx::query(
                "DELETE FROM blobs WHERE sha256 = $1 AND NOT EXISTS \
                 (SELECT 1 FROM jobs WHERE jobs.content_sha256 = blobs.sha256)",
            )
            .bind(&sha)
            .execute(&self.pool)
            .await
            .map_err(JobError::from);
            match deleted {
                Ok(r) => blobs += r.rows_affected(),
                Err(e) if has_code(&e, FK_VIOLATION) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(SweepCounts { jobs, blobs })
    }
}
