//! Subcommands of the `ferrocr` binary, one file each. `anyhow` is used only at this edge.

pub mod average;
pub mod doctor;
pub mod eval_lines;
pub mod inputs;
pub mod load;
pub mod ocr;
pub mod ocr_run;
pub mod serve;
pub mod train;
pub mod worker;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::compute::device::{DevicePreference, SelectedDevice, select_device};
use crate::recognize::model::ModelArtifact;
use crate::recognize::{BatchPolicy, CrnnRecognizer, Recognizer};

/// ferrocr: fast document OCR (structured text with confidences) on GPU or CPU.
#[derive(Parser, Debug)]
#[command(name = "ferrocr", version, about, long_about = None)]
pub struct Cli {
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true)]
    pub log_json: bool,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Recognise documents (images, multi-page TIFF, PDF) and print or write the results.
    Ocr(ocr::OcrArgs),
    /// Train the line recogniser on synthetic data.
    Train(train::TrainArgs),
    /// Average the weights of checkpoints of one training run into a new model directory.
    AverageModels(average::AverageArgs),
    /// Measure the recogniser on labelled line crops (lines.jsonl); boxes at least 3x taller than
    /// wide are also read turned (vertical text).
    EvalLines(eval_lines::EvalLinesArgs),
    /// Run the HTTP API (HTTP/1.1 + HTTP/2) with the dynamic batcher and job workers.
    Serve(serve::ServeArgs),
    /// Run job workers only (shares the settings of serve; for farms on PostgreSQL). With
    /// --listen, also /healthz, /readyz and /metrics (no OCR API; --tls-* and --api-key are
    /// refused).
    Worker(serve::ServeArgs),
    /// Load-test a running server: throughput, latency percentiles, errors by kind.
    Load(load::LoadArgs),
    /// Report GPU adapters, device choices, caches and the model; self-test GPU vs CPU.
    Doctor(doctor::DoctorArgs),
}

/// Model and device options shared by the commands that recognise text.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Compute device: auto (a hardware GPU when present, else CPU), cpu or gpu.
    #[arg(long, value_enum, env = "FERROCR_DEVICE", default_value_t = DevicePreference::Auto)]
    pub device: DevicePreference,
    /// Model directory (config.json + model.bpk); default: the model built into the binary.
    #[arg(long, env = "FERROCR_MODEL")]
    pub model: Option<PathBuf>,
    /// Decode without the model's lexicon (no dictionary correction of out-of-vocabulary
    /// words): for documents in other languages, or to measure the model alone.
    #[arg(long, env = "FERROCR_NO_LEXICON")]
    pub no_lexicon: bool,
    /// Give lines the model is unsure of (a character below 50 % confidence) a second look
    /// from two other framings of them, keeping the most confident reading: ~6 % lower CER on
    /// annotated line crops, no gain on whole pages (layout's lines), two more reads of each
    /// unsure line.
    #[arg(long, env = "FERROCR_SECOND_LOOK")]
    pub second_look: bool,
    /// Decode each line greedily (best class per frame) instead of by CTC prefix beam search:
    /// slightly faster, slightly less accurate; for measuring the decoder.
    #[arg(long, env = "FERROCR_GREEDY")]
    pub greedy: bool,
}

impl ModelArgs {
    /// Load the model on the chosen device.
    pub fn recognizer(&self) -> anyhow::Result<Arc<dyn Recognizer>> {
        Ok(self.load()?.0)
    }

    /// [`ModelArgs::recognizer`] with the device it was placed on (for callers that also run
    /// the GPU page kernels or pick a pipeline by backend).
    pub fn load(&self) -> anyhow::Result<(Arc<dyn Recognizer>, SelectedDevice)> {
        self.load_for(&crate::batcher::BatcherConfig::default())
    }

    /// [`ModelArgs::load`] for batches gathered as `batching` says, so that the recogniser's
    /// passes take the batches the line stage gathers whole.
    pub fn load_for(
        &self,
        batching: &crate::batcher::BatcherConfig,
    ) -> anyhow::Result<(Arc<dyn Recognizer>, SelectedDevice)> {
        let artifact = ModelArtifact::resolve(self.model.as_deref())?;
        let selected = select_device(self.device)?;
        tracing::info!(backend = selected.backend, adapter = %selected.adapter, reason = %selected.reason, "device selected");
        let rec = self.crnn_for(
            &artifact,
            selected.device.clone(),
            selected.backend,
            batching,
        )?;
        Ok((Arc::new(rec), selected))
    }

    /// The CRNN of `artifact` on `device`, honouring `--no-lexicon`, `--second-look` and
    /// `--greedy`, batching as `serve` does by default on that backend
    /// ([`BatchPolicy::for_backend`]).
    pub fn crnn(
        &self,
        artifact: &ModelArtifact,
        device: burn::tensor::Device,
        backend: &str,
    ) -> anyhow::Result<CrnnRecognizer> {
        self.crnn_for(
            artifact,
            device,
            backend,
            &crate::batcher::BatcherConfig::default(),
        )
    }

    /// [`ModelArgs::crnn`] batching as `serve` would with `batching`.
    pub fn crnn_for(
        &self,
        artifact: &ModelArtifact,
        device: burn::tensor::Device,
        backend: &str,
        batching: &crate::batcher::BatcherConfig,
    ) -> anyhow::Result<CrnnRecognizer> {
        let policy =
            BatchPolicy::for_backend(backend, batching.max_batch_lines, batching.max_batch_pixels);
        let mut rec = CrnnRecognizer::new(artifact, device, backend)?.with_policy(policy);
        if self.no_lexicon {
            rec = rec.without_lexicon();
        }
        if self.second_look {
            rec = rec.with_second_look();
        }
        if self.greedy {
            rec = rec.greedy();
        }
        Ok(rec)
    }
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colour codes only for a person at a terminal, never into a log file or a pipe.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Entry point of the binary: exit code 0 on success, 1 when some work failed, 2 on usage errors.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_json);
    let result = match cli.command {
        Command::Ocr(a) => ocr::run(a),
        Command::Train(a) => train::run(a),
        Command::AverageModels(a) => average::run(a),
        Command::EvalLines(a) => eval_lines::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Load(a) => load::run(a),
        Command::Worker(a) => worker::run(a),
        Command::Doctor(a) => doctor::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ferrocr: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
