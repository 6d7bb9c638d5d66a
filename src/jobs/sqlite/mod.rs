//! [`SqliteStore`]: the embedded job store (one machine, no external service).
//!
//! `DATA_DIR/jobs.sqlite` in WAL mode with `synchronous=FULL` (a commit survives power loss) and
//! a busy timeout; document blobs content-addressed under `DATA_DIR/blobs` ([`super::blobs`]).
//! Every write that must be atomic runs in one `BEGIN IMMEDIATE` transaction, which takes
//! SQLite's single write lock up front: claims are serialised, so two workers never get the same
//! job, and blob renames/unlinks done under that lock are ordered with the rows referencing them.

mod submit;
mod sweep;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::blobs::{BlobDir, blocking};
use super::{JobError, StoreConfig};

/// The embedded SQLite job store. Cheap to clone (shared pool).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    blobs: Arc<BlobDir>,
    config: StoreConfig,
}

type Tx = Transaction<'static, Sqlite>;

impl SqliteStore {
    /// Open (creating) the store in `data_dir` and apply pending migrations.
    pub async fn open(data_dir: &Path, config: StoreConfig) -> Result<Self, JobError> {
        std::fs::create_dir_all(data_dir)?;
        let blobs = BlobDir::open(data_dir.join("blobs"))?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join("jobs.sqlite"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore {
            pool,
            blobs: Arc::new(blobs),
            config,
        })
    }

    fn now(&self) -> i64 {
        self.config.clock.now_ms()
    }

    /// Begin a write transaction holding SQLite's write lock from the start.
    async fn write_tx(&self) -> Result<Tx, JobError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn read_blob(&self, sha: &str) -> Result<Bytes, JobError> {
        let blobs = self.blobs.clone();
        let sha = sha.to_string();
        match blocking(move || blobs.read(&sha)).await {
            Ok(v) => Ok(Bytes::from(v)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(JobError::Corrupt("document blob missing".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    store_reads!(Sqlite, "");
    store_leases!(Sqlite, "", "");
}

forward_job_store!(SqliteStore);
