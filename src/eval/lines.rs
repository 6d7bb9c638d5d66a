//! Labelled line sets (`lines.jsonl`: `{"image", "bbox": [x0,y0,x1,y1], "text"}` per line, image
//! paths relative to the file) and recognition measured apart from layout.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::calibration::{Calibration, calibrate};
use super::metrics::{EditCounts, normalize_text};
use crate::decode::{DecodeLimits, decode};
use crate::error::{OcrError, Result};
use crate::geometry::BBox;
use crate::recognize::{LineImage, LineText, Recognizer, normalize_line};

#[derive(Deserialize)]
struct LineRecord {
    image: String,
    bbox: [u32; 4],
    text: String,
}

/// One labelled line, normalised for the recogniser.
#[derive(Debug, Clone)]
pub struct LabelledLine {
    /// Image file name (relative to the set's directory).
    pub image: String,
    /// Group used for per-source rows: the image name's prefix before the first `_`.
    pub group: String,
    /// Ground-truth text.
    pub text: String,
    /// The normalised line image.
    pub line: LineImage,
}

/// Load every line of `dir/lines.jsonl` (at most `limit` lines, taken evenly spread when the set
/// is larger), decoding each image once.
pub fn load_line_set(dir: &Path, limit: Option<usize>) -> Result<Vec<LabelledLine>> {
    let path = dir.join("lines.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        OcrError::bad_param("--data", format!("cannot read {}: {e}", path.display()))
    })?;
    let mut records = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let r: LineRecord = serde_json::from_str(l).map_err(|e| {
            OcrError::bad_param("--data", format!("{}:{}: {e}", path.display(), i + 1))
        })?;
        records.push(r);
    }
    if let Some(n) = limit.filter(|&n| n < records.len() && n > 0) {
        let step = records.len() as f64 / n as f64;
        records = (0..n)
            .map(|k| {
                let idx = (k as f64 * step) as usize;
                let r = &records[idx];
                LineRecord {
                    image: r.image.clone(),
                    bbox: r.bbox,
                    text: r.text.clone(),
                }
            })
            .collect();
    }
    let mut pages: HashMap<String, image::GrayImage> = HashMap::new();
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        if !pages.contains_key(&r.image) {
            let p: PathBuf = dir.join(&r.image);
            let bytes = std::fs::read(&p)
                .map_err(|e| OcrError::bad_param("--data", format!("{}: {e}", p.display())))?;
            let page = decode(&bytes, &DecodeLimits::default())?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    OcrError::bad_param("--data", format!("{}: no page", p.display()))
                })?;
            pages.insert(r.image.clone(), page.image.to_luma8());
        }
        let gray = &pages[&r.image];
        let [x0, y0, x1, y1] = r.bbox;
        let line = normalize_line(gray, BBox::new(x0, y0, x1, y1));
        let group = r.image.split('_').next().unwrap_or("").to_string();
        out.push(LabelledLine {
            image: r.image,
            group,
            text: r.text,
            line,
        });
    }
    Ok(out)
}

/// Accuracy of a recogniser over a line set.
#[derive(Debug, Clone, Serialize)]
pub struct LineReport {
    /// Lines measured.
    pub lines: usize,
    /// Case-sensitive CER (total edits / total ground-truth chars).
    pub cer: f64,
    /// Case-insensitive CER.
    pub cer_ci: f64,
    /// Case-sensitive WER.
    pub wer: f64,
    /// Case-insensitive WER.
    pub wer_ci: f64,
    /// Fraction of lines read exactly (case-insensitive).
    pub exact_lines_ci: f64,
    /// Expected calibration error of word confidence vs word correctness.
    pub ece: f64,
    /// Per-group rows (`sroie`, `funsd`, ...): (lines, cer, cer_ci, wer_ci).
    pub groups: Vec<GroupRow>,
    /// The calibration table.
    pub calibration: Calibration,
    /// Wall time of recognition alone, seconds.
    pub recognize_s: f64,
}

/// One group's figures.
#[derive(Debug, Clone, Serialize)]
pub struct GroupRow {
    /// Group name.
    pub group: String,
    /// Lines in the group.
    pub lines: usize,
    /// Case-sensitive CER.
    pub cer: f64,
    /// Case-insensitive CER.
    pub cer_ci: f64,
    /// Case-insensitive WER.
    pub wer_ci: f64,
}

/// Word-level (confidence, correct) pairs of one line: a predicted word is correct when it
/// matches (case-insensitively, after NFKC) a not-yet-matched ground-truth word of the line.
pub fn word_outcomes(gt: &str, hyp: &LineText) -> Vec<(f32, bool)> {
    let mut remaining: Vec<String> = normalize_text(gt, true)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    for (word, conf) in crate::assemble::split_words(hyp) {
        let w = normalize_text(&word, true);
        let ok = if let Some(pos) = remaining.iter().position(|g| *g == w) {
            remaining.swap_remove(pos);
            true
        } else {
            false
        };
        out.push((conf, ok));
    }
    out
}

/// Recognise every line and score it.
pub fn evaluate(
    recognizer: &dyn Recognizer,
    set: &[LabelledLine],
) -> Result<(LineReport, Vec<LineText>)> {
    let images: Vec<LineImage> = set.iter().map(|l| l.line.clone()).collect();
    let t0 = std::time::Instant::now();
    let hyps = recognizer.recognize(&images)?;
    let recognize_s = t0.elapsed().as_secs_f64();
    let (mut cs, mut ci) = (EditCounts::default(), EditCounts::default());
    let mut groups: Vec<(String, EditCounts, EditCounts, usize)> = Vec::new();
    let mut words = Vec::new();
    let mut exact = 0usize;
    for (l, h) in set.iter().zip(&hyps) {
        let a = EditCounts::compare(&l.text, &h.text, false);
        let b = EditCounts::compare(&l.text, &h.text, true);
        exact += (b.char_edits == 0) as usize;
        cs.add(a);
        ci.add(b);
        match groups.iter_mut().find(|g| g.0 == l.group) {
            Some(g) => {
                g.1.add(a);
                g.2.add(b);
                g.3 += 1;
            }
            None => groups.push((l.group.clone(), a, b, 1)),
        }
        words.extend(word_outcomes(&l.text, h));
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let calibration = calibrate(&words, 10);
    let report = LineReport {
        lines: set.len(),
        cer: cs.cer(),
        cer_ci: ci.cer(),
        wer: cs.wer(),
        wer_ci: ci.wer(),
        exact_lines_ci: exact as f64 / set.len().max(1) as f64,
        ece: calibration.ece,
        groups: groups
            .into_iter()
            .map(|(g, a, b, n)| GroupRow {
                group: g,
                lines: n,
                cer: a.cer(),
                cer_ci: b.cer(),
                wer_ci: b.wer(),
            })
            .collect(),
        calibration,
        recognize_s,
    };
    Ok((report, hyps))
}
