//! Store methods whose SQL is identical on SQLite and PostgreSQL: reads, cancel, stats and the
//! forwarding of the object-safe [`super::JobStore`] trait to the inherent `*_impl` methods.
//!
//! Both schemas share column names and types (64-bit integers and text, `$N` parameters, which
//! sqlx accepts on SQLite too), so the bodies are written once as macros expanded inside each
//! backend's `impl` block. A backend provides `pool`, `config`, `now()`, `write_tx()` (SQLite:
//! `BEGIN IMMEDIATE`; PostgreSQL: `BEGIN`) and its `$lock` suffix for row-locking selects
//! (`""` on SQLite, whose write transaction already excludes other writers; `" FOR UPDATE"` on
//! PostgreSQL).

/// Expand the shared read/cancel/stats methods for a backend.
macro_rules! store_reads {
    ($db:ty, $lock:literal) => {
        async fn get_in(
            &self,
            tx: &mut sqlx::Transaction<'static, $db>,
            id: $crate::jobs::JobId,
        ) -> Result<$crate::jobs::JobRecord, $crate::jobs::JobError> {
            let sql = format!(
                "SELECT {} FROM jobs WHERE id = $1{}",
                $crate::jobs::rows::JOB_COLUMNS,
                $lock
            );
            let row = sqlx::query(&sql)
                .bind(id.to_string())
                .fetch_optional(&mut **tx)
                .await?
                .ok_or($crate::jobs::JobError::NotFound(id))?;
            Ok($crate::jobs::rows::job_from_row(&row)?.0)
        }

        async fn document_impl(
            &self,
            id: $crate::jobs::JobId,
        ) -> Result<bytes::Bytes, $crate::jobs::JobError> {
            let job = self.get_impl(id).await?;
            self.read_blob(&job.content_sha256).await
        }

        async fn get_impl(
            &self,
            id: $crate::jobs::JobId,
        ) -> Result<$crate::jobs::JobRecord, $crate::jobs::JobError> {
            let sql = format!(
                "SELECT {} FROM jobs WHERE id = $1",
                $crate::jobs::rows::JOB_COLUMNS
            );
            let row = sqlx::query(&sql)
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?
                .ok_or($crate::jobs::JobError::NotFound(id))?;
            Ok($crate::jobs::rows::job_from_row(&row)?.0)
        }

        async fn list_impl(
            &self,
            status: Option<$crate::jobs::JobStatus>,
            limit: u32,
            cursor: Option<String>,
        ) -> Result<$crate::jobs::JobPage, $crate::jobs::JobError> {
            use $crate::jobs::rows::{JOB_COLUMNS, decode_cursor, encode_cursor, job_from_row};
            let before = cursor.as_deref().map(decode_cursor).transpose()?;
            let limit = i64::from(limit.clamp(1, 1000));
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) \
                 AND seq < $2 ORDER BY seq DESC LIMIT $3"
            );
            let rows = sqlx::query(&sql)
                .bind(status.map(|s| s.as_str().to_string()))
                .bind(before.unwrap_or(i64::MAX))
                .bind(limit + 1)
                .fetch_all(&self.pool)
                .await?;
            let mut jobs = Vec::with_capacity(rows.len());
            let mut last_seq = 0;
            for row in rows.iter().take(limit as usize) {
                let (job, seq) = job_from_row(row)?;
                jobs.push(job);
                last_seq = seq;
            }
            let next_cursor = (rows.len() as i64 > limit).then(|| encode_cursor(last_seq));
            Ok($crate::jobs::JobPage { jobs, next_cursor })
        }

        async fn expire_now_impl(
            &self,
            id: $crate::jobs::JobId,
        ) -> Result<bool, $crate::jobs::JobError> {
            let mut tx = self.write_tx().await?;
            let done = sqlx::query(
                "UPDATE jobs SET expires_at = $1 WHERE id = $2 \
                 AND status IN ('succeeded', 'failed', 'canceled')",
            )
            .bind(self.now())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok(done == 1)
        }

        async fn cancel_impl(
            &self,
            id: $crate::jobs::JobId,
        ) -> Result<$crate::jobs::CancelOutcome, $crate::jobs::JobError> {
            let mut tx = self.write_tx().await?;
            let job = self.get_in(&mut tx, id).await?;
            if job.status.is_terminal() {
                return Ok($crate::jobs::CancelOutcome {
                    job,
                    canceled: false,
                });
            }
            let now = self.now();
            let sql = format!(
                "UPDATE jobs SET status = 'canceled', {} WHERE id = $3",
                $crate::jobs::rows::TERMINAL_SET
            );
            sqlx::query(&sql)
                .bind(now)
                .bind(now.saturating_add(self.config.retention_ms()))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            let job = self.get_in(&mut tx, id).await?;
            tx.commit().await?;
            Ok($crate::jobs::CancelOutcome {
                job,
                canceled: true,
            })
        }

        async fn result_impl(
            &self,
            id: $crate::jobs::JobId,
        ) -> Result<Option<$crate::jobs::JobResult>, $crate::jobs::JobError> {
            let job = self.get_impl(id).await?;
            if !job.has_result {
                return Ok(None);
            }
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT format, body FROM job_results WHERE job_id = $1 ORDER BY format",
            )
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
            let outputs = rows
                .into_iter()
                .map(|(f, body)| {
                    Ok($crate::jobs::RenderedOutput {
                        format: $crate::jobs::parse_format(&f)?,
                        body,
                    })
                })
                .collect::<Result<_, $crate::jobs::JobError>>()?;
            Ok(Some($crate::jobs::JobResult { outputs }))
        }

        async fn completed_pages_impl(
            &self,
            id: $crate::jobs::JobId,
        ) -> Result<Vec<(i64, String)>, $crate::jobs::JobError> {
            Ok(sqlx::query_as(
                "SELECT page_index, result_json FROM job_pages WHERE job_id = $1 \
                 ORDER BY page_index",
            )
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?)
        }

        async fn webhook_attempts_impl(
            &self,
            id: $crate::jobs::JobId,
        ) -> Result<Vec<$crate::jobs::WebhookAttempt>, $crate::jobs::JobError> {
            let rows: Vec<(i64, i64, Option<i64>, Option<String>, Option<i64>)> = sqlx::query_as(
                "SELECT attempt, at, http_status, error, next_attempt_at \
                     FROM webhook_attempts WHERE job_id = $1 ORDER BY attempt",
            )
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(
                    |(attempt, at, status, error, next)| $crate::jobs::WebhookAttempt {
                        attempt,
                        at,
                        http_status: status.and_then(|s| u16::try_from(s).ok()),
                        error,
                        next_attempt_at: next,
                    },
                )
                .collect())
        }

        async fn stats_impl(&self) -> Result<$crate::jobs::StoreStats, $crate::jobs::JobError> {
            use $crate::jobs::JobStatus;
            let counts: Vec<(String, i64)> =
                sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status")
                    .fetch_all(&self.pool)
                    .await?;
            let per_status = JobStatus::ALL
                .iter()
                .map(|st| {
                    let n = counts
                        .iter()
                        .find(|(s, _)| s == st.as_str())
                        .map_or(0, |(_, n)| *n);
                    (*st, n as u64)
                })
                .collect();
            let (oldest,): (Option<i64>,) =
                sqlx::query_as("SELECT MIN(created_at) FROM jobs WHERE status = 'queued'")
                    .fetch_one(&self.pool)
                    .await?;
            let counters: Vec<(String, i64)> =
                sqlx::query_as("SELECT name, value FROM store_counters")
                    .fetch_all(&self.pool)
                    .await?;
            let counter = |name: &str| {
                counters
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(0, |(_, v)| *v as u64)
            };
            let hooks: Vec<(String, i64)> =
                sqlx::query_as("SELECT webhook_state, COUNT(*) FROM jobs GROUP BY webhook_state")
                    .fetch_all(&self.pool)
                    .await?;
            let hook = |name: &str| {
                hooks
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(0, |(_, v)| *v as u64)
            };
            Ok($crate::jobs::StoreStats {
                per_status,
                oldest_queued_age_ms: oldest.map_or(0, |t| (self.now() - t).max(0)),
                lease_expiries: counter("lease_expiries"),
                fenced_writes: counter("fenced_writes"),
                webhooks: (hook("pending"), hook("delivered"), hook("failed")),
            })
        }
    };
}

/// Implement [`super::JobStore`] for a backend by forwarding to its inherent `*_impl` methods.
macro_rules! forward_job_store {
    ($store:ty) => {
        impl $crate::jobs::JobStore for $store {
            fn submit(
                &self,
                spec: $crate::jobs::JobSpec,
                document: bytes::Bytes,
            ) -> $crate::jobs::StoreFuture<'_, $crate::jobs::SubmitOutcome> {
                Box::pin(self.submit_impl(spec, document))
            }
            fn get(
                &self,
                id: $crate::jobs::JobId,
            ) -> $crate::jobs::StoreFuture<'_, $crate::jobs::JobRecord> {
                Box::pin(self.get_impl(id))
            }
            fn list(
                &self,
                status: Option<$crate::jobs::JobStatus>,
                limit: u32,
                cursor: Option<String>,
            ) -> $crate::jobs::StoreFuture<'_, $crate::jobs::JobPage> {
                Box::pin(self.list_impl(status, limit, cursor))
            }
            fn cancel(
                &self,
                id: $crate::jobs::JobId,
            ) -> $crate::jobs::StoreFuture<'_, $crate::jobs::CancelOutcome> {
                Box::pin(self.cancel_impl(id))
            }
            fn claim<'a>(
                &'a self,
                worker_id: &'a str,
                lease_for: std::time::Duration,
            ) -> $crate::jobs::StoreFuture<'a, Option<$crate::jobs::ClaimedJob>> {
                Box::pin(self.claim_impl(worker_id, lease_for))
            }
            fn heartbeat<'a>(
                &'a self,
                lease: &'a $crate::jobs::Lease,
                extend: std::time::Duration,
            ) -> $crate::jobs::StoreFuture<'a, i64> {
                Box::pin(self.heartbeat_impl(lease, extend))
            }
            fn set_pages_total<'a>(
                &'a self,
                lease: &'a $crate::jobs::Lease,
                total: i64,
            ) -> $crate::jobs::StoreFuture<'a, ()> {
                Box::pin(self.set_pages_total_impl(lease, total))
            }
            fn record_page<'a>(
                &'a self,
                lease: &'a $crate::jobs::Lease,
                page_index: i64,
                page_json: String,
            ) -> $crate::jobs::StoreFuture<'a, ()> {
                Box::pin(self.record_page_impl(lease, page_index, page_json))
            }
            fn completed_pages(
                &self,
                id: $crate::jobs::JobId,
            ) -> $crate::jobs::StoreFuture<'_, Vec<(i64, String)>> {
                Box::pin(self.completed_pages_impl(id))
            }
            fn complete<'a>(
                &'a self,
                lease: &'a $crate::jobs::Lease,
                result: $crate::jobs::JobResult,
            ) -> $crate::jobs::StoreFuture<'a, $crate::jobs::JobRecord> {
                Box::pin(self.complete_impl(lease, result))
            }
            fn fail<'a>(
                &'a self,
                lease: &'a $crate::jobs::Lease,
                error: &'a str,
                retryable: bool,
            ) -> $crate::jobs::StoreFuture<'a, $crate::jobs::JobRecord> {
                Box::pin(self.fail_impl(lease, error, retryable))
            }
            fn result(
                &self,
                id: $crate::jobs::JobId,
            ) -> $crate::jobs::StoreFuture<'_, Option<$crate::jobs::JobResult>> {
                Box::pin(self.result_impl(id))
            }
            fn expire_now(&self, id: $crate::jobs::JobId) -> $crate::jobs::StoreFuture<'_, bool> {
                Box::pin(self.expire_now_impl(id))
            }
            fn sweep_expired(
                &self,
                now_ms: i64,
            ) -> $crate::jobs::StoreFuture<'_, $crate::jobs::SweepCounts> {
                Box::pin(self.sweep_impl(now_ms))
            }
            fn stats(&self) -> $crate::jobs::StoreFuture<'_, $crate::jobs::StoreStats> {
                Box::pin(self.stats_impl())
            }
            fn claim_webhooks(
                &self,
                limit: u32,
                hold: std::time::Duration,
            ) -> $crate::jobs::StoreFuture<'_, Vec<$crate::jobs::JobRecord>> {
                Box::pin(self.claim_webhooks_impl(limit, hold))
            }
            fn record_webhook_attempt(
                &self,
                id: $crate::jobs::JobId,
                attempt: $crate::jobs::WebhookAttempt,
            ) -> $crate::jobs::StoreFuture<'_, ()> {
                Box::pin(self.record_webhook_attempt_impl(id, attempt))
            }
            fn redeliver_webhook(
                &self,
                id: $crate::jobs::JobId,
            ) -> $crate::jobs::StoreFuture<'_, $crate::jobs::JobRecord> {
                Box::pin(self.redeliver_webhook_impl(id))
            }
            fn webhook_attempts(
                &self,
                id: $crate::jobs::JobId,
            ) -> $crate::jobs::StoreFuture<'_, Vec<$crate::jobs::WebhookAttempt>> {
                Box::pin(self.webhook_attempts_impl(id))
            }
            fn document(
                &self,
                id: $crate::jobs::JobId,
            ) -> $crate::jobs::StoreFuture<'_, bytes::Bytes> {
                Box::pin(self.document_impl(id))
            }
            fn ping(&self) -> $crate::jobs::StoreFuture<'_, ()> {
                Box::pin(async move {
                    sqlx::query("SELECT 1").execute(&self.pool).await?;
                    Ok(())
                })
            }
            fn close(&self) -> $crate::jobs::StoreFuture<'_, ()> {
                Box::pin(async move {
                    self.pool.close().await;
                    Ok(())
                })
            }
            fn now_ms(&self) -> i64 {
                self.now()
            }
        }
    };
}
