//! Store configuration and the clock the store reads time from.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the store reads "now" (unix ms). The system clock in production; tests use
/// [`Clock::manual`] to expire leases and backoffs without sleeping.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0)
        }))
    }

    /// A clock that stands still until the returned handle moves it.
    pub fn manual(start_ms: i64) -> (Self, Arc<AtomicI64>) {
        let t = Arc::new(AtomicI64::new(start_ms));
        let read = t.clone();
        (Clock(Arc::new(move || read.load(Ordering::SeqCst))), t)
    }

    /// Current time in unix ms.
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock(now={})", self.now_ms())
    }
}

/// Behaviour knobs shared by both store backends.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Answer a submission whose document bytes and options equal a stored succeeded job's
    /// from that job's result (a new job, born `succeeded`) instead of running OCR again.
    pub dedupe: bool,
    /// How long results, blobs and records of terminal jobs are kept.
    pub retention: Duration,
    /// Attempts per job unless the spec says otherwise.
    pub default_max_attempts: u32,
    /// Delay before the first retry of a retryable failure; doubles per attempt.
    pub retry_backoff_base: Duration,
    /// Upper bound of the retry delay.
    pub retry_backoff_cap: Duration,
    /// Largest document accepted by `submit`, in bytes.
    pub max_document_bytes: usize,
    /// The time source.
    pub clock: Clock,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            dedupe: true,
            retention: Duration::from_secs(7 * 24 * 3600),
            default_max_attempts: 3,
            retry_backoff_base: Duration::from_secs(2),
            retry_backoff_cap: Duration::from_secs(300),
            max_document_bytes: 256 << 20,
            clock: Clock::system(),
        }
    }
}

impl StoreConfig {
    /// Retry delay in ms after `attempts` claims: `base * 2^(attempts-1)`, capped.
    pub fn retry_delay_ms(&self, attempts: i64) -> i64 {
        backoff_ms(self.retry_backoff_base, self.retry_backoff_cap, attempts)
    }

    /// `retention` in ms.
    pub fn retention_ms(&self) -> i64 {
        self.retention.as_millis().min(i64::MAX as u128) as i64
    }
}

/// Exponential backoff: `base * 2^(attempt-1)` ms, at most `cap` (attempt counts from 1).
pub fn backoff_ms(base: Duration, cap: Duration, attempt: i64) -> i64 {
    let shift = attempt.clamp(1, 40) - 1;
    let ms = (base.as_millis() as i64).saturating_mul(1i64 << shift);
    ms.min(cap.as_millis() as i64)
}
