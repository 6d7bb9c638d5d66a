//! How `ferrocr ocr` drives its files, and the ordered [`Sink`] both ways write to:
//!
//! - **per file** ([`run_per_file`]): `jobs` threads, each taking the next file through the
//!   [`Engine`] on its own (one recognition batch per page). Best on the CPU, where every core
//!   runs a whole page and batching lines across pages buys nothing.
//! - **batched** ([`run_batched`]): every file goes through the dynamic [`Batcher`], as in
//!   `ferrocr serve`: pages of many files are preprocessed together (on the WGSL kernels on a
//!   GPU node) and their lines gathered into large recognition passes. What a GPU needs: one
//!   page's ~50 lines leave it mostly idle.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;

use crate::batcher::{Batcher, Priority};
use crate::document::{Document, StageTimings};
use crate::engine::{Engine, EngineOptions};
use crate::recognize::stage_clock::StageSeconds;
use crate::render::{OutputFormat, render, render_json_line};

/// Where results go: one file per input under `--out`, or stdout in input order as soon as
/// every earlier file is done. Counts failures and sums the pages' stage timings for
/// `--timings`. Shared by the worker threads or tasks.
pub(super) struct Sink<'a> {
    files: &'a [PathBuf],
    outputs: Option<Vec<PathBuf>>,
    format: OutputFormat,
    /// One compact JSON document per line (several JSON results on stdout).
    compact_json: bool,
    progress: Option<indicatif::ProgressBar>,
    pending: Mutex<(usize, Vec<Option<String>>)>,
    failed: AtomicUsize,
    totals: Mutex<(usize, StageTimings)>,
}

impl<'a> Sink<'a> {
    /// A sink for `files`, writing into `out` when given.
    pub(super) fn new(
        files: &'a [PathBuf],
        out: Option<&Path>,
        format: OutputFormat,
        progress: Option<indicatif::ProgressBar>,
    ) -> Self {
        let n = files.len();
        Sink {
            files,
            outputs: out.map(|d| output_paths(files, d, format)),
            format,
            compact_json: n > 1 && out.is_none(),
            progress,
            pending: Mutex::new((0, vec![None; n])),
            failed: AtomicUsize::new(0),
            totals: Mutex::new((0, StageTimings::default())),
        }
    }

    /// Take file `i`'s outcome: render and write it, or report its failure.
    pub(super) fn finish(&self, i: usize, result: anyhow::Result<Document>) {
        let text = result.and_then(|doc| {
            self.add_timings(&doc);
            let text = if self.compact_json && self.format == OutputFormat::Json {
                render_json_line(&doc)
            } else {
                render(&doc, self.format)
            };
            match &self.outputs {
                Some(outs) => {
                    std::fs::write(&outs[i], text.as_bytes())
                        .with_context(|| format!("cannot write {}", outs[i].display()))?;
                    Ok(String::new())
                }
                None => Ok(text),
            }
        });
        let text = text.unwrap_or_else(|e| {
            self.failed.fetch_add(1, Ordering::SeqCst);
            let msg = format!("ferrocr: {}: {e:#}", self.files[i].display());
            match &self.progress {
                Some(pb) => pb.println(msg),
                None => eprintln!("{msg}"),
            }
            String::new()
        });
        if let Some(pb) = &self.progress {
            pb.inc(1);
        }
        if self.outputs.is_none() {
            let mut guard = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            guard.1[i] = Some(text);
            let mut stdout = std::io::stdout().lock();
            while guard.0 < self.files.len() {
                let k = guard.0;
                match guard.1[k].take() {
                    Some(t) => {
                        let _ = stdout.write_all(t.as_bytes());
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

    /// Clear the progress bar.
    pub(super) fn close(&self) {
        if let Some(pb) = &self.progress {
            pb.finish_and_clear();
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
            self.files.len(),
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

/// Output paths for `--out DIR`: stem + extension, full name when stems collide.
pub(super) fn output_paths(files: &[PathBuf], dir: &Path, format: OutputFormat) -> Vec<PathBuf> {
    let stem = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default()
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    for f in files {
        *counts.entry(stem(f)).or_default() += 1;
    }
    files
        .iter()
        .map(|f| {
            let s = stem(f);
            let base = if counts[&s] > 1 {
                f.file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or(s)
            } else {
                s
            };
            dir.join(format!("{base}.{}", format.extension()))
        })
        .collect()
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name().map(|n| n.to_string_lossy().to_string())
}

/// Every file through `engine` on `jobs` threads, each taking the next file when done.
pub(super) fn run_per_file(engine: &Engine, jobs: usize, sink: &Sink) {
    let files = sink.files;
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(files.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= files.len() {
                        break;
                    }
                    let path = &files[i];
                    let result = std::fs::read(path)
                        .context("cannot read file")
                        .and_then(|b| Ok(engine.process_bytes(&b, file_name(path))?));
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
    let files = sink.files;
    runtime.block_on(async {
        futures_util::stream::iter(0..files.len())
            .map(|i| {
                let options = options.clone();
                async move {
                    let path = &files[i];
                    let result = async {
                        let bytes = tokio::fs::read(path).await.context("cannot read file")?;
                        let meta = batcher.request(Priority::Interactive, None);
                        let doc = batcher
                            .process_document(bytes.into(), options, &meta, file_name(path))
                            .await?;
                        anyhow::Ok(doc)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_follow_stems_and_avoid_collisions() {
        let files = vec![
            PathBuf::from("x/a.png"),
            PathBuf::from("y/a.jpg"),
            PathBuf::from("b.tif"),
        ];
        let outs = output_paths(&files, Path::new("out"), OutputFormat::Alto);
        assert_eq!(
            outs,
            vec![
                PathBuf::from("out/a.png.alto.xml"),
                PathBuf::from("out/a.jpg.alto.xml"),
                PathBuf::from("out/b.alto.xml")
            ]
        );
    }
}
