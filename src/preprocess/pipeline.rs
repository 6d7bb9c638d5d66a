//! The preprocess pipeline: each public step of this module chained in order.

use std::time::{Duration, Instant};

use image::{DynamicImage, GrayImage};
use rayon::prelude::*;

use super::binarize::sauvola;
use super::border::remove_borders;
use super::contrast::normalize_contrast;
use super::deskew::{rotate_bilinear, skew_from_points};
use super::despeckle::despeckle;
use super::gray::to_gray;
use super::orientation::{orientation_and_skew, rotate_quarter};
use super::profile::{InkPoints, WORK_SIDE};
use super::scale::{resample, scale_for, text_height};
use super::{PageTransform, PreparedPage, PreprocessOptions};
use crate::error::{OcrError, Result};
use crate::geometry::BBox;
use crate::lines::{LineImage, normalize_page_line};

/// Skews smaller than this (degrees) are not corrected: resampling would cost more than it
/// gains.
const MIN_SKEW: f32 = 0.1;

/// Wall time spent in each step of [`preprocess_timed`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimings {
    /// Conversion to grayscale.
    pub gray: Duration,
    /// Illumination flattening and contrast stretch.
    pub contrast: Duration,
    /// First Sauvola binarisation.
    pub binarize: Duration,
    /// Text-height estimate and, for pages of tiny or huge text, resampling and a second
    /// binarisation.
    pub scale: Duration,
    /// Border and black-frame removal.
    pub borders: Duration,
    /// Orientation and skew estimation (on a downscaled copy).
    pub estimate: Duration,
    /// Rotations and the second binarisation, when the page had to be rotated.
    pub rotate: Duration,
    /// Speck removal.
    pub despeckle: Duration,
}

impl StageTimings {
    /// Sum of all steps.
    pub fn total(&self) -> Duration {
        self.gray
            + self.contrast
            + self.binarize
            + self.scale
            + self.borders
            + self.estimate
            + self.rotate
            + self.despeckle
    }
}

/// The whole-page kernels of the pipeline, each over a batch of pages: the steps that have GPU
/// twins (`compute::gpu`). [`CpuKernels`] is the reference; the GPU implementation runs each call
/// as one batched submission. Every implementation must return, per page, what the CPU reference
/// returns (within the tolerances its docs state), so the pipeline's result does not depend on
/// where the kernels ran.
pub trait PageKernels: Send + Sync {
    /// Short name for logs and metrics ("cpu", "gpu").
    fn name(&self) -> &'static str;
    /// Colour -> gray ([`to_gray`]).
    fn gray(&self, images: &[&DynamicImage]) -> Result<Vec<GrayImage>>;
    /// Illumination flattening and contrast stretch ([`normalize_contrast`]).
    fn contrast(&self, pages: &[GrayImage]) -> Result<Vec<GrayImage>>;
    /// Sauvola binarisation ([`sauvola`]) with the same `window` (0 = automatic) and `k`.
    fn binarize(&self, pages: &[GrayImage], window: u32, k: f32) -> Result<Vec<GrayImage>>;
    /// Rotate page `i` by `degrees[i]` about its centre ([`rotate_bilinear`]), `fill` outside.
    fn rotate(&self, pages: &[GrayImage], degrees: &[f32], fill: u8) -> Result<Vec<GrayImage>>;
    /// Normalise line `j` (`lines[j] = (page index, box)`) of the gray `pages` into a model
    /// input with its views when `views` ([`normalize_page_line`]), in order.
    fn lines(
        &self,
        pages: &[&GrayImage],
        lines: &[(usize, BBox)],
        views: bool,
    ) -> Result<Vec<LineImage>>;
}

/// The CPU reference kernels (infallible).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuKernels;

impl PageKernels for CpuKernels {
    fn name(&self) -> &'static str {
        "cpu"
    }
    fn gray(&self, images: &[&DynamicImage]) -> Result<Vec<GrayImage>> {
        Ok(images.iter().map(|i| to_gray(i)).collect())
    }
    fn contrast(&self, pages: &[GrayImage]) -> Result<Vec<GrayImage>> {
        Ok(pages.iter().map(normalize_contrast).collect())
    }
    fn binarize(&self, pages: &[GrayImage], window: u32, k: f32) -> Result<Vec<GrayImage>> {
        Ok(pages.iter().map(|p| sauvola(p, window, k)).collect())
    }
    fn rotate(&self, pages: &[GrayImage], degrees: &[f32], fill: u8) -> Result<Vec<GrayImage>> {
        Ok(pages
            .iter()
            .zip(degrees)
            .map(|(p, &d)| rotate_bilinear(p, d, fill))
            .collect())
    }
    /// On the calling rayon pool's threads; an out-of-range page index is an error.
    fn lines(
        &self,
        pages: &[&GrayImage],
        lines: &[(usize, BBox)],
        views: bool,
    ) -> Result<Vec<LineImage>> {
        if let Some(&(p, _)) = lines.iter().find(|(p, _)| *p >= pages.len()) {
            return Err(OcrError::bad_param(
                "lines",
                format!("page index {p} out of range"),
            ));
        }
        Ok(lines
            .par_iter()
            .map(|&(p, b)| normalize_page_line(pages[p], b, views))
            .collect())
    }
}

/// Prepare a decoded page for layout analysis and recognition.
///
/// gray -> contrast -> Sauvola -> border removal -> orientation -> skew -> (text-size
/// normalisation: resample, Sauvola again) -> (rotate the gray
/// page, binarise again once) -> despeckle. Orientation and skew are estimated on a downscaled
/// copy of the binary page; when neither applies the first binarisation is kept, when only a
/// quarter turn applies the binary page is turned exactly instead of binarised again. The
/// returned [`PageTransform`] maps prepared coordinates back to `image`.
/// Invalid options are tolerated: a non-finite or out-of-range `sauvola_k` falls back to
/// the default 0.2 / is clamped to 0..=1.
pub fn preprocess(image: &DynamicImage, opts: &PreprocessOptions) -> PreparedPage {
    preprocess_timed(image, opts).0
}

/// [`preprocess`], also returning the time spent in each step.
pub fn preprocess_timed(
    image: &DynamicImage,
    opts: &PreprocessOptions,
) -> (PreparedPage, StageTimings) {
    match preprocess_batch(&CpuKernels, &[image], opts) {
        Ok(mut pages) if pages.len() == 1 => pages.remove(0),
        _ => unreachable!("the CPU kernels are infallible and return one page per input"),
    }
}

/// [`preprocess`] for many pages at once, the whole-page steps run by `kernels` as one batch
/// each (one GPU submission per step with the GPU kernels); the per-page decisions (borders,
/// orientation, skew, specks) run on the CPU between them. Each page's timings are its share of
/// the batched steps plus its own CPU steps. An error comes only from `kernels`: the caller can
/// rerun the batch with [`CpuKernels`].
pub fn preprocess_batch(
    kernels: &dyn PageKernels,
    images: &[&DynamicImage],
    opts: &PreprocessOptions,
) -> Result<Vec<(PreparedPage, StageTimings)>> {
    let n = images.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let share = |d: Duration| d / n as u32;
    let mut t = vec![StageTimings::default(); n];
    let k = if opts.sauvola_k.is_finite() {
        opts.sauvola_k.clamp(0.0, 1.0)
    } else {
        PreprocessOptions::default().sauvola_k
    };
    let window = opts.sauvola_window;

    let clock = Instant::now();
    let gray0 = kernels.gray(images)?;
    let d = share(clock.elapsed());
    t.iter_mut().for_each(|t| t.gray = d);
    let dims: Vec<(u32, u32)> = gray0.iter().map(|g| g.dimensions()).collect();

    let clock = Instant::now();
    let mut grays = kernels.contrast(&gray0)?;
    drop(gray0);
    let d = share(clock.elapsed());
    t.iter_mut().for_each(|t| t.contrast = d);

    let clock = Instant::now();
    let mut binaries = kernels.binarize(&grays, window, k)?;
    let d = share(clock.elapsed());
    t.iter_mut().for_each(|t| t.binarize = d);

    // Per-page decisions, the batch's pages in parallel (a GPU batch would otherwise wait on
    // one core between its kernels).
    let turns: Vec<(u32, f32)> = binaries
        .par_iter_mut()
        .zip(grays.par_iter_mut())
        .zip(t.par_iter_mut())
        .map(|((binary, gray), t)| {
            let clock = Instant::now();
            if opts.remove_borders {
                remove_borders(binary, gray);
            }
            t.borders = clock.elapsed();
            let clock = Instant::now();
            let turn = estimate_turn(binary, opts);
            t.estimate = clock.elapsed();
            turn
        })
        .collect();

    // Text-size normalisation: a page of tiny text is resampled up and binarised again. Its
    // text height is measured across the lines of the page as the turn found above lays it
    // (on a page lying on its side, component heights are glyph widths); the turn and skew,
    // angles, hold at any scale.
    let clock = Instant::now();
    let scales: Vec<f32> = if opts.normalize_scale {
        binaries
            .par_iter()
            .zip(&turns)
            .map(|(b, &(rotation, _))| {
                let th = if rotation % 180 == 90 {
                    text_height(&rotate_quarter(b, 90))
                } else {
                    text_height(b)
                };
                let s = scale_for(th, b.width(), b.height());
                tracing::debug!(text_height = th.pixels, th.rejoined, scale = s, "text size");
                s
            })
            .collect()
    } else {
        vec![1.0; n]
    };
    let resampled: Vec<usize> = (0..n).filter(|&i| scales[i] != 1.0).collect();
    if !resampled.is_empty() {
        let pages: Vec<GrayImage> = resampled
            .par_iter()
            .map(|&i| resample(&grays[i], scales[i]))
            .collect();
        let again = kernels.binarize(&pages, window, k)?;
        for ((&i, g), b) in resampled.iter().zip(pages).zip(again) {
            grays[i] = g;
            binaries[i] = b;
        }
    }
    let d = share(clock.elapsed());
    t.iter_mut().for_each(|t| t.scale = d);

    // Quarter turns are exact copies (CPU); skew needs a resampled gray page binarised again.
    let clock = Instant::now();
    for (g, &(rotation, _)) in grays.iter_mut().zip(&turns) {
        if rotation != 0 {
            *g = rotate_quarter(g, rotation);
        }
    }
    let skewed: Vec<usize> = (0..n).filter(|&i| turns[i].1 != 0.0).collect();
    if !skewed.is_empty() {
        let pages: Vec<GrayImage> = skewed
            .iter()
            .map(|&i| std::mem::replace(&mut grays[i], GrayImage::new(0, 0)))
            .collect();
        let angles: Vec<f32> = skewed.iter().map(|&i| -turns[i].1).collect();
        let rotated = kernels.rotate(&pages, &angles, 255)?;
        drop(pages);
        let again = kernels.binarize(&rotated, window, k)?;
        for ((&i, g), b) in skewed.iter().zip(rotated).zip(again) {
            grays[i] = g;
            binaries[i] = b;
        }
    }
    for (b, &(rotation, skew)) in binaries.iter_mut().zip(&turns) {
        if skew == 0.0 && rotation != 0 {
            *b = rotate_quarter(b, rotation);
        }
    }
    let d = share(clock.elapsed());
    t.iter_mut().for_each(|t| t.rotate = d);

    let name = kernels.name();
    let pages = grays.into_par_iter().zip(binaries).zip(turns).zip(dims);
    Ok(pages
        .zip(scales)
        .zip(t)
        .map(
            |(((((gray, mut binary), (rotation, skew)), (ow, oh)), scale), mut t)| {
                let clock = Instant::now();
                despeckle(&mut binary, opts.despeckle_max_area);
                t.despeckle = clock.elapsed();
                let transform = PageTransform::scaled(ow, oh, scale, rotation, skew);
                tracing::debug!(
                    rotation,
                    skew,
                    scale,
                    ?t,
                    kernels = name,
                    "preprocessed {ow}x{oh} page"
                );
                let page = PreparedPage {
                    gray,
                    binary,
                    transform,
                };
                (page, t)
            },
        )
        .collect())
}

/// The quarter turn and the residual skew (degrees; 0 below [`MIN_SKEW`]) that make a binary
/// page upright and straight, as far as `opts` asks for them.
fn estimate_turn(binary: &GrayImage, opts: &PreprocessOptions) -> (u32, f32) {
    let (mut rotation, mut skew) = (0u32, 0f32);
    if opts.detect_orientation || opts.deskew || opts.rotation.is_some() {
        let pts = InkPoints::from_binary(binary, WORK_SIDE);
        let mut measured = None;
        if let Some(r) = opts.rotation {
            rotation = (r / 90 % 4) * 90;
        } else if opts.detect_orientation {
            (rotation, measured) = orientation_and_skew(&pts);
        }
        if opts.deskew {
            skew = match measured {
                Some(s) => s,
                None => skew_from_points(&pts.rotate_quarter(rotation)),
            };
            if skew.abs() < MIN_SKEW {
                skew = 0.0;
            }
        }
    }
    (rotation, skew)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::testutil::{ink_count, load_font, text_page};
    use image::{GrayImage, Luma};
    use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};

    #[test]
    fn rotated_skewed_page_is_made_upright() {
        let Some(font) = load_font() else { return };
        let upright = text_page(&font, 1000, 1400, 24.0);
        let skewed = rotate_bilinear(&upright, 3.0, 255);
        let turned = rotate_quarter(&skewed, 90);
        let page = preprocess(
            &DynamicImage::ImageLuma8(turned),
            &PreprocessOptions::default(),
        );
        let tr = page.transform;
        assert_eq!(tr.rotation, 270);
        assert!(
            (tr.skew_degrees - 3.0).abs() < 0.3,
            "skew {}",
            tr.skew_degrees
        );
        assert_eq!(page.gray.dimensions(), (1000, 1400));
        assert_eq!(page.binary.dimensions(), (1000, 1400));
        assert_eq!((tr.original_width, tr.original_height), (1400, 1000));
        // The prepared page is straight and upright now.
        assert!(crate::preprocess::estimate_skew(&page.binary).abs() < 0.2);
        assert_eq!(crate::preprocess::detect_orientation(&page.binary), 0);
    }

    #[test]
    fn options_off_and_degenerate_inputs() {
        let opts = PreprocessOptions {
            deskew: false,
            detect_orientation: false,
            remove_borders: false,
            sauvola_k: f32::NAN,
            ..PreprocessOptions::default()
        };
        let img = DynamicImage::ImageLuma8(GrayImage::from_pixel(64, 48, Luma([250])));
        let page = preprocess(&img, &opts);
        assert_eq!(page.transform, PageTransform::identity(64, 48));
        assert_eq!(ink_count(&page.binary), 0);
        let empty = preprocess(
            &DynamicImage::ImageLuma8(GrayImage::new(0, 0)),
            &PreprocessOptions::default(),
        );
        assert_eq!(empty.binary.dimensions(), (0, 0));
        let one = preprocess(
            &DynamicImage::ImageLuma8(GrayImage::new(1, 1)),
            &PreprocessOptions::default(),
        );
        assert_eq!(one.binary.dimensions(), (1, 1));
    }

    /// A 300 DPI A4 page (2480 x 3508), skewed and noisy, through the whole stage; prints the
    /// per-step timings (run with `--nocapture`).
    #[test]
    fn a4_page_timings() {
        let Some(font) = load_font() else { return };
        let mut page = rotate_bilinear(&text_page(&font, 2480, 3508, 42.0), 2.0, 255);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for p in page.iter_mut() {
            *p = (*p as i32 - 25 + rng.random_range(-6..=6)).clamp(0, 255) as u8;
        }
        let img = DynamicImage::ImageLuma8(page);
        let opts = PreprocessOptions::default();
        let (_, first) = preprocess_timed(&img, &opts);
        let (prepared, t) = preprocess_timed(&img, &opts);
        eprintln!(
            "preprocess 2480x3508 (skewed 2°): first run {:?}, second run {:?}",
            first.total(),
            t.total()
        );
        eprintln!("  {t:?}");
        assert_eq!(prepared.transform.rotation, 0);
        assert!((prepared.transform.skew_degrees - 2.0).abs() < 0.3);
        let straight = DynamicImage::ImageLuma8(prepared.gray.clone());
        let (again, t2) = preprocess_timed(&straight, &opts);
        eprintln!(
            "preprocess 2480x3508 (straight, no rotation): {:?}",
            t2.total()
        );
        eprintln!("  {t2:?}");
        assert!(again.transform.skew_degrees.abs() < 0.2);
    }
}
