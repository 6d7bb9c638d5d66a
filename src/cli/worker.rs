//! `ferrocr worker`: job workers only (no OCR API), for a farm of N API nodes and M GPU worker
//! nodes sharing one PostgreSQL store. Same settings as `serve` (file, `FERROCR_*`, flags).
//!
//! With `--listen ADDR` a worker also serves `/healthz`, `/readyz` (model warm, store reachable,
//! no failing stage) and `/metrics` (pages, lines, batches, stage times, leases, job outcomes,
//! process) over plain HTTP, for health checks and scraping. Flags of the API alone (`--tls-*`,
//! `--api-key`, `--api-keys-file`) are refused: a worker has no API to protect.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::get;

use super::serve::{ServeArgs, runtime};
use crate::metrics::Metrics;
use crate::server::{AppState, build_state, listen, ops};
use crate::worker::{self, JobsState};

/// Refuses the `serve` flags that do nothing on a worker, naming them.
fn refuse_api_flags(args: &ServeArgs) -> anyhow::Result<()> {
    let mut given = Vec::new();
    if args.tls_cert.is_some() {
        given.push("--tls-cert");
    }
    if args.tls_key.is_some() {
        given.push("--tls-key");
    }
    if !args.api_keys.is_empty() {
        given.push("--api-key");
    }
    if args.api_keys_file.is_some() {
        given.push("--api-keys-file");
    }
    if !given.is_empty() {
        anyhow::bail!(
            "{} do not apply to `ferrocr worker`: it serves no OCR API (its --listen address \
             answers /healthz, /readyz and /metrics only, over plain HTTP)",
            given.join(", ")
        );
    }
    Ok(())
}

/// A line on stdout for whoever started the worker; a closed stdout (the reader went away) is
/// no reason to stop working, so write errors are ignored.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The worker's own routes: health, readiness and metrics.
fn ops_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .with_state(state)
}

/// Run `ferrocr worker` until SIGTERM/SIGINT, then let running jobs finish within the grace
/// period.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    refuse_api_flags(&args)?;
    let serve_ops = args.listen.is_some();
    let mut config = args.load()?;
    if config.workers == 0 {
        config.workers = 1;
    }
    runtime()?.block_on(async move {
        let metrics = Arc::new(Metrics::new());
        let jobs = Arc::new(JobsState::open(&config).await?);
        let (cfg, m, j) = (config.clone(), metrics.clone(), jobs.clone());
        let state = tokio::task::spawn_blocking(move || build_state(cfg, m, Some(j)))
            .await
            .context("start-up panicked")??;
        let background = worker::start(jobs.clone(), state.batcher.clone(), &config, metrics);
        crate::server::trim::spawn_idle_trim(state.metrics.clone());
        let (stop_ops, ops_stopped) = tokio::sync::oneshot::channel::<()>();
        let ops_server = if serve_ops {
            let listener = tokio::net::TcpListener::bind(&config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?;
            say(&format!(
                "ferrocr: worker health and metrics on http://{}",
                listener.local_addr()?
            ));
            let app = ops_router(state.clone());
            Some(tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = ops_stopped.await;
                    })
                    .await;
            }))
        } else {
            None
        };
        say(&format!(
            "ferrocr: worker running ({} workers)",
            config.workers
        ));
        listen::shutdown_signal().await;
        state
            .draining
            .store(true, std::sync::atomic::Ordering::Release);
        background
            .shutdown(Duration::from_millis(config.shutdown_grace_ms))
            .await;
        let _ = stop_ops.send(());
        if let Some(server) = ops_server {
            let _ = server.await;
        }
        let _ = jobs.store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_flags_are_refused_by_name() {
        let args = ServeArgs {
            tls_cert: Some("c.pem".into()),
            api_keys: vec!["k".into()],
            ..Default::default()
        };
        let err = refuse_api_flags(&args).unwrap_err().to_string();
        assert!(
            err.contains("--tls-cert") && err.contains("--api-key"),
            "{err}"
        );
        assert!(refuse_api_flags(&ServeArgs::default()).is_ok());
    }
}
