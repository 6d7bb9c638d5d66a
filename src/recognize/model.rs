//! The model artefact: `config.json` (architecture, alphabet, calibration, provenance) and
//! `model.bpk` (burnpack weights), as shipped in `models/<name>/`.
//!
//! The default model (`models/default`) is embedded in the binary at build time, so every
//! command works from any directory with no external files;
//! `--model DIR` (or `FERROCR_MODEL`) loads another artefact at run time.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::alphabet::Alphabet;
use super::crnn::CrnnConfig;
use crate::error::{OcrError, Result};
use crate::lines::normalize::LINE_HEIGHT;

/// Identifier of the artefact format written in `config.json`.
pub const ARTIFACT_FORMAT: &str = "ferrocr-crnn-v1";

/// Contents of a model artefact's `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Always [`ARTIFACT_FORMAT`].
    pub format: String,
    /// Model name (the directory name under `models/`).
    pub name: String,
    /// Characters of the alphabet in class order (class 0 = blank is implicit).
    pub alphabet: String,
    /// Input line height in pixels (must equal [`LINE_HEIGHT`]).
    pub line_height: usize,
    /// Network hyper-parameters.
    pub architecture: CrnnConfig,
    /// Softmax temperature fitted for confidence calibration (1.0 = none).
    pub temperature: f32,
    /// Training steps behind these weights.
    pub trained_steps: u64,
    /// Lines seen in training.
    pub trained_lines: u64,
}

impl ModelConfig {
    /// A config for a fresh model with the default alphabet and architecture.
    pub fn new_default(name: &str) -> Self {
        let alphabet = Alphabet::default();
        ModelConfig {
            format: ARTIFACT_FORMAT.to_string(),
            name: name.to_string(),
            alphabet: alphabet.chars().iter().collect(),
            line_height: LINE_HEIGHT,
            architecture: CrnnConfig::new(alphabet.num_classes()),
            temperature: 1.0,
            trained_steps: 0,
            trained_lines: 0,
        }
    }

    /// The alphabet object.
    pub fn alphabet(&self) -> Alphabet {
        Alphabet::new(&self.alphabet)
    }

    /// Check that the config is usable by this build.
    pub fn validate(&self) -> Result<()> {
        if self.format != ARTIFACT_FORMAT {
            return Err(OcrError::Model(format!(
                "unknown model format {:?} (expected {ARTIFACT_FORMAT})",
                self.format
            )));
        }
        if self.line_height != LINE_HEIGHT {
            return Err(OcrError::Model(format!(
                "model line height {} differs from this build's {LINE_HEIGHT}",
                self.line_height
            )));
        }
        if self.alphabet().num_classes() != self.architecture.num_classes {
            return Err(OcrError::Model(
                "alphabet size does not match the model's classes".into(),
            ));
        }
        Ok(())
    }
}

/// A loaded artefact: config plus the raw burnpack weights.
#[derive(Debug, Clone)]
pub struct ModelArtifact {
    /// Parsed `config.json`.
    pub config: ModelConfig,
    /// Contents of `model.bpk`.
    pub weights: Vec<u8>,
    /// Contents of `lexicon.txt` (one word per line), when the model ships one: the words
    /// [`super::lexicon`] corrects towards.
    pub lexicon: Option<String>,
}

const EMBEDDED_CONFIG: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/default/config.json"
));
const EMBEDDED_WEIGHTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/default/model.bpk"
));
const EMBEDDED_LEXICON: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/default/lexicon.txt"
));

impl ModelArtifact {
    /// Read `config.json`, `model.bpk` and (when present) `lexicon.txt` from a directory.
    pub fn load_dir(dir: &Path) -> Result<Self> {
        let cfg_path = dir.join("config.json");
        let text = std::fs::read_to_string(&cfg_path)
            .map_err(|e| OcrError::Model(format!("cannot read {}: {e}", cfg_path.display())))?;
        let config: ModelConfig = serde_json::from_str(&text)
            .map_err(|e| OcrError::Model(format!("invalid {}: {e}", cfg_path.display())))?;
        config.validate()?;
        let w_path = dir.join("model.bpk");
        let weights = std::fs::read(&w_path)
            .map_err(|e| OcrError::Model(format!("cannot read {}: {e}", w_path.display())))?;
        let lex_path = dir.join("lexicon.txt");
        let lexicon = match std::fs::read_to_string(&lex_path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(OcrError::Model(format!(
                    "cannot read {}: {e}",
                    lex_path.display()
                )));
            }
        };
        Ok(ModelArtifact {
            config,
            weights,
            lexicon,
        })
    }

    /// The model built into this binary (`models/default` at build time).
    pub fn embedded() -> Option<Self> {
        let config: ModelConfig = serde_json::from_str(EMBEDDED_CONFIG).ok()?;
        Some(ModelArtifact {
            config,
            weights: EMBEDDED_WEIGHTS.to_vec(),
            lexicon: Some(EMBEDDED_LEXICON.to_string()),
        })
    }

    /// The model to use: `dir` when given (or env `FERROCR_MODEL`), else the embedded default,
    /// else `models/default` under the current directory.
    pub fn resolve(dir: Option<&Path>) -> Result<Self> {
        if let Some(d) = dir {
            return Self::load_dir(d);
        }
        if let Ok(d) = std::env::var("FERROCR_MODEL") {
            return Self::load_dir(Path::new(&d));
        }
        if let Some(m) = Self::embedded() {
            return Ok(m);
        }
        Self::load_dir(Path::new("models/default")).map_err(|e| {
            OcrError::Model(format!(
                "no model: this binary has none embedded and {e}; train one with `ferrocr train --out models/default` or pass --model DIR"
            ))
        })
    }
}
