//! Submission, reads, listing, idempotency, duplicates, validation and cancel.

use std::collections::HashSet;

use bytes::Bytes;

use super::harness::{Harness, spec};
use super::store_test;
use crate::jobs::{
    JobError, JobId, JobResult, JobSpec, JobStatus, LeaseLostReason, RenderedOutput,
};
use crate::render::OutputFormat;

fn json_result(body: &str) -> JobResult {
    JobResult {
        outputs: vec![RenderedOutput {
            format: OutputFormat::Json,
            body: body.to_string(),
        }],
    }
}

async fn submit_get_list(h: &Harness) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let job = h.submit(format!("doc {i}").as_bytes()).await;
        assert_eq!(job.status, JobStatus::Queued);
        assert_eq!(job.content_len, 5);
        assert_eq!(job.created_at, h.now());
        assert_eq!(h.store.get(job.id).await.unwrap(), job);
        ids.push(job.id);
    }
    // Newest first, in pages of 2, no repeats, no gaps.
    let (mut seen, mut cursor, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = h.store.list(None, 2, cursor.take()).await.unwrap();
        pages += 1;
        seen.extend(page.jobs.iter().map(|j| j.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    ids.reverse();
    assert_eq!(seen, ids);
    // Status filter.
    let claimed = h.claim("w").await.unwrap();
    let running = h
        .store
        .list(Some(JobStatus::Running), 10, None)
        .await
        .unwrap();
    assert_eq!(running.jobs.len(), 1);
    assert_eq!(running.jobs[0].id, claimed.job.id);
    let queued = h
        .store
        .list(Some(JobStatus::Queued), 10, None)
        .await
        .unwrap();
    assert_eq!(queued.jobs.len(), 4);
    assert!(queued.next_cursor.is_none());
    // Bad cursor, unknown id.
    let err = h.store.list(None, 2, Some("zz".into())).await.unwrap_err();
    assert!(matches!(err, JobError::BadRequest(_)), "{err}");
    let err = h.store.get(JobId::new()).await.unwrap_err();
    assert!(matches!(err, JobError::NotFound(_)), "{err}");
}
store_test!(submit_get_list_with_cursor, submit_get_list);

async fn idempotency(h: &Harness) {
    let mut s = spec();
    s.idempotency_key = Some("key-1".into());
    let first = h.submit_spec(s.clone(), b"doc").await;
    let again = h
        .store
        .submit(s.clone(), Bytes::from_static(b"doc"))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.job.id, first.id);
    // Same key, another document: a conflict, and nothing new stored.
    let err = h
        .store
        .submit(s, Bytes::from_static(b"other"))
        .await
        .unwrap_err();
    assert!(matches!(err, JobError::Conflict(_)), "{err}");
    assert!(err.to_string().contains("document differs"), "{err}");
    // Same key and document, any other field changed: a conflict naming the field.
    let mut changes: Vec<(&str, JobSpec)> = Vec::new();
    let key = |mut x: JobSpec| {
        x.idempotency_key = Some("key-1".into());
        x
    };
    changes.push((
        "options",
        key(JobSpec::new("{\"deskew\":false}", spec().formats)),
    ));
    changes.push((
        "formats",
        key(JobSpec::new(spec().options_json, vec![OutputFormat::Hocr])),
    ));
    changes.push((
        "priority",
        key(JobSpec {
            priority: 5,
            ..spec()
        }),
    ));
    changes.push((
        "callback_url",
        key(JobSpec {
            callback_url: Some("https://example.com/hook".into()),
            ..spec()
        }),
    ));
    changes.push((
        "max_attempts",
        key(JobSpec {
            max_attempts: Some(99),
            ..spec()
        }),
    ));
    for (field, changed) in changes {
        let err = h
            .store
            .submit(changed, Bytes::from_static(b"doc"))
            .await
            .unwrap_err();
        assert!(matches!(err, JobError::Conflict(_)), "{field}: {err}");
        assert!(
            err.to_string().contains(&format!("{field} differs")),
            "{err}"
        );
    }
    assert_eq!(h.store.list(None, 10, None).await.unwrap().jobs.len(), 1);
    assert_eq!(h.blob_count().await, 1);
    // The key length the OpenAPI document states is the one enforced.
    let long = |n: usize| JobSpec {
        idempotency_key: Some("k".repeat(n)),
        ..spec()
    };
    let max = crate::jobs::MAX_IDEMPOTENCY_KEY_LEN;
    h.store
        .submit(long(max), Bytes::from_static(b"doc"))
        .await
        .unwrap();
    let err = h
        .store
        .submit(long(max + 1), Bytes::from_static(b"doc"))
        .await
        .unwrap_err();
    assert!(matches!(err, JobError::BadRequest(_)), "{err}");
    let openapi: serde_json::Value =
        serde_json::from_str(include_str!("../../server/openapi.json")).unwrap();
    let documented = openapi["paths"]["/v1/jobs"]["post"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .map(|p| p["schema"]["maxLength"].clone());
    let documented = documented == Some(serde_json::json!(max));
    assert!(
        documented,
        "openapi.json must state maxLength {max} for Idempotency-Key"
    );
    // Concurrent submissions with one key: one job.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = h.store.clone();
        let mut s = spec();
        s.idempotency_key = Some("key-2".into());
        tasks.push(tokio::spawn(async move {
            store.submit(s, Bytes::from_static(b"same")).await.unwrap()
        }));
    }
    let mut ids = HashSet::new();
    let mut created = 0;
    for t in tasks {
        let out = t.await.unwrap();
        ids.insert(out.job.id);
        created += usize::from(out.created);
    }
    assert_eq!((ids.len(), created), (1, 1));
}
store_test!(idempotency_key_returns_same_job, idempotency);

async fn dedupe(h: &Harness) {
    let first = h.submit(b"scan").await;
    let c = h.claim("w").await.unwrap();
    h.store
        .complete(&c.lease, json_result("{\"pages\":[]}"))
        .await
        .unwrap();
    let dup = h.submit(b"scan").await;
    assert_ne!(dup.id, first.id);
    assert_eq!(dup.status, JobStatus::Succeeded);
    assert_eq!(dup.deduplicated_from, Some(first.id));
    assert_eq!(
        h.store.result(dup.id).await.unwrap(),
        h.store.result(first.id).await.unwrap()
    );
    // Other options or formats: not a duplicate.
    let mut s = spec();
    s.options_json = "{\"lang\":\"deu\"}".into();
    assert_eq!(h.submit_spec(s, b"scan").await.status, JobStatus::Queued);
    let mut s = spec();
    s.formats = vec![OutputFormat::Text];
    assert_eq!(h.submit_spec(s, b"scan").await.status, JobStatus::Queued);
}
store_test!(dedupe_answers_from_stored_result, dedupe);

async fn no_dedupe(h: &Harness) {
    h.submit(b"scan").await;
    let c = h.claim("w").await.unwrap();
    h.store.complete(&c.lease, json_result("{}")).await.unwrap();
    assert_eq!(h.submit(b"scan").await.status, JobStatus::Queued);
}
store_test!(
    dedupe_can_be_disabled,
    no_dedupe,
    |c: &mut crate::jobs::StoreConfig| c.dedupe = false
);

async fn bad_submissions(h: &Harness) {
    let cases: Vec<(crate::jobs::JobSpec, &[u8])> = vec![
        (spec(), b""),
        (
            crate::jobs::JobSpec::new("not json", vec![OutputFormat::Json]),
            b"x",
        ),
        (
            crate::jobs::JobSpec::new("[1]", vec![OutputFormat::Json]),
            b"x",
        ),
        (crate::jobs::JobSpec::new("{}", vec![]), b"x"),
        (
            crate::jobs::JobSpec {
                priority: 5000,
                ..spec()
            },
            b"x",
        ),
        (
            crate::jobs::JobSpec {
                callback_url: Some("file:///etc/passwd".into()),
                ..spec()
            },
            b"x",
        ),
        (
            crate::jobs::JobSpec {
                idempotency_key: Some(String::new()),
                ..spec()
            },
            b"x",
        ),
        (
            crate::jobs::JobSpec {
                max_attempts: Some(0),
                ..spec()
            },
            b"x",
        ),
    ];
    for (s, doc) in cases {
        let err = h
            .store
            .submit(s.clone(), Bytes::copy_from_slice(doc))
            .await
            .unwrap_err();
        assert!(matches!(err, JobError::BadRequest(_)), "{s:?}: {err}");
    }
    let big = vec![7u8; h.config.max_document_bytes + 1];
    let err = h.store.submit(spec(), Bytes::from(big)).await.unwrap_err();
    assert!(matches!(err, JobError::BadRequest(_)), "{err}");
    assert!(h.store.list(None, 10, None).await.unwrap().jobs.is_empty());
    assert_eq!(h.blob_count().await, 0);
    assert!(h.claim("w").await.is_none());
}
store_test!(bad_submission_leaves_nothing, bad_submissions);

async fn cancel(h: &Harness) {
    let queued = h.submit(b"a").await;
    let out = h.store.cancel(queued.id).await.unwrap();
    assert!(out.canceled);
    assert_eq!(out.job.status, JobStatus::Canceled);
    assert!(out.job.finished_at.is_some() && out.job.expires_at.is_some());
    let again = h.store.cancel(queued.id).await.unwrap();
    assert!(!again.canceled);
    assert_eq!(again.job, out.job);
    // Running: canceled, and the worker's next write is refused.
    h.submit(b"b").await;
    let c = h.claim("w").await.unwrap();
    assert!(h.store.cancel(c.job.id).await.unwrap().canceled);
    let err = h
        .store
        .complete(&c.lease, json_result("{}"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            JobError::LeaseLost {
                reason: LeaseLostReason::Canceled,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        h.store.get(c.job.id).await.unwrap().status,
        JobStatus::Canceled
    );
    assert!(h.store.result(c.job.id).await.unwrap().is_none());
    // Succeeded: unchanged.
    h.submit(b"c").await;
    let c = h.claim("w").await.unwrap();
    h.store.complete(&c.lease, json_result("{}")).await.unwrap();
    let out = h.store.cancel(c.job.id).await.unwrap();
    assert!(!out.canceled);
    assert_eq!(out.job.status, JobStatus::Succeeded);
    let err = h.store.cancel(JobId::new()).await.unwrap_err();
    assert!(matches!(err, JobError::NotFound(_)));
    assert!(
        h.claim("w").await.is_none(),
        "canceled jobs are never claimed"
    );
}
store_test!(cancel_queued_running_terminal, cancel);
