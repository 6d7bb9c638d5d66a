//! Test harness: a store on a manual clock, in a temp dir (SQLite) or a fresh PostgreSQL
//! database, always cleaned up (even when the test body panics).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use sqlx::Connection;

use crate::jobs::{
    ClaimedJob, Clock, JobRecord, JobSpec, JobStore, PostgresStore, SqliteStore, StoreConfig,
};
use crate::render::OutputFormat;

/// The manual clock's start (2023-11-14T22:13:20Z).
pub const T0: i64 = 1_700_000_000_000;

/// A store under test.
pub struct Harness {
    /// The store.
    pub store: Arc<dyn JobStore>,
    /// The store clock (unix ms); move it with [`Harness::advance`].
    pub clock: Arc<AtomicI64>,
    /// The config the store was opened with.
    pub config: StoreConfig,
    backend: Backend,
}

enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, db: String },
}

fn test_config(edit: impl FnOnce(&mut StoreConfig)) -> (StoreConfig, Arc<AtomicI64>) {
    let (clock, handle) = Clock::manual(T0);
    let mut config = StoreConfig {
        retention: Duration::from_secs(3600),
        retry_backoff_base: Duration::from_secs(1),
        retry_backoff_cap: Duration::from_secs(10),
        max_document_bytes: 1 << 20,
        clock,
        ..StoreConfig::default()
    };
    edit(&mut config);
    (config, handle)
}

/// A SQLite store in a fresh temp dir.
pub async fn sqlite(edit: impl FnOnce(&mut StoreConfig)) -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, clock) = test_config(edit);
    let store = SqliteStore::open(dir.path(), config.clone())
        .await
        .expect("open sqlite store");
    Harness {
        store: Arc::new(store),
        clock,
        config,
        backend: Backend::Sqlite(dir),
    }
}

/// A PostgreSQL store in a fresh database, or `None` (with a note) without
/// `FERROCR_TEST_POSTGRES_URL`.
pub async fn postgres(edit: impl FnOnce(&mut StoreConfig)) -> Option<Harness> {
    let Ok(admin_url) = std::env::var("FERROCR_TEST_POSTGRES_URL") else {
        crate::prerequisite::missing(
            "FERROCR_TEST_POSTGRES_URL is not set (no PostgreSQL to test against)",
        );
        return None;
    };
    let db = format!("ferrocr_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("connect to FERROCR_TEST_POSTGRES_URL");
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&mut admin)
        .await
        .expect("create test database");
    admin.close().await.ok();
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url.as_str(), String::new()),
    };
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    let url = format!("{base}/{db}{query}");
    let (config, clock) = test_config(edit);
    let store = PostgresStore::open(&url, config.clone())
        .await
        .expect("open postgres store");
    Some(Harness {
        store: Arc::new(store),
        clock,
        config,
        backend: Backend::Postgres { admin_url, db },
    })
}

/// Run `body` on `h`, then clean up whatever happened, then re-raise a panic.
pub async fn run(h: Harness, body: impl AsyncFnOnce(&Harness)) {
    let outcome = AssertUnwindSafe(body(&h)).catch_unwind().await;
    h.store.close().await.expect("close store");
    if let Backend::Postgres { admin_url, db } = &h.backend {
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .expect("connect for cleanup");
        sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .expect("drop test database");
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

impl Harness {
    /// Move the store clock forward.
    pub fn advance(&self, ms: i64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }

    /// The store clock.
    pub fn now(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    /// Submit `doc` with default options (JSON output), asserting a new job was created.
    pub async fn submit(&self, doc: &[u8]) -> JobRecord {
        self.submit_spec(spec(), doc).await
    }

    /// Submit with `spec`, asserting a new job was created.
    pub async fn submit_spec(&self, spec: JobSpec, doc: &[u8]) -> JobRecord {
        let out = self
            .store
            .submit(spec, Bytes::copy_from_slice(doc))
            .await
            .expect("submit");
        assert!(out.created, "expected a new job");
        out.job
    }

    /// Claim as `worker` with a 10 s lease.
    pub async fn claim(&self, worker: &str) -> Option<ClaimedJob> {
        self.store
            .claim(worker, Duration::from_secs(10))
            .await
            .expect("claim")
    }

    /// Number of stored document blobs (files for SQLite, rows for PostgreSQL).
    pub async fn blob_count(&self) -> usize {
        match &self.backend {
            Backend::Sqlite(dir) => count_files(&dir.path().join("blobs")),
            Backend::Postgres { admin_url, db } => {
                let (base, _) = admin_url.split_once('?').unwrap_or((admin_url, ""));
                let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
                let mut c = sqlx::PgConnection::connect(&format!("{base}/{db}"))
                    .await
                    .expect("connect");
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM blobs")
                    .fetch_one(&mut c)
                    .await
                    .expect("count blobs");
                n as usize
            }
        }
    }
}

fn count_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

/// Default spec: empty options, JSON output.
pub fn spec() -> JobSpec {
    JobSpec::new("{}", vec![OutputFormat::Json])
}
