//! A small float raster used while synthesising a line: ink coverage (0 = none, 1 = full) at
//! render resolution, and gray levels (0..255) after compositing.
//!
//! Every operation is O(pixels) (times a small kernel) and allocates at most one output buffer,
//! so a whole synthetic line stays in the low milliseconds.

use image::GrayImage;

/// A row-major `f32` raster.
#[derive(Debug, Clone, PartialEq)]
pub struct Plane {
    /// Width in pixels.
    pub w: usize,
    /// Height in pixels.
    pub h: usize,
    /// `w * h` samples, row-major.
    pub data: Vec<f32>,
}

/// A rectangle in (possibly negative) pixel coordinates: `x0,y0` inclusive, `x1,y1` exclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub x0: i64,
    /// Top edge.
    pub y0: i64,
    /// Right edge (exclusive).
    pub x1: i64,
    /// Bottom edge (exclusive).
    pub y1: i64,
}

impl Rect {
    /// Width (0 when inverted).
    pub fn width(&self) -> i64 {
        (self.x1 - self.x0).max(0)
    }

    /// Height (0 when inverted).
    pub fn height(&self) -> i64 {
        (self.y1 - self.y0).max(0)
    }
}

impl Plane {
    /// A plane filled with `value`.
    pub fn filled(w: usize, h: usize, value: f32) -> Self {
        Plane {
            w,
            h,
            data: vec![value; w * h],
        }
    }

    /// Sample at integer coordinates; 0 outside.
    #[inline]
    pub fn get(&self, x: i64, y: i64) -> f32 {
        if x < 0 || y < 0 || x >= self.w as i64 || y >= self.h as i64 {
            0.0
        } else {
            self.data[y as usize * self.w + x as usize]
        }
    }

    /// Set the maximum of the current value and `v` at integer coordinates (ignored outside).
    #[inline]
    pub fn max_at(&mut self, x: i64, y: i64, v: f32) {
        if x >= 0 && y >= 0 && x < self.w as i64 && y < self.h as i64 {
            let p = &mut self.data[y as usize * self.w + x as usize];
            if v > *p {
                *p = v;
            }
        }
    }

    /// Bilinear sample at real coordinates (pixel centres at integer + 0.5); 0 outside.
    #[inline]
    pub fn bilinear(&self, x: f32, y: f32) -> f32 {
        let fx = x - 0.5;
        let fy = y - 0.5;
        let x0 = fx.floor();
        let y0 = fy.floor();
        let ax = fx - x0;
        let ay = fy - y0;
        let (xi, yi) = (x0 as i64, y0 as i64);
        let a = self.get(xi, yi);
        let b = self.get(xi + 1, yi);
        let c = self.get(xi, yi + 1);
        let d = self.get(xi + 1, yi + 1);
        (a * (1.0 - ax) + b * ax) * (1.0 - ay) + (c * (1.0 - ax) + d * ax) * ay
    }

    /// Tight box of the samples above `threshold`, `None` when there are none.
    pub fn bbox_above(&self, threshold: f32) -> Option<Rect> {
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0usize, 0usize);
        for y in 0..self.h {
            let row = &self.data[y * self.w..(y + 1) * self.w];
            let first = row.iter().position(|&v| v > threshold);
            if let Some(first) = first {
                let last = row.iter().rposition(|&v| v > threshold).unwrap_or(first);
                x0 = x0.min(first);
                x1 = x1.max(last + 1);
                y0 = y0.min(y);
                y1 = y + 1;
            }
        }
        (x0 != usize::MAX).then_some(Rect {
            x0: x0 as i64,
            y0: y0 as i64,
            x1: x1 as i64,
            y1: y1 as i64,
        })
    }

    /// Copy of `rect` of this plane; parts outside the plane are 0.
    pub fn crop(&self, rect: Rect) -> Plane {
        let (w, h) = (rect.width().max(1) as usize, rect.height().max(1) as usize);
        let mut out = Plane::filled(w, h, 0.0);
        for oy in 0..h {
            let sy = rect.y0 + oy as i64;
            if sy < 0 || sy >= self.h as i64 {
                continue;
            }
            let sx0 = rect.x0.max(0);
            let sx1 = (rect.x0 + w as i64).min(self.w as i64);
            if sx1 <= sx0 {
                continue;
            }
            let src = &self.data
                [sy as usize * self.w + sx0 as usize..sy as usize * self.w + sx1 as usize];
            let ox = (sx0 - rect.x0) as usize;
            out.data[oy * w + ox..oy * w + ox + src.len()].copy_from_slice(src);
        }
        out
    }

    /// Paste `src` with its top-left at (`x`, `y`), keeping the maximum of both (ink union).
    pub fn max_paste(&mut self, src: &Plane, x: i64, y: i64) {
        for sy in 0..src.h {
            let ty = y + sy as i64;
            if ty < 0 || ty >= self.h as i64 {
                continue;
            }
            for sx in 0..src.w {
                let v = src.data[sy * src.w + sx];
                if v > 0.0 {
                    self.max_at(x + sx as i64, ty, v);
                }
            }
        }
    }

    /// Grey-level morphology: maximum (`dilate = true`) or minimum over a square of radius `r`,
    /// separable (two passes).
    pub fn morph(&self, r: usize, dilate: bool) -> Plane {
        if r == 0 {
            return self.clone();
        }
        let pick = |a: f32, b: f32| if dilate { a.max(b) } else { a.min(b) };
        let mut tmp = Plane::filled(self.w, self.h, 0.0);
        for y in 0..self.h {
            let row = &self.data[y * self.w..(y + 1) * self.w];
            for x in 0..self.w {
                let lo = x.saturating_sub(r);
                let hi = (x + r + 1).min(self.w);
                let mut v = row[x];
                for &s in &row[lo..hi] {
                    v = pick(v, s);
                }
                // Outside the plane counts as no ink, so erosion eats strokes touching the edge.
                if !dilate && (x < r || x + r >= self.w) {
                    v = 0.0;
                }
                tmp.data[y * self.w + x] = v;
            }
        }
        let mut out = Plane::filled(self.w, self.h, 0.0);
        for y in 0..self.h {
            let lo = y.saturating_sub(r);
            let hi = (y + r + 1).min(self.h);
            for x in 0..self.w {
                let mut v = tmp.data[y * self.w + x];
                for yy in lo..hi {
                    v = pick(v, tmp.data[yy * self.w + x]);
                }
                if !dilate && (y < r || y + r >= self.h) {
                    v = 0.0;
                }
                out.data[y * self.w + x] = v;
            }
        }
        out
    }

    /// Separable Gaussian blur with standard deviation `sigma` (edges clamp).
    pub fn gaussian_blur(&self, sigma: f32) -> Plane {
        if sigma < 0.05 || self.w == 0 || self.h == 0 {
            return self.clone();
        }
        let r = (sigma * 3.0).ceil() as i64;
        let mut k: Vec<f32> = (-r..=r)
            .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
            .collect();
        let sum: f32 = k.iter().sum();
        k.iter_mut().for_each(|v| *v /= sum);
        let (w, h) = (self.w as i64, self.h as i64);
        let mut tmp = Plane::filled(self.w, self.h, 0.0);
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0;
                for (i, kv) in k.iter().enumerate() {
                    let sx = (x + i as i64 - r).clamp(0, w - 1);
                    acc += kv * self.data[(y * w + sx) as usize];
                }
                tmp.data[(y * w + x) as usize] = acc;
            }
        }
        let mut out = Plane::filled(self.w, self.h, 0.0);
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0;
                for (i, kv) in k.iter().enumerate() {
                    let sy = (y + i as i64 - r).clamp(0, h - 1);
                    acc += kv * tmp.data[(sy * w + x) as usize];
                }
                out.data[(y * w + x) as usize] = acc;
            }
        }
        out
    }

    /// Area-averaging resize to `nw` x `nh` (for downscaling: every source pixel contributes
    /// in proportion to its overlap, which is what a scanner's sensor integration does).
    pub fn resize_area(&self, nw: usize, nh: usize) -> Plane {
        let nw = nw.max(1);
        let nh = nh.max(1);
        let cols = area_weights(self.w, nw);
        let rows = area_weights(self.h, nh);
        let mut tmp = Plane::filled(nw, self.h, 0.0);
        for y in 0..self.h {
            let row = &self.data[y * self.w..(y + 1) * self.w];
            for (ox, (start, ws)) in cols.iter().enumerate() {
                let mut acc = 0.0;
                for (i, wv) in ws.iter().enumerate() {
                    acc += wv * row[start + i];
                }
                tmp.data[y * nw + ox] = acc;
            }
        }
        let mut out = Plane::filled(nw, nh, 0.0);
        for (oy, (start, ws)) in rows.iter().enumerate() {
            let dst = &mut out.data[oy * nw..(oy + 1) * nw];
            for (i, wv) in ws.iter().enumerate() {
                let src = &tmp.data[(start + i) * nw..(start + i + 1) * nw];
                for (d, s) in dst.iter_mut().zip(src) {
                    *d += wv * s;
                }
            }
        }
        out
    }

    /// Resample through the inverse affine map `inv` (destination -> source:
    /// `sx = a*x + b*y + c`, `sy = d*x + e*y + f`) into a `w` x `h` plane, bilinearly.
    pub fn warp(&self, inv: [f32; 6], w: usize, h: usize) -> Plane {
        let mut out = Plane::filled(w, h, 0.0);
        let [a, b, c, d, e, f] = inv;
        for y in 0..h {
            let yc = y as f32 + 0.5;
            for x in 0..w {
                let xc = x as f32 + 0.5;
                let sx = a * xc + b * yc + c;
                let sy = d * xc + e * yc + f;
                out.data[y * w + x] = self.bilinear(sx, sy);
            }
        }
        out
    }

    /// Convert gray levels (0..255) to an 8-bit image, rounding and clamping.
    pub fn to_gray(&self) -> GrayImage {
        let buf: Vec<u8> = self
            .data
            .iter()
            .map(|v| v.round().clamp(0.0, 255.0) as u8)
            .collect();
        GrayImage::from_raw(self.w as u32, self.h as u32, buf)
            .unwrap_or_else(|| GrayImage::new(self.w as u32, self.h as u32))
    }

    /// Gray levels from an 8-bit image.
    pub fn from_gray(img: &GrayImage) -> Plane {
        Plane {
            w: img.width() as usize,
            h: img.height() as usize,
            data: img.as_raw().iter().map(|&v| v as f32).collect(),
        }
    }
}

/// For each of `n_out` output cells over `n_in` input cells: first input index and the weights
/// (overlap fractions, summing to 1) of the inputs it covers.
fn area_weights(n_in: usize, n_out: usize) -> Vec<(usize, Vec<f32>)> {
    let scale = n_in as f64 / n_out as f64;
    (0..n_out)
        .map(|o| {
            let a = o as f64 * scale;
            let b = ((o + 1) as f64 * scale).min(n_in as f64);
            let start = (a.floor() as usize).min(n_in.saturating_sub(1));
            let end = (b.ceil() as usize).clamp(start + 1, n_in.max(start + 1));
            let mut ws: Vec<f32> = (start..end)
                .map(|i| {
                    let lo = a.max(i as f64);
                    let hi = b.min(i as f64 + 1.0);
                    (hi - lo).max(0.0) as f32
                })
                .collect();
            let sum: f32 = ws.iter().sum();
            if sum > 0.0 {
                ws.iter_mut().for_each(|v| *v /= sum);
            } else if let Some(first) = ws.first_mut() {
                *first = 1.0;
            }
            (start, ws)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_area_preserves_mean_and_bbox_works() {
        let mut p = Plane::filled(30, 12, 0.0);
        for y in 3..9 {
            for x in 6..21 {
                p.data[y * 30 + x] = 1.0;
            }
        }
        let mean = |q: &Plane| q.data.iter().sum::<f32>() / q.data.len() as f32;
        let small = p.resize_area(10, 4);
        assert!((mean(&p) - mean(&small)).abs() < 1e-4);
        assert_eq!(
            p.bbox_above(0.5),
            Some(Rect {
                x0: 6,
                y0: 3,
                x1: 21,
                y1: 9
            })
        );
        let d = p.morph(1, true);
        assert_eq!(d.bbox_above(0.5).map(|r| (r.x0, r.y1)), Some((5, 10)));
        let e = p.morph(1, false);
        assert_eq!(e.bbox_above(0.5).map(|r| (r.x0, r.y1)), Some((7, 8)));
        let c = p.crop(Rect {
            x0: -2,
            y0: 2,
            x1: 8,
            y1: 5,
        });
        assert_eq!((c.w, c.h), (10, 3));
        assert_eq!(c.get(8, 1), 1.0);
        assert_eq!(c.get(0, 1), 0.0);
        let b = p.gaussian_blur(1.0);
        assert!((mean(&p) - mean(&b)).abs() < 0.02);
    }
}
