//! The loops behind [`super::start`]: job workers, webhook dispatch, retention sweeps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::watch;
use tracing::Instrument;

use super::JobsState;
use crate::batcher::{Batcher, Priority};
use crate::config::ServeConfig;
use crate::document::{Document, Page};
use crate::error::OcrError;
use crate::jobs::webhook::WebhookSender;
use crate::jobs::{ClaimedJob, JobError, JobResult, Lease, RenderedOutput};
use crate::metrics::Metrics;
use crate::options::PipelineOptions;
use crate::render::{OutputFormat, render_bytes, render_json_line};

/// One job worker.
pub(super) struct Worker {
    pub id: String,
    pub jobs: Arc<JobsState>,
    pub batcher: Arc<Batcher>,
    pub metrics: Arc<Metrics>,
    pub lease: Duration,
    pub limits: ServeConfig,
}

/// How a job attempt ended, from the worker's side.
enum Ending {
    Done(Document),
    /// Will not succeed on retry (bad document, bad options).
    Permanent(String),
    /// May succeed on retry (backend failure, ...).
    Retryable(String),
    /// The lease was lost: stop touching the job.
    LeaseLost,
}

fn classify(e: OcrError) -> Ending {
    use crate::ErrorKind::*;
    match e.kind() {
        BadInput | TooLarge | Unsupported | BadParameter => Ending::Permanent(e.to_string()),
        _ => Ending::Retryable(e.to_string()),
    }
}

fn store_error(e: JobError) -> Ending {
    if e.is_lease_lost() {
        Ending::LeaseLost
    } else {
        Ending::Retryable(format!("job store: {e}"))
    }
}

impl Worker {
    /// Claim and run jobs until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut idle = Duration::from_millis(50);
        while !*stop.borrow() {
            match self.jobs.store.claim(&self.id, self.lease).await {
                Ok(Some(claimed)) => {
                    idle = Duration::from_millis(50);
                    self.attempt(claimed).await;
                }
                Ok(None) => {
                    tokio::select! {
                        _ = self.jobs.notify.notified() => {}
                        _ = tokio::time::sleep(idle) => {}
                        _ = stop.changed() => {}
                    }
                    idle = (idle * 2).min(Duration::from_millis(500));
                }
                Err(e) => {
                    tracing::warn!(worker = %self.id, "claim failed: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// One attempt at a claimed job, with a heartbeat running beside it.
    async fn attempt(&self, claimed: ClaimedJob) {
        let started = Instant::now();
        let ClaimedJob {
            job,
            lease,
            document,
        } = claimed;
        let span = tracing::info_span!("job", id = %job.id, attempt = job.attempts);
        let heartbeat = async {
            loop {
                tokio::time::sleep(self.lease / 3).await;
                if let Err(e) = self.jobs.store.heartbeat(&lease, self.lease).await
                    && e.is_lease_lost()
                {
                    return Ending::LeaseLost;
                }
            }
        };
        let source = document.clone();
        let work = self.process(&job.options_json, &lease, document);
        let ending = async {
            tokio::select! {
                e = work => e,
                e = heartbeat => e,
            }
        }
        .instrument(span)
        .await;
        let outcome = match ending {
            Ending::Done(doc) => {
                let formats = job.formats.clone();
                let limits = self.decode_limits();
                let rendered = tokio::task::spawn_blocking(move || {
                    render_outputs(&doc, &formats, &source, &limits)
                })
                .await
                .unwrap_or_else(|e| Err(OcrError::Internal(format!("rendering failed: {e}"))));
                match rendered {
                    Err(e) => self.fail(&lease, &e.to_string(), false).await,
                    Ok(outputs) => match self
                        .jobs
                        .store
                        .complete(&lease, JobResult { outputs })
                        .await
                    {
                        Ok(_) => "succeeded",
                        Err(e) if e.is_lease_lost() => "lease_lost",
                        Err(e) => {
                            tracing::warn!("cannot store the result: {e}");
                            "store_error"
                        }
                    },
                }
            }
            Ending::Permanent(msg) => self.fail(&lease, &msg, false).await,
            Ending::Retryable(msg) => self.fail(&lease, &msg, true).await,
            Ending::LeaseLost => "lease_lost",
        };
        self.metrics
            .job_duration
            .with_label_values(&[outcome])
            .observe(started.elapsed().as_secs_f64());
    }

    async fn fail(&self, lease: &Lease, msg: &str, retryable: bool) -> &'static str {
        tracing::warn!(retryable, "job attempt failed: {msg}");
        match self.jobs.store.fail(lease, msg, retryable).await {
            Ok(job) if job.status == crate::jobs::JobStatus::Failed => "failed",
            Ok(_) => "retry",
            Err(e) if e.is_lease_lost() => "lease_lost",
            Err(_) => "store_error",
        }
    }

    /// The limits documents are decoded under.
    fn decode_limits(&self) -> crate::decode::DecodeLimits {
        crate::decode::DecodeLimits {
            max_bytes: self.limits.max_body_bytes as u64,
            max_page_pixels: self.limits.max_page_pixels,
            max_pages: self.limits.max_pages,
            max_document_pixels: self.limits.max_document_pixels,
        }
    }

    /// Decode, skip pages done by an earlier attempt, run the rest, record each page.
    async fn process(&self, options_json: &str, lease: &Lease, document: bytes::Bytes) -> Ending {
        let query: PipelineOptions = match serde_json::from_str(options_json) {
            Ok(q) => q,
            Err(e) => return Ending::Permanent(format!("stored options unreadable: {e}")),
        };
        let base = crate::options::EngineOptions {
            limits: self.decode_limits(),
            ..Default::default()
        };
        let options = match query.engine_options(&base) {
            Ok(o) => Arc::new(o),
            Err(e) => return Ending::Permanent(e.to_string()),
        };
        let reader = match self.batcher.open(document, options.limits.clone()).await {
            Ok(r) => r,
            Err(e) => return classify(e),
        };
        let count = reader.page_count();
        if let Err(e) = self.jobs.store.set_pages_total(lease, count as i64).await {
            return store_error(e);
        }
        let mut done: BTreeMap<usize, Page> = BTreeMap::new();
        match self.jobs.store.completed_pages(lease.job_id).await {
            Ok(list) => {
                for (index, json) in list {
                    if let Ok(page) = serde_json::from_str::<Page>(&json) {
                        done.insert(index as usize, page);
                    }
                }
            }
            Err(e) => return store_error(e),
        }
        let meta = self.batcher.request(Priority::Background, None);
        // Pages an earlier attempt recorded are not decoded again.
        let todo: Vec<usize> = (0..count).filter(|i| !done.contains_key(i)).collect();
        let mut results = std::pin::pin!(self.batcher.process_pages(reader, todo, options, &meta));
        while let Some(r) = results.next().await {
            let (index, page) = match r {
                Ok(p) => p,
                Err(e) => return classify(e),
            };
            let json = match serde_json::to_string(&page) {
                Ok(j) => j,
                Err(e) => return Ending::Retryable(format!("page serialisation: {e}")),
            };
            if let Err(e) = self.jobs.store.record_page(lease, index as i64, json).await {
                return store_error(e);
            }
            done.insert(index, page);
        }
        Ending::Done(Document {
            source: None,
            pages: done.into_values().collect(),
        })
    }
}

/// Deliver due webhooks every half second until stopped.
pub(super) async fn webhooks(
    jobs: Arc<JobsState>,
    sender: WebhookSender,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        match sender.deliver_due(jobs.store.as_ref(), 32).await {
            Ok(attempts) => {
                for (_, a) in attempts {
                    let outcome = if a.http_status.is_some_and(|s| (200..300).contains(&s)) {
                        "delivered"
                    } else if a.next_attempt_at.is_some() {
                        "retry"
                    } else {
                        "gave_up"
                    };
                    metrics
                        .webhook_deliveries_total
                        .with_label_values(&[outcome])
                        .inc();
                }
            }
            Err(e) => tracing::warn!("webhook dispatch failed: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Delete expired results and documents once a minute until stopped.
pub(super) async fn sweeper(jobs: Arc<JobsState>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let now = jobs.store.now_ms();
        match jobs.store.sweep_expired(now).await {
            Ok(c) if c.jobs > 0 || c.blobs > 0 => {
                tracing::info!(jobs = c.jobs, blobs = c.blobs, "retention sweep")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("retention sweep failed: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = stop.changed() => {}
        }
    }
}

/// The job's stored outputs: each format rendered from the finished document (a PDF, which
/// embeds the pages of `source`, is stored as base64 text; see [`RenderedOutput`]).
fn render_outputs(
    doc: &Document,
    formats: &[OutputFormat],
    source: &[u8],
    limits: &crate::decode::DecodeLimits,
) -> Result<Vec<RenderedOutput>, OcrError> {
    formats
        .iter()
        .map(|&format| {
            let body = match format {
                OutputFormat::Json => render_json_line(doc),
                OutputFormat::Pdf => {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD
                        .encode(render_bytes(doc, format, source, limits)?)
                }
                f => String::from_utf8(render_bytes(doc, f, source, limits)?)
                    .map_err(|e| OcrError::Internal(format!("non-UTF-8 rendering: {e}")))?,
            };
            Ok(RenderedOutput { format, body })
        })
        .collect()
}
