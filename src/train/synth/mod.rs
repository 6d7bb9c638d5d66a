//! Synthetic text lines for training the recogniser.
//!
//! Every sample is deterministic in (seed, index): [`SynthGenerator::sample`] seeds its own
//! ChaCha8 stream from both, so parallel workers produce identical data in any order. A sample
//! is a text from [`TextGenerator`], rendered with a font of the [`FontSet`] at a high
//! resolution, degraded like a real scan ([`degrade`]) and reduced to its final resolution: tiny
//! blurry 100-DPI form text, faded thermal receipts, or clean book text.

pub mod degrade;
pub mod fonts;
mod patterns;
pub mod plane;
pub mod render;
pub mod text;
mod words;

use std::io::Write;
use std::path::Path;

use image::GrayImage;
use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};

pub use fonts::{FontEntry, FontSet, FontStyle};
pub use text::{TextGenerator, normalize_label};

use crate::error::{OcrError, Result};
use crate::geometry::BBox;
use crate::recognize::alphabet::Alphabet;
use degrade::uniform;
use plane::{Plane, Rect};
use render::{RenderParams, render_text};

/// Knobs of the generator; the defaults are what the recogniser is trained with.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// Labels are canonical for this alphabet.
    pub alphabet: Alphabet,
    /// Fraction of samples with low-resolution text (x-height 4.5-10 px, ~100 DPI forms).
    pub low_res_fraction: f32,
    /// Fraction of samples with large clean-resolution text (x-height 16-28 px).
    pub large_fraction: f32,
    /// Multiplier of every degradation probability (0 = clean renders, 1 = default mix).
    pub degradation: f32,
    /// Font pixel size text is rendered at before the scanner downscale (higher = slower).
    pub render_px: f32,
    /// Fraction of samples whose [`SynthLine::line_box`] is the whole image (margins, rules and
    /// neighbouring fragments inside it, like a loose annotator or layout box) instead of the
    /// text's ink box.
    pub loose_box_fraction: f32,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            alphabet: Alphabet::default(),
            low_res_fraction: 0.4,
            large_fraction: 0.25,
            degradation: 1.0,
            render_px: 56.0,
            loose_box_fraction: 0.5,
        }
    }
}

/// One synthetic line.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthLine {
    /// The line image (dark text on light paper), at its final, degraded resolution.
    pub image: GrayImage,
    /// The label: canonical, alphabet-only, single-spaced, trimmed, never empty.
    pub text: String,
    /// Tight box of the text's ink in `image` (after all geometric degradations; rules and
    /// neighbouring-line fragments excluded), i.e. what a layout stage would report.
    pub text_bbox: BBox,
    /// The box the line is normalised from in training: `text_bbox`, or the whole image for
    /// [`SynthConfig::loose_box_fraction`] of the samples.
    pub line_box: BBox,
    /// Name of the font used (for debugging and per-font statistics).
    pub font: String,
}

/// Legibility budget of one sample: each damaging degradation spends some, and one that would
/// overspend is skipped, so stacked degradations never make a line unreadable (its label must
/// stay recoverable from the pixels, or training learns to hallucinate).
struct Budget {
    /// What is left to spend.
    left: f32,
    /// Multiplier of the probabilities ([`SynthConfig::degradation`]).
    scale: f64,
}

impl Budget {
    /// Apply a degradation with probability `prob` (scaled) if `cost` is still affordable.
    fn roll(&mut self, rng: &mut ChaCha8Rng, prob: f64, cost: f32) -> bool {
        if cost > self.left || !rng.random_bool((prob * self.scale).clamp(0.0, 1.0)) {
            return false;
        }
        self.left -= cost;
        true
    }
}

/// Deterministic, thread-safe synthetic line generator.
#[derive(Debug, Clone)]
pub struct SynthGenerator {
    fonts: FontSet,
    text: TextGenerator,
    seed: u64,
    config: SynthConfig,
}

/// The per-sample random stream: ChaCha8 keyed by seed and index.
fn sample_rng(seed: u64, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&index.to_le_bytes());
    key[16..24].copy_from_slice(b"ferrocr1");
    ChaCha8Rng::from_seed(key)
}

impl SynthGenerator {
    /// A generator with the default [`SynthConfig`]. Fails when the font set is empty.
    pub fn new(fonts: FontSet, text: TextGenerator, seed: u64) -> Result<Self> {
        SynthGenerator::with_config(fonts, text, seed, SynthConfig::default())
    }

    /// A generator with an explicit configuration.
    pub fn with_config(
        fonts: FontSet,
        text: TextGenerator,
        seed: u64,
        config: SynthConfig,
    ) -> Result<Self> {
        if fonts.is_empty() {
            return Err(OcrError::bad_param("fonts", "the font set is empty"));
        }
        Ok(SynthGenerator {
            fonts,
            text,
            seed,
            config,
        })
    }

    /// The fonts in use.
    pub fn fonts(&self) -> &FontSet {
        &self.fonts
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The configuration.
    pub fn config(&self) -> &SynthConfig {
        &self.config
    }

    /// Sample number `index`: identical for identical (seed, index), on any thread.
    pub fn sample(&self, index: u64) -> SynthLine {
        let mut rng = sample_rng(self.seed, index);
        // A fresh attempt with a derived stream in the (theoretical) case of no ink.
        for attempt in 0..4u64 {
            if let Some(line) = self.try_sample(&mut rng) {
                return line;
            }
            rng = sample_rng(
                self.seed ^ (attempt + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                index,
            );
        }
        self.fallback_line()
    }

    /// Write `n` samples (indices `0..n`) as PNGs plus `labels.txt` (`file<TAB>x0,y0,x1,y1<TAB>label`).
    pub fn write_samples(&self, dir: &Path, n: usize) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut labels = std::fs::File::create(dir.join("labels.txt"))?;
        for i in 0..n {
            let s = self.sample(i as u64);
            let name = format!("{i:05}.png");
            s.image
                .save(dir.join(&name))
                .map_err(|e| OcrError::Internal(format!("saving {name}: {e}")))?;
            let b = s.text_bbox;
            writeln!(
                labels,
                "{name}\t{},{},{},{}\t{}",
                b.x0, b.y0, b.x1, b.y1, s.text
            )?;
        }
        Ok(())
    }

    /// The pipeline: text -> render at high resolution -> ink degradations -> crop ->
    /// scanner downscale -> paper, blur, noise, binarisation, JPEG. `None` when no ink.
    fn try_sample(&self, rng: &mut ChaCha8Rng) -> Option<SynthLine> {
        let cfg = &self.config;
        let d = f64::from(cfg.degradation.clamp(0.0, 4.0));
        let p = |x: f64| (x * d).clamp(0.0, 1.0);
        let font = self.fonts.pick(rng);
        let raw = self.text.generate(rng);
        let raw = text::substitute_missing(&raw, |c| c == ' ' || font.has_char(c));
        let shown = cfg.alphabet.canonicalize(&raw);
        let label = normalize_label(&cfg.alphabet, &shown);
        if label.is_empty() {
            return None;
        }

        // Final x-height and the supersampling factor `k` (render px per final px).
        let tier = rng.random::<f32>();
        let xh_final = if tier < cfg.low_res_fraction {
            uniform(rng, 4.5, 10.0)
        } else if tier < cfg.low_res_fraction + cfg.large_fraction {
            uniform(rng, 16.0, 28.0)
        } else {
            uniform(rng, 10.0, 16.0)
        };
        // Smaller text tolerates less damage.
        let mut budget = Budget {
            left: 2.2 + 0.08 * (xh_final - 6.0).clamp(0.0, 10.0),
            scale: d,
        };
        let px_final = xh_final / font.x_height_ratio;
        let k = (uniform(rng, 0.8, 1.2) * cfg.render_px.max(8.0) / px_final).clamp(1.0, 8.0);
        let px = px_final * k;

        let params = RenderParams {
            px,
            stretch: if xh_final >= 9.0 && rng.random_bool(0.15) {
                uniform(rng, 0.6, 0.85) // tall narrow receipt faces
            } else if xh_final >= 7.0 && rng.random_bool(0.06) {
                uniform(rng, 1.25, 1.8) // wide extended letterhead and display faces
            } else if font.style.mono {
                uniform(rng, 0.95, 1.05)
            } else {
                uniform(rng, 0.85, 1.12)
            },
            tracking: if rng.random_bool(0.04) {
                // Letter-spaced display and heading faces.
                uniform(rng, 0.15, 0.4) * px
            } else if rng.random_bool(0.25) {
                uniform(rng, -0.02, 0.1) * px
            } else {
                0.0
            },
            jitter: uniform(rng, 0.0, 0.025) * px,
            pad_x: 0.1 * px,
            pad_y: 0.1 * px,
            glyph_fade: if budget.roll(rng, 0.2, 0.5) {
                uniform(rng, 0.1, 0.35)
            } else {
                0.0
            },
        };
        let r = render_text(&font.font, font.x_height_ratio, &shown, &params, rng);
        let x_height = r.x_height;
        let mut cov = r.plane;
        let mut baseline = r.baseline;

        // Synthetic bold (relative to the font size) for regular faces, then scan damage to
        // the stroke weight (relative to the scanner's pixels).
        if !font.style.bold && rng.random_bool(0.08) {
            cov = render::embolden(&cov, ((0.025 * px).round() as usize).max(1));
        }
        if budget.roll(rng, 0.15, 1.0) {
            cov = degrade::ink_bleed(&cov, ((uniform(rng, 0.3, 0.9) * k).round() as usize).max(1));
        } else if !font.style.light && budget.roll(rng, 0.1, 1.0) {
            cov = degrade::thin_strokes(&cov, ((0.3 * k).round() as usize).max(1));
        }
        if !font.style.serif && !font.style.handwriting && budget.roll(rng, 0.07, 1.0) {
            let pitch = x_height / uniform(rng, 5.5, 8.0);
            cov = degrade::dot_matrix(&cov, pitch, rng);
        }
        let faded = label.chars().count() >= 3 && budget.roll(rng, 0.15, 1.5);
        if faded {
            degrade::thermal_fade(&mut cov, k, x_height, rng);
        } else if xh_final >= 8.0 && budget.roll(rng, 0.06, 1.2) {
            cov = degrade::broken_strokes(&cov, k, x_height, rng);
        }
        // Geometry.
        let angle = if rng.random_bool(p(0.4)) {
            uniform(rng, -2.0, 2.0) * rng.random::<f32>()
        } else {
            0.0
        };
        let shear = if rng.random_bool(p(0.15)) {
            uniform(rng, -0.2, 0.2) * rng.random::<f32>().sqrt()
        } else {
            0.0
        };
        if angle != 0.0 || shear != 0.0 {
            (cov, baseline) = degrade::rotate_shear(&cov, angle, shear, baseline);
        }
        let ink = cov.bbox_above(0.25)?;

        // Crop around the ink: margins vary, sometimes clipping ascenders / descenders.
        let th = ink.height() as f32;
        let side = |rng: &mut ChaCha8Rng| {
            let f = if rng.random_bool(0.15) {
                uniform(rng, 0.0, 0.2)
            } else {
                uniform(rng, 0.2, 1.5)
            };
            f * x_height
        };
        let mut vert = |rng: &mut ChaCha8Rng| {
            if budget.roll(rng, 0.1, 0.3) {
                -uniform(rng, 0.0, 0.12) * th
            } else {
                uniform(rng, 0.05, 0.8) * x_height
            }
        };
        let (pl, pr, pt, pb) = (side(rng), side(rng), vert(rng), vert(rng));
        let crop = Rect {
            x0: (ink.x0 as f32 - pl).floor() as i64,
            y0: (ink.y0 as f32 - pt).floor() as i64,
            x1: (ink.x1 as f32 + pr).ceil() as i64,
            y1: (ink.y1 as f32 + pb).ceil() as i64,
        };
        let mut c = cov.crop(crop);
        let text_c = Rect {
            x0: ink.x0 - crop.x0,
            y0: ink.y0 - crop.y0,
            x1: ink.x1 - crop.x0,
            y1: ink.y1 - crop.y0,
        };
        let base_c = baseline - crop.y0 as f32;

        // Things that are not the text: rules and neighbouring lines.
        if budget.roll(rng, 0.22, 0.3) {
            degrade::form_rules(&mut c, text_c, base_c, x_height, k, rng);
        }
        for above in [true, false] {
            let room = if above { pt } else { pb };
            if room > 1.5 * k && budget.roll(rng, 0.25, 0.2) {
                self.add_neighbour(
                    &mut c,
                    font,
                    &params,
                    above,
                    uniform(rng, k, room - 0.5 * k),
                    rng,
                );
            }
        }

        // Scanner: integrate into coarse pixels.
        let fw = ((c.w as f32 / k).round() as usize).max(2);
        let fh = ((c.h as f32 / k).round() as usize).max(6);
        let (sx, sy) = (c.w as f32 / fw as f32, c.h as f32 / fh as f32);
        let low = if k > 1.0 || c.w != fw || c.h != fh {
            c.resize_area(fw, fh)
        } else {
            c
        };
        let bbox = BBox::new(
            ((text_c.x0.max(0) as f32 / sx).floor() as u32).min(fw as u32 - 1),
            ((text_c.y0.max(0) as f32 / sy).floor() as u32).min(fh as u32 - 1),
            ((text_c.x1 as f32 / sx).ceil() as u32).clamp(1, fw as u32),
            ((text_c.y1 as f32 / sy).ceil() as u32).clamp(1, fh as u32),
        );

        // Paper and ink.
        let gray_paper = budget.roll(rng, 0.12, 0.3);
        let base = if gray_paper {
            uniform(rng, 175.0, 220.0)
        } else {
            uniform(rng, 226.0, 255.0)
        };
        let ink_level = if faded || budget.roll(rng, 0.1, 0.5) {
            base - uniform(rng, 70.0, 130.0)
        } else {
            uniform(rng, 0.0, 70.0).min(base - 90.0)
        };
        let uneven = budget.roll(rng, 0.3, 0.3);
        let mut paper = degrade::paper(fw, fh, base, uneven, rng);
        if !gray_paper && budget.roll(rng, 0.06, 0.5) {
            // Shaded form cells: a dot screen at 2-4 final pixels, at least 80 levels above the
            // ink so the text stays readable.
            let depth = uniform(rng, 40.0, 110.0)
                .min(base - ink_level - 80.0)
                .max(0.0);
            let (pitch, angle) = (uniform(rng, 2.0, 4.0), uniform(rng, 0.0, 0.8));
            degrade::halftone(&mut paper, pitch, angle, depth, rng);
        }
        let mut img = degrade::compose(&low, &paper, ink_level);

        // Scanner artefacts.
        if budget.roll(rng, 0.45, 0.8) {
            let sigma = if xh_final < 10.0 {
                uniform(rng, 0.3, 0.8)
            } else {
                uniform(rng, 0.4, 1.3)
            };
            img = degrade::blur(&img, sigma);
        }
        // Keep the text legible: its strongest pixel must stand >= 80 levels below the paper
        // under it (thin strokes integrated into coarse pixels and blurred lose contrast).
        let mut strongest = 0.0f32;
        for y in bbox.y0 as usize..bbox.y1 as usize {
            for x in bbox.x0 as usize..bbox.x1 as usize {
                let i = y * fw + x;
                strongest = strongest.max(paper.data[i] - img.data[i]);
            }
        }
        if strongest < 80.0 {
            let f = (80.0 / strongest.max(20.0)).min(4.0);
            for (v, pv) in img.data.iter_mut().zip(&paper.data) {
                *v = pv - (pv - *v) * f;
            }
        }
        if budget.roll(rng, 0.5, 0.4) {
            degrade::gaussian_noise(&mut img, uniform(rng, 2.0, 14.0), rng);
        }
        if budget.roll(rng, 0.07, 0.3) {
            degrade::salt_pepper(&mut img, uniform(rng, 0.001, 0.008), rng);
        }
        if !faded && budget.roll(rng, 0.18, 1.0) {
            let vmin = img.data.iter().copied().fold(f32::MAX, f32::min);
            let thr = vmin + (base - vmin) * uniform(rng, 0.4, 0.6);
            degrade::binarize(
                &mut img,
                thr,
                uniform(rng, 0.0, 50.0),
                uniform(rng, 225.0, 255.0),
            );
        }
        if budget.roll(rng, 0.03, 0.3) {
            // Reverse video: light text on a dark label, band or shaded header.
            for v in img.data.iter_mut() {
                *v = 255.0 - *v;
            }
        }
        let mut image = img.to_gray();
        if fh >= 14 && budget.roll(rng, 0.25, 0.6) {
            // Tiny text does not survive the harshest settings legibly.
            let q_min = if xh_final < 12.0 { 45 } else { 20 };
            image = degrade::jpeg(image, rng.random_range(q_min..=85u8));
        }
        let line_box = if rng.random_bool(f64::from(cfg.loose_box_fraction.clamp(0.0, 1.0))) {
            BBox::new(0, 0, image.width(), image.height())
        } else {
            bbox
        };
        Some(SynthLine {
            image,
            text: label,
            text_bbox: bbox,
            line_box,
            font: font.name.clone(),
        })
    }

    /// Paste part of another line (same font and size) at the top or bottom edge of `c`.
    fn add_neighbour(
        &self,
        c: &mut Plane,
        font: &FontEntry,
        params: &RenderParams,
        above: bool,
        visible: f32,
        rng: &mut ChaCha8Rng,
    ) {
        let raw = self.text.generate(rng);
        let raw = text::substitute_missing(&raw, |ch| ch == ' ' || font.has_char(ch));
        let shown = self.config.alphabet.canonicalize(&raw);
        let r = render_text(&font.font, font.x_height_ratio, &shown, params, rng);
        if let Some(ink) = r.ink {
            degrade::neighbour_fragment(c, &r.plane, ink, above, visible, rng);
        }
    }
}

impl SynthGenerator {
    /// A clean "0" in the first font, returned only if every attempt at a sample drew no ink
    /// (never observed; keeps `sample` total).
    fn fallback_line(&self) -> SynthLine {
        let font = &self.fonts.fonts()[0];
        let params = RenderParams {
            px: 32.0,
            stretch: 1.0,
            tracking: 0.0,
            jitter: 0.0,
            pad_x: 4.0,
            pad_y: 4.0,
            glyph_fade: 0.0,
        };
        let mut rng = sample_rng(self.seed, u64::MAX);
        let r = render_text(&font.font, font.x_height_ratio, "0", &params, &mut rng);
        let paper = Plane::filled(r.plane.w, r.plane.h, 255.0);
        let image = degrade::compose(&r.plane, &paper, 0.0).to_gray();
        let b = r.ink.unwrap_or(Rect {
            x0: 0,
            y0: 0,
            x1: r.plane.w as i64,
            y1: r.plane.h as i64,
        });
        let text_bbox = BBox::new(
            b.x0.max(0) as u32,
            b.y0.max(0) as u32,
            b.x1.max(1) as u32,
            b.y1.max(1) as u32,
        );
        SynthLine {
            image,
            text: "0".to_string(),
            text_bbox,
            line_box: text_bbox,
            font: font.name.clone(),
        }
    }
}

/// Debug helper: write `n` samples of a default generator (system fonts, seed 0) to `dir`.
pub fn write_samples(dir: &Path, n: usize) -> Result<()> {
    let generator = SynthGenerator::new(FontSet::discover()?, TextGenerator::new(), 0)?;
    generator.write_samples(dir, n)
}

#[cfg(test)]
mod tests;
