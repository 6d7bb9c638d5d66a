//! [`SqliteStore`]: the embedded job store (one machine, no external service).
//!
//! `DATA_DIR/jobs.sqlite` in WAL mode with `synchronous=FULL` (a commit survives power loss) and
//! a busy timeout; document blobs content-addressed under `DATA_DIR/blobs` ([`super::blobs`]).
//! Every write that must be atomic runs in one `BEGIN IMMEDIATE` transaction, which takes
//! SQLite's single write lock up front: claims are serialised, so two workers never get the same
//! job, and blob links/unlinks done under that lock are ordered with the rows referencing them.
//!
//! Opening checks the database against the documents on disk: a blob that no row lists and no
//! submission intent explains means the database lost rows (file deleted, emptied, replaced, or
//! its `-wal` removed after a crash), and the store refuses to open rather than start empty and
//! let the sweeper delete documents it no longer knows.

mod submit;
mod sweep;

use std::collections::HashSet;
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
    /// Open (creating) the store in `data_dir` and apply pending migrations. Fails with
    /// [`JobError::StoreLost`] when the database is unreadable or does not list documents that
    /// are stored beside it.
    pub async fn open(data_dir: &Path, config: StoreConfig) -> Result<Self, JobError> {
        std::fs::create_dir_all(data_dir)?;
        let blobs = Arc::new(BlobDir::open(data_dir.join("blobs"))?);
        let db = data_dir.join("jobs.sqlite");
        let pool = Self::connect(&db).await.map_err(|e| {
            JobError::StoreLost(format!(
                "the job database {} cannot be opened ({e}); restore it from backup or move the \
                 data directory aside to start empty",
                db.display()
            ))
        })?;
        let listed: Vec<(String,)> = sqlx::query_as("SELECT sha256 FROM blobs")
            .fetch_all(&pool)
            .await?;
        let listed: HashSet<String> = listed.into_iter().map(|(s,)| s).collect();
        let dir = blobs.clone();
        let unlisted = blocking(move || dir.unlisted(&listed)).await?;
        if let Some(first) = unlisted.first() {
            pool.close().await;
            return Err(JobError::StoreLost(format!(
                "{} holds {} stored document(s) (e.g. {first}) that the job database {} does not \
                 list: the database was deleted, emptied, replaced or rolled back (a removed \
                 jobs.sqlite-wal). Nothing was deleted. Restore jobs.sqlite and jobs.sqlite-wal \
                 from backup, or move {} aside to start with an empty store",
                data_dir.join("blobs").display(),
                unlisted.len(),
                db.display(),
                data_dir.display()
            )));
        }
        Ok(SqliteStore {
            pool,
            blobs,
            config,
        })
    }

    /// Connect to the database file `db` (creating it) and apply pending migrations.
    async fn connect(db: &Path) -> Result<SqlitePool, JobError> {
        let options = SqliteConnectOptions::new()
            .filename(db)
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
        Ok(pool)
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
