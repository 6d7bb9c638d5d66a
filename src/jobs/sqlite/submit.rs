//! `submit` on SQLite: the blob is written and fsynced to a temp file (the intent, see
//! [`crate::jobs::blobs`]) outside the write lock, then linked into place inside the
//! `BEGIN IMMEDIATE` transaction that inserts its rows (so a concurrent sweep cannot unlink it in
//! between); the temp file goes after the commit. If the transaction fails, a blob this call
//! created is removed again before the intent is.

use bytes::Bytes;

use super::SqliteStore;
use crate::jobs::blobs::blocking;
use crate::jobs::{JobError, JobRecord, JobSpec, SubmitOutcome};

impl SqliteStore {
    store_submit_common!(sqlx::Sqlite);

    pub(super) async fn submit_impl(
        &self,
        spec: JobSpec,
        document: Bytes,
    ) -> Result<SubmitOutcome, JobError> {
        let sha = self.check_submission(&spec, &document)?;
        let temp = if self.blobs.exists(&sha) {
            None
        } else {
            let (blobs, doc, key_sha) = (self.blobs.clone(), document.clone(), sha.clone());
            Some(blocking(move || blobs.write_temp(&key_sha, &doc)).await?)
        };
        let mut tx = self.write_tx().await?;
        let key = spec.idempotency_key.as_deref();
        if let Some(job) = Self::find_by_key(&mut tx, key, &sha, &spec).await? {
            tx.commit().await?;
            return Ok(SubmitOutcome {
                job,
                created: false,
            });
        }
        // Under the write lock: the blob file and its row appear together. The intent (`temp`)
        // lives until this function returns, i.e. past the commit.
        let (blobs, doc, key_sha) = (self.blobs.clone(), document.clone(), sha.clone());
        let (created_blob, _intent) = blocking(move || {
            if blobs.exists(&key_sha) {
                return Ok((false, temp));
            }
            let t = match temp {
                Some(t) => t,
                None => blobs.write_temp(&key_sha, &doc)?,
            };
            Ok((blobs.install(&t, &key_sha)?, Some(t)))
        })
        .await?;
        let inserted: Result<JobRecord, JobError> = async {
            sqlx::query(
                "INSERT INTO blobs (sha256, size, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(&sha)
            .bind(document.len() as i64)
            .bind(self.now())
            .execute(&mut *tx)
            .await?;
            let job = self
                .insert_job(&mut tx, &spec, &sha, document.len() as i64)
                .await?;
            tx.commit().await?;
            Ok(job)
        }
        .await;
        match inserted {
            Ok(job) => Ok(SubmitOutcome { job, created: true }),
            Err(e) => {
                if created_blob {
                    let blobs = self.blobs.clone();
                    let _ = blocking(move || blobs.remove(&sha)).await;
                }
                Err(e)
            }
        }
    }
}
