//! A bounded two-level priority queue: interactive work (`/v1/ocr`) is always taken before
//! background work (jobs). Producers never block: a full queue is reported at once so the HTTP
//! layer can answer 503 instead of letting memory grow. One consumer (the stage's owner thread)
//! pops; the depth gauge follows every push and pop.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded, select};
use prometheus::IntGauge;

/// Scheduling class of a piece of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Priority {
    /// A client is waiting on the HTTP connection.
    #[default]
    Interactive,
    /// Asynchronous jobs: run when no interactive work waits.
    Background,
}

/// Why a push failed.
#[derive(Debug)]
pub enum PushError<T> {
    /// The queue for that priority is at capacity; the item is handed back.
    Full(T),
    /// The consumer has stopped.
    Closed(T),
}

/// The producer side (cheap to clone).
pub struct QueueSender<T> {
    interactive: Sender<T>,
    background: Sender<T>,
    depth: IntGauge,
}

impl<T> Clone for QueueSender<T> {
    fn clone(&self) -> Self {
        QueueSender {
            interactive: self.interactive.clone(),
            background: self.background.clone(),
            depth: self.depth.clone(),
        }
    }
}

/// The consumer side (one owner).
pub struct QueueReceiver<T> {
    interactive: Receiver<T>,
    background: Receiver<T>,
    depth: IntGauge,
}

/// A queue holding at most `capacity` items per priority.
pub fn priority_queue<T>(capacity: usize, depth: IntGauge) -> (QueueSender<T>, QueueReceiver<T>) {
    let (it, ir) = bounded(capacity.max(1));
    let (bt, br) = bounded(capacity.max(1));
    (
        QueueSender {
            interactive: it,
            background: bt,
            depth: depth.clone(),
        },
        QueueReceiver {
            interactive: ir,
            background: br,
            depth,
        },
    )
}

impl<T> QueueSender<T> {
    /// Enqueue without blocking.
    pub fn push(&self, item: T, priority: Priority) -> Result<(), PushError<T>> {
        let tx = match priority {
            Priority::Interactive => &self.interactive,
            Priority::Background => &self.background,
        };
        match tx.try_send(item) {
            Ok(()) => {
                self.depth.inc();
                Ok(())
            }
            Err(TrySendError::Full(item)) => Err(PushError::Full(item)),
            Err(TrySendError::Disconnected(item)) => Err(PushError::Closed(item)),
        }
    }
}

impl<T> QueueReceiver<T> {
    /// Take an item without waiting, interactive first.
    pub fn try_pop(&self) -> Option<T> {
        let item = match self.interactive.try_recv() {
            Ok(item) => Some(item),
            Err(_) => self.background.try_recv().ok(),
        };
        if item.is_some() {
            self.depth.dec();
        }
        item
    }

    /// Wait for an item until `deadline` (or forever when `None`), interactive first.
    /// Returns `None` on timeout or when the producers are gone and the queue is empty.
    pub fn pop_until(&self, deadline: Option<Instant>) -> Option<T> {
        loop {
            if let Some(item) = self.try_pop() {
                return Some(item);
            }
            let timeout = match deadline {
                Some(d) => d.checked_duration_since(Instant::now())?,
                None => Duration::from_secs(3600),
            };
            // Both senders live in one `QueueSender`, so they disconnect together: an `Err` from
            // either arm means no more work will ever come.
            let ready = select! {
                recv(self.interactive) -> m => m.map_err(|_| ()),
                recv(self.background) -> m => m.map_err(|_| ()),
                default(timeout) => {
                    if deadline.is_some() {
                        return None;
                    }
                    continue;
                }
            };
            match ready {
                Ok(item) => {
                    self.depth.dec();
                    return Some(item);
                }
                Err(()) => return self.try_pop(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interactive_first_and_bounded() {
        let g = IntGauge::new("q", "q").unwrap();
        let (tx, rx) = priority_queue::<u32>(2, g.clone());
        tx.push(1, Priority::Background).unwrap();
        tx.push(2, Priority::Interactive).unwrap();
        tx.push(3, Priority::Interactive).unwrap();
        assert!(matches!(
            tx.push(4, Priority::Interactive),
            Err(PushError::Full(4))
        ));
        assert_eq!(g.get(), 3);
        assert_eq!(rx.try_pop(), Some(2));
        assert_eq!(rx.try_pop(), Some(3));
        assert_eq!(rx.pop_until(None), Some(1));
        assert_eq!(g.get(), 0);
        let t = Instant::now();
        assert_eq!(rx.pop_until(Some(t + Duration::from_millis(20))), None);
        drop(tx);
        assert_eq!(rx.pop_until(None), None);
    }
}
