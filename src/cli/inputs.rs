//! The inputs of `ferrocr ocr` and where their results go.
//!
//! - A **file** is read as given, whatever its name (the format comes from its bytes).
//! - A **folder** is read recursively: every file whose extension names a supported format
//!   (PNG, JPEG, TIFF, BMP, WebP, PNM, PDF; any case), sorted by path; hidden entries and
//!   symbolic links to folders are skipped.
//! - **`-`** is standard input, read once before any work.
//!
//! With `--out DIR` a file's result is `DIR/<stem>.<ext>`, and a file found in a folder keeps
//! its path below that folder (`scans/a/x.png` given as `scans` -> `DIR/a/x.<ext>`), so two
//! `x.png` in different folders never meet. Inputs whose results would still share a path (two
//! `x.png` given as files, or `x.png` and `x.jpg` in one folder) get their full file names
//! (`x.png.txt`, `x.jpg.txt`); if that does not separate them either (the same file twice), it
//! is an error before any work, never a silent overwrite.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bytes::Bytes;

use crate::render::OutputFormat;

/// Extensions read from folders (lower case).
const EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "jpe", "jfif", "tif", "tiff", "bmp", "webp", "pnm", "pbm", "pgm", "ppm",
    "pam", "pdf",
];

/// One input: where its bytes come from, its name in messages and outputs, and its path
/// relative to `--out`.
#[derive(Debug, Clone)]
pub struct Input {
    /// What the user would recognise: the path as given or found, or `-` for standard input.
    pub display: String,
    source: Source,
    /// The result's path under `--out`, without the format's extension.
    relative: PathBuf,
}

#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    Stdin(Bytes),
}

impl Input {
    /// The input's bytes (standard input was read when the inputs were listed).
    pub fn read(&self) -> anyhow::Result<Bytes> {
        match &self.source {
            Source::File(p) => Ok(std::fs::read(p).context("cannot read file")?.into()),
            Source::Stdin(b) => Ok(b.clone()),
        }
    }

    /// The file name recorded as the document's source (`stdin` for standard input).
    pub fn source_name(&self) -> Option<String> {
        match &self.source {
            Source::File(p) => p.file_name().map(|n| n.to_string_lossy().to_string()),
            Source::Stdin(_) => Some("stdin".to_string()),
        }
    }
}

/// Lists the inputs named by `args` (files, folders, `-`), in order.
pub fn expand(args: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    let mut out = Vec::new();
    let mut stdin_read = false;
    for arg in args {
        if arg.as_os_str() == "-" {
            if stdin_read {
                anyhow::bail!("standard input (-) can be given only once");
            }
            stdin_read = true;
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
            out.push(Input {
                display: "-".to_string(),
                source: Source::Stdin(bytes.into()),
                relative: PathBuf::from("stdin"),
            });
        } else if arg.is_dir() {
            let before = out.len();
            for entry in walkdir::WalkDir::new(arg)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()))
            {
                let entry = entry.with_context(|| format!("cannot read {}", arg.display()))?;
                if !entry.file_type().is_file() || !has_image_extension(entry.path()) {
                    continue;
                }
                let path = entry.path().to_path_buf();
                let below = path.strip_prefix(arg).unwrap_or(&path).to_path_buf();
                out.push(Input {
                    display: path.display().to_string(),
                    relative: below.with_extension(""),
                    source: Source::File(path),
                });
            }
            if out.len() == before {
                anyhow::bail!(
                    "{}: no image or PDF files in this folder (looked for .{})",
                    arg.display(),
                    EXTENSIONS.join(", .")
                );
            }
        } else {
            let stem = arg
                .file_stem()
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("input"));
            out.push(Input {
                display: arg.display().to_string(),
                source: Source::File(arg.clone()),
                relative: stem,
            });
        }
    }
    Ok(out)
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| EXTENSIONS.contains(&e.as_str()))
}

/// The result path of every input under `dir` (see the module docs), or an error naming the
/// inputs that would write the same file.
pub fn output_paths(
    inputs: &[Input],
    dir: &Path,
    format: OutputFormat,
) -> anyhow::Result<Vec<PathBuf>> {
    let ext = format.extension();
    let plain = |i: &Input| dir.join(format!("{}.{ext}", i.relative.display()));
    let mut count: HashMap<PathBuf, usize> = HashMap::new();
    for i in inputs {
        *count.entry(plain(i)).or_default() += 1;
    }
    let paths: Vec<PathBuf> = inputs
        .iter()
        .map(|i| {
            let p = plain(i);
            if count[&p] == 1 {
                return p;
            }
            // Shared stems: the full file name separates x.png from x.jpg.
            let full = match &i.source {
                Source::File(f) => f
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default(),
                Source::Stdin(_) => "stdin".to_string(),
            };
            let parent = i.relative.parent().unwrap_or(Path::new(""));
            dir.join(parent).join(format!("{full}.{ext}"))
        })
        .collect();
    let mut seen: HashMap<&Path, usize> = HashMap::new();
    for (k, p) in paths.iter().enumerate() {
        if let Some(&first) = seen.get(p.as_path()) {
            anyhow::bail!(
                "{} and {} would both be written to {}: give their folders instead of the files \
                 (results then keep the paths below each folder), or run them separately",
                inputs[first].display,
                inputs[k].display,
                p.display()
            );
        }
        seen.insert(p, k);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> Input {
        expand(&[PathBuf::from(path)]).unwrap().remove(0)
    }

    #[test]
    fn files_write_by_stem_and_shared_stems_by_full_name() {
        let inputs = vec![file("x/a.png"), file("y/a.jpg"), file("b.tif")];
        let outs = output_paths(&inputs, Path::new("out"), OutputFormat::Alto).unwrap();
        assert_eq!(
            outs,
            vec![
                PathBuf::from("out/a.png.alto.xml"),
                PathBuf::from("out/a.jpg.alto.xml"),
                PathBuf::from("out/b.alto.xml")
            ]
        );
    }

    #[test]
    fn the_same_name_twice_is_an_error_before_any_work() {
        let inputs = vec![file("x/a.png"), file("y/a.png")];
        let err = output_paths(&inputs, Path::new("out"), OutputFormat::Text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("x/a.png") && err.contains("y/a.png"), "{err}");
        assert!(err.contains("out/a.png.txt"), "{err}");
    }

    #[test]
    fn folders_are_read_recursively_sorted_and_mirrored() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for p in [
            "b/x.png",
            "a/x.png",
            "a/notes.txt",
            ".hidden/y.png",
            "top.PDF",
        ] {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"x").unwrap();
        }
        let inputs = expand(&[root.to_path_buf()]).unwrap();
        let shown: Vec<_> = inputs
            .iter()
            .map(|i| i.relative.display().to_string())
            .collect();
        assert_eq!(shown, vec!["a/x", "b/x", "top"]);
        let outs = output_paths(&inputs, Path::new("out"), OutputFormat::Json).unwrap();
        assert_eq!(
            outs,
            vec![
                PathBuf::from("out/a/x.json"),
                PathBuf::from("out/b/x.json"),
                PathBuf::from("out/top.json")
            ]
        );
        let empty = tempfile::tempdir().unwrap();
        let err = expand(&[empty.path().to_path_buf()]).unwrap_err();
        assert!(err.to_string().contains("no image or PDF files"), "{err}");
    }
}
