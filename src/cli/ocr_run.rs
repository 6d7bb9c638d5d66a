//! How `ferrocr ocr` drives its files, and the ordered [`Sink`] both ways write to:
//!
//! - **per file** ([`run_per_file`]): `jobs` threads, each taking the next file through the
//!   [`Engine`] on its own (one recognition batch per page). Best on the CPU, where every core
//!   runs a whole page and batching lines across pages buys nothing.
//! - **batched** ([`run_batched`]): every file goes through the dynamic [`Batcher`], as in
//!   `ferrocr serve`: pages of many files are preprocessed together (on the WGSL kernels on a
//!   GPU node) and their lines gathered into large recognition passes. What a GPU needs: one
//!   page's ~50 lines leave it mostly idle.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;

use crate::batcher::{Batcher, Priority};
use crate::decode::DecodeLimits;
use crate::document::{Document, StageTimings};
use crate::engine::{Engine, EngineOptions};
use crate::recognize::stage_clock::StageSeconds;
use crate::render::{OutputFormat, render_bytes, render_hocr_documents, render_json_line};

use super::inputs::{Input, output_paths};

/// A file's document and the bytes it was read from (PDF output embeds its pages).
pub(super) type FileResult = anyhow::Result<(Document, bytes::Bytes)>;

/// How results reach stdout when there is no `--out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StdoutMode {
    /// Each input's rendering as it is (one input, or several text-like results).
    Plain,
    /// Several inputs as text: a `==> NAME <==` line before each input's text.
    TextWithHeaders,
    /// Several inputs as JSON: one compact document per line.
    JsonLines,
    /// Several inputs as hOCR: one file holding every input's pages, written at the end.
    OneHocr,
}

/// Where results go: one file per input under `--out`, or stdout in input order as soon as
/// every earlier input is done. Counts failures and sums the pages' stage timings for
/// `--timings`. Shared by the worker threads or tasks.
pub(super) struct Sink<'a> {
    inputs: &'a [Input],
    outputs: Option<Vec<PathBuf>>,
    format: OutputFormat,
    /// The limits files are decoded under (PDF output decodes its pages again).
    limits: DecodeLimits,
    mode: StdoutMode,
    progress: Option<indicatif::ProgressBar>,
    pending: Mutex<(usize, Vec<Option<Vec<u8>>>)>,
    /// Documents kept for one hOCR file of several inputs ([`StdoutMode::OneHocr`]).
    hocr: Mutex<Vec<Option<Document>>>,
    failed: AtomicUsize,
    totals: Mutex<(usize, StageTimings)>,
}

impl<'a> Sink<'a> {
    /// A sink for `inputs`, writing into `out` when given. Fails before any work when two
    /// inputs would write the same file, or when several inputs cannot share stdout in
    /// `format` (ALTO, TSV and PDF hold one document each).
    pub(super) fn new(
        inputs: &'a [Input],
        out: Option<&Path>,
        format: OutputFormat,
        limits: DecodeLimits,
        progress: Option<indicatif::ProgressBar>,
    ) -> anyhow::Result<Self> {
        let n = inputs.len();
        let outputs = out.map(|d| output_paths(inputs, d, format)).transpose()?;
        let mode = match (n > 1 && out.is_none(), format) {
            (false, _) => StdoutMode::Plain,
            (true, OutputFormat::Text) => StdoutMode::TextWithHeaders,
            (true, OutputFormat::Json) => StdoutMode::JsonLines,
            (true, OutputFormat::Hocr) => StdoutMode::OneHocr,
            (true, f) => anyhow::bail!(
                "--format {} holds one document per file and cannot put {n} inputs on stdout: \
                 give --out DIR (one result file per input)",
                clap::ValueEnum::to_possible_value(&f)
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_default()
            ),
        };
        if let Some(outs) = &outputs {
            for p in outs {
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("cannot create {}", parent.display()))?;
                }
            }
        }
        Ok(Sink {
            inputs,
            outputs,
            format,
            limits,
            mode,
            progress,
            pending: Mutex::new((0, vec![None; n])),
            hocr: Mutex::new(vec![None; if mode == StdoutMode::OneHocr { n } else { 0 }]),
            failed: AtomicUsize::new(0),
            totals: Mutex::new((0, StageTimings::default())),
        })
    }

    /// The rendering of input `i`'s document for its file or for stdout.
    fn rendering(&self, i: usize, doc: &Document, source: &[u8]) -> anyhow::Result<Vec<u8>> {
        if self.outputs.is_some() {
            return Ok(render_bytes(doc, self.format, source, &self.limits)?);
        }
        Ok(match self.mode {
            StdoutMode::Plain => render_bytes(doc, self.format, source, &self.limits)?,
            StdoutMode::JsonLines => render_json_line(doc).into_bytes(),
            StdoutMode::TextWithHeaders => {
                let mut out = format!("==> {} <==\n", self.inputs[i].display).into_bytes();
                out.extend(render_bytes(doc, self.format, source, &self.limits)?);
                if !out.ends_with(b"\n") {
                    out.push(b'\n');
                }
                out
            }
            StdoutMode::OneHocr => {
                let mut kept = self.hocr.lock().unwrap_or_else(|p| p.into_inner());
                kept[i] = Some(doc.clone());
                Vec::new()
            }
        })
    }

    /// Take input `i`'s outcome: render and write it, or report its failure.
    pub(super) fn finish(&self, i: usize, result: FileResult) {
        let text = result.and_then(|(doc, source)| {
            self.add_timings(&doc);
            let text = self.rendering(i, &doc, &source)?;
            match &self.outputs {
                Some(outs) => {
                    std::fs::write(&outs[i], &text)
                        .with_context(|| format!("cannot write {}", outs[i].display()))?;
                    Ok(Vec::new())
                }
                None => Ok(text),
            }
        });
        let text = text.unwrap_or_else(|e| {
            self.failed.fetch_add(1, Ordering::SeqCst);
            let msg = format!("ferrocr: {}: {e:#}", self.inputs[i].display);
            match &self.progress {
                Some(pb) => pb.println(msg),
                None => eprintln!("{msg}"),
            }
            Vec::new()
        });
        if let Some(pb) = &self.progress {
            pb.inc(1);
        }
        if self.outputs.is_none() {
            let mut guard = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            guard.1[i] = Some(text);
            let mut stdout = std::io::stdout().lock();
            while guard.0 < self.inputs.len() {
                let k = guard.0;
                match guard.1[k].take() {
                    Some(t) => {
                        let _ = stdout.write_all(&t);
                        guard.0 += 1;
                    }
                    None => break,
                }
            }
            let _ = stdout.flush();
        }
    }

    fn add_timings(&self, doc: &Document) {
        let mut t = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        for p in &doc.pages {
            t.0 += 1;
            t.1.decode_ms += p.timings.decode_ms;
            t.1.preprocess_ms += p.timings.preprocess_ms;
            t.1.layout_ms += p.timings.layout_ms;
            t.1.recognize_ms += p.timings.recognize_ms;
            t.1.assemble_ms += p.timings.assemble_ms;
        }
    }

    /// Files that failed.
    pub(super) fn failed(&self) -> usize {
        self.failed.load(Ordering::SeqCst)
    }

    /// Clear the progress bar, and write the one hOCR file of several inputs (the inputs
    /// that failed are named on stderr and left out).
    pub(super) fn close(&self) {
        if let Some(pb) = &self.progress {
            pb.finish_and_clear();
        }
        if self.mode == StdoutMode::OneHocr && self.outputs.is_none() {
            let kept = std::mem::take(&mut *self.hocr.lock().unwrap_or_else(|p| p.into_inner()));
            let docs: Vec<Document> = kept.into_iter().flatten().collect();
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(render_hocr_documents(&docs).as_bytes());
            let _ = stdout.flush();
        }
    }

    /// The `--timings` report: throughput over `wall`, each stage's mean wall time per page
    /// (stages of different pages overlap, so these add up to more than wall / pages), and the
    /// recogniser's own clock when it keeps one.
    pub(super) fn timings_report(
        &self,
        pipeline: &str,
        wall: Duration,
        clock: Option<StageSeconds>,
    ) -> String {
        let (pages, t) = self
            .totals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let secs = wall.as_secs_f64();
        let per = |ms: f64| ms / pages.max(1) as f64;
        let mut s = format!(
            "ferrocr: timings ({pipeline}): {pages} pages from {} files in {secs:.2} s = {:.2} pages/s; \
             mean per page: decode {:.1} ms, preprocess {:.1} ms, layout {:.1} ms, recognise {:.1} ms, \
             assemble {:.1} ms",
            self.inputs.len(),
            pages as f64 / secs.max(1e-9),
            per(t.decode_ms),
            per(t.preprocess_ms),
            per(t.layout_ms),
            per(t.recognize_ms),
            per(t.assemble_ms),
        );
        if let Some(c) = clock {
            s.push_str(&format!(
                "; recogniser: {} passes, forward {:.2} s, decoding {:.2} s, padding {:.2}x",
                c.passes,
                c.forward_s,
                c.decode_s,
                c.padded_columns as f64 / c.line_columns.max(1) as f64
            ));
        }
        s
    }
}

/// Every file through `engine` on `jobs` threads, each taking the next file when done.
pub(super) fn run_per_file(engine: &Engine, jobs: usize, sink: &Sink) {
    let inputs = sink.inputs;
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(inputs.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= inputs.len() {
                        break;
                    }
                    let input = &inputs[i];
                    let result = input.read().and_then(|b| {
                        let doc = engine.process_bytes(&b, input.source_name())?;
                        Ok((doc, b))
                    });
                    sink.finish(i, result);
                }
            });
        }
    });
}

/// Every file through `batcher`, `in_flight` files at a time (read, decoded and queued), each
/// finished as soon as its last page is assembled.
pub(super) fn run_batched(
    batcher: &Batcher,
    options: Arc<EngineOptions>,
    in_flight: usize,
    sink: &Sink,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ferrocr-ocr")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let inputs = sink.inputs;
    runtime.block_on(async {
        futures_util::stream::iter(0..inputs.len())
            .map(|i| {
                let options = options.clone();
                async move {
                    let input = &inputs[i];
                    let result = async {
                        let read = input.clone();
                        let bytes = tokio::task::spawn_blocking(move || read.read())
                            .await
                            .context("file reader failed")??;
                        let meta = batcher.request(Priority::Interactive, None);
                        let doc = batcher
                            .process_document(bytes.clone(), options, &meta, input.source_name())
                            .await?;
                        anyhow::Ok((doc, bytes))
                    }
                    .await;
                    (i, result)
                }
            })
            .buffer_unordered(in_flight.max(1))
            .for_each(|(i, result)| {
                sink.finish(i, result);
                std::future::ready(())
            })
            .await;
    });
    Ok(())
}
