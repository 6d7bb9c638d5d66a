//! `ferrocr train`: train (or resume training) the line recogniser on synthetic data.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::compute::device::DevicePreference;
use crate::train::synth::SynthGenerator;
use crate::train::synth::fonts::FontSet;
use crate::train::synth::text::TextGenerator;
use crate::train::trainer::{TrainOptions, train};

/// Arguments of `ferrocr train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Output directory: model artefact (config.json, model.bpk) and checkpoint.
    #[arg(long)]
    pub out: PathBuf,
    /// Total optimiser steps to reach (a resumed run counts its earlier steps).
    #[arg(long, default_value_t = 20_000)]
    pub steps: u64,
    /// Lines per batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Device to train on: auto prefers a hardware GPU.
    #[arg(long, value_enum, env = "FERROCR_DEVICE", default_value_t = DevicePreference::Auto)]
    pub device: DevicePreference,
    /// Continue from the checkpoint in --out.
    #[arg(long)]
    pub resume: bool,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Peak learning rate (Adam).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Linear warm-up steps.
    #[arg(long, default_value_t = 300)]
    pub warmup: u64,
    /// Step the learning-rate schedule (warm-up, then cosine decay to 5 % of --lr at --steps)
    /// starts from: 0 for a new run; a resumed run's step for a warm restart.
    #[arg(long, default_value_t = 0)]
    pub schedule_from: u64,
    /// Validate every N steps.
    #[arg(long, default_value_t = 500)]
    pub val_every: u64,
    /// Checkpoint every N steps.
    #[arg(long, default_value_t = 250)]
    pub checkpoint_every: u64,
    /// Real labelled lines (a directory with lines.jsonl) to measure on; never trained on.
    #[arg(long)]
    pub val_lines: Option<PathBuf>,
    /// Most real lines to validate on.
    #[arg(long, default_value_t = 400)]
    pub val_real_limit: usize,
    /// Held-out synthetic lines to validate on.
    #[arg(long, default_value_t = 256)]
    pub val_synth: usize,
    /// Stop with a checkpoint after this step (before --steps, which still sets the
    /// learning-rate schedule); `--resume` continues from there.
    #[arg(long)]
    pub stop_at: Option<u64>,
    /// Progress line every N steps.
    #[arg(long, default_value_t = 25)]
    pub log_every: u64,
    /// Longest synthetic line in characters (shorter lines train faster; layout splits rows
    /// at wide gaps, so most real line pieces are short).
    #[arg(long, default_value_t = 40)]
    pub max_chars: usize,
    /// BiLSTM layers: the architecture of a new run; resuming a checkpoint with fewer grows it
    /// by residual layers that start as the identity (default: 1, or the checkpoint's).
    #[arg(long)]
    pub lstm_layers: Option<usize>,
    /// Only write this many synthetic samples (PNG + labels.txt) into --out and exit.
    #[arg(long)]
    pub dump_samples: Option<usize>,
}

/// Run `ferrocr train`.
pub fn run(a: TrainArgs) -> anyhow::Result<ExitCode> {
    if a.batch == 0
        || a.steps == 0
        || a.val_every == 0
        || a.checkpoint_every == 0
        || a.log_every == 0
    {
        anyhow::bail!(
            "--batch, --steps, --val-every, --checkpoint-every and --log-every must be positive"
        );
    }
    if a.schedule_from >= a.steps {
        anyhow::bail!(
            "--schedule-from {} must be below --steps {} (the schedule runs from one to the other)",
            a.schedule_from,
            a.steps
        );
    }
    let fonts = FontSet::discover()?;
    eprintln!("{}", fonts.report());
    let generator = SynthGenerator::new(
        fonts,
        TextGenerator::new().with_max_chars(a.max_chars),
        a.seed,
    )?;
    if let Some(n) = a.dump_samples {
        generator.write_samples(&a.out, n)?;
        println!("wrote {n} samples to {}", a.out.display());
        return Ok(ExitCode::SUCCESS);
    }
    let opts = TrainOptions {
        out: a.out,
        steps: a.steps,
        stop_at: a.stop_at,
        batch: a.batch,
        device: a.device,
        resume: a.resume,
        seed: a.seed,
        lr: a.lr,
        warmup: a.warmup,
        schedule_from: a.schedule_from,
        val_every: a.val_every,
        checkpoint_every: a.checkpoint_every,
        val_lines: a.val_lines,
        val_real_limit: a.val_real_limit,
        val_synth: a.val_synth,
        log_every: a.log_every,
        lstm_layers: a.lstm_layers,
    };
    let state = train(&opts, generator)?;
    println!(
        "done: step {} ({} lines, {:.0} s of training)",
        state.step, state.lines_seen, state.train_seconds
    );
    Ok(ExitCode::SUCCESS)
}
