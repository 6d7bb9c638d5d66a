//! Claim order, concurrent claimers, lease expiry and fencing, heartbeats, attempts, pages.

use std::collections::HashMap;
use std::time::Duration;

use super::harness::{Harness, spec};
use super::store_test;
use crate::jobs::{JobError, JobResult, JobSpec, JobStatus, LeaseLostReason, RenderedOutput};
use crate::render::OutputFormat;

fn result(body: &str) -> JobResult {
    JobResult {
        outputs: vec![RenderedOutput {
            format: OutputFormat::Json,
            body: body.into(),
        }],
    }
}

fn fenced(err: &JobError) -> bool {
    matches!(
        err,
        JobError::LeaseLost {
            reason: LeaseLostReason::Fenced,
            ..
        }
    )
}

async fn priority_order(h: &Harness) {
    let mut ids = Vec::new();
    for (name, prio) in [("a", 0), ("b", 5), ("c", 0), ("d", 5), ("e", -3)] {
        h.advance(1);
        let job = h
            .submit_spec(
                JobSpec {
                    priority: prio,
                    ..spec()
                },
                name.as_bytes(),
            )
            .await;
        ids.push(job.id);
    }
    let mut order = Vec::new();
    while let Some(c) = h.claim("w").await {
        assert_eq!(c.job.status, JobStatus::Running);
        assert_eq!(c.job.attempts, 1);
        order.push(c.job.id);
    }
    assert_eq!(order, vec![ids[1], ids[3], ids[0], ids[2], ids[4]]);
}
store_test!(claims_highest_priority_then_oldest, priority_order);

async fn concurrent_claims(h: &Harness) {
    let n = 40;
    for i in 0..n {
        h.submit(format!("doc {i}").as_bytes()).await;
    }
    let mut tasks = Vec::new();
    for w in 0..12 {
        let store = h.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            let worker = format!("w{w}");
            while let Some(c) = store.claim(&worker, Duration::from_secs(60)).await.unwrap() {
                assert_eq!(c.lease.token, 1);
                assert!(c.document.starts_with(b"doc "));
                got.push(c.job.id);
            }
            got
        }));
    }
    let mut count: HashMap<_, usize> = HashMap::new();
    for t in tasks {
        for id in t.await.unwrap() {
            *count.entry(id).or_default() += 1;
        }
    }
    assert_eq!(count.len(), n);
    assert!(
        count.values().all(|&c| c == 1),
        "a job was claimed twice: {count:?}"
    );
}
store_test!(concurrent_claimers_never_share_a_job, concurrent_claims);

async fn expiry_and_fencing(h: &Harness) {
    let job = h.submit(b"doc").await;
    let old = h.claim("w1").await.unwrap();
    h.store.set_pages_total(&old.lease, 2).await.unwrap();
    // Not expired yet: nobody else gets it.
    h.advance(9_000);
    assert!(h.claim("w2").await.is_none());
    h.advance(2_000);
    let new = h.claim("w2").await.unwrap();
    assert_eq!(new.job.id, job.id);
    assert!(new.lease.token > old.lease.token);
    assert_eq!(new.job.attempts, 2);
    assert_eq!(&new.document[..], b"doc");
    // Every write of the stale worker is refused and counted.
    let e1 = h
        .store
        .record_page(&old.lease, 0, "{}".into())
        .await
        .unwrap_err();
    let e2 = h
        .store
        .complete(&old.lease, result("stale"))
        .await
        .unwrap_err();
    let e3 = h
        .store
        .heartbeat(&old.lease, Duration::from_secs(10))
        .await
        .unwrap_err();
    let e4 = h.store.fail(&old.lease, "x", false).await.unwrap_err();
    for e in [&e1, &e2, &e3, &e4] {
        assert!(fenced(e), "{e}");
    }
    assert!(h.store.completed_pages(job.id).await.unwrap().is_empty());
    let stats = h.store.stats().await.unwrap();
    assert_eq!((stats.lease_expiries, stats.fenced_writes), (1, 4));
    // The live worker finishes; its result is the one stored.
    h.store
        .record_page(&new.lease, 0, "{\"p\":0}".into())
        .await
        .unwrap();
    let done = h.store.complete(&new.lease, result("fresh")).await.unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    let stored = h.store.result(job.id).await.unwrap().unwrap();
    assert_eq!(stored.get(OutputFormat::Json), Some("fresh"));
    // After completion even the live lease is done.
    let err = h
        .store
        .record_page(&new.lease, 1, "{}".into())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        JobError::LeaseLost {
            reason: LeaseLostReason::NotRunning,
            ..
        }
    ));
}
store_test!(
    expired_lease_is_reclaimed_and_stale_writes_fenced,
    expiry_and_fencing
);

async fn heartbeats(h: &Harness) {
    h.submit(b"doc").await;
    let c = h.claim("w1").await.unwrap();
    h.advance(8_000);
    let until = h
        .store
        .heartbeat(&c.lease, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(until, h.now() + 10_000);
    h.advance(8_000);
    assert!(
        h.claim("w2").await.is_none(),
        "heartbeat extended the lease"
    );
    h.advance(3_000);
    let c2 = h.claim("w2").await.unwrap();
    assert_eq!(c2.job.id, c.job.id);
}
store_test!(heartbeats_extend_the_lease, heartbeats);

async fn attempts(h: &Harness) {
    let job = h
        .submit_spec(
            JobSpec {
                max_attempts: Some(2),
                ..spec()
            },
            b"doc",
        )
        .await;
    let c = h.claim("w").await.unwrap();
    let after = h.store.fail(&c.lease, "gpu lost", true).await.unwrap();
    assert_eq!(after.status, JobStatus::Queued);
    assert_eq!(after.last_error.as_deref(), Some("gpu lost"));
    assert!(h.claim("w").await.is_none(), "backoff not over");
    h.advance(1_000);
    let c = h.claim("w").await.unwrap();
    assert_eq!(c.job.attempts, 2);
    let after = h
        .store
        .fail(&c.lease, "gpu lost again", true)
        .await
        .unwrap();
    assert_eq!(after.status, JobStatus::Failed);
    assert_eq!(after.last_error.as_deref(), Some("gpu lost again"));
    assert!(after.finished_at.is_some());
    h.advance(60_000);
    assert!(h.claim("w").await.is_none());
    assert_eq!(h.store.get(job.id).await.unwrap().status, JobStatus::Failed);
    // A permanent error fails at once.
    h.submit(b"bad").await;
    let c = h.claim("w").await.unwrap();
    let after = h.store.fail(&c.lease, "corrupt PDF", false).await.unwrap();
    assert_eq!((after.status, after.attempts), (JobStatus::Failed, 1));
    // A lease expiring on the last attempt fails the job.
    let j = h
        .submit_spec(
            JobSpec {
                max_attempts: Some(1),
                ..spec()
            },
            b"x",
        )
        .await;
    let c = h.claim("w").await.unwrap();
    h.advance(11_000);
    assert!(h.claim("w2").await.is_none());
    let failed = h.store.get(j.id).await.unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(failed.last_error.unwrap().contains("lease expired"));
    let err = h
        .store
        .heartbeat(&c.lease, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        JobError::LeaseLost {
            reason: LeaseLostReason::NotRunning,
            ..
        }
    ));
}
store_test!(attempts_end_in_failed_with_last_error, attempts);

async fn page_progress(h: &Harness) {
    let job = h.submit(b"three pages").await;
    let c = h.claim("w1").await.unwrap();
    h.store.set_pages_total(&c.lease, 3).await.unwrap();
    h.store
        .record_page(&c.lease, 0, "{\"p\":0}".into())
        .await
        .unwrap();
    h.store
        .record_page(&c.lease, 1, "{\"p\":1}".into())
        .await
        .unwrap();
    let err = h
        .store
        .record_page(&c.lease, 3, "{}".into())
        .await
        .unwrap_err();
    assert!(matches!(err, JobError::BadRequest(_)), "{err}");
    let mid = h.store.get(job.id).await.unwrap();
    assert_eq!((mid.pages_done, mid.pages_total), (2, Some(3)));
    // The worker dies; the next one resumes after the done pages.
    h.advance(11_000);
    let c2 = h.claim("w2").await.unwrap();
    assert_eq!(c2.job.pages_done, 2);
    let done = h.store.completed_pages(job.id).await.unwrap();
    assert_eq!(
        done,
        vec![(0, "{\"p\":0}".to_string()), (1, "{\"p\":1}".to_string())]
    );
    h.store
        .record_page(&c2.lease, 2, "{\"p\":2}".into())
        .await
        .unwrap();
    let fin = h.store.complete(&c2.lease, result("{}")).await.unwrap();
    assert_eq!((fin.pages_done, fin.pages_total), (3, Some(3)));
}
store_test!(page_progress_survives_reclaim, page_progress);
