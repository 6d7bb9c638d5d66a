//! Load-test bookkeeping: an HDR latency histogram, counts of pages, requests and errors by
//! kind, and the JSON report (`requests`, `errors`, `pages_per_s`, `requests_per_s`,
//! `latency_ms` with `p50`, `p90`, `p99`, `p999`, `max`).

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// What one exercised request came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Answered correctly, with this many pages.
    Ok {
        /// Pages in the answer.
        pages: u64,
    },
    /// Failed; the kind names why (e.g. `http_503`, `connect`, `empty_body`, `job_failed`).
    Error {
        /// Error kind.
        kind: String,
        /// The server's `Retry-After`, for a 503 or 429.
        retry_after: Option<std::time::Duration>,
    },
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// The result of a load test.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LoadReport {
    /// Requests completed (answered or failed).
    pub requests: u64,
    /// Requests answered correctly.
    pub ok: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Failures by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Pages in the correct answers.
    pub pages: u64,
    /// Wall time of the run, seconds.
    pub duration_s: f64,
    /// Correctly answered pages per second.
    pub pages_per_s: f64,
    /// Completed requests per second.
    pub requests_per_s: f64,
    /// Latency of correct answers, ms.
    pub latency_ms: Latency,
}

/// Collects outcomes while the test runs.
pub struct Recorder {
    hist: Histogram<u64>,
    ok: u64,
    pages: u64,
    errors: BTreeMap<String, u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// An empty recorder (latencies from 1 µs to 1 h).
    pub fn new() -> Self {
        Recorder {
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid HDR bounds"),
            ok: 0,
            pages: 0,
            errors: BTreeMap::new(),
        }
    }

    /// Record one outcome and its latency.
    pub fn record(&mut self, latency: Duration, outcome: Outcome) {
        match outcome {
            Outcome::Ok { pages } => {
                self.ok += 1;
                self.pages += pages;
                let us = (latency.as_micros() as u64).clamp(1, 3_600_000_000);
                let _ = self.hist.record(us);
            }
            Outcome::Error { kind, .. } => *self.errors.entry(kind).or_default() += 1,
        }
    }

    fn errors(&self) -> u64 {
        self.errors.values().sum()
    }

    /// One status line for the live display.
    pub fn progress_line(&self, elapsed: Duration) -> String {
        let s = elapsed.as_secs_f64().max(1e-9);
        format!(
            "{:>6.1}s  ok {}  errors {}  {:.1} req/s  {:.1} pages/s  p50 {:.0} ms  p99 {:.0} ms ",
            s,
            self.ok,
            self.errors(),
            (self.ok + self.errors()) as f64 / s,
            self.pages as f64 / s,
            self.hist.value_at_quantile(0.5) as f64 / 1000.0,
            self.hist.value_at_quantile(0.99) as f64 / 1000.0,
        )
    }

    /// The final report.
    pub fn report(&self, elapsed: Duration) -> LoadReport {
        let s = elapsed.as_secs_f64().max(1e-9);
        let ms = |q: f64| self.hist.value_at_quantile(q) as f64 / 1000.0;
        let requests = self.ok + self.errors();
        LoadReport {
            requests,
            ok: self.ok,
            errors: self.errors(),
            errors_by_kind: self.errors.clone(),
            pages: self.pages,
            duration_s: s,
            pages_per_s: self.pages as f64 / s,
            requests_per_s: requests as f64 / s,
            latency_ms: Latency {
                p50: ms(0.5),
                p90: ms(0.9),
                p99: ms(0.99),
                p999: ms(0.999),
                max: self.hist.max() as f64 / 1000.0,
                mean: self.hist.mean() / 1000.0,
            },
        }
    }
}

impl LoadReport {
    /// Human-readable summary.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "requests {} (ok {}, errors {}) in {:.2} s\n\
             throughput {:.2} req/s, {:.2} pages/s ({} pages)\n\
             latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  mean {:.1}\n",
            self.requests,
            self.ok,
            self.errors,
            self.duration_s,
            self.requests_per_s,
            self.pages_per_s,
            self.pages,
            self.latency_ms.p50,
            self.latency_ms.p90,
            self.latency_ms.p99,
            self.latency_ms.p999,
            self.latency_ms.max,
            self.latency_ms.mean,
        );
        for (k, n) in &self.errors_by_kind {
            s.push_str(&format!("errors {k}: {n}\n"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_counts_and_percentiles() {
        let mut r = Recorder::new();
        for i in 1..=100u64 {
            r.record(Duration::from_millis(i), Outcome::Ok { pages: 2 });
        }
        r.record(
            Duration::from_millis(1),
            Outcome::Error {
                kind: "http_503".into(),
                retry_after: None,
            },
        );
        let rep = r.report(Duration::from_secs(10));
        assert_eq!(rep.requests, 101);
        assert_eq!(rep.errors, 1);
        assert_eq!(rep.pages, 200);
        assert!((rep.pages_per_s - 20.0).abs() < 1e-9);
        assert!(
            (rep.latency_ms.p50 - 50.0).abs() < 0.5,
            "{}",
            rep.latency_ms.p50
        );
        assert!((rep.latency_ms.max - 100.0).abs() < 0.5);
        let json = serde_json::to_value(&rep).unwrap();
        for k in ["requests", "errors", "pages_per_s", "requests_per_s"] {
            assert!(json.get(k).is_some(), "{k}");
        }
        for k in ["p50", "p90", "p99", "p999", "max"] {
            assert!(json["latency_ms"].get(k).is_some(), "{k}");
        }
    }
}
