//! The lease protocol, written once for both backends (see [`super::common_reads`] for how the
//! macros are shared): claim, the fence check, heartbeats, page progress, completion, failure and
//! webhook scheduling.
//!
//! Every worker write runs in one transaction that first reads the job's `status` and
//! `lease_token` (locking the row on PostgreSQL, under the write lock on SQLite) and proceeds only
//! if the job is `running` under the presented token; otherwise it rolls back, bumps the
//! `fenced_writes` counter and returns [`super::JobError::LeaseLost`].

/// Expand the lease methods for a backend. `$lock` locks selected rows (`""` on SQLite), `$skip`
/// locks skipping rows other transactions hold (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
macro_rules! store_leases {
    ($db:ty, $lock:literal, $skip:literal) => {
        async fn bump_counter(
            tx: &mut sqlx::Transaction<'static, $db>,
            name: &str,
        ) -> Result<(), $crate::jobs::JobError> {
            sqlx::query("UPDATE store_counters SET value = value + 1 WHERE name = $1")
                .bind(name)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        async fn claim_impl(
            &self,
            worker_id: &str,
            lease_for: std::time::Duration,
        ) -> Result<Option<$crate::jobs::ClaimedJob>, $crate::jobs::JobError> {
            let lease_ms = lease_for.as_millis().min(i64::MAX as u128) as i64;
            loop {
                let now = self.now();
                let mut tx = self.write_tx().await?;
                let sql = format!(
                    "SELECT id, status, attempts, max_attempts FROM jobs \
                     WHERE (status = 'queued' AND run_after <= $1) \
                        OR (status = 'running' AND lease_expires_at <= $1) \
                     ORDER BY priority DESC, seq LIMIT 1{}",
                    $skip
                );
                let row: Option<(String, String, i64, i64)> = sqlx::query_as(&sql)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some((id, status, attempts, max_attempts)) = row else {
                    tx.commit().await?;
                    return Ok(None);
                };
                let expired = status == "running";
                if expired {
                    Self::bump_counter(&mut tx, "lease_expiries").await?;
                }
                if expired && attempts >= max_attempts {
                    let sql = format!(
                        "UPDATE jobs SET status = 'failed', last_error = $3, {} WHERE id = $4",
                        $crate::jobs::rows::TERMINAL_SET
                    );
                    sqlx::query(&sql)
                        .bind(now)
                        .bind(now.saturating_add(self.config.retention_ms()))
                        .bind(format!(
                            "lease expired on attempt {attempts} of {max_attempts} (worker lost)"
                        ))
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    continue;
                }
                let note = expired.then(|| format!("lease expired on attempt {attempts}"));
                let (token,): (i64,) = sqlx::query_as(
                    "UPDATE jobs SET status = 'running', attempts = attempts + 1, \
                     lease_token = lease_token + 1, lease_worker = $1, lease_expires_at = $2, \
                     started_at = COALESCE(started_at, $3), last_error = COALESCE($4, last_error) \
                     WHERE id = $5 RETURNING lease_token",
                )
                .bind(worker_id)
                .bind(now.saturating_add(lease_ms))
                .bind(now)
                .bind(note)
                .bind(&id)
                .fetch_one(&mut *tx)
                .await?;
                let job_id: $crate::jobs::JobId = id.parse()?;
                let job = self.get_in(&mut tx, job_id).await?;
                tx.commit().await?;
                let document = match self.read_blob(&job.content_sha256).await {
                    Ok(d) => d,
                    // A poison job (its document is gone): fail it with the reason now, under
                    // this lease, and claim the next one, instead of failing every claim.
                    Err($crate::jobs::JobError::Corrupt(why)) => {
                        let mut tx = self.write_tx().await?;
                        let sql = format!(
                            "UPDATE jobs SET status = 'failed', last_error = $3, {}                              WHERE id = $4 AND lease_token = $5",
                            $crate::jobs::rows::TERMINAL_SET
                        );
                        sqlx::query(&sql)
                            .bind(now)
                            .bind(now.saturating_add(self.config.retention_ms()))
                            .bind(format!("cannot process the job: {why}"))
                            .bind(&id)
                            .bind(token)
                            .execute(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        tracing::error!(job = %job_id, "job failed: {why}");
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let lease = $crate::jobs::Lease {
                    job_id,
                    worker_id: worker_id.to_string(),
                    token,
                    expires_at: now.saturating_add(lease_ms),
                };
                return Ok(Some($crate::jobs::ClaimedJob {
                    job,
                    lease,
                    document,
                }));
            }
        }

        /// Begin a transaction in which `lease` is valid, or fail with `LeaseLost`.
        async fn fenced_tx(
            &self,
            lease: &$crate::jobs::Lease,
        ) -> Result<sqlx::Transaction<'static, $db>, $crate::jobs::JobError> {
            let mut tx = self.write_tx().await?;
            let sql = format!(
                "SELECT status, lease_token FROM jobs WHERE id = $1{}",
                $lock
            );
            let row: Option<(String, i64)> = sqlx::query_as(&sql)
                .bind(lease.job_id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            let check = match row {
                None => Err($crate::jobs::JobError::NotFound(lease.job_id)),
                Some((status, token)) => {
                    $crate::jobs::rows::lease_lost(lease.job_id, &status, token, lease.token)
                }
            };
            match check {
                Ok(()) => Ok(tx),
                Err(e) => {
                    if e.is_lease_lost() {
                        Self::bump_counter(&mut tx, "fenced_writes").await?;
                        tx.commit().await?;
                    } else {
                        tx.rollback().await?;
                    }
                    Err(e)
                }
            }
        }

        async fn heartbeat_impl(
            &self,
            lease: &$crate::jobs::Lease,
            extend: std::time::Duration,
        ) -> Result<i64, $crate::jobs::JobError> {
            let mut tx = self.fenced_tx(lease).await?;
            let until = self
                .now()
                .saturating_add(extend.as_millis().min(i64::MAX as u128) as i64);
            sqlx::query("UPDATE jobs SET lease_expires_at = $1 WHERE id = $2")
                .bind(until)
                .bind(lease.job_id.to_string())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(until)
        }

        async fn set_pages_total_impl(
            &self,
            lease: &$crate::jobs::Lease,
            total: i64,
        ) -> Result<(), $crate::jobs::JobError> {
            if total < 0 {
                return Err($crate::jobs::JobError::BadRequest(format!(
                    "negative page count {total}"
                )));
            }
            let mut tx = self.fenced_tx(lease).await?;
            sqlx::query("UPDATE jobs SET pages_total = $1 WHERE id = $2")
                .bind(total)
                .bind(lease.job_id.to_string())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }

        async fn record_page_impl(
            &self,
            lease: &$crate::jobs::Lease,
            page_index: i64,
            page_json: String,
        ) -> Result<(), $crate::jobs::JobError> {
            let mut tx = self.fenced_tx(lease).await?;
            let job = self.get_in(&mut tx, lease.job_id).await?;
            if page_index < 0 || job.pages_total.is_some_and(|t| page_index >= t) {
                // Release the row lock now: a dropped transaction rolls back only when its
                // connection is next used, and until then claims (`SKIP LOCKED`) miss the job.
                tx.rollback().await?;
                return Err($crate::jobs::JobError::BadRequest(format!(
                    "page index {page_index} out of range (pages_total {:?})",
                    job.pages_total
                )));
            }
            let id = lease.job_id.to_string();
            sqlx::query(
                "INSERT INTO job_pages (job_id, page_index, result_json, lease_token, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_id, page_index) DO UPDATE SET \
                 result_json = excluded.result_json, lease_token = excluded.lease_token, \
                 recorded_at = excluded.recorded_at",
            )
            .bind(&id)
            .bind(page_index)
            .bind(page_json)
            .bind(lease.token)
            .bind(self.now())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE jobs SET pages_done = (SELECT COUNT(*) FROM job_pages WHERE job_id = $1) \
                 WHERE id = $1",
            )
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }

        async fn complete_impl(
            &self,
            lease: &$crate::jobs::Lease,
            result: $crate::jobs::JobResult,
        ) -> Result<$crate::jobs::JobRecord, $crate::jobs::JobError> {
            let mut tx = self.fenced_tx(lease).await?;
            let id = lease.job_id.to_string();
            sqlx::query("DELETE FROM job_results WHERE job_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            for out in result.outputs {
                sqlx::query(
                    "INSERT INTO job_results (job_id, format, body) VALUES ($1, $2, $3) \
                     ON CONFLICT (job_id, format) DO UPDATE SET body = excluded.body",
                )
                .bind(&id)
                .bind($crate::jobs::format_name(out.format))
                .bind(out.body)
                .execute(&mut *tx)
                .await?;
            }
            let now = self.now();
            let sql = format!(
                "UPDATE jobs SET status = 'succeeded', has_result = 1, {} WHERE id = $3",
                $crate::jobs::rows::TERMINAL_SET
            );
            sqlx::query(&sql)
                .bind(now)
                .bind(now.saturating_add(self.config.retention_ms()))
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            let job = self.get_in(&mut tx, lease.job_id).await?;
            tx.commit().await?;
            Ok(job)
        }

        async fn fail_impl(
            &self,
            lease: &$crate::jobs::Lease,
            error: &str,
            retryable: bool,
        ) -> Result<$crate::jobs::JobRecord, $crate::jobs::JobError> {
            let mut tx = self.fenced_tx(lease).await?;
            let job = self.get_in(&mut tx, lease.job_id).await?;
            let error: String = error.chars().take(4096).collect();
            let now = self.now();
            if !retryable || job.attempts >= job.max_attempts {
                let sql = format!(
                    "UPDATE jobs SET status = 'failed', last_error = $3, {} WHERE id = $4",
                    $crate::jobs::rows::TERMINAL_SET
                );
                sqlx::query(&sql)
                    .bind(now)
                    .bind(now.saturating_add(self.config.retention_ms()))
                    .bind(error)
                    .bind(lease.job_id.to_string())
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query(
                    "UPDATE jobs SET status = 'queued', last_error = $1, run_after = $2, \
                     lease_worker = NULL, lease_expires_at = NULL WHERE id = $3",
                )
                .bind(error)
                .bind(now.saturating_add(self.config.retry_delay_ms(job.attempts)))
                .bind(lease.job_id.to_string())
                .execute(&mut *tx)
                .await?;
            }
            let job = self.get_in(&mut tx, lease.job_id).await?;
            tx.commit().await?;
            Ok(job)
        }

        async fn claim_webhooks_impl(
            &self,
            limit: u32,
            hold: std::time::Duration,
        ) -> Result<Vec<$crate::jobs::JobRecord>, $crate::jobs::JobError> {
            let now = self.now();
            let mut tx = self.write_tx().await?;
            let sql = format!(
                "SELECT id FROM jobs WHERE webhook_state = 'pending' AND webhook_next_at <= $1 \
                 ORDER BY webhook_next_at LIMIT $2{}",
                $skip
            );
            let ids: Vec<(String,)> = sqlx::query_as(&sql)
                .bind(now)
                .bind(i64::from(limit.clamp(1, 1000)))
                .fetch_all(&mut *tx)
                .await?;
            let until = now.saturating_add(hold.as_millis().min(i64::MAX as u128) as i64);
            let mut jobs = Vec::with_capacity(ids.len());
            for (id,) in ids {
                sqlx::query("UPDATE jobs SET webhook_next_at = $1 WHERE id = $2")
                    .bind(until)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                jobs.push(self.get_in(&mut tx, id.parse()?).await?);
            }
            tx.commit().await?;
            Ok(jobs)
        }

        async fn redeliver_webhook_impl(
            &self,
            id: $crate::jobs::JobId,
        ) -> Result<$crate::jobs::JobRecord, $crate::jobs::JobError> {
            let mut tx = self.write_tx().await?;
            let job = self.get_in(&mut tx, id).await?;
            if job.callback_url.is_none() {
                return Err($crate::jobs::JobError::Conflict(format!(
                    "job {id} has no callback_url"
                )));
            }
            if !job.status.is_terminal() {
                return Err($crate::jobs::JobError::Conflict(format!(
                    "job {id} is {}: its webhook is sent when it ends",
                    job.status
                )));
            }
            sqlx::query(
                "UPDATE jobs SET webhook_state = 'pending', webhook_next_at = $1 WHERE id = $2",
            )
            .bind(self.now())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            let job = self.get_in(&mut tx, id).await?;
            tx.commit().await?;
            Ok(job)
        }

        async fn record_webhook_attempt_impl(
            &self,
            id: $crate::jobs::JobId,
            attempt: $crate::jobs::WebhookAttempt,
        ) -> Result<(), $crate::jobs::JobError> {
            let mut tx = self.write_tx().await?;
            let state = $crate::jobs::rows::webhook_state_after(&attempt);
            let updated = sqlx::query(
                "UPDATE jobs SET webhook_attempts = $1, webhook_state = $2, webhook_next_at = $3 \
                 WHERE id = $4",
            )
            .bind(attempt.attempt)
            .bind(state)
            .bind(attempt.next_attempt_at)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                tx.rollback().await?;
                return Err($crate::jobs::JobError::NotFound(id));
            }
            sqlx::query(
                "INSERT INTO webhook_attempts \
                 (job_id, attempt, at, http_status, error, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (job_id, attempt) DO UPDATE SET \
                 at = excluded.at, http_status = excluded.http_status, error = excluded.error, \
                 next_attempt_at = excluded.next_attempt_at",
            )
            .bind(id.to_string())
            .bind(attempt.attempt)
            .bind(attempt.at)
            .bind(attempt.http_status.map(i64::from))
            .bind(attempt.error)
            .bind(attempt.next_attempt_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }
    };
}
