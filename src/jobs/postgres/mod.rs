//! [`PostgresStore`]: the shared job store of a farm (N API nodes + M workers on one PostgreSQL).
//!
//! Same schema semantics as SQLite (`migrations/postgres`), with document blobs stored in the
//! `blobs` table as `bytea` keyed by sha256, so a farm needs nothing besides PostgreSQL (no shared
//! filesystem, no object store). Claims use `FOR UPDATE SKIP LOCKED`, so concurrent workers take
//! different jobs without waiting on each other; worker writes lock the job row (`FOR UPDATE`)
//! for the fence check, so a re-claim and a stale write cannot interleave.

mod submit;

use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use super::{JobError, StoreConfig};

/// The PostgreSQL job store. Cheap to clone (shared pool).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    config: StoreConfig,
}

type Tx = Transaction<'static, Postgres>;

impl PostgresStore {
    /// Connect to `url` (`postgres://…`) and apply pending migrations.
    pub async fn open(url: &str, config: StoreConfig) -> Result<Self, JobError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool, config })
    }

    fn now(&self) -> i64 {
        self.config.clock.now_ms()
    }

    /// Begin a transaction (READ COMMITTED; rows are locked explicitly where it matters).
    async fn write_tx(&self) -> Result<Tx, JobError> {
        Ok(self.pool.begin().await?)
    }

    async fn read_blob(&self, sha: &str) -> Result<Bytes, JobError> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT data FROM blobs WHERE sha256 = $1")
            .bind(sha)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|(d,)| Bytes::from(d))
            .ok_or_else(|| JobError::Corrupt("document blob missing".into()))
    }

    store_reads!(Postgres, " FOR UPDATE");
    store_leases!(Postgres, " FOR UPDATE", " FOR UPDATE SKIP LOCKED");
}

forward_job_store!(PostgresStore);
