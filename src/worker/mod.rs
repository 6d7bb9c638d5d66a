//! Job workers: claim jobs from the [`JobStore`] by lease, run their pages through the same
//! dynamic batcher as `/v1/ocr` at background priority, record each page as it finishes (so a
//! retry resumes where the last attempt stopped), and finish with every wanted rendering.
//! Beside them run the webhook dispatcher and the retention sweeper.
//!
//! A heartbeat renews the lease every third of its length; when a write is refused because the
//! lease was lost (expired and re-claimed elsewhere, or the job canceled) the worker drops the
//! job at once: the fencing token guarantees it can no longer change it.

mod run;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::batcher::Batcher;
use crate::config::ServeConfig;
use crate::error::{OcrError, Result};
use crate::jobs::webhook::{CallbackPolicy, WebhookConfig, WebhookSender};
use crate::jobs::{JobStore, StoreConfig, open_store};
use crate::metrics::Metrics;

/// What the HTTP layer and the workers share about jobs.
pub struct JobsState {
    /// The durable store.
    pub store: Arc<dyn JobStore>,
    /// Which callback URLs are allowed.
    pub policy: CallbackPolicy,
    /// Whether a webhook secret is configured (callbacks are refused without one).
    pub webhooks_enabled: bool,
    /// Wakes an idle local worker when a job is submitted on this node.
    pub notify: Arc<Notify>,
}

impl JobsState {
    /// Open the store named by the settings and apply its migrations.
    pub async fn open(config: &ServeConfig) -> Result<Self> {
        let store_config = StoreConfig {
            dedupe: config.dedupe,
            retention: Duration::from_secs(config.result_ttl_s),
            default_max_attempts: config.max_attempts,
            max_document_bytes: config.max_body_bytes,
            ..StoreConfig::default()
        };
        let store = open_store(config.store.as_deref(), &config.data_dir, store_config)
            .await
            .map_err(|e| OcrError::Unavailable(format!("cannot open the job store: {e}")))?;
        Ok(JobsState {
            store,
            policy: callback_policy(config)?,
            webhooks_enabled: config.webhook_secret.is_some(),
            notify: Arc::new(Notify::new()),
        })
    }

    /// Copy the store's counters into the metrics.
    pub async fn refresh_metrics(&self, metrics: &Metrics) {
        let Ok(stats) = self.store.stats().await else {
            return;
        };
        for (status, n) in &stats.per_status {
            metrics
                .jobs
                .with_label_values(&[status.as_str()])
                .set(*n as i64);
        }
        metrics
            .oldest_queued_job_age
            .set(stats.oldest_queued_age_ms as f64 / 1000.0);
        let set = |c: &prometheus::IntCounter, v: u64| {
            let now = c.get();
            if v > now {
                c.inc_by(v - now);
            }
        };
        set(&metrics.lease_expiries_total, stats.lease_expiries);
        set(&metrics.fenced_writes_total, stats.fenced_writes);
    }
}

fn callback_policy(config: &ServeConfig) -> Result<CallbackPolicy> {
    let mut policy = CallbackPolicy::default();
    for entry in &config.webhook_allow {
        policy = if entry.contains('/') || entry.parse::<std::net::IpAddr>().is_ok() {
            let cidr = if entry.contains('/') {
                entry.clone()
            } else if entry.contains(':') {
                format!("{entry}/128")
            } else {
                format!("{entry}/32")
            };
            policy
                .allow_net(&cidr)
                .map_err(|e| OcrError::bad_param("webhook_allow", e.to_string()))?
        } else {
            policy.allow_host(entry)
        };
    }
    Ok(policy)
}

/// Handles of the background tasks; they stop when the shutdown flag turns true.
pub struct Background {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Background {
    /// Ask every task to stop and wait up to `grace` for running jobs to finish (an unfinished
    /// job's lease then expires and another worker resumes it).
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let all = futures_util::future::join_all(self.tasks);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("job workers did not finish within the grace period");
        }
    }
}

/// Start `config.workers` job workers, the webhook dispatcher (when a secret is set) and the
/// retention sweeper.
pub fn start(
    jobs: Arc<JobsState>,
    batcher: Arc<Batcher>,
    config: &ServeConfig,
    metrics: Arc<Metrics>,
) -> Background {
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    for i in 0..config.workers {
        let worker = run::Worker {
            id: format!("{host}/{}/{i}", std::process::id()),
            jobs: jobs.clone(),
            batcher: batcher.clone(),
            metrics: metrics.clone(),
            lease: Duration::from_millis(config.lease_ms),
            limits: config.clone(),
        };
        tasks.push(tokio::spawn(worker.run(stop_rx.clone())));
    }
    if let Some(secret) = &config.webhook_secret {
        let sender = WebhookSender::new(WebhookConfig {
            policy: jobs.policy.clone(),
            max_attempts: config.webhook_max_attempts,
            backoff_base: Duration::from_millis(config.webhook_backoff_initial_ms),
            backoff_cap: Duration::from_millis(config.webhook_backoff_max_ms),
            links_base: config.public_url.clone().unwrap_or_default(),
            ..WebhookConfig::new(secret.as_bytes().to_vec())
        });
        tasks.push(tokio::spawn(run::webhooks(
            jobs.clone(),
            sender,
            metrics.clone(),
            stop_rx.clone(),
        )));
    }
    tasks.push(tokio::spawn(run::sweeper(jobs, stop_rx)));
    Background { tasks, stop }
}
