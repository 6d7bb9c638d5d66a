//! Retention sweeps, metrics counters and webhook delivery bookkeeping.

use std::time::Duration;

use super::harness::{Harness, spec};
use super::store_test;
use super::webhook::receiver;
use crate::jobs::webhook::{CallbackPolicy, WebhookConfig, WebhookSender};
use crate::jobs::{JobError, JobResult, JobSpec, JobStatus, RenderedOutput};
use crate::render::OutputFormat;

fn result() -> JobResult {
    JobResult {
        outputs: vec![
            RenderedOutput {
                format: OutputFormat::Json,
                body: "{}".into(),
            },
            RenderedOutput {
                format: OutputFormat::Text,
                body: "hello".into(),
            },
        ],
    }
}

async fn sweep(h: &Harness) {
    let done = h.submit(b"finished doc").await;
    let c = h.claim("w").await.unwrap();
    h.store.record_page(&c.lease, 0, "{}".into()).await.unwrap();
    h.store.complete(&c.lease, result()).await.unwrap();
    let stored = h.store.result(done.id).await.unwrap().unwrap();
    assert_eq!(stored.get(OutputFormat::Text), Some("hello"));
    let shared = h.submit(b"shared doc").await;
    h.store.cancel(shared.id).await.unwrap();
    h.advance(10);
    let queued = h
        .submit_spec(
            JobSpec {
                priority: 1,
                ..spec()
            },
            b"shared doc",
        )
        .await;
    assert_eq!(h.blob_count().await, 2);
    // Nothing is due yet.
    let none = h.store.sweep_expired(h.now()).await.unwrap();
    assert_eq!((none.jobs, none.blobs), (0, 0));
    let later = h.now() + h.config.retention.as_millis() as i64;
    let swept = h.store.sweep_expired(later).await.unwrap();
    // The finished and the canceled job go; the blob shared with a queued job stays.
    assert_eq!((swept.jobs, swept.blobs), (2, 1));
    assert!(matches!(
        h.store.get(done.id).await,
        Err(JobError::NotFound(_))
    ));
    assert!(matches!(
        h.store.result(done.id).await,
        Err(JobError::NotFound(_))
    ));
    assert!(h.store.completed_pages(done.id).await.unwrap().is_empty());
    assert_eq!(h.blob_count().await, 1);
    let c = h.claim("w").await.unwrap();
    assert_eq!(c.job.id, queued.id);
    assert_eq!(&c.document[..], b"shared doc");
    // Resubmitting a swept document stores it again.
    h.submit(b"finished doc").await;
    assert_eq!(h.blob_count().await, 2);
}
store_test!(sweep_deletes_expired_results_and_blobs, sweep);

/// A finished job deleted on request: `expire_now` then a sweep take it, its pages, results
/// and document at once; a queued job cannot be expired (it is canceled instead).
async fn delete_now(h: &Harness) {
    let done = h.submit(b"private doc").await;
    let c = h.claim("w").await.unwrap();
    h.store.record_page(&c.lease, 0, "{}".into()).await.unwrap();
    h.store.complete(&c.lease, result()).await.unwrap();
    let queued = h.submit(b"other doc").await;
    assert!(!h.store.expire_now(queued.id).await.unwrap());
    assert!(h.store.expire_now(done.id).await.unwrap());
    let swept = h.store.sweep_expired(h.now()).await.unwrap();
    assert_eq!((swept.jobs, swept.blobs), (1, 1));
    assert!(matches!(
        h.store.get(done.id).await,
        Err(JobError::NotFound(_))
    ));
    assert!(h.store.completed_pages(done.id).await.unwrap().is_empty());
    assert_eq!(h.blob_count().await, 1, "the queued job's document stays");
    assert!(h.store.get(queued.id).await.is_ok());
}

store_test!(a_finished_job_is_deleted_at_once, delete_now);

async fn stats(h: &Harness) {
    h.submit(b"a").await;
    h.advance(500);
    h.submit(b"b").await;
    h.submit(b"c").await;
    let c = h.claim("w").await.unwrap();
    h.store.fail(&c.lease, "boom", false).await.unwrap();
    h.claim("w").await.unwrap();
    h.advance(1_500);
    let s = h.store.stats().await.unwrap();
    let count = |st| s.per_status.iter().find(|(x, _)| *x == st).unwrap().1;
    assert_eq!(count(JobStatus::Queued), 1);
    assert_eq!(count(JobStatus::Running), 1);
    assert_eq!(count(JobStatus::Failed), 1);
    assert_eq!(count(JobStatus::Succeeded) + count(JobStatus::Canceled), 0);
    assert_eq!(s.oldest_queued_age_ms, 1_500);
    assert_eq!((s.lease_expiries, s.fenced_writes), (0, 0));
    h.store.ping().await.unwrap();
}
store_test!(stats_count_states_and_queue_age, stats);

async fn webhooks(h: &Harness) {
    let rx = receiver(b"s3cret", &[500], h.clock.clone()).await;
    let job = h
        .submit_spec(
            JobSpec {
                callback_url: Some(rx.url.clone()),
                ..spec()
            },
            b"doc",
        )
        .await;
    assert_eq!(job.webhook_state, "none");
    let mut config = WebhookConfig::new(b"s3cret".to_vec());
    config.policy = CallbackPolicy::default().allow_net("127.0.0.1/32").unwrap();
    config.backoff_base = Duration::from_secs(2);
    config.max_attempts = 3;
    let sender = WebhookSender::new(config);
    assert!(sender.deliver_due(&*h.store, 10).await.unwrap().is_empty());
    let c = h.claim("w").await.unwrap();
    let done = h.store.complete(&c.lease, result()).await.unwrap();
    assert_eq!(done.webhook_state, "pending");
    // First attempt: the receiver answers 500 → retry scheduled after the backoff.
    let first = sender.deliver_due(&*h.store, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].1.http_status, Some(500));
    assert_eq!(first[0].1.next_attempt_at, Some(h.now() + 2_000));
    assert!(
        sender.deliver_due(&*h.store, 10).await.unwrap().is_empty(),
        "not due yet"
    );
    h.advance(2_000);
    let second = sender.deliver_due(&*h.store, 10).await.unwrap();
    assert_eq!(second[0].1.http_status, Some(200));
    assert!(second[0].1.delivered() && second[0].1.next_attempt_at.is_none());
    let seen = rx.seen.lock().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|s| s.verified), "signatures verify");
    assert_eq!(seen[1].body["id"], job.id.to_string());
    assert_eq!(seen[1].body["status"], "succeeded");
    assert_eq!(seen[1].body["event"], "job.succeeded");
    let attempts = h.store.webhook_attempts(job.id).await.unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1].attempt, 2);
    let rec = h.store.get(job.id).await.unwrap();
    assert_eq!(
        (rec.webhook_state.as_str(), rec.webhook_attempts),
        ("delivered", 2)
    );
    assert_eq!(h.store.stats().await.unwrap().webhooks, (0, 1, 0));
    // A target the policy refuses is never contacted; attempts run out → failed.
    let strict = WebhookSender::new(WebhookConfig {
        max_attempts: 2,
        ..WebhookConfig::new(b"s3cret".to_vec())
    });
    let j2 = h
        .submit_spec(
            JobSpec {
                callback_url: Some(rx.url.clone()),
                ..spec()
            },
            b"doc2",
        )
        .await;
    h.store.cancel(j2.id).await.unwrap();
    let a = strict.deliver_due(&*h.store, 10).await.unwrap();
    assert!(a[0].1.error.as_deref().unwrap().contains("not allowed"));
    h.advance(60_000);
    strict.deliver_due(&*h.store, 10).await.unwrap();
    assert_eq!(h.store.get(j2.id).await.unwrap().webhook_state, "failed");
    assert_eq!(rx.seen.lock().len(), 2);
}
store_test!(webhooks_are_signed_retried_and_recorded, webhooks);
