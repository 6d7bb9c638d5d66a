//! Kernel and model parity checks against the CPU twins, shared by `ferrocr doctor` and the
//! parity tests, with the tolerances in one place.

use std::time::Instant;

use image::{DynamicImage, GrayImage};
use serde::Serialize;

#[cfg(feature = "gpu")]
use crate::compute::gpu::GpuPreprocessor;
use crate::error::Result;
use crate::geometry::BBox;
use crate::layout::{LayoutOptions, analyze};
use crate::lines::LineImage;
#[cfg(feature = "gpu")]
use crate::lines::normalize_line_with_views;
use crate::preprocess::{PreprocessOptions, preprocess};
#[cfg(feature = "gpu")]
use crate::preprocess::{integral_images, normalize_contrast, rotate_bilinear, sauvola, to_gray};
use crate::recognize::{CrnnRecognizer, Recognizer};

/// Most binary pixels allowed to differ (threshold ties), as a fraction.
pub const BINARY_TOLERANCE: f64 = 0.001;
/// Most gray levels a contrast-normalised pixel may differ by (see
/// [`GpuPreprocessor::normalize_contrast_pages`]), and the fraction of pixels allowed to differ.
pub const CONTRAST_TOLERANCE: (f64, f64) = (2.0, 0.001);
/// Largest difference of a resampled line pixel (values 0..=1).
pub const RESAMPLE_TOLERANCE: f64 = 1e-3;
/// Largest difference of a class probability between the GPU and CPU model.
pub const MODEL_TOLERANCE: f64 = 1e-3;

/// The built-in sample page (tests/data/sample-letter.png).
pub const SAMPLE_PAGE: &[u8] = include_bytes!("../tests/data/sample-letter.png");

/// One kernel compared with its CPU twin.
#[derive(Debug, Clone, Serialize)]
pub struct KernelCheck {
    /// Kernel name.
    pub kernel: String,
    /// Values compared.
    pub values: u64,
    /// Values that differ.
    pub mismatched: u64,
    /// Largest absolute difference.
    pub max_abs_diff: f64,
    /// The tolerance applied, in words.
    pub tolerance: String,
    /// Within tolerance.
    pub pass: bool,
    /// CPU time (all pages), milliseconds.
    pub cpu_ms: f64,
    /// GPU time (all pages, one batch, uploads and read-backs included), milliseconds.
    pub gpu_ms: f64,
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed().as_secs_f64() * 1e3)
}

/// Count differing values and the largest difference.
fn diff<'a>(
    a: impl Iterator<Item = f64> + 'a,
    b: impl Iterator<Item = f64> + 'a,
) -> (u64, u64, f64) {
    let (mut n, mut bad, mut max) = (0u64, 0u64, 0f64);
    for (x, y) in a.zip(b) {
        n += 1;
        let d = (x - y).abs();
        if d > 0.0 {
            bad += 1;
            max = max.max(d);
        }
    }
    (n, bad, max)
}

#[cfg(feature = "gpu")]
fn pixels(imgs: &[GrayImage]) -> impl Iterator<Item = f64> + '_ {
    imgs.iter()
        .flat_map(|i| i.as_raw().iter().map(|&v| v as f64))
}

#[cfg(feature = "gpu")]
/// Check a gray result: `exact`, or at most `frac` of pixels differing by at most `max`.
fn gray_check(
    kernel: &str,
    cpu: (&[GrayImage], f64),
    gpu: (&[GrayImage], f64),
    max: f64,
    frac: f64,
) -> KernelCheck {
    let same_dims = cpu.0.len() == gpu.0.len()
        && cpu
            .0
            .iter()
            .zip(gpu.0)
            .all(|(a, b)| a.dimensions() == b.dimensions());
    let (n, bad, m) = diff(pixels(cpu.0), pixels(gpu.0));
    let tolerance = if max == 0.0 {
        "identical".to_string()
    } else {
        format!("≤ {:.3} % of pixels differ, by ≤ {max}", frac * 100.0)
    };
    KernelCheck {
        kernel: kernel.into(),
        values: n,
        mismatched: bad,
        max_abs_diff: m,
        tolerance,
        pass: same_dims && (bad as f64) <= frac * n as f64 && m <= max,
        cpu_ms: cpu.1,
        gpu_ms: gpu.1,
    }
}

/// The line boxes the CPU pipeline finds on `page` (for resampling and model checks), with the
/// prepared gray page they refer to.
pub fn line_boxes(page: &DynamicImage) -> (GrayImage, Vec<BBox>) {
    let prepared = preprocess(page, &PreprocessOptions::default());
    let layout = analyze(&prepared.binary, &LayoutOptions::default());
    let boxes = layout
        .blocks
        .iter()
        .flat_map(|b| b.lines.iter().map(|l| l.bbox))
        .collect();
    (prepared.gray, boxes)
}

/// Slope given to the slanted copy of the sample lines ([`slanted`]), rows per column.
pub const SLANT: f32 = 0.02;

/// A copy of `page` whose columns are moved down by `SLANT * x` (text lines climbing ~1.1°
/// to the left, as on a page scanned askew) and `boxes` grown to hold their slanted lines:
/// lines that normalisation reads along a slope, for the resampling parity check.
pub fn slanted(page: &GrayImage, boxes: &[BBox]) -> (GrayImage, Vec<BBox>) {
    let drop = |x: u32| (SLANT * x as f32).round() as u32;
    let extra = drop(page.width());
    let out = GrayImage::from_fn(page.width(), page.height() + extra, |x, y| {
        match y.checked_sub(drop(x)) {
            Some(src) if src < page.height() => *page.get_pixel(x, src),
            _ => image::Luma([255]),
        }
    });
    let boxes = boxes
        .iter()
        .map(|b| BBox::new(b.x0, b.y0 + drop(b.x0), b.x1, b.y1 + drop(b.x1)))
        .collect();
    (out, boxes)
}

#[cfg(feature = "gpu")]
/// Run every kernel on `pages` (one batch) and on the CPU, and compare.
pub fn check_kernels(gpu: &GpuPreprocessor, pages: &[DynamicImage]) -> Result<Vec<KernelCheck>> {
    let rgba: Vec<_> = pages.iter().map(|p| p.to_rgba8()).collect();
    let mut checks = Vec::new();

    let cpu = timed(|| {
        rgba.iter()
            .map(|p| to_gray(&DynamicImage::ImageRgba8(p.clone())))
            .collect::<Vec<_>>()
    });
    let g = timed(|| gpu.gray_pages(&rgba));
    let gray = cpu.0;
    checks.push(gray_check("gray", (&gray, cpu.1), (&g.0?, g.1), 0.0, 0.0));

    let cpu = timed(|| gray.iter().map(normalize_contrast).collect::<Vec<_>>());
    let g = timed(|| gpu.normalize_contrast_pages(&gray));
    let (max, frac) = CONTRAST_TOLERANCE;
    checks.push(gray_check(
        "contrast",
        (&cpu.0, cpu.1),
        (&g.0?, g.1),
        max,
        frac,
    ));
    let norm = cpu.0;

    let cpu = timed(|| norm.iter().map(integral_images).collect::<Vec<_>>());
    let g = timed(|| gpu.integral_pages(&norm));
    let gi = g.0?;
    let flat = |t: &[crate::preprocess::IntegralImages]| -> Vec<f64> {
        t.iter()
            .flat_map(|i| i.sum.iter().chain(&i.sum_sq).map(|&v| v as f64))
            .collect()
    };
    let (n, bad, m) = diff(flat(&cpu.0).into_iter(), flat(&gi).into_iter());
    checks.push(KernelCheck {
        kernel: "integral".into(),
        values: n,
        mismatched: bad,
        max_abs_diff: m,
        tolerance: "identical".into(),
        pass: bad == 0 && cpu.0 == gi,
        cpu_ms: cpu.1,
        gpu_ms: g.1,
    });

    let cpu = timed(|| norm.iter().map(|p| sauvola(p, 0, 0.2)).collect::<Vec<_>>());
    let g = timed(|| gpu.binarize_pages(&norm, 0, 0.2));
    checks.push(gray_check(
        "sauvola",
        (&cpu.0, cpu.1),
        (&g.0?, g.1),
        255.0,
        BINARY_TOLERANCE,
    ));

    let angles: Vec<f32> = (0..norm.len()).map(|i| 3.0 - 1.7 * i as f32).collect();
    let cpu = timed(|| {
        norm.iter()
            .zip(&angles)
            .map(|(p, &a)| rotate_bilinear(p, a, 255))
            .collect::<Vec<_>>()
    });
    let g = timed(|| gpu.rotate_pages(&norm, &angles, 255));
    checks.push(gray_check(
        "rotate",
        (&cpu.0, cpu.1),
        (&g.0?, g.1),
        0.0,
        0.0,
    ));

    let mut grays = Vec::new();
    let mut lines = Vec::new();
    for (i, p) in pages.iter().enumerate() {
        let (g, boxes) = line_boxes(p);
        lines.extend(boxes.into_iter().map(|b| (i, b)));
        grays.push(g);
    }
    // Reverse video: the first page's lines again on its negative (light text on a dark
    // ground, resampled with a negative intensity range).
    if let Some(first) = grays.first() {
        let mut negative = first.clone();
        image::imageops::invert(&mut negative);
        let k = grays.len();
        let again: Vec<(usize, BBox)> = lines
            .iter()
            .filter(|&&(i, _)| i == 0)
            .take(8)
            .map(|&(_, b)| (k, b))
            .collect();
        lines.extend(again);
        grays.push(negative);
    }
    // Slanted lines (read along their slope): the first page's lines again, sheared.
    if let Some(first) = grays.first() {
        let boxes: Vec<BBox> = lines
            .iter()
            .filter(|&&(i, _)| i == 0)
            .take(8)
            .map(|&(_, b)| b)
            .collect();
        let (page, boxes) = slanted(first, &boxes);
        let k = grays.len();
        lines.extend(boxes.into_iter().map(|b| (k, b)));
        grays.push(page);
    }
    // On every core, as the pipeline's CPU kernels normalise a batch's lines.
    let cpu = timed(|| {
        use rayon::prelude::*;
        lines
            .par_iter()
            .map(|&(i, b)| normalize_line_with_views(&grays[i], b))
            .collect::<Vec<_>>()
    });
    let refs: Vec<&GrayImage> = grays.iter().collect();
    let g = timed(|| gpu.normalize_lines(&refs, &lines, true));
    checks.push(line_check(&cpu.0, cpu.1, &g.0?, g.1));
    Ok(checks)
}

/// Every line of `lines` followed by its views, as one flat list.
#[cfg(feature = "gpu")]
fn with_views(lines: &[LineImage]) -> Vec<&LineImage> {
    lines
        .iter()
        .flat_map(|l| std::iter::once(l).chain(&l.views))
        .collect()
}

#[cfg(feature = "gpu")]
fn line_check(cpu: &[LineImage], cpu_ms: f64, gpu: &[LineImage], gpu_ms: f64) -> KernelCheck {
    let (cpu, gpu) = (with_views(cpu), with_views(gpu));
    let geometry_same = cpu.len() == gpu.len()
        && cpu.iter().zip(&gpu).all(|(a, b)| {
            a.width == b.width && a.content_width == b.content_width && a.ink_box == b.ink_box
        });
    let (n, bad, m) = diff(
        cpu.iter().flat_map(|l| l.pixels.iter().map(|&v| v as f64)),
        gpu.iter().flat_map(|l| l.pixels.iter().map(|&v| v as f64)),
    );
    KernelCheck {
        kernel: format!("resample ({} lines and views)", cpu.len()),
        values: n,
        mismatched: bad,
        max_abs_diff: m,
        tolerance: format!("|difference| ≤ {RESAMPLE_TOLERANCE}"),
        pass: geometry_same && m <= RESAMPLE_TOLERANCE,
        cpu_ms,
        gpu_ms,
    }
}

/// The CRNN on two backends compared on the same lines.
#[derive(Debug, Clone, Serialize)]
pub struct ModelCheck {
    /// Lines compared.
    pub lines: usize,
    /// Lines whose decoded text differs.
    pub text_mismatches: usize,
    /// Largest difference of a class probability.
    pub max_prob_diff: f64,
    /// Tolerance, in words.
    pub tolerance: String,
    /// Identical text and probabilities within tolerance.
    pub pass: bool,
    /// Reference (CPU) time, milliseconds.
    pub cpu_ms: f64,
    /// Other backend's time, milliseconds (first run: includes shader compilation).
    pub gpu_ms: f64,
}

/// Compare `gpu` with the reference `cpu` recogniser on `lines`.
pub fn check_model(
    cpu: &CrnnRecognizer,
    gpu: &CrnnRecognizer,
    lines: &[LineImage],
) -> Result<ModelCheck> {
    let (pc, cpu_ms) = timed(|| cpu.line_probabilities(lines));
    let (pg, gpu_ms) = timed(|| gpu.line_probabilities(lines));
    let (pc, pg) = (pc?, pg?);
    let (_, _, max) = diff(
        pc.iter().flatten().map(|&v| v as f64),
        pg.iter().flatten().map(|&v| v as f64),
    );
    let tc = cpu.recognize(lines)?;
    let tg = gpu.recognize(lines)?;
    let text_mismatches = tc.iter().zip(&tg).filter(|(a, b)| a.text != b.text).count();
    let shapes_same = pc.iter().zip(&pg).all(|(a, b)| a.len() == b.len());
    Ok(ModelCheck {
        lines: lines.len(),
        text_mismatches,
        max_prob_diff: max,
        tolerance: format!("identical text, probabilities within {MODEL_TOLERANCE}"),
        pass: shapes_same && text_mismatches == 0 && max <= MODEL_TOLERANCE,
        cpu_ms,
        gpu_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lines::normalize::line_geometry;

    #[test]
    fn slanted_sample_lines_are_read_along_their_slope() {
        let mut page = GrayImage::from_pixel(400, 60, image::Luma([250]));
        for i in 0..14u32 {
            for x in 20 + i * 25..20 + i * 25 + 18 {
                for y in 20..30 {
                    page.put_pixel(x, y, image::Luma([20]));
                }
            }
        }
        let (g, boxes) = slanted(&page, &[BBox::new(15, 15, 385, 35)]);
        let geo = line_geometry(&g, boxes[0]);
        assert!((geo.shear - SLANT).abs() < 0.003, "shear {}", geo.shear);
        assert_eq!(line_geometry(&page, BBox::new(15, 15, 385, 35)).shear, 0.0);
    }
}
