//! Scan degradations, each its own function, applied at random by the generator.
//!
//! Two kinds: operations on the ink-coverage plane at render resolution (stroke weight, thermal
//! fading, rotation/shear, table rules, neighbouring-line fragments) and operations on the gray
//! image at final resolution (paper, blur, noise, binarisation, JPEG). The split mirrors a real
//! scan: the print happens on paper at high resolution, the scanner integrates it into coarse
//! pixels, then adds its own blur, noise and compression.

use image::GrayImage;
use rand::{RngExt, rngs::ChaCha8Rng};

use super::plane::{Plane, Rect};

/// Uniform sample in `a..b`, or `a` when the range is empty (computed bounds never panic).
pub fn uniform(rng: &mut ChaCha8Rng, a: f32, b: f32) -> f32 {
    if b > a { rng.random_range(a..b) } else { a }
}

/// Stroke thickening (ink bleed, bold, over-inked ribbon): dilation by `r` pixels.
pub fn ink_bleed(cov: &Plane, r: usize) -> Plane {
    cov.morph(r, true)
}

/// Stroke thinning (light print, worn type): half-strength erosion by `r` pixels, so thin
/// strokes get fainter instead of vanishing.
pub fn thin_strokes(cov: &Plane, r: usize) -> Plane {
    let e = cov.morph(r, false);
    let mut out = cov.clone();
    for (o, e) in out.data.iter_mut().zip(&e.data) {
        *o = 0.35 * *o + 0.65 * e;
    }
    out
}

/// Dot-matrix print (receipt and impact printers): the glyphs are re-drawn as round dots on a
/// grid of pitch `pitch` pixels wherever a stroke covers the grid point's cell.
pub fn dot_matrix(cov: &Plane, pitch: f32, rng: &mut ChaCha8Rng) -> Plane {
    let pitch = pitch.max(2.0);
    let radius = pitch * rng.random_range(0.45..0.62f32);
    let mut out = Plane::filled(cov.w, cov.h, 0.0);
    let ri = radius.ceil() as i64 + 1;
    let half = (pitch * 0.5).floor() as i64;
    let (ox, oy) = (rng.random_range(0.0..pitch), rng.random_range(0.0..pitch));
    let mut gy = oy;
    while gy < cov.h as f32 {
        let mut gx = ox;
        while gx < cov.w as f32 {
            let (cx, cy) = (gx as i64, gy as i64);
            let mut hit = false;
            'cell: for y in cy - half..=cy + half {
                for x in cx - half..=cx + half {
                    if cov.get(x, y) > 0.5 {
                        hit = true;
                        break 'cell;
                    }
                }
            }
            if hit {
                let (cx, cy) = (gx.floor() as i64, gy.floor() as i64);
                for y in cy - ri..=cy + ri {
                    for x in cx - ri..=cx + ri {
                        let d =
                            ((x as f32 + 0.5 - gx).powi(2) + (y as f32 + 0.5 - gy).powi(2)).sqrt();
                        out.max_at(x, y, (radius + 0.5 - d).clamp(0.0, 1.0));
                    }
                }
            }
            gx += pitch;
        }
        gy += pitch;
    }
    out
}

/// Faded thermal print: ink strength varying slowly along the line, small holes punched into the
/// strokes, and sometimes dead print-head dots (thin vertical gaps). `unit` is the size of one
/// final-resolution pixel in coverage-plane pixels; `x_height` (same pixels) scales the holes to
/// the strokes, so they thin and break strokes without erasing whole glyphs.
pub fn thermal_fade(cov: &mut Plane, unit: f32, x_height: f32, rng: &mut ChaCha8Rng) {
    let (w, h) = (cov.w, cov.h);
    // Slow strength variation.
    let a = rng.random_range(0.15..0.5f32);
    let period = rng.random_range(20.0..120.0f32) * unit.max(1.0);
    let phase = rng.random_range(0.0..std::f32::consts::TAU);
    let gain: Vec<f32> = (0..w)
        .map(|x| 1.0 - a * (0.5 + 0.5 * (x as f32 / period * std::f32::consts::TAU + phase).sin()))
        .collect();
    for row in cov.data.chunks_mut(w) {
        for (v, g) in row.iter_mut().zip(&gain) {
            *v *= g;
        }
    }
    // Holes.
    let r = (rng.random_range(0.03..0.08f32) * x_height).max(0.5);
    let density = rng.random_range(0.02..0.08f32);
    let keep = rng.random_range(0.25..0.6f32);
    let n = ((w * h) as f32 * density / (std::f32::consts::PI * r * r).max(1.0)) as usize;
    punch_holes(cov, n.min(200_000), r, keep, rng, |_| (0.0, 1.0, 1.0));
    // Dead print-head dots.
    if rng.random_bool(0.3) {
        for _ in 0..rng.random_range(1..4) {
            let x0 = rng.random_range(0..w.max(1));
            let gw = ((rng.random_range(0.03..0.07f32) * x_height)
                .min(0.6 * unit)
                .round() as usize)
                .max(1);
            for row in cov.data.chunks_mut(w) {
                for v in row.iter_mut().skip(x0).take(gw) {
                    *v *= 0.2;
                }
            }
        }
    }
}

/// Worn type and carbon copies (FUNSD's faded typewriter forms): strokes thinned, then broken
/// by gaps where the ribbon or carbon left (almost) no ink. Unlike [`thermal_fade`]'s shallow
/// holes, these gaps are nearly white and a little wider than a stroke, so glyphs show breaks
/// the reader must bridge; density stays low enough that every glyph keeps most of its ink.
/// `x_height` is in coverage-plane pixels.
pub fn broken_strokes(cov: &Plane, unit: f32, x_height: f32, rng: &mut ChaCha8Rng) -> Plane {
    let mut out = if rng.random_bool(0.6) {
        thin_strokes(cov, ((0.3 * unit).round() as usize).max(1))
    } else {
        cov.clone()
    };
    let (w, h) = (out.w, out.h);
    let r = (rng.random_range(0.06..0.12f32) * x_height).max(0.7);
    let density = rng.random_range(0.03..0.07f32);
    let keep = rng.random_range(0.0..0.15f32);
    let n = ((w * h) as f32 * density / (std::f32::consts::PI * r * r).max(1.0)) as usize;
    // Gaps are elongated along a random direction (a worn edge of the type face).
    punch_holes(&mut out, n.min(100_000), r, keep, rng, |rng| {
        let (sn, cs) = rng.random_range(0.0..std::f32::consts::PI).sin_cos();
        (sn, cs, rng.random_range(1.0..2.0f32))
    });
    out
}

/// Multiply the coverage inside `n` holes by `keep`. Each hole is centred at a random pixel,
/// then `shape` gives its direction `(sin, cos)` and its stretch along that direction: an
/// ellipse with half-axes `r * stretch` and `r` (`(0, 1, 1)` = a disc of radius `r`).
fn punch_holes(
    cov: &mut Plane,
    n: usize,
    r: f32,
    keep: f32,
    rng: &mut ChaCha8Rng,
    mut shape: impl FnMut(&mut ChaCha8Rng) -> (f32, f32, f32),
) {
    let (w, h) = (cov.w, cov.h);
    let ri = r.ceil() as i64;
    for _ in 0..n {
        let cx = rng.random_range(0..w.max(1)) as i64;
        let cy = rng.random_range(0..h.max(1)) as i64;
        let (sn, cs, stretch) = shape(rng);
        let reach = ((r * stretch).ceil() as i64).max(ri);
        for y in (cy - reach).max(0)..(cy + reach + 1).min(h as i64) {
            for x in (cx - reach).max(0)..(cx + reach + 1).min(w as i64) {
                let (dx, dy) = ((x - cx) as f32, (y - cy) as f32);
                let (a, b) = ((dx * cs + dy * sn) / stretch, -dx * sn + dy * cs);
                if a * a + b * b <= r * r {
                    cov.data[y as usize * w + x as usize] *= keep;
                }
            }
        }
    }
}

/// Rotate by `angle_deg` and shear by `shear` (x shifted by `-shear * (y - baseline)`, so a
/// positive shear slants like italics) around the point (`w/2`, `baseline`). Returns the warped
/// plane (grown to hold the result) and the new y of the baseline at the centre.
pub fn rotate_shear(cov: &Plane, angle_deg: f32, shear: f32, baseline: f32) -> (Plane, f32) {
    let (s, c) = angle_deg.to_radians().sin_cos();
    // Forward linear part A = R * S.
    let a = [c, -c * shear - s, s, -s * shear + c];
    let (cx, cy) = (cov.w as f32 / 2.0, baseline);
    let fwd = |x: f32, y: f32| {
        let (dx, dy) = (x - cx, y - cy);
        (a[0] * dx + a[1] * dy + cx, a[2] * dx + a[3] * dy + cy)
    };
    let corners = [
        fwd(0.0, 0.0),
        fwd(cov.w as f32, 0.0),
        fwd(0.0, cov.h as f32),
        fwd(cov.w as f32, cov.h as f32),
    ];
    let minx = corners.iter().map(|p| p.0).fold(f32::MAX, f32::min).floor();
    let maxx = corners.iter().map(|p| p.0).fold(f32::MIN, f32::max).ceil();
    let miny = corners.iter().map(|p| p.1).fold(f32::MAX, f32::min).floor();
    let maxy = corners.iter().map(|p| p.1).fold(f32::MIN, f32::max).ceil();
    let (nw, nh) = (
        (maxx - minx).max(1.0) as usize,
        (maxy - miny).max(1.0) as usize,
    );
    let det = a[0] * a[3] - a[1] * a[2];
    if det.abs() < 1e-6 {
        return (cov.clone(), baseline);
    }
    let inv = [a[3] / det, -a[1] / det, -a[2] / det, a[0] / det];
    // src = inv * (dst + (minx, miny) - c) + c
    let (ox, oy) = (minx - cx, miny - cy);
    let m = [
        inv[0],
        inv[1],
        inv[0] * ox + inv[1] * oy + cx,
        inv[2],
        inv[3],
        inv[2] * ox + inv[3] * oy + cy,
    ];
    (cov.warp(m, nw, nh), cy - miny)
}

/// Draw a horizontal rule from `x0` to `x1` centred on `y`, `thick` pixels thick; dotted when
/// `dash` is `Some((on, off))`.
pub fn horizontal_rule(
    cov: &mut Plane,
    x0: f32,
    x1: f32,
    y: f32,
    thick: f32,
    dash: Option<(f32, f32)>,
) {
    let (ya, yb) = (y - thick / 2.0, y + thick / 2.0);
    for yy in ya.floor() as i64..yb.ceil() as i64 {
        let vy = (yb.min(yy as f32 + 1.0) - ya.max(yy as f32)).clamp(0.0, 1.0);
        for xx in x0.floor() as i64..x1.ceil() as i64 {
            if let Some((on, off)) = dash {
                let period = (on + off).max(1.0);
                if (xx as f32 - x0).rem_euclid(period) >= on {
                    continue;
                }
            }
            cov.max_at(xx, yy, vy);
        }
    }
}

/// Draw a vertical rule over the whole height at `x`, `thick` pixels thick.
pub fn vertical_rule(cov: &mut Plane, x: f32, thick: f32) {
    let (xa, xb) = (x - thick / 2.0, x + thick / 2.0);
    for xx in xa.floor() as i64..xb.ceil() as i64 {
        let vx = (xb.min(xx as f32 + 1.0) - xa.max(xx as f32)).clamp(0.0, 1.0);
        for yy in 0..cov.h as i64 {
            cov.max_at(xx, yy, vx);
        }
    }
}

/// Table and form rules near the text `text` (box in `cov` coordinates): an underline at the
/// baseline, a rule touching the descenders or the tops, rarely a rule striking through, dotted
/// leaders, and a vertical cell border beside the text when the margin leaves room for it
/// (never inside the text box, where it would read as a letter). `unit` is one final pixel.
pub fn form_rules(
    cov: &mut Plane,
    text: Rect,
    baseline: f32,
    x_height: f32,
    unit: f32,
    rng: &mut ChaCha8Rng,
) {
    let thick = rng.random_range(0.7..2.2f32) * unit;
    let w = cov.w as f32;
    let x0 = if rng.random_bool(0.6) {
        0.0
    } else {
        uniform(rng, 0.0, text.x0 as f32 + 0.3 * text.width() as f32)
    };
    let x1 = if rng.random_bool(0.6) {
        w
    } else {
        uniform(rng, text.x1 as f32 - 0.3 * text.width() as f32, w)
    };
    let r = rng.random::<f32>();
    if r < 0.45 {
        let y = baseline + rng.random_range(0.05..0.35f32) * x_height + thick / 2.0;
        horizontal_rule(cov, x0, x1, y, thick, None);
    } else if r < 0.65 {
        // Dotted leaders only here, well below the baseline, where they cannot pass for periods.
        let dash = rng.random_bool(0.3).then(|| {
            (
                rng.random_range(0.8..3.0f32) * unit,
                rng.random_range(0.8..3.0f32) * unit,
            )
        });
        let y = (text.y1 as f32 + rng.random_range(-0.1..0.4f32) * x_height)
            .max(baseline + 0.35 * x_height);
        horizontal_rule(cov, x0, x1, y, thick, dash);
    } else if r < 0.85 {
        let y = text.y0 as f32 - rng.random_range(-0.1..0.4f32) * x_height;
        horizontal_rule(cov, x0, x1, y, thick, None);
    } else if r < 0.93 {
        let y = baseline - rng.random_range(0.2..0.8f32) * x_height;
        horizontal_rule(cov, x0, x1, y, thick.min(1.2 * unit), None);
    }
    if r >= 0.85 || rng.random_bool(0.35) {
        let margin = thick + unit;
        let left = text.x0 as f32 - margin;
        let right = w - text.x1 as f32 - margin;
        if left > unit && (right <= unit || rng.random_bool(0.5)) {
            vertical_rule(cov, uniform(rng, 0.0, left) + thick / 2.0, thick);
        } else if right > unit {
            vertical_rule(
                cov,
                text.x1 as f32 + margin + uniform(rng, 0.0, right) - thick / 2.0,
                thick,
            );
        }
    }
}

/// Paste a neighbouring line's ink `frag` (with its ink box `frag_ink`) so that only its bottom
/// (`above`) or top shows, reaching `visible` pixels into the plane from that edge.
pub fn neighbour_fragment(
    cov: &mut Plane,
    frag: &Plane,
    frag_ink: Rect,
    above: bool,
    visible: f32,
    rng: &mut ChaCha8Rng,
) {
    let dx = uniform(rng, -(frag_ink.width() as f32 * 0.5), cov.w as f32 * 0.5) as i64;
    let y = if above {
        visible.round() as i64 - frag_ink.y1
    } else {
        cov.h as i64 - visible.round() as i64 - frag_ink.y0
    };
    cov.max_paste(frag, dx - frag_ink.x0, y);
}

/// Paper: a base gray level, optionally a linear gradient and soft stains (uneven lighting,
/// yellowed or photocopied paper, coffee rings).
pub fn paper(w: usize, h: usize, base: f32, uneven: bool, rng: &mut ChaCha8Rng) -> Plane {
    let mut p = Plane::filled(w, h, base);
    if !uneven {
        return p;
    }
    let g = rng.random_range(-35.0..35.0f32);
    let (s, c) = rng.random_range(0.0..std::f32::consts::TAU).sin_cos();
    let nstains = rng.random_range(0..3usize);
    let stains: Vec<(f32, f32, f32, f32)> = (0..nstains)
        .map(|_| {
            (
                uniform(rng, 0.0, w as f32),
                uniform(rng, 0.0, h as f32),
                rng.random_range(0.3..1.5f32) * h as f32,
                rng.random_range(8.0..45.0f32),
            )
        })
        .collect();
    for y in 0..h {
        for x in 0..w {
            let t = (x as f32 / w as f32) * c + (y as f32 / h as f32) * s;
            let mut v = base + g * (t - 0.5);
            for &(sx, sy, r, d) in &stains {
                let dd = ((x as f32 - sx).powi(2) + (y as f32 - sy).powi(2)) / (2.0 * r * r);
                if dd < 9.0 {
                    v -= d * (-dd).exp();
                }
            }
            p.data[y * w + x] = v;
        }
    }
    p
}

/// A halftone screen over the paper (a shaded form cell or a photocopied gray area): round dots
/// on a grid of `pitch` final pixels, rotated by `angle` radians, darkening the paper by up to
/// `depth` levels where a dot covers it; the dots' radius gives the screen's mean gray.
pub fn halftone(paper: &mut Plane, pitch: f32, angle: f32, depth: f32, rng: &mut ChaCha8Rng) {
    let pitch = pitch.max(1.5);
    let radius = pitch * rng.random_range(0.25..0.45f32);
    let (s, c) = angle.sin_cos();
    let (ox, oy) = (rng.random_range(0.0..pitch), rng.random_range(0.0..pitch));
    let w = paper.w;
    for (y, row) in paper.data.chunks_mut(w).enumerate() {
        for (x, v) in row.iter_mut().enumerate() {
            // Position in the screen's own (rotated) grid, relative to the nearest dot centre.
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let u = (px * c + py * s + ox) / pitch;
            let t = (-px * s + py * c + oy) / pitch;
            let (du, dt) = ((u - u.round()) * pitch, (t - t.round()) * pitch);
            let d = (du * du + dt * dt).sqrt();
            // Soft dot edge half a pixel wide (the scanner integrates the dot's rim).
            let cover = (radius + 0.5 - d).clamp(0.0, 1.0);
            *v -= depth * cover;
        }
    }
}

/// Ink on paper: `paper - (paper - ink) * coverage`.
pub fn compose(cov: &Plane, paper: &Plane, ink: f32) -> Plane {
    let mut out = paper.clone();
    for (o, &c) in out.data.iter_mut().zip(&cov.data) {
        *o -= (*o - ink) * c.clamp(0.0, 1.0);
    }
    out
}

/// Scanner optics: Gaussian blur.
pub fn blur(img: &Plane, sigma: f32) -> Plane {
    img.gaussian_blur(sigma)
}

/// Sensor noise: additive Gaussian noise of standard deviation `sigma` gray levels.
pub fn gaussian_noise(img: &mut Plane, sigma: f32, rng: &mut ChaCha8Rng) {
    let mut i = 0;
    while i < img.data.len() {
        let u1 = rng.random_range(1e-7..1.0f32);
        let u2 = rng.random::<f32>();
        let r = (-2.0 * u1.ln()).sqrt() * sigma;
        let (s, c) = (u2 * std::f32::consts::TAU).sin_cos();
        img.data[i] += r * c;
        if i + 1 < img.data.len() {
            img.data[i + 1] += r * s;
        }
        i += 2;
    }
}

/// Dropouts and dust: a fraction `amount` of pixels set to near-white (mostly) or to a mid-grey
/// speck. Specks stay grey and rare because a black one next to the baseline would read as a
/// period that the label does not have.
pub fn salt_pepper(img: &mut Plane, amount: f32, rng: &mut ChaCha8Rng) {
    let n = (img.data.len() as f32 * amount) as usize;
    for _ in 0..n {
        let i = rng.random_range(0..img.data.len().max(1));
        if let Some(v) = img.data.get_mut(i) {
            *v = if rng.random_bool(0.2) {
                rng.random_range(90.0..170.0)
            } else {
                rng.random_range(215.0..255.0)
            };
        }
    }
}

/// Bi-level scan look: pixels darker than `threshold` become `dark`, the others `light`.
pub fn binarize(img: &mut Plane, threshold: f32, dark: f32, light: f32) {
    for v in img.data.iter_mut() {
        *v = if *v < threshold { dark } else { light };
    }
}

/// JPEG compression artefacts: encode at `quality` (1-100) and decode. Returns the input
/// unchanged if encoding fails.
pub fn jpeg(img: GrayImage, quality: u8) -> GrayImage {
    let mut buf = Vec::new();
    let mut enc =
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality.clamp(1, 100));
    if enc.encode_image(&img).is_err() {
        return img;
    }
    match image::load_from_memory_with_format(&buf, image::ImageFormat::Jpeg) {
        Ok(d) => d.to_luma8(),
        Err(_) => img,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn bar() -> Plane {
        let mut p = Plane::filled(60, 30, 0.0);
        for y in 10..20 {
            for x in 10..50 {
                p.data[y * 60 + x] = 1.0;
            }
        }
        p
    }

    #[test]
    fn geometry_keeps_ink_and_moves_it() {
        let p = bar();
        let (r, base) = rotate_shear(&p, 2.0, 0.0, 20.0);
        let ink = |q: &Plane| q.data.iter().sum::<f32>();
        assert!((ink(&r) - ink(&p)).abs() / ink(&p) < 0.02);
        assert!(r.h > p.h && (base - 20.0).abs() < 3.0);
        let (s, _) = rotate_shear(&p, 0.0, 0.2, 20.0);
        let bb = s.bbox_above(0.5).expect("ink");
        assert!(bb.width() > 40);
    }

    #[test]
    fn pixel_degradations_behave() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let paper = paper(60, 30, 240.0, true, &mut rng);
        let img = compose(&bar(), &paper, 20.0);
        assert!(img.get(30, 15) < 30.0 && img.get(2, 2) > 150.0);
        let mut n = img.clone();
        gaussian_noise(&mut n, 10.0, &mut rng);
        let var: f32 = n
            .data
            .iter()
            .zip(&img.data)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f32>()
            / n.data.len() as f32;
        assert!((var.sqrt() - 10.0).abs() < 2.0);
        let mut b = img.clone();
        binarize(&mut b, 128.0, 0.0, 255.0);
        assert!(b.data.iter().all(|&v| v == 0.0 || v == 255.0));
        let j = jpeg(img.to_gray(), 30);
        assert_eq!(j.dimensions(), (60, 30));
        let mut t = bar();
        thermal_fade(&mut t, 2.0, 10.0, &mut rng);
        assert!(t.data.iter().sum::<f32>() < bar().data.iter().sum::<f32>());
        let dots = dot_matrix(&bar(), 3.0, &mut rng);
        let ink = |q: &Plane| q.data.iter().sum::<f32>();
        assert!(ink(&dots) > 0.3 * ink(&bar()) && ink(&dots) < 1.6 * ink(&bar()));
        // Dots stay within about one pitch of the strokes.
        assert!(
            dots.bbox_above(0.5)
                .is_some_and(|b| b.x0 >= 6 && b.x1 <= 54 && b.y0 >= 6 && b.y1 <= 24)
        );
        let mut r = Plane::filled(60, 30, 0.0);
        form_rules(
            &mut r,
            Rect {
                x0: 10,
                y0: 10,
                x1: 50,
                y1: 20,
            },
            18.0,
            6.0,
            1.0,
            &mut rng,
        );
        assert!(r.data.iter().sum::<f32>() > 10.0);
    }
}
