//! Removal of black frames, scanner shadows and dark margins along the page edges.

use image::GrayImage;

use super::components::Components;
use crate::histogram::percentile;

/// A row (column) is part of a dark edge band when at least this fraction of it is ink.
const BAND_DENSITY: f32 = 0.5;
/// ... and holds an unbroken ink run of at least this fraction of its length.
const BAND_RUN: f32 = 0.1;
/// A band must start within this fraction of the page side from the edge.
const BAND_START: f32 = 0.01;
/// Bands never reach further than this fraction of the page side into the page.
const BAND_MAX: f32 = 0.25;
/// An edge-touching component spanning this fraction of both page sides is a frame.
const FRAME_SPAN: f32 = 0.5;
/// An edge-touching component this long along the edge it touches is a border strip.
const STRIP_SPAN: f32 = 0.2;
/// An edge-touching component covering this fraction of the page is a dark margin.
const BLOB_FRACTION: f64 = 0.02;

/// Remove black frames, scanner shadows and dark margins touching the page edges.
///
/// Two detectors run on `binary` (ink = 0): solid dark bands (runs of mostly-ink rows or
/// columns starting at an edge), and ink components that touch an edge and are border-shaped
/// (spanning most of the page like a frame, long along the edge they touch, or very large).
/// Everything found is set to paper (255) in both `binary` and `gray`, in the gray image with a
/// small margin so that anti-aliased or soft-shadow fringes do not come back when the page is
/// binarised again. Text merely lying near or touching an edge consists of small components and
/// is kept. Returns the number of binary pixels that were ink and are now paper; images of
/// different sizes are left untouched. Clean pages cost almost nothing: band statistics are
/// computed line by line from the edges, and components are labelled only when ink comes
/// within a few pixels of an edge.
pub fn remove_borders(binary: &mut GrayImage, gray: &mut GrayImage) -> u64 {
    let (w, h) = binary.dimensions();
    if w == 0 || h == 0 || gray.dimensions() != (w, h) {
        return 0;
    }
    let margin = (w.min(h) / 500).max(2);
    let mut cleared = 0u64;

    // 1. Solid dark bands along the edges (line statistics are computed on demand, so a clean
    // page costs a few lines per edge).
    let top = band(binary, false, false);
    let bottom = band(binary, false, true);
    let left = band(binary, true, false);
    let right = band(binary, true, true);
    // A band covering (nearly) the whole page is a dark page, not a border.
    let rows_ok = top + bottom < h / 2;
    let cols_ok = left + right < w / 2;
    let (mut top, mut bottom, mut left, mut right) = (top, bottom, left, right);
    if top + bottom + left + right > 0 {
        // Soft shadows fade out beyond the part that binarised as ink: follow them in gray.
        let paper = paper_level(gray);
        let ext = |depth: u32, vertical: bool, from_end: bool| {
            extend_band(gray, depth, vertical, from_end, paper)
        };
        top = if top > 0 { ext(top, false, false) } else { 0 };
        bottom = if bottom > 0 {
            ext(bottom, false, true)
        } else {
            0
        };
        left = if left > 0 { ext(left, true, false) } else { 0 };
        right = if right > 0 { ext(right, true, true) } else { 0 };
    }
    let mut rects: Vec<(u32, u32, u32, u32)> = Vec::new();
    if rows_ok && top > 0 {
        rects.push((0, 0, w, top + margin));
    }
    if rows_ok && bottom > 0 {
        rects.push((0, h.saturating_sub(bottom + margin), w, h));
    }
    if cols_ok && left > 0 {
        rects.push((0, 0, left + margin, h));
    }
    if cols_ok && right > 0 {
        rects.push((w.saturating_sub(right + margin), 0, w, h));
    }
    for &(x0, y0, x1, y1) in &rects {
        cleared += fill_rect(binary, x0, y0, x1, y1);
        fill_rect(gray, x0, y0, x1, y1);
    }

    // 2. Border-shaped components touching an edge ("touching" allows a thin paper strip at
    // the very edge: scanner lid, cropping). Labelling is skipped when no ink is that close.
    let near = (w.min(h) / 200).max(2);
    if !ink_near_edges(binary, near) {
        return cleared;
    }
    let comps = Components::label(binary);
    let (wf, hf) = (w as f32, h as f32);
    let page_area = w as f64 * h as f64;
    let remove: Vec<bool> = comps
        .components
        .iter()
        .map(|c| {
            let b = c.bbox;
            let (touch_l, touch_t) = (b.x0 <= near, b.y0 <= near);
            let (touch_r, touch_b) = (b.x1 + near >= w, b.y1 + near >= h);
            if !(touch_l || touch_t || touch_r || touch_b) {
                return false;
            }
            let (bw, bh) = (b.width() as f32, b.height() as f32);
            let frame = bw >= FRAME_SPAN * wf && bh >= FRAME_SPAN * hf;
            let strip = ((touch_t || touch_b) && bw >= STRIP_SPAN * wf)
                || ((touch_l || touch_r) && bh >= STRIP_SPAN * hf);
            let blob = c.pixels as f64 >= BLOB_FRACTION * page_area;
            frame || strip || blob
        })
        .collect();
    if remove.iter().any(|&r| r) {
        cleared += comps.clear(binary, &remove);
        // Clear the gray image under the removed runs, dilated by `margin`.
        let gw = w as usize;
        let data: &mut [u8] = gray;
        for (r, &l) in comps.runs.iter().zip(&comps.run_label) {
            if !remove[l as usize] {
                continue;
            }
            let x0 = r.x0.saturating_sub(margin) as usize;
            let x1 = (r.x1 + margin).min(w) as usize;
            for y in r.y.saturating_sub(margin)..(r.y + margin + 1).min(h) {
                let base = y as usize * gw;
                data[base + x0..base + x1].fill(255);
            }
        }
        // Also clear the dilation margin in the binary, mirroring the gray image.
        for (r, &l) in comps.runs.iter().zip(&comps.run_label) {
            if remove[l as usize] {
                cleared += fill_rect(
                    binary,
                    r.x0.saturating_sub(margin),
                    r.y.saturating_sub(margin),
                    (r.x1 + margin).min(w),
                    (r.y + margin + 1).min(h),
                );
            }
        }
    }
    cleared
}

/// True when some ink lies within `near` pixels of an edge.
fn ink_near_edges(binary: &GrayImage, near: u32) -> bool {
    let (w, h) = (binary.width() as usize, binary.height() as usize);
    let n = (near as usize + 1).min(w).min(h);
    let src = binary.as_raw();
    let rows_hit = (0..n)
        .chain(h - n..h)
        .any(|y| src[y * w..(y + 1) * w].iter().any(|&v| v < 128));
    rows_hit
        || src
            .chunks_exact(w)
            .any(|row| row[..n].iter().chain(&row[w - n..]).any(|&v| v < 128))
}

/// Ink count and longest ink run of line `i` (a row, or a column when `vertical`).
fn line_stat(binary: &GrayImage, i: usize, vertical: bool) -> (u32, u32) {
    let (w, h) = (binary.width() as usize, binary.height() as usize);
    let src = binary.as_raw();
    let (mut ink, mut run, mut longest) = (0u32, 0u32, 0u32);
    let mut visit = |v: u8| {
        if v < 128 {
            ink += 1;
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    };
    if vertical {
        for y in 0..h {
            visit(src[y * w + i]);
        }
    } else {
        src[i * w..(i + 1) * w].iter().for_each(|&v| visit(v));
    }
    (ink, longest)
}

/// Depth (in lines from the edge) of the dark band along the top (bottom with `from_end`) edge,
/// or the left (right) edge when `vertical`; 0 when there is none. A band line is mostly ink
/// and holds a long unbroken run (text lines, however dense, are broken into short runs).
fn band(binary: &GrayImage, vertical: bool, from_end: bool) -> u32 {
    let (w, h) = binary.dimensions();
    let (n, len) = if vertical {
        (w as usize, h)
    } else {
        (h as usize, w)
    };
    if n == 0 {
        return 0;
    }
    let dense = |i: usize| {
        let line = if from_end { n - 1 - i } else { i };
        let (ink, longest) = line_stat(binary, line, vertical);
        ink as f32 >= BAND_DENSITY * len as f32 && longest as f32 >= BAND_RUN * len as f32
    };
    let start_limit = ((n as f32 * BAND_START) as usize).max(2).min(n);
    let Some(start) = (0..start_limit).find(|&i| dense(i)) else {
        return 0;
    };
    let max_depth = ((n as f32 * BAND_MAX) as usize).max(1);
    let mut end = start;
    while end < n && end < max_depth && dense(end) {
        end += 1;
    }
    end as u32
}

/// Paper brightness of the gray page: 70th percentile of a pixel sample.
fn paper_level(gray: &GrayImage) -> f32 {
    let mut hist = [0u32; 256];
    for &v in gray.as_raw().iter().step_by(7) {
        hist[v as usize] += 1;
    }
    percentile(&hist, 0.7) as f32
}

/// Grow a band depth while the next line (row, or column when `vertical`) is still mostly
/// darker than paper: its 70th percentile below 90 % of the paper level (a text line is
/// mostly paper, a shadow line is not).
fn extend_band(gray: &GrayImage, depth: u32, vertical: bool, from_end: bool, paper: f32) -> u32 {
    let (w, h) = gray.dimensions();
    let n = if vertical { w } else { h };
    let max_depth = ((n as f32 * BAND_MAX) as u32).max(depth);
    let src = gray.as_raw();
    let mut d = depth;
    while d < max_depth {
        let i = if from_end { n - 1 - d } else { d };
        let mut hist = [0u32; 256];
        if vertical {
            for y in 0..h {
                hist[src[y as usize * w as usize + i as usize] as usize] += 1;
            }
        } else {
            let base = i as usize * w as usize;
            for &v in &src[base..base + w as usize] {
                hist[v as usize] += 1;
            }
        }
        if percentile(&hist, 0.7) as f32 >= 0.9 * paper {
            break;
        }
        d += 1;
    }
    d
}

/// Set a rectangle to paper; returns how many of its pixels were ink.
fn fill_rect(img: &mut GrayImage, x0: u32, y0: u32, x1: u32, y1: u32) -> u64 {
    let w = img.width() as usize;
    let (x1, y1) = (x1.min(img.width()), y1.min(img.height()));
    if x0 >= x1 {
        return 0;
    }
    let data: &mut [u8] = img;
    let mut ink = 0u64;
    for y in y0..y1 {
        let base = y as usize * w;
        let span = &mut data[base + x0 as usize..base + x1 as usize];
        ink += span.iter().filter(|&&v| v < 128).count() as u64;
        span.fill(255);
    }
    ink
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::binarize::sauvola;
    use crate::preprocess::contrast::normalize_contrast;
    use crate::preprocess::testutil::{draw_paragraph, ink_count, load_font};
    use image::Luma;

    fn ink_in(bin: &GrayImage, x0: u32, y0: u32, x1: u32, y1: u32) -> usize {
        ink_count(&image::imageops::crop_imm(bin, x0, y0, x1 - x0, y1 - y0).to_image())
    }

    #[test]
    fn thick_frame_is_removed_and_text_kept() {
        let Some(font) = load_font() else { return };
        let (w, h) = (900u32, 1100u32);
        let mut page = GrayImage::from_pixel(w, h, Luma([240]));
        draw_paragraph(&mut page, &font, 90, 100, 26.0, 10, 16);
        // Thick black frame (60 px), slightly uneven, plus a thin white gap at the very edge
        // on the left (scanner lid).
        for (x, y, p) in page.enumerate_pixels_mut() {
            let d = x.min(y).min(w - 1 - x).min(h - 1 - y);
            if d < 60 && x >= 3 {
                p[0] = 15 + ((x + y) % 7) as u8;
            }
        }
        let mut gray = normalize_contrast(&page);
        let mut bin = sauvola(&gray, 0, 0.2);
        let text_before = ink_in(&bin, 80, 80, w - 80, h - 80);
        assert!(
            ink_in(&bin, 0, 0, w, 60) > 10_000,
            "frame must be ink before removal"
        );
        let removed = remove_borders(&mut bin, &mut gray);
        assert!(removed > 100_000, "removed {removed}");
        assert_eq!(ink_in(&bin, 0, 0, w, 70), 0);
        assert_eq!(ink_in(&bin, 0, 0, 70, h), 0);
        assert_eq!(ink_in(&bin, w - 70, 0, w, h), 0);
        assert_eq!(ink_in(&bin, 0, h - 70, w, h), 0);
        assert_eq!(ink_in(&bin, 80, 80, w - 80, h - 80), text_before);
        assert!(gray.get_pixel(30, 500)[0] == 255 && gray.get_pixel(450, 30)[0] == 255);
        // Re-binarising the cleaned gray page does not bring the frame back.
        let again = sauvola(&gray, 0, 0.2);
        assert_eq!(ink_in(&again, 0, 0, 70, h), 0);
    }

    #[test]
    fn text_touching_edges_is_kept_and_shadow_band_removed() {
        let Some(font) = load_font() else { return };
        let (w, h) = (800u32, 900u32);
        let mut page = GrayImage::from_pixel(w, h, Luma([255]));
        // Text cut by the left and top edges.
        draw_paragraph(&mut page, &font, -12, -8, 30.0, 0, 10);
        // Dark scanner shadow along the right edge (soft gradient to black).
        for (x, _, p) in page.enumerate_pixels_mut() {
            if x >= w - 40 {
                let t = (x - (w - 40)) as f32 / 40.0;
                p[0] = (p[0] as f32 * (1.0 - t.min(1.0) * 0.95).max(0.04)) as u8;
            }
        }
        let mut gray = page.clone();
        let mut bin = sauvola(&gray, 0, 0.2);
        let left_text = ink_in(&bin, 0, 0, 200, h);
        assert!(left_text > 1000);
        remove_borders(&mut bin, &mut gray);
        assert_eq!(ink_in(&bin, 0, 0, 200, h), left_text);
        assert_eq!(ink_in(&bin, w - 20, 0, w, h), 0);
    }

    #[test]
    fn mismatched_sizes_and_empty_are_noops() {
        let mut a = GrayImage::from_pixel(10, 10, Luma([0]));
        let mut b = GrayImage::new(5, 5);
        assert_eq!(remove_borders(&mut a, &mut b), 0);
        let mut e1 = GrayImage::new(0, 0);
        let mut e2 = GrayImage::new(0, 0);
        assert_eq!(remove_borders(&mut e1, &mut e2), 0);
    }
}
