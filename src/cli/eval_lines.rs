//! `ferrocr eval-lines`: recognition measured apart from layout on labelled line crops.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use std::sync::Arc;

use super::ModelArgs;
use crate::compute::device::select_device;
use crate::eval::lines::{evaluate, load_line_set, write_line_errors};
use crate::recognize::model::ModelArtifact;
use crate::recognize::{BatchPolicy, LINE_HEIGHT, Recognizer};

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
    /// Most lines per forward pass (default: the recogniser's policy, 64); larger batches keep
    /// a GPU busier. The padded-pixel budget grows with it (512 px per line).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Write every line's truth, prediction, edits and confidence here (TSV, worst first).
    #[arg(long)]
    pub errors: Option<PathBuf>,
    /// Recognise the whole set once, untimed, before measuring (shader compilation and
    /// autotuning then stay out of the lines/s figure).
    #[arg(long)]
    pub warm_up: bool,
    /// Time the convolutional backbone apart from the recurrent half of every forward pass
    /// (one device sync between them per pass): the `time:` line then splits the forward
    /// passes, to name the half that limits lines/s on a GPU.
    #[arg(long)]
    pub split_forward: bool,
    /// Model and device.
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Run `ferrocr eval-lines`.
pub fn run(a: EvalLinesArgs) -> anyhow::Result<ExitCode> {
    let artifact = ModelArtifact::resolve(a.model.model.as_deref())?;
    let selected = select_device(a.model.device)?;
    let mut rec = a.model.crnn(&artifact, selected.device, selected.backend)?;
    if let Some(n) = a.batch {
        let n = n.max(1);
        rec = rec.with_policy(BatchPolicy::fewest_passes(n, LINE_HEIGHT * 512 * n));
    }
    if a.split_forward {
        rec = rec.with_split_forward();
    }
    let recognizer: Arc<dyn Recognizer> = Arc::new(rec);
    let set = load_line_set(&a.data, a.limit, recognizer.reads_views())?;
    if set.is_empty() {
        anyhow::bail!("{}: no lines", a.data.display());
    }
    if a.warm_up {
        let lines: Vec<_> = set
            .iter()
            .flat_map(|l| l.region.readings.iter())
            .cloned()
            .collect();
        recognizer.recognize(&lines)?;
    }
    let before = recognizer.stage_seconds();
    let (report, hyps) = evaluate(recognizer.as_ref(), &set)?;
    let stages = recognizer
        .stage_seconds()
        .zip(before)
        .map(|(after, before)| after.since(before));
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
    if let Some(st) = stages {
        println!(
            "time: recognise {:.2} s = forward passes {:.2} s + decoding {:.2} s + rest; {} passes, padded columns {:.2}x the lines'",
            report.recognize_s,
            st.forward_s,
            st.decode_s,
            st.passes,
            st.padded_columns as f64 / st.line_columns.max(1) as f64
        );
        if a.split_forward {
            println!(
                "forward split: backbone (convolutions) {:.2} s + recurrent half (projection, BiLSTMs, head, softmax, read-back) {:.2} s",
                st.backbone_s,
                st.forward_s - st.backbone_s
            );
        }
    }
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
    if let Some(p) = &a.errors {
        let mut f = std::io::BufWriter::new(std::fs::File::create(p)?);
        write_line_errors(&mut f, &set, &hyps)?;
        std::io::Write::flush(&mut f)?;
    }
    if let Some(p) = &a.json {
        let mut value = serde_json::to_value(&report)?;
        if let (Some(st), Some(obj)) = (stages, value.as_object_mut()) {
            obj.insert("forward_s".into(), st.forward_s.into());
            obj.insert("decode_s".into(), st.decode_s.into());
            obj.insert("passes".into(), st.passes.into());
            obj.insert("line_columns".into(), st.line_columns.into());
            obj.insert("padded_columns".into(), st.padded_columns.into());
        }
        std::fs::write(p, serde_json::to_string_pretty(&value)?)?;
    }
    Ok(ExitCode::SUCCESS)
}
