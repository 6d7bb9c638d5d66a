//! The health watch of the batcher's stages (after text-embeddings-inference): every page batch
//! and every recognition batch records whether it worked, and a stage whose last
//! [`FAILING_AFTER`] batches in a row failed (a panic, a backend error) is reported failing, so
//! `/readyz` turns 503 while it keeps failing and back to 200 with its first good batch.

use std::sync::atomic::{AtomicU32, Ordering};

/// Consecutive failed batches after which a stage counts as failing.
pub const FAILING_AFTER: u32 = 3;

/// A stage of the batcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Preprocessing, layout and orientation on the CPU pool (or page kernels).
    Page,
    /// Recognition batches.
    Line,
}

impl Stage {
    /// The stage's name in health reports.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Page => "page",
            Stage::Line => "line",
        }
    }
}

/// Consecutive failures per stage.
#[derive(Debug, Default)]
pub struct StageHealth {
    page: AtomicU32,
    line: AtomicU32,
}

impl StageHealth {
    fn counter(&self, stage: Stage) -> &AtomicU32 {
        match stage {
            Stage::Page => &self.page,
            Stage::Line => &self.line,
        }
    }

    /// Record one batch of `stage`: a success resets its failure count.
    pub fn record(&self, stage: Stage, ok: bool) {
        let c = self.counter(stage);
        if ok {
            c.store(0, Ordering::Relaxed);
        } else {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The stages failing now.
    pub fn failing(&self) -> Vec<&'static str> {
        [Stage::Page, Stage::Line]
            .into_iter()
            .filter(|s| self.counter(*s).load(Ordering::Relaxed) >= FAILING_AFTER)
            .map(Stage::name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_fails_after_consecutive_failures_and_recovers() {
        let h = StageHealth::default();
        for _ in 0..FAILING_AFTER - 1 {
            h.record(Stage::Line, false);
        }
        assert!(h.failing().is_empty());
        h.record(Stage::Line, false);
        assert_eq!(h.failing(), vec!["line"]);
        h.record(Stage::Page, true);
        assert_eq!(h.failing(), vec!["line"]);
        h.record(Stage::Line, true);
        assert!(h.failing().is_empty());
    }
}
