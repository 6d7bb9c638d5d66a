//! SQLite crash consistency: a store dropped without closing (no checkpoint, no orderly pool
//! shutdown) reopens with every committed change intact, and a blob left by a submission that
//! died before its commit is swept.

use std::time::Duration;

use bytes::Bytes;

use super::harness::{T0, spec};
use crate::jobs::{
    Clock, JobResult, JobStatus, JobStore, RenderedOutput, SqliteStore, StoreConfig,
};
use crate::render::OutputFormat;

fn config() -> StoreConfig {
    StoreConfig {
        clock: Clock::manual(T0).0,
        ..StoreConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_state_survives_drop_without_close() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), config()).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let out = store
            .submit(spec(), Bytes::from(format!("doc {i}")))
            .await
            .unwrap();
        ids.push(out.job.id);
    }
    let done = store
        .claim("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    store
        .complete(
            &done.lease,
            JobResult {
                outputs: vec![RenderedOutput {
                    format: OutputFormat::Json,
                    body: "{\"ok\":1}".into(),
                }],
            },
        )
        .await
        .unwrap();
    let running = store
        .claim("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    store.set_pages_total(&running.lease, 2).await.unwrap();
    store
        .record_page(&running.lease, 0, "{\"p\":0}".into())
        .await
        .unwrap();
    // An interrupted submission: a blob file whose transaction never committed.
    let orphan = crate::jobs::sha256_hex(b"never committed");
    let orphan_path = dir
        .path()
        .join("blobs")
        .join(&orphan[..2])
        .join(&orphan[2..4]);
    std::fs::create_dir_all(&orphan_path).unwrap();
    std::fs::write(orphan_path.join(&orphan), b"never committed").unwrap();
    drop(store);

    let store = SqliteStore::open(dir.path(), config()).await.unwrap();
    let page = store.list(None, 10, None).await.unwrap();
    assert_eq!(page.jobs.len(), 3);
    let get = |i: usize| store.get(ids[i]);
    assert_eq!(get(0).await.unwrap().status, JobStatus::Succeeded);
    let result = store.result(ids[0]).await.unwrap().unwrap();
    assert_eq!(result.get(OutputFormat::Json), Some("{\"ok\":1}"));
    let r = get(1).await.unwrap();
    assert_eq!(
        (r.status, r.pages_done, r.pages_total),
        (JobStatus::Running, 1, Some(2))
    );
    // The lease is still fenced by its token: the same lease keeps working after a restart.
    store
        .record_page(&running.lease, 1, "{\"p\":1}".into())
        .await
        .unwrap();
    let next = store
        .claim("w2", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.job.id, ids[2]);
    assert_eq!(&next.document[..], b"doc 2");
    let swept = store.sweep_expired(T0).await.unwrap();
    assert_eq!((swept.jobs, swept.blobs), (0, 1));
    assert!(!orphan_path.join(&orphan).exists());
    store.close().await.unwrap();
}
