//! `ferrocr ocr`: many files in parallel, each failure named with its reason while the others
//! complete; exit code 1 only when some file failed.
//!
//! Without `--out`, results go to stdout in input order (for `--format json` with several files,
//! one compact JSON document per line). With `--out DIR`, one file per input named after its stem
//! with the format's extension (`a.png` -> `DIR/a.txt`); when two inputs share a stem, the full
//! file name is used instead (`a.png.txt`).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use clap::Args;

use super::ModelArgs;
use crate::decode::DecodeLimits;
use crate::engine::{Engine, EngineOptions};
use crate::render::{OutputFormat, render};

/// Arguments of `ferrocr ocr`.
#[derive(Args, Debug)]
pub struct OcrArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Write one result file per input into this directory instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Files processed at the same time (default: the number of CPU cores).
    #[arg(long)]
    pub jobs: Option<usize>,
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
    /// Refuse files larger than this many bytes.
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    pub max_bytes: u64,
    /// Do not estimate and correct skew.
    #[arg(long)]
    pub no_deskew: bool,
    /// Do not detect page orientation (0/90/180/270).
    #[arg(long)]
    pub no_orientation: bool,
    /// Input files (PNG, JPEG, TIFF, BMP, WebP, PNM, PDF).
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
            },
            review_threshold: self.review_threshold,
            ..Default::default()
        };
        o.preprocess.deskew = !self.no_deskew;
        o.preprocess.detect_orientation = !self.no_orientation;
        Ok(o)
    }
}

/// Output paths for `--out DIR`: stem + extension, full name when stems collide.
fn output_paths(files: &[PathBuf], dir: &Path, format: OutputFormat) -> Vec<PathBuf> {
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

fn process_one(
    engine: &Engine,
    path: &Path,
    format: OutputFormat,
    compact_json: bool,
) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| "cannot read file".to_string())?;
    let name = path.file_name().map(|n| n.to_string_lossy().to_string());
    let doc = engine.process_bytes(&bytes, name)?;
    if compact_json && format == OutputFormat::Json {
        Ok(crate::render::render_json_line(&doc))
    } else {
        Ok(render(&doc, format))
    }
}

/// Run `ferrocr ocr`.
pub fn run(args: OcrArgs) -> anyhow::Result<ExitCode> {
    let options = args.engine_options()?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let engine = Engine::new(args.model.recognizer()?, options);
    let jobs = args
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .clamp(1, 256);
    let n = args.files.len();
    let outputs = args
        .out
        .as_ref()
        .map(|d| output_paths(&args.files, d, args.format));
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
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    // Results for stdout, printed in input order as soon as every earlier file is done.
    let pending: Mutex<(usize, Vec<Option<String>>)> = Mutex::new((0, vec![None; n]));
    let compact_json = n > 1 && args.out.is_none();
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(n) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    let path = &args.files[i];
                    let result =
                        process_one(&engine, path, args.format, compact_json).and_then(|text| {
                            if let Some(outs) = &outputs {
                                std::fs::write(&outs[i], text.as_bytes()).with_context(|| {
                                    format!("cannot write {}", outs[i].display())
                                })?;
                                Ok(String::new())
                            } else {
                                Ok(text)
                            }
                        });
                    let text = match result {
                        Ok(t) => t,
                        Err(e) => {
                            failed.fetch_add(1, Ordering::SeqCst);
                            let msg = format!("ferrocr: {}: {e:#}", path.display());
                            match &progress {
                                Some(pb) => pb.println(msg),
                                None => eprintln!("{msg}"),
                            }
                            String::new()
                        }
                    };
                    if let Some(pb) = &progress {
                        pb.inc(1);
                    }
                    if args.out.is_none() {
                        let mut guard = pending.lock().unwrap_or_else(|p| p.into_inner());
                        guard.1[i] = Some(text);
                        let mut stdout = std::io::stdout().lock();
                        while guard.0 < n {
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
            });
        }
    });
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let failed = failed.load(Ordering::SeqCst);
    if failed > 0 {
        eprintln!("ferrocr: {failed} of {n} files failed");
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
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
