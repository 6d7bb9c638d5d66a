//! Weighted ink points of a downscaled binary page and their projection profiles, shared by
//! skew estimation and orientation detection.

use image::GrayImage;

/// Longest side of the working grid used for skew and orientation estimates.
pub(crate) const WORK_SIDE: u32 = 1200;

/// Ink of a binary page pooled into a coarse grid: one point per non-empty cell at the cell
/// centre, weighted by the number of ink pixels in it.
#[derive(Debug, Clone, Default)]
pub(crate) struct InkPoints {
    /// Grid width (cells).
    pub w: f32,
    /// Grid height (cells).
    pub h: f32,
    /// `(x, y, weight)` per non-empty cell, cell-centre coordinates.
    pub pts: Vec<(f32, f32, f32)>,
    /// Sum of the weights.
    pub total: f32,
}

/// The bounding box `(x0, y0, x1, y1)` (exclusive ends) of the ink (value < 128) of `binary`,
/// `None` when it has none.
fn ink_bounds(binary: &GrayImage) -> Option<(u32, u32, u32, u32)> {
    let w = binary.width() as usize;
    let (mut x0, mut x1, mut y0, mut y1) = (usize::MAX, 0usize, usize::MAX, 0usize);
    for (y, row) in binary.as_raw().chunks_exact(w.max(1)).enumerate() {
        let Some(first) = row.iter().position(|&v| v < 128) else {
            continue;
        };
        let last = row.iter().rposition(|&v| v < 128).unwrap_or(first);
        x0 = x0.min(first);
        x1 = x1.max(last + 1);
        y0 = y0.min(y);
        y1 = y + 1;
    }
    (x1 > x0).then_some((x0 as u32, y0 as u32, x1 as u32, y1 as u32))
}

impl InkPoints {
    /// Pool the ink (value < 128) of `binary` into cells so that the longer side of the ink's
    /// bounding box has at most `max_side` cells: a document on a larger white sheet or canvas
    /// is measured at the resolution it would have alone (cell coordinates start at the box).
    pub fn from_binary(binary: &GrayImage, max_side: u32) -> InkPoints {
        let (w, h) = binary.dimensions();
        if w == 0 || h == 0 {
            return InkPoints::default();
        }
        let Some((x0, y0, x1, y1)) = ink_bounds(binary) else {
            return InkPoints::default();
        };
        let (bw, bh) = (x1 - x0, y1 - y0);
        let f = bw.max(bh).div_ceil(max_side.max(1)).max(1) as usize;
        let (gw, gh) = ((bw as usize).div_ceil(f), (bh as usize).div_ceil(f));
        let mut grid = vec![0u16; gw * gh];
        let rows = binary.as_raw().chunks_exact(w as usize);
        for (y, row) in rows.skip(y0 as usize).take(bh as usize).enumerate() {
            let g = &mut grid[(y / f) * gw..(y / f + 1) * gw];
            let row = &row[x0 as usize..x1 as usize];
            for (cell, chunk) in g.iter_mut().zip(row.chunks(f)) {
                *cell += chunk.iter().map(|&v| (v < 128) as u16).sum::<u16>();
            }
        }
        Self::from_grid(&grid, gw, gh)
    }

    fn from_grid(grid: &[u16], gw: usize, gh: usize) -> InkPoints {
        let mut pts = Vec::new();
        let mut total = 0f32;
        for y in 0..gh {
            for x in 0..gw {
                let c = grid[y * gw + x];
                if c > 0 {
                    pts.push((x as f32 + 0.5, y as f32 + 0.5, c as f32));
                    total += c as f32;
                }
            }
        }
        InkPoints {
            w: gw as f32,
            h: gh as f32,
            pts,
            total,
        }
    }

    /// The same ink pooled by a further factor `f` (for cheap coarse searches).
    pub fn pooled(&self, f: usize) -> InkPoints {
        let f = f.max(1);
        let (gw, gh) = ((self.w as usize).div_ceil(f), (self.h as usize).div_ceil(f));
        if gw == 0 || gh == 0 {
            return self.clone();
        }
        let mut grid = vec![0f32; gw * gh];
        for &(x, y, wt) in &self.pts {
            let (cx, cy) = ((x as usize / f).min(gw - 1), (y as usize / f).min(gh - 1));
            grid[cy * gw + cx] += wt;
        }
        let mut pts = Vec::new();
        for (i, &c) in grid.iter().enumerate() {
            if c > 0.0 {
                pts.push(((i % gw) as f32 + 0.5, (i / gw) as f32 + 0.5, c));
            }
        }
        InkPoints {
            w: gw as f32,
            h: gh as f32,
            pts,
            total: self.total,
        }
    }

    /// The points of the page rotated clockwise by `degrees_cw` (0, 90, 180, 270), matching
    /// [`super::rotate_quarter`].
    pub fn rotate_quarter(&self, degrees_cw: u32) -> InkPoints {
        let (w, h) = (self.w, self.h);
        let q = (degrees_cw / 90) % 4;
        let (nw, nh) = if q % 2 == 1 { (h, w) } else { (w, h) };
        let pts = self
            .pts
            .iter()
            .map(|&(x, y, wt)| {
                let (a, b) = match q {
                    1 => (h - y, x),
                    2 => (w - x, h - y),
                    3 => (y, w - x),
                    _ => (x, y),
                };
                (a, b, wt)
            })
            .collect();
        InkPoints {
            w: nw,
            h: nh,
            pts,
            total: self.total,
        }
    }

    /// Swap the axes (columns become rows).
    pub fn transposed(&self) -> InkPoints {
        InkPoints {
            w: self.h,
            h: self.w,
            pts: self.pts.iter().map(|&(x, y, wt)| (y, x, wt)).collect(),
            total: self.total,
        }
    }

    /// Row profile of the ink along lines tilted clockwise by `degrees` (the direction of text
    /// lines skewed by that angle), one bin per cell, into `bins`.
    pub fn profile(&self, degrees: f32, bins: &mut Vec<f32>) {
        let (s, c) = degrees.to_radians().sin_cos();
        let offset = (self.w * s).max(0.0);
        let n = (self.h * c + self.w * s.abs()) as usize + 2;
        bins.clear();
        bins.resize(n, 0.0);
        for &(x, y, wt) in &self.pts {
            let r = y * c - x * s + offset;
            let i = (r.max(0.0) as usize).min(n - 1);
            bins[i] += wt;
        }
    }

    /// Sharpness of the profile at `degrees`: the sum of squared bins (maximal when the
    /// projection direction follows the text lines).
    pub fn score(&self, degrees: f32, bins: &mut Vec<f32>) -> f64 {
        self.profile(degrees, bins);
        bins.iter().map(|&b| (b as f64) * (b as f64)).sum()
    }

    /// Concentration of the profile at `degrees`: sum of squares times the inked span divided
    /// by the squared total, 1.0 for ink spread evenly over its span, larger for line structure.
    pub fn concentration(&self, degrees: f32, bins: &mut Vec<f32>) -> f64 {
        let sq = self.score(degrees, bins);
        let first = bins.iter().position(|&b| b > 0.0);
        let last = bins.iter().rposition(|&b| b > 0.0);
        match (first, last) {
            (Some(a), Some(b)) if self.total > 0.0 => {
                sq * (b - a + 1) as f64 / (self.total as f64 * self.total as f64)
            }
            _ => 0.0,
        }
    }

    /// Best angle in `lo..=hi` by `step` for `f` (a score of an angle), with the best value and
    /// the median value (for a peak-to-background contrast).
    pub fn search(lo: f32, hi: f32, step: f32, mut f: impl FnMut(f32) -> f64) -> (f32, f64, f64) {
        let n = ((hi - lo) / step).round().max(0.0) as usize + 1;
        let mut vals: Vec<(f32, f64)> = (0..n)
            .map(|i| {
                let a = lo + step * i as f32;
                (a, f(a))
            })
            .collect();
        let (best_a, best_v) =
            vals.iter().copied().fold(
                (0.0f32, f64::MIN),
                |acc, v| if v.1 > acc.1 { v } else { acc },
            );
        let mid = vals.len() / 2;
        vals.select_nth_unstable_by(mid, |a, b| a.1.total_cmp(&b.1));
        (best_a, best_v, vals[mid].1)
    }
}
