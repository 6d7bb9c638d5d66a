//! `ferrocr average-models`: write a model whose weights are the (weighted) mean of checkpoints
//! of one training run, e.g. the end of a run and a checkpoint it was resumed from.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use crate::recognize::model::ModelArtifact;
use crate::train::average::average_weights;
use crate::train::checkpoint::write_atomic;

/// Arguments of `ferrocr average-models`.
#[derive(Args, Debug)]
pub struct AverageArgs {
    /// Output model directory (config.json, model.bpk, the first input's lexicon, average.json).
    #[arg(long)]
    pub out: PathBuf,
    /// Model directories to average, each optionally with a weight: `DIR` or `DIR:WEIGHT`
    /// (default weight 1). All must share one architecture and alphabet.
    #[arg(required = true, num_args = 1..)]
    pub models: Vec<String>,
}

/// One input as recorded in `average.json`.
#[derive(Serialize)]
struct Input {
    dir: String,
    weight: f32,
    trained_steps: u64,
}

fn parse_input(spec: &str) -> anyhow::Result<(PathBuf, f32)> {
    match spec.rsplit_once(':') {
        Some((dir, w)) if !dir.is_empty() && w.parse::<f32>().is_ok() => {
            let w: f32 = w.parse()?;
            anyhow::ensure!(
                w.is_finite() && w >= 0.0,
                "weight of {dir} must be a non-negative number"
            );
            Ok((PathBuf::from(dir), w))
        }
        _ => Ok((PathBuf::from(spec), 1.0)),
    }
}

/// Run `ferrocr average-models`.
pub fn run(a: AverageArgs) -> anyhow::Result<ExitCode> {
    let mut artifacts = Vec::new();
    let mut inputs = Vec::new();
    for spec in &a.models {
        let (dir, weight) = parse_input(spec)?;
        let art =
            ModelArtifact::load_dir(&dir).with_context(|| format!("loading {}", dir.display()))?;
        inputs.push(Input {
            dir: dir.display().to_string(),
            weight,
            trained_steps: art.config.trained_steps,
        });
        artifacts.push((art, weight));
    }
    let first = &artifacts[0].0.config;
    for (art, _) in &artifacts[1..] {
        anyhow::ensure!(
            art.config.architecture == first.architecture && art.config.alphabet == first.alphabet,
            "{} has another architecture or alphabet than {}",
            art.config.name,
            first.name
        );
    }
    let checkpoints: Vec<(Vec<u8>, f32)> = artifacts
        .iter()
        .map(|(art, w)| (art.weights.clone(), *w))
        .collect();
    let bytes = average_weights(&first.architecture, &checkpoints)?;
    std::fs::create_dir_all(&a.out)?;
    let mut config = first.clone();
    config.name = a
        .out
        .file_name()
        .map_or("averaged".into(), |n| n.to_string_lossy().into_owned());
    config.trained_steps = artifacts
        .iter()
        .map(|(m, _)| m.config.trained_steps)
        .max()
        .unwrap_or(0);
    config.trained_lines = artifacts
        .iter()
        .map(|(m, _)| m.config.trained_lines)
        .max()
        .unwrap_or(0);
    write_atomic(&a.out.join("model.bpk"), &bytes)?;
    write_atomic(
        &a.out.join("config.json"),
        serde_json::to_string_pretty(&config)?.as_bytes(),
    )?;
    write_atomic(
        &a.out.join("average.json"),
        serde_json::to_string_pretty(&inputs)?.as_bytes(),
    )?;
    copy_lexicon(Path::new(&inputs[0].dir), &a.out)?;
    println!(
        "wrote {} (mean of {} checkpoints)",
        a.out.display(),
        inputs.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Copy the first input's lexicon and its licence, when it has them.
fn copy_lexicon(from: &Path, to: &Path) -> anyhow::Result<()> {
    for name in ["lexicon.txt", "lexicon-copyright.txt"] {
        let src = from.join(name);
        if src.exists() && from.join(name) != to.join(name) {
            std::fs::copy(&src, to.join(name))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_take_an_optional_weight() {
        assert_eq!(parse_input("models/a").unwrap(), ("models/a".into(), 1.0));
        assert_eq!(
            parse_input("models/a:2.5").unwrap(),
            ("models/a".into(), 2.5)
        );
        assert_eq!(parse_input("c:\\m").unwrap(), ("c:\\m".into(), 1.0));
        assert!(parse_input("models/a:-1").is_err());
    }
}
