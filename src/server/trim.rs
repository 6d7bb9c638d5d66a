//! Give freed memory back to the system once a burst is over.
//!
//! glibc keeps the heap a burst grew (decoded pages, line tensors, buffered bodies) as resident
//! memory after it is freed: after a 40x overload the server sat at 2.0 GB idle where it had
//! started at 51 MB. When the server has been idle (nothing in flight, no page finished) for two
//! consecutive checks after new pages were processed, `malloc_trim` returns the free heap to the kernel. It
//! runs off the async threads and at most once per burst, so it costs nothing under load.

use std::sync::Arc;
use std::time::Duration;

use crate::metrics::Metrics;

/// How often the server checks for idleness.
const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Start the idle-trim task on the current runtime (a no-op off glibc).
pub fn spawn_idle_trim(metrics: Arc<Metrics>) {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return;
    }
    tokio::spawn(async move {
        let mut trimmed_at_pages = metrics.pages_total.get();
        let mut last_pages = trimmed_at_pages;
        let mut idle_checks = 0u32;
        loop {
            tokio::time::sleep(CHECK_EVERY).await;
            let pages = metrics.pages_total.get();
            // Busy: requests in flight, or pages (job pages too) finished since the last check.
            if metrics.in_flight.get() > 0 || pages != last_pages {
                last_pages = pages;
                idle_checks = 0;
                continue;
            }
            idle_checks += 1;
            if idle_checks >= 2 && pages != trimmed_at_pages {
                trimmed_at_pages = pages;
                let _ = tokio::task::spawn_blocking(trim).await;
            }
        }
    });
}

/// Return free heap memory to the kernel.
fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory held by the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
}
