//! Model warm-up: one recognition per common line width at start-up, so that shader
//! compilation and autotuning happen before readiness is reported rather than on the first
//! request (with [`crate::compute::cache::configure_caches`] the results persist).

use std::time::Instant;

use serde::Serialize;

use super::Recognizer;
use crate::error::Result;
use crate::lines::{LINE_HEIGHT, LineImage};

/// Line widths (model pixels) that [`warm_up`] runs: the buckets real pages mostly produce.
pub const WARM_UP_WIDTHS: [usize; 5] = [64, 128, 256, 512, 1024];

/// Timing of one warm-up run.
#[derive(Debug, Clone, Serialize)]
pub struct WarmUp {
    /// (line width, batch size, seconds) per run.
    pub runs: Vec<(usize, usize, f64)>,
    /// Total seconds.
    pub total_s: f64,
}

/// Run the recogniser once per width in [`WARM_UP_WIDTHS`] on a batch of 64 blank lines, so
/// that shader compilation and autotuning happen at start-up (before readiness is reported)
/// rather than on the first request; with [`crate::compute::cache::configure_caches`] the results persist, and a
/// restart warms up in seconds.
pub fn warm_up(recognizer: &dyn Recognizer) -> Result<WarmUp> {
    warm_up_with(recognizer, &WARM_UP_WIDTHS, 64)
}

/// [`warm_up`] with chosen widths and batch size (tests use small ones).
pub fn warm_up_with(recognizer: &dyn Recognizer, widths: &[usize], batch: usize) -> Result<WarmUp> {
    let start = Instant::now();
    let mut runs = Vec::with_capacity(widths.len());
    for &w in widths {
        let line = LineImage::from_pixels(w, vec![0.0; LINE_HEIGHT * w]);
        let lines = vec![line; batch];
        let t = Instant::now();
        recognizer.recognize(&lines)?;
        runs.push((w, batch, t.elapsed().as_secs_f64()));
    }
    Ok(WarmUp {
        runs,
        total_s: start.elapsed().as_secs_f64(),
    })
}
