//! The backend-independent half of `submit` (see [`super::common_reads`] for how the macros are
//! shared): validation, the idempotency-key lookup, the duplicate lookup and the job insert. The
//! backends add blob storage around it.

/// Expand the shared submission helpers for a backend.
macro_rules! store_submit_common {
    ($db:ty) => {
        /// Validate a submission before anything is written; returns the document's sha256.
        fn check_submission(
            &self,
            spec: &$crate::jobs::JobSpec,
            document: &[u8],
        ) -> Result<String, $crate::jobs::JobError> {
            spec.validate()?;
            if document.is_empty() {
                return Err($crate::jobs::JobError::BadRequest(
                    "empty document (0 bytes)".into(),
                ));
            }
            if document.len() > self.config.max_document_bytes {
                return Err($crate::jobs::JobError::BadRequest(format!(
                    "document of {} bytes exceeds the limit of {}",
                    document.len(),
                    self.config.max_document_bytes
                )));
            }
            Ok($crate::jobs::blobs::sha256_hex(document))
        }

        /// The job holding idempotency key `key`, checked against the new request: every field
        /// of `spec` and the document must match, else [`JobError::Conflict`] naming the first
        /// that differs.
        async fn find_by_key(
            tx: &mut sqlx::Transaction<'static, $db>,
            key: Option<&str>,
            sha: &str,
            spec: &$crate::jobs::JobSpec,
        ) -> Result<Option<$crate::jobs::JobRecord>, $crate::jobs::JobError> {
            let Some(key) = key else { return Ok(None) };
            let sql = format!(
                "SELECT {} FROM jobs WHERE idempotency_key = $1",
                $crate::jobs::rows::JOB_COLUMNS
            );
            let Some(row) = sqlx::query(&sql)
                .bind(key)
                .fetch_optional(&mut **tx)
                .await?
            else {
                return Ok(None);
            };
            let (job, _) = $crate::jobs::rows::job_from_row(&row)?;
            $crate::jobs::rows::check_idempotent_match(&job, sha, spec)?;
            Ok(Some(job))
        }

        /// Insert the job row (and, for a duplicate of `source`, a copy of its result).
        async fn insert_job(
            &self,
            tx: &mut sqlx::Transaction<'static, $db>,
            spec: &$crate::jobs::JobSpec,
            sha: &str,
            len: i64,
        ) -> Result<$crate::jobs::JobRecord, $crate::jobs::JobError> {
            let options_hash = spec.options_hash();
            let source = if self.config.dedupe {
                let sql = format!(
                    "SELECT {} FROM jobs WHERE content_sha256 = $1 AND options_hash = $2 \
                     AND status = 'succeeded' AND has_result = 1 ORDER BY seq DESC LIMIT 1",
                    $crate::jobs::rows::JOB_COLUMNS
                );
                let row = sqlx::query(&sql)
                    .bind(sha)
                    .bind(&options_hash)
                    .fetch_optional(&mut **tx)
                    .await?;
                row.map(|r| $crate::jobs::rows::job_from_row(&r).map(|(j, _)| j))
                    .transpose()?
            } else {
                None
            };
            let id = $crate::jobs::JobId::new();
            let now = self.now();
            let max_attempts = spec
                .max_attempts
                .unwrap_or(self.config.default_max_attempts)
                .max(1);
            let done = source.is_some();
            let hook = (done && spec.callback_url.is_some()).then_some("pending");
            sqlx::query(
                "INSERT INTO jobs (id, status, priority, options_json, options_hash, formats, \
                 content_sha256, content_len, pages_done, pages_total, created_at, started_at, \
                 finished_at, expires_at, run_after, max_attempts, callback_url, \
                 idempotency_key, deduplicated_from, has_result, webhook_state, webhook_next_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18, $19, $20, $21, $22)",
            )
            .bind(id.to_string())
            .bind(if done { "succeeded" } else { "queued" })
            .bind(i64::from(spec.priority))
            .bind(&spec.options_json)
            .bind(&options_hash)
            .bind($crate::jobs::rows::formats_to_db(&spec.formats))
            .bind(sha)
            .bind(len)
            .bind(source.as_ref().map_or(0, |s| s.pages_done))
            .bind(source.as_ref().and_then(|s| s.pages_total))
            .bind(now)
            .bind(done.then_some(now))
            .bind(done.then_some(now))
            .bind(done.then(|| now.saturating_add(self.config.retention_ms())))
            .bind(now)
            .bind(i64::from(max_attempts))
            .bind(spec.callback_url.as_deref())
            .bind(spec.idempotency_key.as_deref())
            .bind(source.as_ref().map(|s| s.id.to_string()))
            .bind(i64::from(done))
            .bind(hook.unwrap_or("none"))
            .bind(hook.map(|_| now))
            .execute(&mut **tx)
            .await?;
            if let Some(src) = &source {
                sqlx::query(
                    "INSERT INTO job_results (job_id, format, body) \
                     SELECT $1, format, body FROM job_results WHERE job_id = $2",
                )
                .bind(id.to_string())
                .bind(src.id.to_string())
                .execute(&mut **tx)
                .await?;
            }
            self.get_in(tx, id).await
        }
    };
}
