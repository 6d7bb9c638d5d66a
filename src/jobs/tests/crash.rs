//! SQLite crash consistency: a store dropped without closing (no checkpoint, no orderly pool
//! shutdown) reopens with every committed change intact, and a blob left by a submission that
//! died before its commit (its intent still in `blobs/tmp/`) is swept. The loss cases (database
//! deleted, emptied, rolled back by a removed WAL, replaced by garbage) refuse to open and keep
//! every document.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;

use super::harness::{T0, spec};
use crate::jobs::{
    Clock, JobError, JobResult, JobStatus, JobStore, RenderedOutput, SqliteStore, StoreConfig,
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
    // An interrupted submission: a blob file linked into place whose transaction never
    // committed, its intent (temp file) still there.
    let orphan = crate::jobs::sha256_hex(b"never committed");
    let orphan_path = dir
        .path()
        .join("blobs")
        .join(&orphan[..2])
        .join(&orphan[2..4]);
    std::fs::create_dir_all(&orphan_path).unwrap();
    std::fs::write(orphan_path.join(&orphan), b"never committed").unwrap();
    let intent = dir.path().join("blobs/tmp").join(format!("{orphan}.x"));
    std::fs::write(&intent, b"never committed").unwrap();
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

/// Submit `n` documents (`"doc {tag}{i}"`) to the store in `dir`, then close it.
async fn fill(dir: &Path, tag: &str, n: usize) {
    let store = SqliteStore::open(dir, config()).await.unwrap();
    for i in 0..n {
        store
            .submit(spec(), Bytes::from(format!("doc {tag}{i}")))
            .await
            .unwrap();
    }
    store.close().await.unwrap();
    // sqlx finishes closing SQLite connections on their own threads after `close` returns; the
    // last one checkpoints and deletes the WAL. Wait for that, as a stopped server would have,
    // so the file surgery in the tests is not undone by a late checkpoint.
    // (Connections closing at the same moment may each leave the WAL to the other; it then
    // stays, as after a crash, and is read by the next open.)
    let wal = dir.join("jobs.sqlite-wal");
    let t = std::time::Instant::now();
    while wal.exists() && t.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The number of document blob files under `dir/blobs`.
fn blob_files(dir: &Path) -> usize {
    walk(&dir.join("blobs"))
}

fn walk(p: &Path) -> usize {
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != "tmp")
        .map(|e| {
            if e.file_type().unwrap().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}

/// Open must fail with [`JobError::StoreLost`] naming the database, and keep every document.
async fn assert_refused(dir: &Path, docs: usize) {
    let err = SqliteStore::open(dir, config()).await.unwrap_err();
    assert!(matches!(err, JobError::StoreLost(_)), "{err}");
    assert!(err.to_string().contains("jobs.sqlite"), "{err}");
    assert_eq!(blob_files(dir), docs);
    // Still refused on the next try (the failed open did not make the loss look normal).
    assert!(matches!(
        SqliteStore::open(dir, config()).await,
        Err(JobError::StoreLost(_))
    ));
    assert_eq!(blob_files(dir), docs);
}

/// Copy the files under `from` into `to` (created).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A data directory holding the documents of a filled store and, as its database, `db` (none
/// for `None`): the loss is staged in a directory no connection of the filled store ever had
/// open, so no late checkpoint of a closing connection can undo it.
async fn lost(db: Option<&[u8]>) -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    fill(src.path(), "a", 3).await;
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&src.path().join("blobs"), &dir.path().join("blobs"));
    if let Some(bytes) = db {
        std::fs::write(dir.path().join("jobs.sqlite"), bytes).unwrap();
    }
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_deleted_database_refuses_to_open() {
    let dir = lost(None).await;
    assert_refused(dir.path(), 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_emptied_database_refuses_to_open() {
    let dir = lost(Some(b"")).await;
    assert_refused(dir.path(), 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_garbage_database_refuses_to_open() {
    let dir = lost(Some(&[0x5a_u8; 8192])).await;
    let err = SqliteStore::open(dir.path(), config()).await.unwrap_err();
    assert!(matches!(err, JobError::StoreLost(_)), "{err}");
    assert!(err.to_string().contains("cannot be opened"), "{err}");
    assert_eq!(blob_files(dir.path()), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rolled_back_database_refuses_to_open() {
    // The database as of an earlier checkpoint (what is left when the WAL holding the later
    // commits is removed after a crash) beside the documents of the later submissions.
    let early = tempfile::tempdir().unwrap();
    fill(early.path(), "a", 2).await;
    let later = tempfile::tempdir().unwrap();
    fill(later.path(), "b", 2).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        early.path().join("jobs.sqlite"),
        dir.path().join("jobs.sqlite"),
    )
    .unwrap();
    copy_tree(&early.path().join("blobs"), &dir.path().join("blobs"));
    copy_tree(&later.path().join("blobs"), &dir.path().join("blobs"));
    assert_refused(dir.path(), 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_fresh_and_reopened_stores_open() {
    // The check does not refuse a healthy store: new, reopened, and after a sweep that removed
    // expired documents.
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), "a", 2).await;
    fill(dir.path(), "b", 1).await;
    let store = SqliteStore::open(dir.path(), config()).await.unwrap();
    let swept = store.sweep_expired(T0).await.unwrap();
    assert_eq!((swept.jobs, swept.blobs), (0, 0));
    store.close().await.unwrap();
    assert_eq!(blob_files(dir.path()), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sweep_never_deletes_unlisted_documents() {
    // A document file the database does not list and no intent explains (the database lost it
    // while the server ran): the sweeper leaves it in place.
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), config()).await.unwrap();
    let lost = crate::jobs::sha256_hex(b"lost row");
    let at = dir.path().join("blobs").join(&lost[..2]).join(&lost[2..4]);
    std::fs::create_dir_all(&at).unwrap();
    std::fs::write(at.join(&lost), b"lost row").unwrap();
    let swept = store.sweep_expired(T0 + 10 * 86_400_000).await.unwrap();
    assert_eq!(swept.blobs, 0);
    assert!(at.join(&lost).exists());
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_job_with_a_lost_document_fails_and_the_next_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), config()).await.unwrap();
    let lost = store
        .submit(spec(), Bytes::from_static(b"lost doc"))
        .await
        .unwrap()
        .job;
    let fine = store
        .submit(spec(), Bytes::from_static(b"fine doc"))
        .await
        .unwrap()
        .job;
    let sha = crate::jobs::sha256_hex(b"lost doc");
    std::fs::remove_file(
        dir.path()
            .join("blobs")
            .join(&sha[..2])
            .join(&sha[2..4])
            .join(&sha),
    )
    .unwrap();
    let next = store
        .claim("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.job.id, fine.id);
    let failed = store.get(lost.id).await.unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("blob missing"),
        "{:?}",
        failed.last_error
    );
    assert!(
        store
            .claim("w", Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    store.close().await.unwrap();
}
