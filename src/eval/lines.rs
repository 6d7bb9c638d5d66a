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
use crate::recognize::region::{RegionPlan, plan_region, read_regions};
use crate::recognize::{LineText, Recognizer};

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
    /// The line's box in the image, `[x0, y0, x1, y1]` (x1/y1 exclusive).
    pub bbox: [u32; 4],
    /// Group used for per-source rows: the image name's prefix before the first `_`.
    pub group: String,
    /// Ground-truth text.
    pub text: String,
    /// How the box is read: its normalised line image upright and, for a tall narrow box, also
    /// turned ([`crate::recognize::region`]).
    pub region: RegionPlan,
}

/// Load every line of `dir/lines.jsonl` (at most `limit` lines, taken evenly spread when the set
/// is larger), decoding each image once; with `views`, each reading carries its views for the
/// recogniser's second look ([`crate::recognize::views`]).
pub fn load_line_set(dir: &Path, limit: Option<usize>, views: bool) -> Result<Vec<LabelledLine>> {
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
        let region = plan_region(gray, BBox::new(x0, y0, x1, y1), views);
        let group = r.image.split('_').next().unwrap_or("").to_string();
        out.push(LabelledLine {
            image: r.image,
            bbox: r.bbox,
            group,
            text: r.text,
            region,
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

/// Write one tab-separated row per line: image, box, case-insensitive character edits,
/// ground-truth characters, mean character confidence, each predicted word's confidence
/// (space-separated), truth and prediction (tabs and newlines
/// in the texts replaced by spaces), worst lines first, so a user sees where a recogniser fails
/// on their data.
pub fn write_line_errors(
    out: &mut dyn std::io::Write,
    set: &[LabelledLine],
    hyps: &[LineText],
) -> std::io::Result<()> {
    let clean = |t: &str| t.replace(['\t', '\n', '\r'], " ");
    let mut rows: Vec<(usize, usize, &LabelledLine, &LineText)> = set
        .iter()
        .zip(hyps)
        .map(|(l, h)| {
            let e = EditCounts::compare(&l.text, &h.text, true);
            (e.char_edits, e.gt_chars, l, h)
        })
        .collect();
    rows.sort_by(|a, b| {
        let ra = a.0 as f64 / a.1.max(1) as f64;
        let rb = b.0 as f64 / b.1.max(1) as f64;
        rb.total_cmp(&ra).then(b.0.cmp(&a.0))
    });
    writeln!(
        out,
        "image\tbbox\tedits_ci\tgt_chars\tconfidence\tword_confidences\ttruth\tprediction"
    )?;
    for (edits, gt_chars, l, h) in rows {
        let conf = if h.chars.is_empty() {
            0.0
        } else {
            h.chars.iter().map(|c| c.confidence).sum::<f32>() / h.chars.len() as f32
        };
        let words: Vec<String> = crate::assemble::split_words(h)
            .iter()
            .map(|(_, c)| format!("{c:.3}"))
            .collect();
        let [x0, y0, x1, y1] = l.bbox;
        writeln!(
            out,
            "{}\t{x0},{y0},{x1},{y1}\t{edits}\t{gt_chars}\t{conf:.3}\t{}\t{}\t{}",
            l.image,
            words.join(" "),
            clean(&l.text),
            clean(&h.text)
        )?;
    }
    Ok(())
}

/// Recognise every line (a tall narrow box also turned, for vertical text: see
/// [`crate::recognize::region`]) and score it.
pub fn evaluate(
    recognizer: &dyn Recognizer,
    set: &[LabelledLine],
) -> Result<(LineReport, Vec<LineText>)> {
    let plans: Vec<&RegionPlan> = set.iter().map(|l| &l.region).collect();
    let t0 = std::time::Instant::now();
    let hyps = read_regions(recognizer, &plans)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recognize::ctc::test_line;

    fn hyp(text: &str, conf: f32) -> LineText {
        test_line(text, |_| conf)
    }

    fn labelled(image: &str, text: &str) -> LabelledLine {
        let gray = image::GrayImage::from_pixel(40, 20, image::Luma([255]));
        LabelledLine {
            image: image.to_string(),
            bbox: [1, 2, 30, 18],
            group: "g".into(),
            text: text.to_string(),
            region: plan_region(&gray, BBox::new(1, 2, 30, 18), false),
        }
    }

    #[test]
    fn line_errors_list_the_worst_line_first_with_clean_fields() {
        let set = [
            labelled("a.png", "TOTAL 12.50"),
            labelled("b.png", "cash\tdue"),
        ];
        let hyps = [hyp("TOTAL 12.50", 0.9), hyp("cosh", 0.5)];
        let mut out = Vec::new();
        write_line_errors(&mut out, &set, &hyps).expect("write");
        let text = String::from_utf8(out).expect("utf-8");
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 3);
        assert!(rows[0].starts_with("image\tbbox\t"));
        assert_eq!(
            rows[1],
            "b.png\t1,2,30,18\t5\t8\t0.500\t0.062\tcash due\tcosh"
        );
        assert_eq!(
            rows[2],
            "a.png\t1,2,30,18\t0\t11\t0.900\t0.590 0.590\tTOTAL 12.50\tTOTAL 12.50"
        );
    }
}
