//! `ferrocr serve`: the HTTP API, the dynamic batcher and (by default) job workers in one process.
//! Settings: defaults < `--config FILE` (TOML) < `FERROCR_<KEY>` variables < the flags below
//! (every key is listed in docs/CONFIG.md).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::compute::device::DevicePreference;
use crate::config::ServeConfig;
use crate::metrics::Metrics;
use crate::server::{build_state, listen, router};
use crate::worker::{self, JobsState};
use std::time::Duration;

/// Arguments of `ferrocr serve` (each overrides the config file and environment).
#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// Address to listen on [default 0.0.0.0:8080]. `worker` opens it only when given, for
    /// /healthz, /readyz and /metrics.
    #[arg(long)]
    pub listen: Option<String>,
    /// TOML settings file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// PEM certificate chain (serve TLS with ALPN h2/http1.1; needs --tls-key).
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// Accepted bearer API key on /v1/* (repeatable).
    #[arg(long = "api-key")]
    pub api_keys: Vec<String>,
    /// File with one API key per line.
    #[arg(long)]
    pub api_keys_file: Option<PathBuf>,
    /// Synchronous requests in flight before 503 [default 256].
    #[arg(long)]
    pub queue_capacity: Option<usize>,
    /// Most lines per recognition batch [default 256].
    #[arg(long)]
    pub max_batch_lines: Option<usize>,
    /// Longest a batch waits to fill, ms [default 5].
    #[arg(long)]
    pub max_queue_delay_ms: Option<u64>,
    /// Compute device [default auto].
    #[arg(long, value_enum)]
    pub device: Option<DevicePreference>,
    /// Model directory [default: the embedded model].
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Data directory of the embedded job store [default ./ferrocr-data].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Job store URL (postgres://...) [default: SQLite in --data-dir].
    #[arg(long)]
    pub store: Option<String>,
    /// Job workers in this process [default 1; 0 = API only].
    #[arg(long)]
    pub workers: Option<usize>,
    /// Decode without the model's lexicon (no dictionary correction of out-of-vocabulary
    /// words), e.g. for documents in other languages.
    #[arg(long)]
    pub no_lexicon: bool,
    /// Give lines the model is unsure of a second look from other framings of them (slower;
    /// see `ferrocr ocr --help`).
    #[arg(long)]
    pub second_look: bool,
    /// Decode lines greedily instead of by CTC prefix beam search (a little faster, a little
    /// less accurate; see `ferrocr ocr --help`).
    #[arg(long)]
    pub greedy: bool,
}

fn put<T: serde::Serialize>(t: &mut toml::Table, key: &str, v: &Option<T>) -> anyhow::Result<()> {
    if let Some(v) = v {
        t.insert(key.to_string(), toml::Value::try_from(v)?);
    }
    Ok(())
}

impl ServeArgs {
    /// The flags actually given, as a TOML table over the config file and environment.
    pub fn flags(&self) -> anyhow::Result<toml::Table> {
        let mut t = toml::Table::new();
        put(&mut t, "listen", &self.listen)?;
        put(&mut t, "tls_cert", &self.tls_cert)?;
        put(&mut t, "tls_key", &self.tls_key)?;
        if !self.api_keys.is_empty() {
            put(&mut t, "api_keys", &Some(self.api_keys.clone()))?;
        }
        put(&mut t, "api_keys_file", &self.api_keys_file)?;
        put(&mut t, "queue_capacity", &self.queue_capacity)?;
        put(&mut t, "max_batch_lines", &self.max_batch_lines)?;
        put(&mut t, "max_queue_delay_ms", &self.max_queue_delay_ms)?;
        put(&mut t, "device", &self.device)?;
        put(&mut t, "model", &self.model)?;
        put(&mut t, "data_dir", &self.data_dir)?;
        put(&mut t, "store", &self.store)?;
        put(&mut t, "workers", &self.workers)?;
        if self.no_lexicon {
            put(&mut t, "no_lexicon", &Some(true))?;
        }
        if self.second_look {
            put(&mut t, "second_look", &Some(true))?;
        }
        if self.greedy {
            put(&mut t, "greedy", &Some(true))?;
        }
        Ok(t)
    }

    /// The effective settings.
    pub fn load(&self) -> anyhow::Result<ServeConfig> {
        Ok(ServeConfig::load(
            self.config.as_deref(),
            |k| std::env::var(k).ok(),
            self.flags()?,
        )?)
    }
}

/// Run `ferrocr serve`.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = args.load()?;
    runtime()?.block_on(async move {
        let metrics = Arc::new(Metrics::new());
        let jobs = Arc::new(JobsState::open(&config).await?);
        let listen = config.listen.clone();
        let tls = config.tls_cert.is_some();
        let (cfg, m, j) = (config.clone(), metrics.clone(), jobs.clone());
        let state = tokio::task::spawn_blocking(move || build_state(cfg, m, Some(j)))
            .await
            .context("start-up panicked")??;
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let background = worker::start(jobs.clone(), state.batcher.clone(), &config, metrics);
        let scheme = if tls { "https" } else { "http" };
        // Tests and scripts read this line to find an ephemeral port.
        println!("ferrocr: listening on {scheme}://{addr}");
        tracing::info!(%addr, tls, workers = config.workers, "listening");
        crate::server::trim::spawn_idle_trim(state.metrics.clone());
        let app = router(state.clone());
        listen::serve(state, app, listener, listen::shutdown_signal()).await?;
        background
            .shutdown(Duration::from_millis(config.shutdown_grace_ms))
            .await;
        let _ = jobs.store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// The multi-threaded async runtime of `serve` and `worker`.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ferrocr-async")
        .build()
        .context("cannot start the async runtime")
}
