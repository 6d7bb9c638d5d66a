//! Admission control: how many requests may be in flight overall (beyond it: 503 with
//! `Retry-After`) and optionally per client (beyond it: 429). A permit is held by the request
//! until its response is produced, so memory stays bounded however many clients connect.
//!
//! **Queue by deadline.** Admitting more work than the server can finish before its deadline
//! only wastes it: under a 40x overload the queue fills with requests that all time out, and
//! goodput falls to nothing. So the gate also measures the server's completion rate over its
//! last [`RATE_WINDOW`] completions, counting only the time during which other admitted work
//! remained (idle gaps excluded), and admits no more requests than that rate finishes within the
//! expected wait: `rate * min(max_queue_wait, 0.8 * deadline)`, never fewer than
//! [`BUSY_IN_FLIGHT`], never more than `queue_capacity`. Under light load the rate is the
//! arrival rate and the limit stays above what is in flight (by Little's law, as long as a
//! request spends less than the wait in the server); refusals begin only when requests would
//! wait longer than that. A refusal says when a slot should free up in `Retry-After`. Before a rate
//! is known (a cold start) at most [`COLD_IN_FLIGHT`] are admitted.
//!
//! [`Admission::check`] is the cheap pre-check made before a request body is read (refuse
//! early, read nothing); [`Admission::admit`] takes the slot once the body is in.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::OcrError;
use crate::metrics::Metrics;

/// In-flight requests per client key.
type ClientCounts = Arc<Mutex<HashMap<String, usize>>>;

/// The floor of the deadline-based limit.
pub const BUSY_IN_FLIGHT: usize = 8;
/// Completions the rate is measured over.
const RATE_WINDOW: usize = 32;
/// Fewest completions before a rate is trusted.
const RATE_MIN_SAMPLES: usize = 8;
/// A rate with no busy completion for this long is stale.
const RATE_STALE: Duration = Duration::from_secs(30);
/// Share of a request's deadline it may spend queued.
const DEADLINE_SHARE: f64 = 0.8;
/// Most requests in flight before any rate is measured (a cold start): enough for a client's
/// burst and to fill the pipeline of a fast GPU node until its rate is known within a second or
/// two, few enough that a 2-core node (2.8 pages/s) finishes them within half the default
/// deadline.
pub const COLD_IN_FLIGHT: usize = 64;

/// Recent completions: when each happened and whether admitted work remained after it.
#[derive(Debug, Default)]
struct RateMeter {
    done: VecDeque<(Instant, bool)>,
}

impl RateMeter {
    fn record(&mut self, at: Instant, busy_after: bool) {
        if self.done.len() == RATE_WINDOW {
            self.done.pop_front();
        }
        self.done.push_back((at, busy_after));
    }

    /// Requests per second over the busy intervals of the window (an interval counts when work
    /// remained at its start), when enough recent samples exist.
    fn rate(&self, now: Instant) -> Option<f64> {
        let &(last, _) = self.done.back()?;
        if now.duration_since(last) > RATE_STALE {
            return None;
        }
        let (mut n, mut busy) = (0usize, 0f64);
        for (a, b) in self.done.iter().zip(self.done.iter().skip(1)) {
            if a.1 {
                n += 1;
                busy += b.0.duration_since(a.0).as_secs_f64();
            }
        }
        (n + 1 >= RATE_MIN_SAMPLES && busy > 0.0).then(|| n as f64 / busy)
    }
}

/// The admission gate shared by every request.
pub struct Admission {
    slots: Arc<Semaphore>,
    capacity: usize,
    per_client: usize,
    clients: ClientCounts,
    retry_after_s: u64,
    max_queue_wait: Duration,
    rate: Arc<Mutex<RateMeter>>,
    metrics: Arc<Metrics>,
}

/// Proof of admission; releases its slots on drop.
pub struct Permit {
    _slot: OwnedSemaphorePermit,
    client: Option<(String, ClientCounts)>,
    rate: Arc<Mutex<RateMeter>>,
    metrics: Arc<Metrics>,
}

impl Permit {
    /// The request finished its work (a success): counts toward the measured rate.
    pub fn completed(&self) {
        // In flight still counts this request.
        let busy_after = self.metrics.in_flight.get() > 1;
        self.rate.lock().record(Instant::now(), busy_after);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
        if let Some((key, clients)) = self.client.take() {
            release_client(&clients, &key);
        }
    }
}

fn release_client(clients: &ClientCounts, key: &str) {
    let mut map = clients.lock();
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// The gate's knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// Most requests in flight, whatever the rate.
    pub capacity: usize,
    /// Most requests in flight per client (0 = unlimited).
    pub per_client: usize,
    /// `Retry-After` when no better estimate exists, seconds.
    pub retry_after_s: u64,
    /// Longest a request is expected to wait for its turn (see the module docs).
    pub max_queue_wait: Duration,
}

impl AdmissionConfig {
    /// The gate's knobs as the settings name them.
    pub fn of(config: &crate::config::ServeConfig) -> Self {
        AdmissionConfig {
            capacity: config.queue_capacity,
            per_client: config.max_in_flight_per_client,
            retry_after_s: config.retry_after_s,
            max_queue_wait: Duration::from_millis(config.max_queue_wait_ms),
        }
    }
}

impl Admission {
    /// A gate with `config`.
    pub fn new(config: AdmissionConfig, metrics: Arc<Metrics>) -> Self {
        Admission {
            slots: Arc::new(Semaphore::new(config.capacity)),
            capacity: config.capacity,
            per_client: config.per_client,
            clients: Arc::new(Mutex::new(HashMap::new())),
            retry_after_s: config.retry_after_s,
            max_queue_wait: config.max_queue_wait,
            rate: Arc::new(Mutex::new(RateMeter::default())),
            metrics,
        }
    }

    /// Most requests in flight for a request due within `deadline`, and the measured rate.
    fn limit(&self, deadline: Duration) -> (usize, Option<f64>) {
        let rate = self.rate.lock().rate(Instant::now());
        let wait = self.max_queue_wait.min(deadline.mul_f64(DEADLINE_SHARE));
        let limit = match rate {
            Some(r) => ((r * wait.as_secs_f64()).round() as usize).max(BUSY_IN_FLIGHT),
            None => COLD_IN_FLIGHT,
        };
        (limit.min(self.capacity), rate)
    }

    /// Whether a request from `client` due within `deadline` would be admitted now (reserves
    /// nothing; the cheap check made before the body is read).
    pub fn check(&self, client: &str, deadline: Duration) -> Result<(), OcrError> {
        if self.per_client > 0
            && self.clients.lock().get(client).copied().unwrap_or(0) >= self.per_client
        {
            return Err(self.refuse_client());
        }
        let (limit, rate) = self.limit(deadline);
        if self.in_flight() >= limit as i64 {
            return Err(self.refuse_full(limit, rate));
        }
        Ok(())
    }

    /// Admit a request from `client` due within `deadline`, or say why not (never waits).
    pub fn admit(&self, client: &str, deadline: Duration) -> Result<Permit, OcrError> {
        let mut client_slot = None;
        if self.per_client > 0 {
            let mut map = self.clients.lock();
            let n = map.entry(client.to_string()).or_insert(0);
            if *n >= self.per_client {
                drop(map);
                return Err(self.refuse_client());
            }
            *n += 1;
            client_slot = Some((client.to_string(), self.clients.clone()));
        }
        let (limit, rate) = self.limit(deadline);
        let slot = if self.in_flight() < limit as i64 {
            self.slots.clone().try_acquire_owned().ok()
        } else {
            None
        };
        match slot {
            Some(slot) => {
                self.metrics.in_flight.inc();
                Ok(Permit {
                    _slot: slot,
                    client: client_slot,
                    rate: self.rate.clone(),
                    metrics: self.metrics.clone(),
                })
            }
            None => {
                if let Some((key, clients)) = client_slot {
                    release_client(&clients, &key);
                }
                Err(self.refuse_full(limit, rate))
            }
        }
    }

    fn refuse_client(&self) -> OcrError {
        self.metrics
            .rejected_total
            .with_label_values(&["client_limit"])
            .inc();
        OcrError::RateLimited {
            limit: self.per_client,
            retry_after_s: self.retry_after_s,
        }
    }

    fn refuse_full(&self, limit: usize, rate: Option<f64>) -> OcrError {
        let in_flight = self.in_flight().max(0) as usize;
        let (reason, what, retry) = match rate {
            _ if limit >= self.capacity => (
                "queue_full",
                "request queue full".to_string(),
                self.retry_after_s,
            ),
            Some(r) => {
                let behind = (in_flight + 1).saturating_sub(limit) as f64;
                let retry = (behind / r).ceil().clamp(1.0, 30.0) as u64;
                (
                    "deadline",
                    format!(
                        "{in_flight} requests queued, as many as finish in time at the measured \
                         {r:.1} requests/s"
                    ),
                    retry,
                )
            }
            None => (
                "cold",
                format!("{in_flight} requests queued before the server's rate is measured"),
                self.retry_after_s,
            ),
        };
        self.metrics
            .rejected_total
            .with_label_values(&[reason])
            .inc();
        OcrError::Overloaded {
            what,
            retry_after_s: retry,
        }
    }

    /// Requests currently admitted.
    pub fn in_flight(&self) -> i64 {
        self.metrics.in_flight.get()
    }

    /// The in-flight limit that applies now to a request due within `deadline` (for readiness).
    pub fn current_limit(&self, deadline: Duration) -> usize {
        self.limit(deadline).0
    }

    /// The measured completion rate while busy, requests per second.
    pub fn measured_rate(&self) -> Option<f64> {
        self.rate.lock().rate(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const MINUTE: Duration = Duration::from_secs(60);

    fn gate(capacity: usize, per_client: usize, m: &Arc<Metrics>) -> Admission {
        Admission::new(
            AdmissionConfig {
                capacity,
                per_client,
                retry_after_s: 3,
                max_queue_wait: Duration::from_secs(10),
            },
            m.clone(),
        )
    }

    #[test]
    fn capacity_and_per_client_limits() {
        let m = Arc::new(Metrics::new());
        let a = gate(2, 1, &m);
        let p1 = a.admit("x", MINUTE).unwrap();
        assert_eq!(
            a.admit("x", MINUTE).err().unwrap().kind(),
            ErrorKind::RateLimited
        );
        assert_eq!(
            a.check("x", MINUTE).err().unwrap().kind(),
            ErrorKind::RateLimited
        );
        assert!(a.check("y", MINUTE).is_ok());
        let p2 = a.admit("y", MINUTE).unwrap();
        assert_eq!(
            a.admit("z", MINUTE).err().unwrap().kind(),
            ErrorKind::Overloaded
        );
        assert_eq!(
            a.check("z", MINUTE).err().unwrap().kind(),
            ErrorKind::Overloaded
        );
        assert_eq!(m.in_flight.get(), 2);
        drop(p1);
        drop(p2);
        assert_eq!(m.in_flight.get(), 0);
        let _p = a.admit("x", MINUTE).unwrap();
        assert!(a.clients.lock().len() == 1);
    }

    #[test]
    fn the_measured_rate_bounds_the_queue_by_deadline() {
        let m = Arc::new(Metrics::new());
        let a = gate(256, 0, &m);
        // Cold: the cold-start bound applies.
        assert_eq!(a.current_limit(MINUTE), COLD_IN_FLIGHT);
        // Busy completions 0.5 s apart: 2 requests/s.
        let t0 = Instant::now();
        {
            let mut r = a.rate.lock();
            for i in 0..RATE_WINDOW as u64 {
                r.record(t0 + Duration::from_millis(500 * i), true);
            }
        }
        let rate = a.rate.lock().rate(t0 + Duration::from_secs(16)).unwrap();
        assert!((rate - 2.0).abs() < 1e-9, "{rate}");
        // Cap the fake history at "now" so the samples are fresh.
        let fresh: VecDeque<(Instant, bool)> = (0..RATE_WINDOW as u64)
            .map(|i| {
                let at = Instant::now() - Duration::from_millis(500 * (RATE_WINDOW as u64 - 1 - i));
                (at, true)
            })
            .collect();
        a.rate.lock().done = fresh;
        // 2/s x min(10 s, 0.8 x 60 s) = 20 in flight; a 5 s deadline allows 2 x 4 s = 8 (floor).
        assert_eq!(a.current_limit(MINUTE), 20);
        assert_eq!(a.current_limit(Duration::from_secs(5)), BUSY_IN_FLIGHT);
        let held: Vec<Permit> = (0..20).map(|_| a.admit("c", MINUTE).unwrap()).collect();
        let err = a.admit("c", MINUTE).err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Overloaded);
        // One request behind at 2/s: retry in a second.
        assert_eq!(err.retry_after_s(), Some(1));
        assert!(err.to_string().contains("requests/s"), "{err}");
        drop(held);
        assert!(a.admit("c", MINUTE).is_ok());
    }

    #[test]
    fn idle_gaps_do_not_lower_the_rate() {
        let t0 = Instant::now();
        let mut r = RateMeter::default();
        // Busy at 4/s, then idle for a minute, then busy at 4/s again.
        for i in 0..10u64 {
            r.record(t0 + Duration::from_millis(250 * i), i < 9);
        }
        for i in 0..10u64 {
            r.record(
                t0 + Duration::from_secs(62) + Duration::from_millis(250 * i),
                true,
            );
        }
        let rate = r.rate(t0 + Duration::from_secs(65)).unwrap();
        assert!((rate - 4.0).abs() < 1e-6, "{rate}");
        // Nothing recent: no rate (the cold bound applies again).
        assert!(r.rate(t0 + Duration::from_secs(200)).is_none());
    }

    #[test]
    fn lone_requests_measure_no_rate() {
        let m = Arc::new(Metrics::new());
        let a = gate(256, 0, &m);
        for _ in 0..40 {
            let p = a.admit("c", MINUTE).unwrap();
            p.completed();
        }
        assert!(a.measured_rate().is_none());
    }
}
