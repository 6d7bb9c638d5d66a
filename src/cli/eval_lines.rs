//! `ferrocr eval-lines`: recognition measured apart from layout on labelled line crops.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::ModelArgs;
use crate::eval::lines::{evaluate, load_line_set};

/// Arguments of `ferrocr eval-lines`.
#[derive(Args, Debug)]
pub struct EvalLinesArgs {
    /// Directory holding lines.jsonl and the images it names.
    #[arg(long)]
    pub data: PathBuf,
    /// Measure at most this many lines (spread evenly over the file).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Write the figures as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Model and device.
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Run `ferrocr eval-lines`.
pub fn run(a: EvalLinesArgs) -> anyhow::Result<ExitCode> {
    let recognizer = a.model.recognizer()?;
    let set = load_line_set(&a.data, a.limit)?;
    if set.is_empty() {
        anyhow::bail!("{}: no lines", a.data.display());
    }
    let (report, _) = evaluate(recognizer.as_ref(), &set)?;
    println!("{}", recognizer.describe());
    println!(
        "lines {}  CER {:.4}  CER-ci {:.4}  WER {:.4}  WER-ci {:.4}  exact-ci {:.3}  ECE {:.4}  ({:.1} lines/s)",
        report.lines,
        report.cer,
        report.cer_ci,
        report.wer,
        report.wer_ci,
        report.exact_lines_ci,
        report.ece,
        report.lines as f64 / report.recognize_s.max(1e-9)
    );
    println!(
        "{:<10} {:>6} {:>8} {:>8} {:>8}",
        "group", "lines", "CER", "CER-ci", "WER-ci"
    );
    for g in &report.groups {
        println!(
            "{:<10} {:>6} {:>8.4} {:>8.4} {:>8.4}",
            g.group, g.lines, g.cer, g.cer_ci, g.wer_ci
        );
    }
    println!("calibration (word confidence vs word accuracy, case-insensitive):");
    println!(
        "{:>11} {:>7} {:>9} {:>9}",
        "bin", "words", "mean conf", "accuracy"
    );
    for b in &report.calibration.bins {
        println!(
            "{:>5.1}-{:<5.1} {:>7} {:>9.3} {:>9.3}",
            b.lo, b.hi, b.count, b.mean_confidence, b.accuracy
        );
    }
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(ExitCode::SUCCESS)
}
