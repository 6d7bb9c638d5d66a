//! Admission control: a bounded number of requests in flight overall (beyond it: 503 with
//! `Retry-After`) and optionally per client (beyond it: 429). A permit is held by the request
//! until its response is produced, so memory stays bounded however many clients connect.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::OcrError;
use crate::metrics::Metrics;

/// In-flight requests per client key.
type ClientCounts = Arc<Mutex<HashMap<String, usize>>>;

/// The admission gate shared by every request.
pub struct Admission {
    slots: Arc<Semaphore>,
    per_client: usize,
    clients: ClientCounts,
    retry_after_s: u64,
    metrics: Arc<Metrics>,
}

/// Proof of admission; releases its slots on drop.
pub struct Permit {
    _slot: OwnedSemaphorePermit,
    client: Option<(String, ClientCounts)>,
    metrics: Arc<Metrics>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
        if let Some((key, clients)) = self.client.take() {
            let mut map = clients.lock();
            if let Some(n) = map.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&key);
                }
            }
        }
    }
}

impl Admission {
    /// A gate for `capacity` requests in flight, `per_client` per client (0 = unlimited).
    pub fn new(
        capacity: usize,
        per_client: usize,
        retry_after_s: u64,
        metrics: Arc<Metrics>,
    ) -> Self {
        Admission {
            slots: Arc::new(Semaphore::new(capacity)),
            per_client,
            clients: Arc::new(Mutex::new(HashMap::new())),
            retry_after_s,
            metrics,
        }
    }

    /// Admit a request from `client`, or say why not (never waits).
    pub fn admit(&self, client: &str) -> Result<Permit, OcrError> {
        let mut client_slot = None;
        if self.per_client > 0 {
            let mut map = self.clients.lock();
            let n = map.entry(client.to_string()).or_insert(0);
            if *n >= self.per_client {
                self.metrics
                    .rejected_total
                    .with_label_values(&["client_limit"])
                    .inc();
                return Err(OcrError::RateLimited {
                    limit: self.per_client,
                    retry_after_s: self.retry_after_s,
                });
            }
            *n += 1;
            client_slot = Some((client.to_string(), self.clients.clone()));
        }
        match self.slots.clone().try_acquire_owned() {
            Ok(slot) => {
                self.metrics.in_flight.inc();
                Ok(Permit {
                    _slot: slot,
                    client: client_slot,
                    metrics: self.metrics.clone(),
                })
            }
            Err(_) => {
                if let Some((key, clients)) = client_slot {
                    let mut map = clients.lock();
                    if let Some(n) = map.get_mut(&key) {
                        *n -= 1;
                        if *n == 0 {
                            map.remove(&key);
                        }
                    }
                }
                self.metrics
                    .rejected_total
                    .with_label_values(&["queue_full"])
                    .inc();
                Err(OcrError::Overloaded {
                    what: "request queue full".into(),
                    retry_after_s: self.retry_after_s,
                })
            }
        }
    }

    /// Requests currently admitted.
    pub fn in_flight(&self) -> i64 {
        self.metrics.in_flight.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn capacity_and_per_client_limits() {
        let m = Arc::new(Metrics::new());
        let a = Admission::new(2, 1, 3, m.clone());
        let p1 = a.admit("x").unwrap();
        assert_eq!(a.admit("x").err().unwrap().kind(), ErrorKind::RateLimited);
        let p2 = a.admit("y").unwrap();
        assert_eq!(a.admit("z").err().unwrap().kind(), ErrorKind::Overloaded);
        assert_eq!(m.in_flight.get(), 2);
        drop(p1);
        drop(p2);
        assert_eq!(m.in_flight.get(), 0);
        let _p = a.admit("x").unwrap();
        assert!(a.clients.lock().len() == 1);
    }
}
