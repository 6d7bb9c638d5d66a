//! Removal of isolated ink specks (salt noise, dust) from binary pages.

use image::GrayImage;

use super::components::Components;

/// Largest automatic speck area, in pixels (reached only for very large text / high DPI).
const MAX_AUTO_AREA: u32 = 16;
/// Fallback when the page has too few characters to measure: typical 300 DPI value.
const DEFAULT_AREA: u32 = 3;

/// Remove ink components (8-connected) of at most `max_area` pixels; returns how many were
/// removed.
///
/// `max_area` = 0 picks the size from the text itself ([`auto_speck_area`]), so that i-dots,
/// periods and commas survive at any resolution while salt noise goes.
pub fn despeckle(binary: &mut GrayImage, max_area: u32) -> usize {
    let comps = Components::label(binary);
    let limit = if max_area == 0 {
        auto_speck_area(&comps)
    } else {
        max_area
    };
    let remove: Vec<bool> = comps.components.iter().map(|c| c.pixels <= limit).collect();
    let n = remove.iter().filter(|&&r| r).count();
    if n > 0 {
        comps.clear(binary, &remove);
    }
    n
}

/// Automatic speck size: `(median character height / 11)^2`, within 1..=16 pixels.
///
/// The median height of character-sized components measures the text size in pixels (and so
/// the resolution); an i-dot or a period is roughly a stroke width square, about a fifth of the
/// character height, so a speck limit of an eleventh squared stays well below it. At 300 DPI
/// body text this gives about 4 pixels, at 100 DPI 1 pixel.
pub fn auto_speck_area(comps: &Components) -> u32 {
    let mut heights: Vec<u32> = comps
        .components
        .iter()
        .filter(|c| c.pixels >= 8 && c.bbox.height() >= 4 && c.bbox.width() >= 2)
        .map(|c| c.bbox.height())
        .collect();
    if heights.len() < 20 {
        return DEFAULT_AREA;
    }
    let mid = heights.len() / 2;
    let (_, &mut m, _) = heights.select_nth_unstable(mid);
    let a = (m as f32 / 11.0).powi(2).round() as u32;
    a.clamp(1, MAX_AUTO_AREA)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::binarize::sauvola;
    use crate::preprocess::testutil::{draw_paragraph, draw_text, ink_count, load_font};
    use image::Luma;
    use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};

    #[test]
    fn salt_noise_removed_and_i_dot_kept() {
        let Some(font) = load_font() else { return };
        let (w, h) = (900u32, 700u32);
        let mut page = GrayImage::from_pixel(w, h, Luma([255]));
        draw_paragraph(&mut page, &font, 30, 30, 34.0, 0, 8);
        // A lone "i" in a clear area, to check its dot.
        draw_text(&mut page, &font, 400, 560, 34.0, 0, "i");
        let clean = sauvola(&page, 0, 0.2);
        let mut noisy = clean.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut salt = Vec::new();
        while salt.len() < 400 {
            let (x, y) = (rng.random_range(1..w - 2), rng.random_range(1..h - 2));
            // Only on clear paper (no ink within 3 px), so each speck stays isolated.
            let clear = (x.saturating_sub(3)..(x + 4).min(w)).all(|xx| {
                (y.saturating_sub(3)..(y + 4).min(h)).all(|yy| clean.get_pixel(xx, yy)[0] == 255)
            });
            if !clear {
                continue;
            }
            noisy.put_pixel(x, y, Luma([0]));
            if rng.random_bool(0.5) {
                noisy.put_pixel(x + 1, y, Luma([0]));
            }
            salt.push((x, y));
        }
        let auto = auto_speck_area(&Components::label(&clean));
        assert!((2..=4).contains(&auto), "auto speck area {auto}");
        let removed = despeckle(&mut noisy, 0);
        assert!(removed >= 400, "removed {removed}");
        for &(x, y) in &salt {
            assert_eq!(noisy.get_pixel(x, y)[0], 255);
        }
        // Text unchanged except for genuine tiny fragments; the i-dot survives.
        assert!(ink_count(&noisy) as f64 > 0.995 * ink_count(&clean) as f64);
        // The lone "i" still has two components (dot and stem) of unchanged sizes.
        let parts = |b: &GrayImage| {
            let crop = image::imageops::crop_imm(b, 385, 545, 50, 70).to_image();
            let mut a: Vec<u32> = Components::label(&crop)
                .components
                .iter()
                .map(|c| c.pixels)
                .collect();
            a.sort_unstable();
            a
        };
        let (before, after) = (parts(&clean), parts(&noisy));
        assert_eq!(before.len(), 2, "{before:?}");
        assert_eq!(before, after);
    }

    #[test]
    fn explicit_limit_is_respected() {
        let mut img = GrayImage::from_pixel(40, 20, Luma([255]));
        for x in 2..5 {
            img.put_pixel(x, 2, Luma([0])); // 3-pixel speck
        }
        for x in 10..15 {
            img.put_pixel(x, 10, Luma([0])); // 5-pixel speck
        }
        assert_eq!(despeckle(&mut img, 3), 1);
        assert_eq!(img.get_pixel(3, 2)[0], 255);
        assert_eq!(img.get_pixel(12, 10)[0], 0);
        let mut empty = GrayImage::new(0, 0);
        assert_eq!(despeckle(&mut empty, 0), 0);
    }
}
