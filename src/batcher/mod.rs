//! The dynamic batcher: pages and text lines from many concurrent requests (and background jobs)
//! are gathered into large batches, so the recogniser runs few big forward passes instead of
//! many small ones.
//!
//! Shape (after text-embeddings-inference and Triton): a request is decoded on the CPU pool; its
//! pages go through a bounded priority queue to the **page stage** (one owner thread; batches of
//! pages are preprocessed and laid out on the pool), whose line images go through a second
//! bounded priority queue to the **line stage** (one owner thread; lines from many pages and
//! requests form one recognition batch). Answers come back on oneshot channels; the async caller
//! assembles the page. Interactive work always goes before background work; work whose caller
//! has gone or whose deadline passed is dropped when dequeued. Admission (how many requests may
//! be in flight) is the server's job; queues here only bound memory.

pub mod budget;
mod document;
pub mod health;
pub mod line_stage;
pub mod page_stage;
pub mod queue;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::decode::DecodedPage;
use crate::document::Page;
use crate::error::{OcrError, Result};
use crate::metrics::Metrics;
use crate::options::EngineOptions;
use crate::pipeline::PageLines;
use crate::preprocess::PageKernels;
use crate::recognize::Recognizer;
use line_stage::LineTask;
use page_stage::PageTask;
pub use queue::Priority;
use queue::{PushError, QueueSender, priority_queue};

/// Default of [`BatcherConfig::max_pixels_in_flight`]: two of the largest pages the server
/// accepts by default (100 million pixels), or 23 A4 pages at 300 DPI.
pub const DEFAULT_PIXELS_IN_FLIGHT: u64 = 200_000_000;

/// Knobs of the batcher (defaults chosen by measurement; see docs/BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatcherConfig {
    /// Most text lines in one recognition batch.
    pub max_batch_lines: usize,
    /// Most padded input pixels (32 x widest line x lines) in one recognition batch.
    pub max_batch_pixels: usize,
    /// Longest a batch waits to fill once its first item is there.
    pub max_queue_delay: Duration,
    /// Most pages preprocessed as one batch.
    pub max_batch_pages: usize,
    /// Page batches running at once on the CPU pool (also the pool's thread count).
    pub page_workers: usize,
    /// Capacity of each internal queue (per priority), in pages; line queue holds as many pages.
    pub stage_queue_capacity: usize,
    /// Decoded page pixels in memory at once over every request and job ([`budget`]).
    pub max_pixels_in_flight: u64,
}

impl Default for BatcherConfig {
    fn default() -> Self {
        BatcherConfig {
            max_batch_lines: 256,
            max_batch_pixels: 32 * 1024 * 256,
            max_queue_delay: Duration::from_millis(5),
            max_batch_pages: 8,
            page_workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            stage_queue_capacity: 1024,
            max_pixels_in_flight: DEFAULT_PIXELS_IN_FLIGHT,
        }
    }
}

/// Who a piece of work belongs to and how urgent it is.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// Process-unique request number (distinct requests per batch are counted with it).
    pub id: u64,
    /// Scheduling class.
    pub priority: Priority,
    /// When the work stops being wanted.
    pub deadline: Option<Instant>,
    /// When the request started (for the deadline error message).
    pub started: Instant,
}

impl RequestMeta {
    /// True once the deadline has passed.
    pub fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// The error reported when the deadline passes.
    pub fn deadline_error(&self) -> OcrError {
        OcrError::DeadlineExceeded(self.started.elapsed().as_millis() as u64)
    }
}

/// The running batcher. Dropping it (with every clone of its handle) stops the stage threads once
/// their queues drain.
pub struct Batcher {
    pages: QueueSender<PageTask>,
    pool: Arc<rayon::ThreadPool>,
    metrics: Arc<Metrics>,
    health: Arc<health::StageHealth>,
    budget: budget::PixelBudget,
    next_id: AtomicU64,
}

/// The message of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl Batcher {
    /// Start the stage threads around `recognizer`.
    pub fn start(
        recognizer: Arc<dyn Recognizer>,
        config: BatcherConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        Self::start_with_kernels(recognizer, None, config, metrics)
    }

    /// [`Batcher::start`] with whole-page preprocessing batched on `kernels` (the GPU's, on a
    /// GPU node); `None` preprocesses each page on the CPU pool.
    pub fn start_with_kernels(
        recognizer: Arc<dyn Recognizer>,
        kernels: Option<Arc<dyn PageKernels>>,
        config: BatcherConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        let pool = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(config.page_workers.max(1))
                .thread_name(|i| format!("ferrocr-page-{i}"))
                // Page work catches its own panics (page_stage); anything else is logged here
                // instead of aborting the process.
                .panic_handler(|p| {
                    tracing::error!("page pool task panicked: {}", panic_message(&*p))
                })
                .build()
                .map_err(|e| OcrError::Internal(format!("cannot start the CPU pool: {e}")))?,
        );
        let (page_tx, page_rx) = priority_queue::<PageTask>(
            config.stage_queue_capacity,
            metrics.queue_depth.with_label_values(&["page"]),
        );
        let (line_tx, line_rx) = priority_queue::<LineTask>(
            config.stage_queue_capacity,
            metrics.queue_depth.with_label_values(&["line"]),
        );
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(f)
                .map_err(|e| OcrError::Internal(format!("cannot start {name}: {e}")))
        };
        let health = Arc::new(health::StageHealth::default());
        {
            let (pool, metrics) = (pool.clone(), metrics.clone());
            let reader = recognizer.clone();
            let health = health.clone();
            spawn(
                "ferrocr-page-stage",
                Box::new(move || {
                    let ctx = page_stage::StageContext {
                        pool,
                        config,
                        kernels,
                        recognizer: reader,
                        metrics,
                        health,
                    };
                    page_stage::run(page_rx, line_tx, ctx)
                }),
            )?;
        }
        {
            let (metrics, health) = (metrics.clone(), health.clone());
            spawn(
                "ferrocr-line-stage",
                Box::new(move || line_stage::run(line_rx, recognizer, config, metrics, health)),
            )?;
        }
        let budget = budget::PixelBudget::new(
            config.max_pixels_in_flight,
            metrics.pixels_in_flight.clone(),
        );
        Ok(Batcher {
            pages: page_tx,
            pool,
            metrics,
            health,
            budget,
            next_id: AtomicU64::new(1),
        })
    }

    /// The stages failing now (see [`health`]); empty when all are well.
    pub fn failing_stages(&self) -> Vec<&'static str> {
        self.health.failing()
    }

    /// A new request identity with `priority`, due within `timeout`.
    pub fn request(&self, priority: Priority, timeout: Option<Duration>) -> RequestMeta {
        let started = Instant::now();
        RequestMeta {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            priority,
            deadline: timeout.map(|t| started + t),
            started,
        }
    }

    /// Run one decoded page through the page and line stages and assemble it.
    pub async fn process_page(
        &self,
        page: DecodedPage,
        options: Arc<EngineOptions>,
        meta: &RequestMeta,
        decode_ms: f64,
    ) -> Result<Page> {
        self.run_page(page, options, meta, decode_ms, None).await
    }

    /// [`Batcher::process_page`] holding the page's share of the pixel budget until the page
    /// stage is done with its full-size images (the share travels with the page's task).
    async fn run_page(
        &self,
        page: DecodedPage,
        options: Arc<EngineOptions>,
        meta: &RequestMeta,
        decode_ms: f64,
        permit: Option<budget::PixelPermit>,
    ) -> Result<Page> {
        if let Some(p) = crate::pipeline::from_text_layer(&page, &options, decode_ms) {
            return Ok(p);
        }
        let (tx, rx) = oneshot::channel();
        let mut task = PageTask {
            meta: meta.clone(),
            enqueued: Instant::now(),
            page,
            options: options.clone(),
            reply: tx,
            budget: permit,
        };
        // Internal queues only bound memory: an admitted request waits for room.
        loop {
            match self.pages.push(task, meta.priority) {
                Ok(()) => break,
                Err(PushError::Closed(_)) => {
                    return Err(OcrError::Unavailable("page stage stopped".into()));
                }
                Err(PushError::Full(t)) => {
                    if meta.expired() {
                        return Err(meta.deadline_error());
                    }
                    task = t;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        }
        let prepared = rx.await.map_err(|_| {
            OcrError::Internal(
                "page analysis failed on this page (the page stage caught a panic; see the \
                     server log)"
                    .into(),
            )
        })??;
        let t = Instant::now();
        let (images, texts) = prepared
            .lines
            .await
            .map_err(|_| OcrError::Internal("line stage dropped a page".into()))?;
        let recognize_ms = t.elapsed().as_secs_f64() * 1000.0;
        self.metrics.pages_total.inc();
        Ok(PageLines::assemble(
            prepared.frame,
            (images, texts?),
            prepared.reused,
            options.review_threshold,
            (decode_ms, recognize_ms),
        ))
    }
}

#[cfg(test)]
mod tests;
