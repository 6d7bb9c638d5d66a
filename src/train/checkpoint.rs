//! Resumable training state: the model artefact files (`config.json`, `model.bpk`) plus
//! `optimizer.bpk` and `train_state.json`, written atomically (temp file + rename) so an
//! interrupted run never leaves a half-written checkpoint.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{OcrError, Result};

/// Progress of a training run, stored in `train_state.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimiser steps done.
    pub step: u64,
    /// Next synthetic sample index to draw.
    pub next_sample: u64,
    /// Lines trained on.
    pub lines_seen: u64,
    /// Data seed of the run.
    pub seed: u64,
    /// Wall-clock seconds spent training, summed over all sessions of the run.
    pub train_seconds: f64,
    /// Best case-insensitive CER on the real validation lines so far (1.0 when never measured).
    pub best_real_cer_ci: f64,
    /// Hardware of each session that added steps, e.g. "cpu flex 2 cores: steps 0-1200".
    pub sessions: Vec<String>,
}

/// Write `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Read `train_state.json` from `dir`, if present.
pub fn load_state(dir: &Path) -> Result<Option<TrainState>> {
    let p = dir.join("train_state.json");
    if !p.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&p)?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| OcrError::Model(format!("invalid {}: {e}", p.display())))
}

/// Write `train_state.json` into `dir`.
pub fn save_state(dir: &Path, state: &TrainState) -> Result<()> {
    let json =
        serde_json::to_string_pretty(state).map_err(|e| OcrError::Internal(e.to_string()))?;
    write_atomic(&dir.join("train_state.json"), json.as_bytes())
}
