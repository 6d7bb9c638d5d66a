//! `ferrocr ocr`: many files in parallel, each failure named with its reason while the others
//! complete; exit code 1 only when some file failed.
//!
//! Inputs are files, folders (read recursively) and `-` (standard input); see
//! [`super::inputs`]. Without `--out`, results go to stdout in input order; several inputs give
//! one valid document per format (text with a `==> NAME <==` line before each input, one
//! compact JSON document per line, one hOCR file of every page; ALTO, TSV and PDF need
//! `--out`). With `--out DIR`, one file per input named after its stem with the format's
//! extension (`a.png` -> `DIR/a.txt`), keeping the path below a folder given as input.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::ModelArgs;
use super::inputs::expand;
use super::ocr_run::{Sink, run_batched, run_per_file};
use crate::batcher::{Batcher, BatcherConfig};
use crate::decode::DecodeLimits;
use crate::engine::{Engine, EngineOptions};
use crate::metrics::Metrics;
use crate::recognize::LINE_HEIGHT;
use crate::render::OutputFormat;
use crate::text_layer::PdfTextMode;

/// How `ferrocr ocr` runs its files (see [`super::ocr_run`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OcrPipeline {
    /// Batched on a GPU, per file on the CPU.
    Auto,
    /// Through the dynamic batcher, as `serve` does: lines of many files per recognition pass,
    /// page kernels on the GPU.
    Batched,
    /// Each file alone through the pipeline on its own thread.
    PerFile,
}

/// Arguments of `ferrocr ocr`.
#[derive(Args, Debug)]
pub struct OcrArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Write one result file per input into this directory instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Files processed at the same time (default: the number of CPU cores; batched: twice that
    /// many files read and queued at once).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// How files are run: `batched` gathers the lines of many files into each recognition
    /// pass (what a GPU needs), `per-file` runs each file alone on a thread; `auto` is batched
    /// on the GPU backend and per file on the CPU.
    #[arg(long, value_enum, default_value_t = OcrPipeline::Auto)]
    pub pipeline: OcrPipeline,
    /// Most lines per recognition pass [default 256, as `serve`], gathered from many files by
    /// the batched pipeline; the padded-pixel budget grows with it (1,024 px per line). Larger
    /// passes keep a GPU busier.
    #[arg(long)]
    pub max_batch_lines: Option<usize>,
    /// After the run, print pages/s, mean per-page stage times and the recogniser's forward /
    /// decoding split to stderr (to name the stage that limits throughput).
    #[arg(long)]
    pub timings: bool,
    /// Model and device.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Words and lines under this confidence are flagged needs_review (0..1).
    #[arg(long, default_value_t = 0.6)]
    pub review_threshold: f32,
    /// Refuse pages with more pixels than this (checked from headers before decoding).
    #[arg(long, default_value_t = 100_000_000)]
    pub max_pixels: u64,
    /// Refuse files with more pages than this.
    #[arg(long, default_value_t = 1000)]
    pub max_pages: usize,
    /// Refuse files whose pages together hold more pixels than this (TIFF, from the headers
    /// before decoding); PDF pages are rendered at a lower DPI to fit, down to 100 DPI. Never
    /// below --max-pixels in effect
    #[arg(long, default_value_t = crate::decode::DEFAULT_DOCUMENT_PIXELS)]
    pub max_document_pixels: u64,
    /// Refuse files larger than this many bytes.
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    pub max_bytes: u64,
    /// Do not estimate and correct skew.
    #[arg(long)]
    pub no_deskew: bool,
    /// Do not detect page orientation (0/90/180/270).
    #[arg(long)]
    pub no_orientation: bool,
    /// Do not resample pages of very small or very large text to a workable text height.
    #[arg(long)]
    pub no_rescale: bool,
    /// PDF pages: `auto` reads a page's own text layer where it covers the page (a
    /// born-digital page: exact text, accents included) and OCRs pages that are images; `ocr`
    /// always recognises the rendered page; `use` takes any text layer, invisible ones too.
    #[arg(long, value_enum, default_value_t = PdfTextMode::Auto)]
    pub pdf_text: PdfTextMode,
    /// Input files (PNG, JPEG, TIFF, BMP, WebP, PNM, PDF), folders (read recursively) or `-`
    /// (standard input).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

impl OcrArgs {
    fn engine_options(&self) -> anyhow::Result<EngineOptions> {
        if !(0.0..=1.0).contains(&self.review_threshold) {
            anyhow::bail!(
                "--review-threshold must be within 0..1, got {}",
                self.review_threshold
            );
        }
        let mut o = EngineOptions {
            limits: DecodeLimits {
                max_bytes: self.max_bytes,
                max_page_pixels: self.max_pixels,
                max_pages: self.max_pages,
                max_document_pixels: self.max_document_pixels,
            },
            review_threshold: self.review_threshold,
            pdf_text: self.pdf_text,
            ..Default::default()
        };
        o.preprocess.deskew = !self.no_deskew;
        o.preprocess.detect_orientation = !self.no_orientation;
        o.preprocess.normalize_scale = !self.no_rescale;
        Ok(o)
    }
}

/// Run `ferrocr ocr`.
pub fn run(args: OcrArgs) -> anyhow::Result<ExitCode> {
    let options = args.engine_options()?;
    if !args.format.is_text() && args.out.is_none() && std::io::stdout().is_terminal() {
        anyhow::bail!(
            "--format pdf writes a binary file: redirect stdout to a file, or give --out DIR"
        );
    }
    let inputs = expand(&args.files)?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut batching = BatcherConfig::default();
    if let Some(n) = args.max_batch_lines {
        if n == 0 {
            anyhow::bail!("--max-batch-lines must be at least 1");
        }
        batching.max_batch_lines = n;
        batching.max_batch_pixels = n.saturating_mul(LINE_HEIGHT * 1024);
    }
    let (recognizer, selected) = args.model.load_for(&batching)?;
    let batched = match args.pipeline {
        OcrPipeline::Batched => true,
        OcrPipeline::PerFile => false,
        OcrPipeline::Auto => selected.backend == "gpu",
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let n = inputs.len();
    let progress = (n > 1 && std::io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new(n as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} files {elapsed_precise} ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let sink = Sink::new(
        &inputs,
        args.out.as_deref(),
        args.format,
        options.limits.clone(),
        progress,
    )?;
    let started = Instant::now();
    let pipeline = if batched {
        let kernels = crate::compute::page_kernels(&selected);
        let batcher = Batcher::start_with_kernels(
            recognizer.clone(),
            kernels,
            batching,
            Arc::new(Metrics::new()),
        )?;
        let in_flight = args.jobs.unwrap_or(2 * cores).clamp(1, 1024);
        run_batched(&batcher, Arc::new(options), in_flight, &sink)?;
        "batched"
    } else {
        let engine = Engine::new(recognizer.clone(), options);
        run_per_file(&engine, args.jobs.unwrap_or(cores).clamp(1, 256), &sink);
        "per file"
    };
    sink.close();
    if args.timings {
        let report = sink.timings_report(pipeline, started.elapsed(), recognizer.stage_seconds());
        eprintln!(
            "{report} ({} backend: {})",
            selected.backend, selected.adapter
        );
    }
    let failed = sink.failed();
    if failed > 0 {
        eprintln!("ferrocr: {failed} of {n} files failed");
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}
