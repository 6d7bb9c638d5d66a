//! Where recognition time goes: forward passes (the model on its device, with the copy of the
//! posteriors back to the host) against decoding (beam search, lexicon, numeric context on the
//! CPU). `ferrocr eval-lines` reports both, so that a GPU's lines/s can be blamed on the stage
//! that limits it; it also counts passes and the columns padding adds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Running totals of wall time per recognition stage, safe to add to from many threads.
#[derive(Debug, Default)]
pub struct StageClock {
    forward_ns: AtomicU64,
    backbone_ns: AtomicU64,
    decode_ns: AtomicU64,
    passes: AtomicU64,
    line_columns: AtomicU64,
    padded_columns: AtomicU64,
}

/// A snapshot of a [`StageClock`], in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct StageSeconds {
    /// Forward passes, posteriors copied back to the host included.
    pub forward_s: f64,
    /// The share of `forward_s` spent in the convolutional backbone, measured only when the
    /// recogniser splits its passes ([`crate::recognize::CrnnRecognizer::with_split_forward`]:
    /// a device sync between the halves); 0 otherwise.
    pub backbone_s: f64,
    /// Decoding of the posteriors (wall time of the parallel decode of each batch).
    pub decode_s: f64,
    /// Forward passes run.
    pub passes: u64,
    /// Input columns of the lines themselves.
    pub line_columns: u64,
    /// Input columns the passes computed (lines padded to the widest of their batch): the
    /// ratio to `line_columns` is the work padding adds.
    pub padded_columns: u64,
}

impl StageSeconds {
    /// The time spent between two snapshots (`self` taken after `earlier`).
    pub fn since(self, earlier: StageSeconds) -> StageSeconds {
        StageSeconds {
            forward_s: self.forward_s - earlier.forward_s,
            backbone_s: self.backbone_s - earlier.backbone_s,
            decode_s: self.decode_s - earlier.decode_s,
            passes: self.passes - earlier.passes,
            line_columns: self.line_columns - earlier.line_columns,
            padded_columns: self.padded_columns - earlier.padded_columns,
        }
    }
}

impl StageClock {
    /// Add one forward pass over lines of `widths` (input columns), padded to the widest.
    pub fn add_forward(&self, d: Duration, widths: &[usize]) {
        self.forward_ns
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
        let widest = widths.iter().copied().max().unwrap_or(0);
        self.passes.fetch_add(1, Ordering::Relaxed);
        self.line_columns
            .fetch_add(widths.iter().sum::<usize>() as u64, Ordering::Relaxed);
        self.padded_columns
            .fetch_add((widest * widths.len()) as u64, Ordering::Relaxed);
    }

    /// Add the backbone's share of one forward pass (already counted in [`Self::add_forward`]).
    pub fn add_backbone(&self, d: Duration) {
        self.backbone_ns
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Add one batch's decoding.
    pub fn add_decode(&self, d: Duration) {
        self.decode_ns
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    /// The totals so far.
    pub fn seconds(&self) -> StageSeconds {
        StageSeconds {
            forward_s: self.forward_ns.load(Ordering::Relaxed) as f64 * 1e-9,
            backbone_s: self.backbone_ns.load(Ordering::Relaxed) as f64 * 1e-9,
            decode_s: self.decode_ns.load(Ordering::Relaxed) as f64 * 1e-9,
            passes: self.passes.load(Ordering::Relaxed),
            line_columns: self.line_columns.load(Ordering::Relaxed),
            padded_columns: self.padded_columns.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_up_and_differences_are_per_interval() {
        let c = StageClock::default();
        c.add_forward(Duration::from_millis(30), &[100, 300]);
        c.add_backbone(Duration::from_millis(12));
        c.add_decode(Duration::from_millis(10));
        let first = c.seconds();
        c.add_forward(Duration::from_millis(20), &[50]);
        let d = c.seconds().since(first);
        assert!((first.forward_s - 0.030).abs() < 1e-9);
        assert!((first.decode_s - 0.010).abs() < 1e-9);
        assert!((first.backbone_s - 0.012).abs() < 1e-9);
        assert_eq!(d.backbone_s, 0.0);
        assert!((d.forward_s - 0.020).abs() < 1e-9);
        assert_eq!(d.decode_s, 0.0);
        assert_eq!(
            (first.passes, first.line_columns, first.padded_columns),
            (1, 400, 600)
        );
        assert_eq!((d.passes, d.line_columns, d.padded_columns), (1, 50, 50));
    }
}
