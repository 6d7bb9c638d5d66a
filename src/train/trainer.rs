//! The training loop: CTC on synthetic lines, Adam with warm-up and cosine decay, gradient-norm
//! clipping, validation on held-out synthetic lines and (when given) real labelled lines, and
//! checkpoints that make runs resumable across machines and backends.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::nn::loss::{CTCLossConfig, Reduction};
use burn::optim::{AdamConfig, GradientsParams};
use burn::store::ModuleRecord;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Bytes, Int, Tensor, TensorData};

use super::checkpoint::{TrainState, load_state, save_state, write_atomic};
use super::data::{Batch, Example, collate, make_examples};
use super::synth::SynthGenerator;
use crate::compute::device::{DevicePreference, select_device};
use crate::error::{OcrError, Result};
use crate::eval::lines::{evaluate, load_line_set};
use crate::eval::metrics::EditCounts;
use crate::recognize::model::ModelConfig;
use crate::recognize::{CrnnRecognizer, LINE_HEIGHT, Recognizer};

/// Options of `ferrocr train`.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Output directory: the model artefact plus the training checkpoint.
    pub out: PathBuf,
    /// Train until this many steps in total (a resumed run counts earlier steps); also the
    /// length of the learning-rate schedule.
    pub steps: u64,
    /// Stop (with a checkpoint) after this step, before `steps`, leaving the schedule as it is:
    /// a run can be split into sessions, or cut short, reproducibly.
    pub stop_at: Option<u64>,
    /// Lines per batch.
    pub batch: usize,
    /// Device to train on.
    pub device: DevicePreference,
    /// Continue from the checkpoint in `out`.
    pub resume: bool,
    /// Data seed.
    pub seed: u64,
    /// Peak learning rate.
    pub lr: f64,
    /// Linear warm-up steps.
    pub warmup: u64,
    /// Step the schedule starts from (0, or a resumed step for a warm restart).
    pub schedule_from: u64,
    /// Validate every N steps.
    pub val_every: u64,
    /// Write a checkpoint every N steps.
    pub checkpoint_every: u64,
    /// Directory with a `lines.jsonl` of real labelled lines, measured (never trained on).
    pub val_lines: Option<PathBuf>,
    /// Most real lines to validate on.
    pub val_real_limit: usize,
    /// Held-out synthetic lines to validate on.
    pub val_synth: usize,
    /// Print a progress line every N steps.
    pub log_every: u64,
    /// BiLSTM layers of the network: for a new run, its architecture; for a resumed one with
    /// fewer, grow it by residual layers that start as the identity (see
    /// [`crate::recognize::crnn::ResidualBiLstm`]). `None` keeps the checkpoint's.
    pub lstm_layers: Option<usize>,
}

/// Index offset of held-out synthetic validation samples (training never reaches it).
const VALIDATION_OFFSET: u64 = 1 << 48;

/// Learning rate at `step`: linear warm-up over `warmup` steps from `schedule_from`, then cosine
/// decay to 5 % of `lr` at `steps`.
fn learning_rate(opts: &TrainOptions, step: u64) -> f64 {
    let step = step.saturating_sub(opts.schedule_from);
    if step < opts.warmup {
        return opts.lr * (step + 1) as f64 / opts.warmup as f64;
    }
    let total = opts.steps.saturating_sub(opts.schedule_from);
    let span = total.saturating_sub(opts.warmup).max(1) as f64;
    let progress = ((step - opts.warmup) as f64 / span).min(1.0);
    let floor = 0.05;
    opts.lr * (floor + (1.0 - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
}

fn synth_cer(recognizer: &dyn Recognizer, examples: &[Example]) -> Result<(f64, f64)> {
    let images: Vec<_> = examples.iter().map(|e| e.line.clone()).collect();
    let hyps = recognizer.recognize(&images)?;
    let mut counts = EditCounts::default();
    let mut exact = 0usize;
    for (e, h) in examples.iter().zip(&hyps) {
        let c = EditCounts::compare(&e.text, &h.text, false);
        exact += (c.char_edits == 0) as usize;
        counts.add(c);
    }
    Ok((counts.cer(), exact as f64 / examples.len().max(1) as f64))
}

fn log_line(out: &Path, line: &str) {
    println!("{line}");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out.join("train_log.txt"))
    {
        let _ = writeln!(f, "{line}");
    }
}

fn batch_tensors(
    b: &Batch,
    device: &burn::tensor::Device,
) -> (Tensor<4>, Tensor<2, Int>, Tensor<1, Int>, Tensor<1, Int>) {
    let x = Tensor::<4>::from_data(
        TensorData::new(b.pixels.clone(), [b.n, 1, LINE_HEIGHT, b.width]),
        device,
    );
    let targets = Tensor::<2, Int>::from_data(
        TensorData::new(b.targets.clone(), [b.n, b.max_target]),
        device,
    );
    let il = Tensor::<1, Int>::from_data(TensorData::new(b.input_lengths.clone(), [b.n]), device);
    let tl = Tensor::<1, Int>::from_data(TensorData::new(b.target_lengths.clone(), [b.n]), device);
    (x, targets, il, tl)
}

/// Run training as `opts` says; returns the final state.
pub fn train(opts: &TrainOptions, generator: SynthGenerator) -> Result<TrainState> {
    std::fs::create_dir_all(&opts.out)?;
    let selected = select_device(opts.device)?;
    let base = selected.device.clone();
    let ad = base.clone().autodiff();
    let name = opts
        .out
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "model".into());

    let prior = if opts.resume {
        load_state(&opts.out)?
    } else {
        None
    };
    let weights_path = opts.out.join("model.bpk");
    let (mut config, mut state) = match (&prior, opts.resume && weights_path.exists()) {
        (_, true) => {
            let text = std::fs::read_to_string(opts.out.join("config.json"))?;
            let cfg: ModelConfig = serde_json::from_str(&text)
                .map_err(|e| OcrError::Model(format!("config.json: {e}")))?;
            cfg.validate()?;
            let st = prior.clone().unwrap_or(TrainState {
                step: cfg.trained_steps,
                next_sample: cfg.trained_lines + (opts.seed << 32),
                lines_seen: cfg.trained_lines,
                seed: opts.seed,
                best_real_cer_ci: 1.0,
                ..Default::default()
            });
            (cfg, st)
        }
        _ => (
            ModelConfig::new_default(&name),
            TrainState {
                seed: opts.seed,
                best_real_cer_ci: 1.0,
                ..Default::default()
            },
        ),
    };
    let grown_from = apply_lstm_layers(
        opts.lstm_layers,
        &mut config.architecture,
        opts.resume && weights_path.exists(),
    )?;
    let alphabet = config.alphabet();
    let mut model = config.architecture.init(&ad);
    let mut optim = AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(5.0)))
        .init();
    if opts.resume && weights_path.exists() {
        let bytes = std::fs::read(&weights_path)?;
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
            .map_err(|e| OcrError::Model(format!("model.bpk: {e:?}")))?
            // A grown network's new layers are not in the checkpoint; everything else must be.
            .allow_partial(grown_from.is_some());
        model = model
            .try_load_record(record)
            .map_err(|e| OcrError::Model(format!("model.bpk: {e:?}")))?;
        let opt_path = opts.out.join("optimizer.bpk");
        if let Some(from) = grown_from {
            log_line(
                &opts.out,
                &format!(
                    "grown from {from} to {} BiLSTM layers (the new ones start as the identity); the optimiser state starts afresh",
                    config.architecture.lstm_layers
                ),
            );
        } else if opt_path.exists() {
            optim = optim
                .load(&opt_path)
                .map_err(|e| OcrError::Model(format!("optimizer.bpk: {e:?}")))?;
        }
        log_line(
            &opts.out,
            &format!(
                "resumed at step {} ({} lines seen)",
                state.step, state.lines_seen
            ),
        );
    }
    let session_start_step = state.step;
    log_line(
        &opts.out,
        &format!(
            "training {} on {} ({}): {} parameters, {:.2} MFLOP per output frame, batch {}, steps {} -> {} (schedule of {})",
            name,
            selected.backend,
            selected.adapter,
            model.num_params(),
            config.architecture.flops_per_frame() as f64 / 1e6,
            opts.batch,
            state.step,
            opts.stop_at.map_or(opts.steps, |s| s.min(opts.steps)),
            opts.steps
        ),
    );

    let generator = Arc::new(generator);
    let (val_synth, _) = make_examples(&generator, &alphabet, VALIDATION_OFFSET, opts.val_synth);
    let val_real = match &opts.val_lines {
        Some(d) => Some(load_line_set(d, Some(opts.val_real_limit), false)?),
        None => None,
    };

    // Producer: batches generated ahead on the rayon pool, handed over through a bounded channel.
    let (tx, rx) = crossbeam_channel::bounded::<(Batch, u64)>(3);
    let producer = {
        let generator = Arc::clone(&generator);
        let alphabet = alphabet.clone();
        let (batch, mut next) = (opts.batch, state.next_sample);
        std::thread::spawn(move || {
            // Generate a pool of several batches, then cut it into batches of similar widths so
            // little compute goes to padding.
            const POOL: usize = 4;
            loop {
                let (mut examples, n) = make_examples(&generator, &alphabet, next, batch * POOL);
                next = n;
                examples.sort_by_key(|e| e.line.content_width);
                for chunk in examples.chunks(batch) {
                    if tx.send((collate(chunk), next)).is_err() {
                        return;
                    }
                }
            }
        })
    };

    let ctc = CTCLossConfig::new().with_zero_infinity(true).init();
    let t_session = Instant::now();
    let mut t_log = Instant::now();
    let mut lines_since_log = 0usize;
    let mut ema_loss: Option<f64> = None;
    let train_seconds_before = state.train_seconds;
    let end = opts.stop_at.map_or(opts.steps, |s| s.min(opts.steps));
    while state.step < end {
        let (batch, next) = rx
            .recv()
            .map_err(|_| OcrError::Internal("training data producer stopped".into()))?;
        let lr = learning_rate(opts, state.step);
        let (x, targets, il, tl) = batch_tensors(&batch, &ad);
        let logits = model.forward(x);
        let log_probs = log_softmax(logits, 2).swap_dims(0, 1);
        let loss = ctc.forward_with_reduction(log_probs, targets, il, tl, Reduction::Mean);
        let loss_value = loss
            .clone()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .ok()
            .and_then(|v| v.first().copied())
            .unwrap_or(f32::NAN) as f64;
        if loss_value.is_finite() {
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            ema_loss = Some(match ema_loss {
                Some(e) => 0.95 * e + 0.05 * loss_value,
                None => loss_value,
            });
        } else {
            log_line(
                &opts.out,
                &format!("step {}: non-finite loss, update skipped", state.step),
            );
        }
        state.step += 1;
        state.next_sample = next;
        state.lines_seen += batch.n as u64;
        lines_since_log += batch.n;
        state.train_seconds = train_seconds_before + t_session.elapsed().as_secs_f64();

        let last = state.step >= end;
        if state.step % opts.log_every == 0 || last {
            let dt = t_log.elapsed().as_secs_f64().max(1e-9);
            let sps = opts.log_every as f64 / dt;
            let eta_s = (end - state.step) as f64 / sps.max(1e-9);
            log_line(
                &opts.out,
                &format!(
                    "step {:>7} loss {:.4} lr {:.2e} {:.1} lines/s {:.2} s/step ETA {:.0} min",
                    state.step,
                    ema_loss.unwrap_or(f64::NAN),
                    lr,
                    lines_since_log as f64 / dt,
                    1.0 / sps,
                    eta_s / 60.0
                ),
            );
            t_log = Instant::now();
            lines_since_log = 0;
        }
        if state.step % opts.val_every == 0 || last {
            let rec =
                CrnnRecognizer::from_model(model.valid(), base.clone(), alphabet.clone(), 1.0);
            let (cer, exact) = synth_cer(&rec, &val_synth)?;
            let mut msg = format!(
                "validate step {}: synthetic CER {:.4} exact {:.3}",
                state.step, cer, exact
            );
            if let Some(real) = &val_real {
                let (report, _) = evaluate(&rec, real)?;
                msg.push_str(&format!(
                    " | real lines {}: CER {:.4} CER-ci {:.4} WER-ci {:.4} ECE {:.3}",
                    report.lines, report.cer, report.cer_ci, report.wer_ci, report.ece
                ));
                state.best_real_cer_ci = state.best_real_cer_ci.min(report.cer_ci);
            }
            log_line(&opts.out, &msg);
        }
        if state.step % opts.checkpoint_every == 0 || last {
            config.trained_steps = state.step;
            config.trained_lines = state.lines_seen;
            save_checkpoint(
                &opts.out,
                &config,
                &model,
                &optim,
                &state,
                session_start_step,
                &selected.adapter,
            )?;
        }
    }
    drop(rx);
    let _ = producer.join();
    Ok(state)
}

/// Apply `--lstm-layers` to the architecture: a new run takes it as is; a resumed checkpoint with
/// fewer layers is grown (returns the layer count it was grown from), never shrunk.
fn apply_lstm_layers(
    wanted: Option<usize>,
    arch: &mut crate::recognize::crnn::CrnnConfig,
    resuming: bool,
) -> Result<Option<usize>> {
    match wanted {
        Some(0) => Err(OcrError::BadParameter {
            name: "--lstm-layers".into(),
            detail: "must be at least 1".into(),
        }),
        Some(n) if n < arch.lstm_layers => Err(OcrError::BadParameter {
            name: "--lstm-layers".into(),
            detail: format!(
                "{n} is below the checkpoint's {} (a network can grow, not shrink)",
                arch.lstm_layers
            ),
        }),
        Some(n) if n > arch.lstm_layers => {
            let from = arch.lstm_layers;
            arch.lstm_layers = n;
            Ok(Some(from).filter(|_| resuming))
        }
        _ => Ok(None),
    }
}

fn save_checkpoint(
    out: &Path,
    config: &ModelConfig,
    model: &crate::recognize::crnn::Crnn,
    optim: &burn::optim::ModuleOptimizer,
    state: &TrainState,
    session_start: u64,
    adapter: &str,
) -> Result<()> {
    let bytes = model
        .valid()
        .into_record()
        .into_bytes()
        .map_err(|e| OcrError::Model(format!("serialising weights: {e:?}")))?;
    write_atomic(&out.join("model.bpk"), &bytes)?;
    let opt_tmp = out.join("optimizer.bpk.tmp");
    optim
        .save(&opt_tmp)
        .map_err(|e| OcrError::Model(format!("saving optimizer: {e:?}")))?;
    std::fs::rename(&opt_tmp, out.join("optimizer.bpk"))?;
    let json =
        serde_json::to_string_pretty(config).map_err(|e| OcrError::Internal(e.to_string()))?;
    write_atomic(&out.join("config.json"), json.as_bytes())?;
    let mut st = state.clone();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    st.sessions.push(format!(
        "{adapter} ({cores} cores): steps {session_start}-{}",
        state.step
    ));
    save_state(out, &st)
}

#[cfg(test)]
mod schedule_tests {
    use super::*;

    fn options(steps: u64, warmup: u64, schedule_from: u64) -> TrainOptions {
        TrainOptions {
            out: PathBuf::new(),
            steps,
            stop_at: None,
            batch: 1,
            device: DevicePreference::Cpu,
            resume: true,
            seed: 1,
            lr: 1e-3,
            warmup,
            schedule_from,
            val_every: 1,
            checkpoint_every: 1,
            val_lines: None,
            val_real_limit: 0,
            val_synth: 0,
            log_every: 1,
            lstm_layers: None,
        }
    }

    #[test]
    fn a_warm_restart_runs_the_whole_schedule_from_its_first_step() {
        let fresh = options(1000, 100, 0);
        assert!((learning_rate(&fresh, 0) - 1e-5).abs() < 1e-12);
        assert!((learning_rate(&fresh, 100) - 1e-3).abs() < 1e-12);
        assert!((learning_rate(&fresh, 1000) - 5e-5).abs() < 1e-12);
        // Restarted at step 5,000 for 1,000 more steps: the same curve, shifted.
        let restart = options(6000, 100, 5000);
        for s in [0, 50, 100, 550, 1000, 1200] {
            let a = learning_rate(&fresh, s);
            let b = learning_rate(&restart, 5000 + s);
            assert!((a - b).abs() < 1e-12, "step {s}: {a} vs {b}");
        }
    }
}
