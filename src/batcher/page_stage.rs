//! The page stage: one owner thread gathers waiting pages from many requests into a batch and
//! runs preprocessing, layout and line normalisation for the whole batch on the CPU pool, then
//! hands each page's lines to the line stage. With GPU page kernels the batch's whole-page
//! preprocessing steps run as one GPU submission per step (pages of the same options together),
//! and the lines of all its pages are resampled to model inputs in one more, falling back to the
//! CPU for that batch on any GPU error. At most `page_workers` batches run at
//! once, so a burst of pages waits in the bounded queue instead of piling up threads or memory.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use image::GrayImage;
use rayon::prelude::*;
use tokio::sync::oneshot;

use super::health::{Stage, StageHealth};
use super::line_stage::LineTask;
use super::queue::{PushError, QueueReceiver, QueueSender};
use super::{BatcherConfig, RequestMeta};
use crate::decode::DecodedPage;
use crate::error::{OcrError, Result};
use crate::geometry::BBox;
use crate::lines::LineImage;
use crate::metrics::Metrics;
use crate::options::EngineOptions;
use crate::pipeline::{self, LaidOutPage, PageFrame, PageLines};
use crate::preprocess::{
    CpuKernels, PageKernels, PreparedPage, PreprocessOptions, preprocess_batch,
};
use crate::recognize::{LineText, Recognizer};

/// What the line stage sends back for one page: its line images (handed back, not copied) and
/// their texts.
pub type LineReply = (Vec<LineImage>, Result<Vec<LineText>>);

/// One page waiting for preprocessing.
pub struct PageTask {
    /// The request this page belongs to.
    pub meta: RequestMeta,
    /// When the page entered the queue.
    pub enqueued: Instant,
    /// The decoded page.
    pub page: DecodedPage,
    /// The request's pipeline options.
    pub options: Arc<EngineOptions>,
    /// Where the prepared page goes.
    pub reply: oneshot::Sender<Result<PreparedPageLines>>,
    /// The page's share of the pixel budget: given back when the stage lets go of the task
    /// (its full-size images with it), whether or not its caller is still waiting.
    pub budget: Option<super::budget::PixelPermit>,
}

/// A page whose lines are (or were) queued for recognition.
pub struct PreparedPageLines {
    /// What assembling the page needs besides its lines.
    pub frame: PageFrame,
    /// The line stage's answer.
    pub lines: oneshot::Receiver<LineReply>,
    /// Lines not sent to the line stage because the orientation check read them already:
    /// (index among the page's lines, image, reading), in order.
    pub reused: Vec<(usize, LineImage, LineText)>,
}

/// What the page stage's owner loop works with.
pub(crate) struct StageContext {
    /// The CPU pool page batches run on.
    pub pool: Arc<rayon::ThreadPool>,
    /// Batch sizes and worker count.
    pub config: BatcherConfig,
    /// Whole-page kernels (GPU), if any.
    pub kernels: Option<Arc<dyn PageKernels>>,
    /// The recogniser that settles orientation by reading.
    pub recognizer: Arc<dyn Recognizer>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Where each batch reports whether it worked.
    pub health: Arc<StageHealth>,
}

/// Gives a pool token back when a batch ends, however it ends (a panic included), so a failed
/// batch never shrinks the pool's concurrency.
struct TokenBack(crossbeam_channel::Receiver<()>);

impl Drop for TokenBack {
    fn drop(&mut self) {
        let _ = self.0.recv();
    }
}

/// Run the page stage's owner loop until every producer is gone. A panic in a batch's page work
/// is caught: the pages of that batch not yet answered get an `internal` error naming the page
/// stage (their reply channels close), the panic is logged, the stage's health records a failed
/// batch, and the loop goes on.
pub(crate) fn run(queue: QueueReceiver<PageTask>, lines: QueueSender<LineTask>, ctx: StageContext) {
    let StageContext {
        pool,
        config,
        kernels,
        recognizer,
        metrics,
        health,
    } = ctx;
    let views = recognizer.reads_views();
    // Tokens bound the number of batches running on the pool at once.
    let (token_tx, token_rx) = crossbeam_channel::bounded::<()>(config.page_workers.max(1));
    while let Some(first) = queue.pop_until(None) {
        let mut batch = vec![first];
        while batch.len() < config.max_batch_pages {
            match queue.try_pop() {
                Some(t) => batch.push(t),
                None => break,
            }
        }
        let batch: Vec<PageTask> = batch
            .into_iter()
            .filter_map(|t| admit(t, &metrics))
            .collect();
        if batch.is_empty() {
            continue;
        }
        let requests: HashSet<u64> = batch.iter().map(|t| t.meta.id).collect();
        metrics.record_batch("page", batch.len(), requests.len(), config.max_batch_pages);
        for t in &batch {
            metrics
                .queue_wait
                .with_label_values(&["page"])
                .observe(t.enqueued.elapsed().as_secs_f64());
        }
        if token_tx.send(()).is_err() {
            break;
        }
        let token = TokenBack(token_rx.clone());
        let lines = lines.clone();
        let metrics = metrics.clone();
        let kernels = kernels.clone();
        let recognizer = recognizer.clone();
        let health = health.clone();
        pool.spawn(move || {
            let _token = token;
            let pages = batch.len();
            let work = std::panic::AssertUnwindSafe(|| {
                process_batch(batch, kernels, recognizer.as_ref(), views, &lines, &metrics)
            });
            match std::panic::catch_unwind(work) {
                Ok(()) => health.record(Stage::Page, true),
                Err(panic) => {
                    tracing::error!(
                        pages,
                        "page analysis panicked: {}",
                        super::panic_message(&*panic)
                    );
                    health.record(Stage::Page, false);
                }
            }
        });
    }
}

/// Preprocess, lay out and normalise one batch's pages and queue their lines.
fn process_batch(
    batch: Vec<PageTask>,
    kernels: Option<Arc<dyn PageKernels>>,
    reader: &dyn Recognizer,
    views: bool,
    lines: &QueueSender<LineTask>,
    metrics: &Metrics,
) {
    match kernels {
        Some(k) => {
            let (pages, fell_back) = preprocess_on(k.as_ref(), batch, metrics);
            let laid: Vec<LaidOut> = pages
                .into_par_iter()
                .filter_map(|(task, page)| lay_out(task, Some(page), reader, metrics))
                .collect();
            let k: &dyn PageKernels = if fell_back { &CpuKernels } else { k.as_ref() };
            let images = normalize_batch(k, &laid, views);
            // Lines cut by the kernels are read afresh: the orientation sample was cut on the
            // CPU, and only the same image is sure to give the same text.
            for (page, images) in laid.into_iter().zip(images) {
                queue_lines(page, images, false, lines);
            }
        }
        None => batch.into_par_iter().for_each(|task| {
            if let Some(page) = lay_out(task, None, reader, metrics) {
                let images = page.page.cut_lines(views);
                queue_lines(page, images, !views, lines);
            }
        }),
    }
}

/// Drop work whose client went away; answer work whose deadline passed with the timeout error.
fn admit(task: PageTask, metrics: &Metrics) -> Option<PageTask> {
    // An expired request counts as a timeout even when its handler has already given up
    // (which closes the reply): only a client that left before its deadline is `client_gone`.
    let reason = if task.meta.expired() {
        let err = task.meta.deadline_error();
        let _ = task.reply.send(Err(err));
        "timeout"
    } else if task.reply.is_closed() {
        "client_gone"
    } else {
        return Some(task);
    };
    metrics
        .dropped_total
        .with_label_values(&["page", reason])
        .inc();
    None
}

/// A preprocessed page and its preprocessing time in milliseconds.
type Preprocessed = (PreparedPage, f64);

/// Preprocess a batch's pages with `kernels`, one batched call per step for the pages that share
/// options; a group whose kernels fail is preprocessed on the CPU instead (same result). Also
/// says whether any group fell back (the batch's lines are then normalised on the CPU too).
fn preprocess_on(
    kernels: &dyn PageKernels,
    batch: Vec<PageTask>,
    metrics: &Metrics,
) -> (Vec<(PageTask, Preprocessed)>, bool) {
    let mut groups: Vec<(PreprocessOptions, Vec<PageTask>)> = Vec::new();
    for task in batch {
        let opts = &task.options.preprocess;
        match groups.iter_mut().find(|(o, _)| o == opts) {
            Some((_, tasks)) => tasks.push(task),
            None => groups.push((opts.clone(), vec![task])),
        }
    }
    let mut out = Vec::new();
    let mut fell_back = false;
    for (opts, tasks) in groups {
        let images: Vec<&image::DynamicImage> = tasks.iter().map(|t| &t.page.image).collect();
        let pages = preprocess_batch(kernels, &images, &opts).or_else(|e| {
            tracing::warn!(kernels = kernels.name(), error = %e, "page kernels failed; preprocessing this batch on the CPU");
            fell_back = true;
            preprocess_batch(&CpuKernels, &images, &opts)
        });
        drop(images);
        let pages = match pages {
            Ok(p) => p,
            Err(e) => {
                // The CPU kernels are infallible; answer rather than drop if that ever changes.
                for t in tasks {
                    let _ = t
                        .reply
                        .send(Err(OcrError::Internal(format!("preprocessing: {e}"))));
                }
                continue;
            }
        };
        for (task, (page, t)) in tasks.into_iter().zip(pages) {
            let ms = t.total().as_secs_f64() * 1000.0;
            metrics.observe_stage_ms("preprocess", ms);
            out.push((task, (page, ms)));
        }
    }
    (out, fell_back)
}

/// A page laid out, waiting for its lines to be normalised and queued.
struct LaidOut {
    meta: RequestMeta,
    page: LaidOutPage,
    reply: oneshot::Sender<Result<PreparedPageLines>>,
    /// The page's share of the pixel budget, given back once its lines are cut.
    budget: Option<super::budget::PixelPermit>,
}

/// Normalise the lines of every page of a batch with one `kernels` call (one GPU submission with
/// the GPU kernels); on error, on the CPU (same result). One list of line images per page.
fn normalize_batch(
    kernels: &dyn PageKernels,
    pages: &[LaidOut],
    views: bool,
) -> Vec<Vec<LineImage>> {
    let grays: Vec<&GrayImage> = pages.iter().map(|p| &p.page.prepared.gray).collect();
    let boxes: Vec<(usize, BBox)> = pages
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.page.line_boxes().into_iter().map(move |b| (i, b)))
        .collect();
    let images = kernels.lines(&grays, &boxes, views).or_else(|e| {
        tracing::warn!(kernels = kernels.name(), error = %e, "line normalisation failed; normalising this batch's lines on the CPU");
        CpuKernels.lines(&grays, &boxes, views)
    });
    let mut out: Vec<Vec<LineImage>> = pages.iter().map(|_| Vec::new()).collect();
    // The CPU kernels fail only on an out-of-range page index, which `boxes` never holds.
    for (&(i, _), image) in boxes.iter().zip(images.unwrap_or_default()) {
        out[i].push(image);
    }
    out
}

/// Preprocess (unless `prepared` already holds the page and its time in ms), lay out one page
/// and settle its orientation by reading a sample of its lines with `reader`
/// ([`crate::orient`]); `None` when the request's deadline passed or the check failed (the error
/// is answered here).
fn lay_out(
    task: PageTask,
    prepared: Option<Preprocessed>,
    reader: &dyn Recognizer,
    metrics: &Metrics,
) -> Option<LaidOut> {
    let PageTask {
        meta,
        page,
        options,
        reply,
        budget,
        ..
    } = task;
    if meta.expired() {
        let _ = reply.send(Err(meta.deadline_error()));
        return None;
    }
    let (prepared, preprocess_ms) = match prepared {
        Some(done) => done,
        None => {
            let (p, ms) = pipeline::preprocess(&page.image, &options);
            metrics.observe_stage_ms("preprocess", ms);
            (p, ms)
        }
    };
    match pipeline::lay_out(&page, prepared, preprocess_ms, &options, reader) {
        Ok(laid) => {
            metrics.observe_stage_ms("layout", laid.timings.layout_ms);
            Some(LaidOut {
                meta,
                page: laid,
                reply,
                budget,
            })
        }
        Err(e) => {
            let _ = reply.send(Err(e));
            None
        }
    }
}

/// Queue a laid-out page's normalised lines for recognition and answer the page; the lines the
/// orientation check read whole are reused when `reuse` ([`LaidOutPage::into_lines`]).
fn queue_lines(laid: LaidOut, images: Vec<LineImage>, reuse: bool, lines: &QueueSender<LineTask>) {
    let LaidOut {
        meta,
        page,
        reply,
        budget: _budget,
    } = laid;
    let PageLines {
        to_read,
        reused,
        frame,
    } = page.into_lines(images, reuse);
    let (line_tx, line_rx) = oneshot::channel();
    if to_read.is_empty() {
        let _ = line_tx.send((to_read, Ok(Vec::new())));
    } else {
        let line_task = LineTask {
            meta,
            enqueued: Instant::now(),
            lines: to_read,
            reply: line_tx,
        };
        if let Err(e) = push_blocking(lines, line_task) {
            let _ = reply.send(Err(e));
            return;
        }
    }
    let _ = reply.send(Ok(PreparedPageLines {
        frame,
        lines: line_rx,
        reused,
    }));
}

/// Queue line work, waiting while the line queue is full (the page pool is bounded, so this is
/// backpressure, not unbounded growth) until the request's deadline.
fn push_blocking(queue: &QueueSender<LineTask>, mut task: LineTask) -> Result<()> {
    loop {
        let priority = task.meta.priority;
        match queue.push(task, priority) {
            Ok(()) => return Ok(()),
            Err(PushError::Closed(_)) => {
                return Err(OcrError::Unavailable("line stage stopped".into()));
            }
            Err(PushError::Full(t)) => {
                if t.meta.expired() || t.reply.is_closed() {
                    return Err(t.meta.deadline_error());
                }
                task = t;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batcher::Priority;

    fn task(deadline_passed: bool, client_left: bool) -> PageTask {
        let now = Instant::now();
        let (reply, rx) = oneshot::channel();
        if client_left {
            drop(rx);
        } else {
            std::mem::forget(rx);
        }
        PageTask {
            meta: RequestMeta {
                id: 1,
                priority: Priority::Interactive,
                deadline: Some(if deadline_passed {
                    now
                } else {
                    now + std::time::Duration::from_secs(60)
                }),
                started: now,
            },
            enqueued: now,
            page: DecodedPage {
                index: 0,
                image: image::DynamicImage::ImageLuma8(GrayImage::new(4, 4)),
                dpi: None,
                exif_orientation: None,
                text_layer: None,
            },
            options: Arc::new(EngineOptions::default()),
            reply,
            budget: None,
        }
    }

    fn dropped(metrics: &Metrics, reason: &str) -> u64 {
        metrics
            .dropped_total
            .with_label_values(&["page", reason])
            .get()
    }

    /// A request past its own deadline is a timeout even when its handler has already given up
    /// (which closes the reply); only a client that left in time is `client_gone`.
    #[test]
    fn expired_work_counts_as_timeout_and_abandoned_work_as_client_gone() {
        let metrics = Metrics::new();
        assert!(admit(task(false, false), &metrics).is_some());
        assert!(admit(task(true, true), &metrics).is_none());
        assert_eq!(dropped(&metrics, "timeout"), 1);
        assert_eq!(dropped(&metrics, "client_gone"), 0);
        assert!(admit(task(false, true), &metrics).is_none());
        assert_eq!(dropped(&metrics, "client_gone"), 1);
    }
}
