//! Test helpers: synthetic text pages drawn with DejaVu Sans.

use ab_glyph::FontVec;
use image::{GrayImage, Luma};
use imageproc::drawing::{draw_text_mut, text_size};

const FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Ordinary English prose: realistic ascender/descender/capital statistics.
const PROSE: &str = "The quick brown fox jumps over the lazy dog while the farmer looks on. \
    In the beginning of the year the company published its annual report, which showed that \
    sales had grown by twelve percent. Many people believe that reading every day improves \
    the mind; others simply enjoy a good story before they fall asleep. The library opens at \
    nine o'clock in the morning and closes late in the evening, so students can work there \
    after their lectures. Please keep this receipt for your records and bring it with you if \
    you need to return any item within thirty days of purchase. Weather permitting, the ferry \
    will leave the harbour at half past eight and reach the island shortly before noon. \
    Historians still debate why the old bridge was built so far from the village, but most \
    agree that the river changed its course during a great flood long ago.";

/// Load DejaVu Sans, or print why not and return `None` (the calling test then returns).
pub fn load_font() -> Option<FontVec> {
    match std::fs::read(FONT_PATH) {
        Ok(bytes) => match FontVec::try_from_vec(bytes) {
            Ok(f) => Some(f),
            Err(e) => {
                crate::prerequisite::missing(&format!("cannot parse {FONT_PATH}: {e}"));
                None
            }
        },
        Err(e) => {
            crate::prerequisite::missing(&format!("font {FONT_PATH} missing: {e}"));
            None
        }
    }
}

/// Draw one string with its top-left at `(x, y)`, ink level `ink`.
pub fn draw_text(img: &mut GrayImage, font: &FontVec, x: i32, y: i32, px: f32, ink: u8, s: &str) {
    draw_text_mut(img, Luma([ink]), x, y, px, font, s);
}

/// Draw `lines` lines of prose from `(x, y)`, wrapped to keep a right margin equal to `x`
/// (or 10 px when `x` is negative); line pitch 1.45 x `px`.
pub fn draw_paragraph(
    img: &mut GrayImage,
    font: &FontVec,
    x: i32,
    y: i32,
    px: f32,
    ink: u8,
    lines: usize,
) {
    let right = img.width() as i32 - x.max(10);
    let words: Vec<&str> = PROSE.split_whitespace().collect();
    let mut wi = 0usize;
    for l in 0..lines {
        let mut line = String::new();
        loop {
            let word = words[wi % words.len()];
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            let (tw, _) = text_size(px, font, &candidate);
            if x + tw as i32 > right && !line.is_empty() {
                break;
            }
            line = candidate;
            wi += 1;
        }
        let ly = y + (l as f32 * px * 1.45) as i32;
        draw_text(img, font, x, ly, px, ink, &line);
    }
}

/// A white page filled with prose (margins of 6 % of the width), black ink.
pub fn text_page(font: &FontVec, w: u32, h: u32, px: f32) -> GrayImage {
    let mut page = GrayImage::from_pixel(w, h, Luma([255]));
    let margin = (w as f32 * 0.06) as i32;
    let lines = ((h as f32 - 2.0 * margin as f32) / (px * 1.45)).max(1.0) as usize;
    draw_paragraph(&mut page, font, margin, margin, px, 0, lines);
    page
}

/// Number of ink pixels (value < 128).
pub fn ink_count(bin: &GrayImage) -> usize {
    bin.as_raw().iter().filter(|&&v| v < 128).count()
}
