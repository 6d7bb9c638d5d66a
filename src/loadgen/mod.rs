//! `ferrocr load`: a load generator for ferrocr servers (and a harness users can rerun).
//!
//! Closed loop (`concurrency` workers, each sending its next request when the previous one is
//! answered) or open loop (`rate` requests per second on a fixed schedule; latency is measured
//! from the *intended* send time, so a slow server cannot hide its queueing by slowing the
//! sender: no coordinated omission). Every response is checked (status, non-empty body; in jobs
//! mode the job is polled to completion and its result fetched). Latencies go into an HDR
//! histogram (microseconds, 3 significant digits).

pub mod report;
pub mod target;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::{OcrError, Result};
pub use report::{LoadReport, Outcome, Recorder};
pub use target::{Input, Mode, Target, load_inputs};

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Fixed number of workers, each waiting for its answer.
    Closed {
        /// Workers.
        concurrency: usize,
        /// After a 503/429 with `Retry-After`, the worker waits that long (at most 60 s) before
        /// its next request, as a well-behaved client does; `false` retries at once (a client
        /// that ignores it, e.g. to test the server's own defences).
        honor_retry_after: bool,
    },
    /// Fixed arrival rate, requests per second.
    Open {
        /// Requests per second.
        rate: f64,
    },
}

/// When the run ends (whichever comes first when both are set).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Stop sending after this long.
    pub duration: Option<Duration>,
    /// Stop after this many requests.
    pub requests: Option<u64>,
}

/// Run a load test and return its report.
pub async fn run(
    target: Arc<Target>,
    pacing: Pacing,
    bounds: Bounds,
    progress: bool,
) -> Result<LoadReport> {
    if bounds.duration.is_none() && bounds.requests.is_none() {
        return Err(OcrError::bad_param(
            "--duration/--requests",
            "give at least one bound",
        ));
    }
    let recorder = Arc::new(Mutex::new(Recorder::new()));
    let issued = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let end = bounds.duration.map(|d| started + d);
    let take = {
        let issued = issued.clone();
        let stop = stop.clone();
        move || -> Option<u64> {
            if stop.load(Ordering::Relaxed) || end.is_some_and(|e| Instant::now() >= e) {
                return None;
            }
            let n = issued.fetch_add(1, Ordering::Relaxed);
            match bounds.requests {
                Some(max) if n >= max => None,
                _ => Some(n),
            }
        }
    };
    let ticker = progress.then(|| {
        let rec = recorder.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let line = rec.lock().progress_line(started.elapsed());
                eprint!("\r{line}");
            }
        })
    });
    let mut tasks = Vec::new();
    match pacing {
        Pacing::Closed {
            concurrency,
            honor_retry_after,
        } => {
            for _ in 0..concurrency.max(1) {
                let (target, rec, take) = (target.clone(), recorder.clone(), take.clone());
                tasks.push(tokio::spawn(async move {
                    while let Some(n) = take() {
                        let t = Instant::now();
                        let outcome = target.exercise(n).await;
                        let pause = match &outcome {
                            Outcome::Error {
                                retry_after: Some(d),
                                ..
                            } if honor_retry_after => Some((*d).min(Duration::from_secs(60))),
                            _ => None,
                        };
                        rec.lock().record(t.elapsed(), outcome);
                        if let Some(d) = pause {
                            tokio::time::sleep(d).await;
                        }
                    }
                }));
            }
        }
        Pacing::Open { rate } => {
            if !(rate > 0.0 && rate.is_finite()) {
                return Err(OcrError::bad_param("--rate", "must be a positive number"));
            }
            let interval = Duration::from_secs_f64(1.0 / rate);
            let mut k = 0u32;
            while let Some(n) = take() {
                let intended = started + interval * k;
                k += 1;
                tokio::time::sleep_until(intended.into()).await;
                let (target, rec) = (target.clone(), recorder.clone());
                tasks.push(tokio::spawn(async move {
                    let outcome = target.exercise(n).await;
                    // From the intended send time: a late sender counts against the server.
                    rec.lock().record(intended.elapsed(), outcome);
                }));
            }
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = ticker {
        t.abort();
        eprintln!();
    }
    let rec = recorder.lock();
    Ok(rec.report(started.elapsed()))
}
