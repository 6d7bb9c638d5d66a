//! `ferrocr load`: drive a ferrocr server with documents and report throughput and latency (see
//! [`crate::loadgen`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::loadgen::{Bounds, Mode, Pacing, Target, load_inputs, run as run_load};

/// Arguments of `ferrocr load`.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["images", "file"])))]
#[command(group(clap::ArgGroup::new("pace").args(["concurrency", "rate"])))]
#[command(group(clap::ArgGroup::new("bound").required(true).multiple(true).args(["duration", "requests"])))]
pub struct LoadArgs {
    /// Server base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: String,
    /// Send every image/PDF file of this directory, round robin.
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Send this one file.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// sync: POST /v1/ocr; jobs: POST /v1/jobs and poll to completion.
    #[arg(long, value_enum, default_value_t = Mode::Sync)]
    pub mode: Mode,
    /// Use HTTP/2 (h2c with prior knowledge on http://, ALPN on https://).
    #[arg(long, conflicts_with = "http1")]
    pub http2: bool,
    /// Use HTTP/1.1 (the default).
    #[arg(long)]
    pub http1: bool,
    /// Client connections (HTTP/2 multiplexes the requests over them).
    #[arg(long, default_value_t = 1)]
    pub connections: usize,
    /// Closed loop: requests in flight at once (default 8).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Open loop: requests per second, latency measured from the intended send time.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Stop after this long, e.g. 30s, 2m, 500ms.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many requests.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Bearer API key.
    #[arg(long, env = "FERROCR_API_KEY")]
    pub api_key: Option<String>,
    /// Per-request timeout (jobs: submit to result), e.g. 60s.
    #[arg(long, value_parser = parse_duration, default_value = "120s")]
    pub timeout: Duration,
    /// No live progress line.
    #[arg(long)]
    pub quiet: bool,
    /// Closed loop: retry at once after a 503/429 instead of waiting its `Retry-After` (a client
    /// that ignores it; for testing the server's overload defences).
    #[arg(long)]
    pub ignore_retry_after: bool,
}

/// Parse `500ms`, `30s`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let v: f64 = num.parse().map_err(|_| format!("not a duration: {s}"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("unknown unit in {s} (ms, s, m, h)")),
    };
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(format!("duration must be positive: {s}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Run `ferrocr load`. Exit code 1 when some request failed.
pub fn run(args: LoadArgs) -> anyhow::Result<ExitCode> {
    let inputs = load_inputs(args.images.as_deref(), args.file.as_deref())?;
    let pacing = match (args.concurrency, args.rate) {
        (_, Some(rate)) => Pacing::Open { rate },
        (c, None) => Pacing::Closed {
            concurrency: c.unwrap_or(8),
            honor_retry_after: !args.ignore_retry_after,
        },
    };
    let bounds = Bounds {
        duration: args.duration,
        requests: args.requests,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(async {
        let target = Arc::new(Target::new(
            &args.url,
            inputs,
            args.mode,
            args.http2,
            args.connections,
            args.api_key.clone(),
            args.timeout,
        )?);
        run_load(target, pacing, bounds, !args.quiet).await
    })?;
    print!("{}", report.summary());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if report.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
