//! The process-wide pixel budget: how many decoded page pixels may be in memory at once, over
//! every request and job together.
//!
//! A page takes its share (its width x height from the file's headers) *before* it is decoded
//! and gives it back once the page stage has let go of its full-size images (what the line
//! stage keeps is a page's line crops, small beside it). A request that finds the budget spent
//! waits, in arrival order, until its deadline; so a burst of large documents queues instead of
//! multiplying memory. A page larger than the whole budget waits for all of it and runs alone.

use std::sync::Arc;
use std::time::Instant;

use prometheus::IntGauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Pixels per semaphore permit (permits are counted in `u32` per acquisition).
const PIXELS_PER_PERMIT: u64 = 1024;

/// The shared budget (see the module documentation).
#[derive(Debug)]
pub struct PixelBudget {
    permits: Arc<Semaphore>,
    total_permits: u32,
    in_flight: IntGauge,
}

/// A page's share of the budget, returned when dropped.
#[derive(Debug)]
pub struct PixelPermit {
    _permit: OwnedSemaphorePermit,
    pixels: i64,
    in_flight: IntGauge,
}

impl Drop for PixelPermit {
    fn drop(&mut self) {
        self.in_flight.sub(self.pixels);
    }
}

/// The budget could not be had before the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetTimeout;

impl PixelBudget {
    /// A budget of `total_pixels` (at least one page's worth of permits), reporting the pixels
    /// held in `in_flight`.
    pub fn new(total_pixels: u64, in_flight: IntGauge) -> Self {
        let permits = (total_pixels / PIXELS_PER_PERMIT).clamp(1, u64::from(u32::MAX)) as u32;
        PixelBudget {
            permits: Arc::new(Semaphore::new(permits as usize)),
            total_permits: permits,
            in_flight,
        }
    }

    /// The whole budget, pixels.
    pub fn total_pixels(&self) -> u64 {
        u64::from(self.total_permits) * PIXELS_PER_PERMIT
    }

    /// Pixels not held by any page now.
    pub fn available_pixels(&self) -> u64 {
        self.permits.available_permits() as u64 * PIXELS_PER_PERMIT
    }

    /// Takes `pixels` of the budget (all of it when `pixels` exceeds it), waiting in arrival
    /// order until `deadline` (forever when `None`).
    pub async fn acquire(
        &self,
        pixels: u64,
        deadline: Option<Instant>,
    ) -> Result<PixelPermit, BudgetTimeout> {
        let want = pixels
            .div_ceil(PIXELS_PER_PERMIT)
            .clamp(1, u64::from(self.total_permits)) as u32;
        let acquire = self.permits.clone().acquire_many_owned(want);
        let permit = match deadline {
            Some(d) => tokio::time::timeout_at(d.into(), acquire)
                .await
                .map_err(|_| BudgetTimeout)?,
            None => acquire.await,
        }
        // The semaphore is never closed.
        .map_err(|_| BudgetTimeout)?;
        let pixels = i64::from(want) * PIXELS_PER_PERMIT as i64;
        self.in_flight.add(pixels);
        Ok(PixelPermit {
            _permit: permit,
            pixels,
            in_flight: self.in_flight.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn budget(pixels: u64) -> PixelBudget {
        PixelBudget::new(pixels, IntGauge::new("t", "t").unwrap())
    }

    #[tokio::test]
    async fn pages_wait_for_room_and_the_gauge_follows() {
        let b = budget(10 * 1024);
        let a = b.acquire(6 * 1024, None).await.unwrap();
        assert_eq!(b.in_flight.get(), 6 * 1024);
        // 6 + 6 > 10: the second page waits until the first gives its share back.
        let soon = Some(Instant::now() + Duration::from_millis(50));
        assert_eq!(b.acquire(6 * 1024, soon).await.unwrap_err(), BudgetTimeout);
        drop(a);
        assert_eq!(b.in_flight.get(), 0);
        let c = b.acquire(6 * 1024, soon).await.unwrap();
        assert_eq!(b.available_pixels(), 4 * 1024);
        drop(c);
        assert_eq!(b.available_pixels(), 10 * 1024);
    }

    #[tokio::test]
    async fn a_page_larger_than_the_budget_takes_all_of_it() {
        let b = budget(4 * 1024);
        let p = b.acquire(1_000_000, None).await.unwrap();
        assert_eq!(b.available_pixels(), 0);
        assert_eq!(b.in_flight.get(), 4 * 1024);
        drop(p);
        assert_eq!(b.available_pixels(), 4 * 1024);
    }

    #[tokio::test]
    async fn a_waiting_page_gets_in_when_room_is_given_back() {
        let b = Arc::new(budget(8 * 1024));
        let first = b.acquire(8 * 1024, None).await.unwrap();
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move { b.acquire(2 * 1024, None).await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(first);
        waiter.await.unwrap().unwrap();
    }
}
