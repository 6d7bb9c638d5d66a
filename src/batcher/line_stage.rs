//! The line stage: one owner thread gathers the text lines of many pages from many requests into
//! one recognition batch, bounded by `max_batch_lines` and `max_batch_pixels` (padded input
//! pixels), waiting at most `max_queue_delay` for a batch to fill. Work whose client went away
//! or whose deadline passed is dropped when dequeued. A page's lines are never split across
//! batches, so every page gets one answer.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;

use super::health::{Stage, StageHealth};
use super::page_stage::LineReply;
use super::queue::QueueReceiver;
use super::{BatcherConfig, RequestMeta};
use crate::error::OcrError;
use crate::metrics::Metrics;
use crate::recognize::{LINE_HEIGHT, LineImage, Recognizer};

/// The lines of one page waiting for recognition.
pub struct LineTask {
    /// The request the page belongs to.
    pub meta: RequestMeta,
    /// When the lines entered the queue.
    pub enqueued: Instant,
    /// Normalised line images in reading order.
    pub lines: Vec<LineImage>,
    /// Where the lines and their texts go.
    pub reply: oneshot::Sender<LineReply>,
}

/// Padded input pixels of a batch of lines whose widest line is `max_width`.
fn padded_pixels(count: usize, max_width: usize) -> usize {
    LINE_HEIGHT * max_width * count
}

/// Run the line stage's owner loop until every producer is gone.
pub(crate) fn run(
    queue: QueueReceiver<LineTask>,
    recognizer: Arc<dyn Recognizer>,
    config: BatcherConfig,
    metrics: Arc<Metrics>,
    health: Arc<StageHealth>,
) {
    while let Some(first) = queue.pop_until(None) {
        let fill_deadline = Instant::now() + config.max_queue_delay;
        let mut batch: Vec<LineTask> = Vec::new();
        let mut count = 0usize;
        let mut max_width = 0usize;
        let mut next = Some(first);
        while let Some(task) = next.take() {
            if let Some(task) = admit(task, &metrics) {
                count += task.lines.len();
                max_width = max_width.max(task.lines.iter().map(|l| l.width).max().unwrap_or(0));
                batch.push(task);
            }
            if count >= config.max_batch_lines
                || padded_pixels(count, max_width) >= config.max_batch_pixels
            {
                break;
            }
            next = queue
                .try_pop()
                .or_else(|| queue.pop_until(Some(fill_deadline)));
        }
        if batch.is_empty() {
            continue;
        }
        execute(batch, recognizer.as_ref(), &config, &metrics, &health);
    }
}

/// Drop work whose client went away; answer work whose deadline passed with the timeout error.
fn admit(task: LineTask, metrics: &Metrics) -> Option<LineTask> {
    // An expired request counts as a timeout even when its handler has already given up
    // (which closes the reply): only a client that left before its deadline is `client_gone`.
    let reason = if task.meta.expired() {
        let err = task.meta.deadline_error();
        let _ = task.reply.send((task.lines, Err(err)));
        "timeout"
    } else if task.reply.is_closed() {
        "client_gone"
    } else {
        return Some(task);
    };
    metrics
        .dropped_total
        .with_label_values(&["line", reason])
        .inc();
    None
}

/// Recognise one gathered batch and answer every page in it.
fn execute(
    mut batch: Vec<LineTask>,
    recognizer: &dyn Recognizer,
    config: &BatcherConfig,
    metrics: &Metrics,
    health: &StageHealth,
) {
    let requests: HashSet<u64> = batch.iter().map(|t| t.meta.id).collect();
    let mut all: Vec<LineImage> = Vec::new();
    let mut counts = Vec::with_capacity(batch.len());
    for task in &mut batch {
        metrics
            .queue_wait
            .with_label_values(&["line"])
            .observe(task.enqueued.elapsed().as_secs_f64());
        counts.push(task.lines.len());
        all.append(&mut task.lines);
    }
    metrics.record_batch("line", all.len(), requests.len(), config.max_batch_lines);
    let _span =
        tracing::debug_span!("line_batch", lines = all.len(), requests = requests.len()).entered();
    let t = Instant::now();
    // A panic in the recogniser fails this batch's pages, not the stage (the thread lives on).
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| recognizer.recognize(&all)))
            .unwrap_or_else(|panic| {
                let why = super::panic_message(&panic);
                tracing::error!(lines = all.len(), "recognition panicked: {why}");
                Err(OcrError::Internal(format!("recognition panicked: {why}")))
            });
    health.record(Stage::Line, result.is_ok());
    metrics.observe_stage_ms("recognise", t.elapsed().as_secs_f64() * 1000.0);
    metrics.lines_total.inc_by(all.len() as u64);
    // Hand each page its own images back, with its slice of the texts (or the shared error).
    let mut texts = result.map(|v| v.into_iter());
    let mut rest = all;
    for (task, n) in batch.into_iter().zip(counts) {
        let tail = rest.split_off(n);
        let images = std::mem::replace(&mut rest, tail);
        let answer = match &mut texts {
            Ok(it) => Ok(it.by_ref().take(n).collect()),
            Err(OcrError::Internal(m)) => Err(OcrError::Internal(m.clone())),
            Err(e) => Err(OcrError::Backend(format!("recognition failed: {e}"))),
        };
        let _ = task.reply.send((images, answer));
    }
}
