//! `ferrocr worker`: job workers only (no HTTP API), for a farm of N API nodes and M GPU worker
//! nodes sharing one PostgreSQL store. Same settings as `serve` (file, `FERROCR_*`, flags).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::serve::{ServeArgs, runtime};
use crate::metrics::Metrics;
use crate::server::{build_state, listen};
use crate::worker::{self, JobsState};

/// Run `ferrocr worker` until SIGTERM/SIGINT, then let running jobs finish within the grace
/// period.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.load()?;
    if config.workers == 0 {
        config.workers = 1;
    }
    runtime()?.block_on(async move {
        let metrics = Arc::new(Metrics::new());
        let jobs = Arc::new(JobsState::open(&config).await?);
        let (cfg, m) = (config.clone(), metrics.clone());
        let state = tokio::task::spawn_blocking(move || build_state(cfg, m, None))
            .await
            .context("start-up panicked")??;
        let background = worker::start(jobs.clone(), state.batcher.clone(), &config, metrics);
        crate::server::trim::spawn_idle_trim(state.metrics.clone());
        println!("ferrocr: worker running ({} workers)", config.workers);
        listen::shutdown_signal().await;
        background
            .shutdown(Duration::from_millis(config.shutdown_grace_ms))
            .await;
        let _ = jobs.store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}
