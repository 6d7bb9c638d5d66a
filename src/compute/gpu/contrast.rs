//! Contrast normalisation on the GPU: three submissions per batch of pages (block maxima,
//! gain + histogram, lookup table) with the small host steps between them done by the CPU
//! code itself (see `shaders/contrast.wgsl`).

use image::GrayImage;

use super::batch::{Batch, Layout};
use super::preprocessor::{GpuPreprocessor, chunks, params, unpack_pages};
use crate::error::Result;
use crate::preprocess::contrast::{
    background_gain, block_side, content_blocks, interp_coord, masked_histogram, stretch_lut,
};

/// Interpolation table entry, as `Coord` in contrast.wgsl.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Coord {
    i0: u32,
    i1: u32,
    f: f32,
    pad: u32,
}

/// Each vector's bytes, for [`Layout::pack`].
fn byte_parts<T: bytemuck::Pod>(parts: &[Vec<T>]) -> Vec<&[u8]> {
    parts.iter().map(|v| bytemuck::cast_slice(v)).collect()
}

fn coords(len: usize, n: usize, s: usize) -> Vec<Coord> {
    (0..len)
        .map(|i| {
            let (i0, i1, f) = interp_coord(i, n, s);
            Coord {
                i0: i0 as u32,
                i1: i1 as u32,
                f,
                pad: 0,
            }
        })
        .collect()
}

/// Per-page grid of the background estimate.
struct Grid {
    w: u32,
    h: u32,
    s: u32,
    sw: u32,
    sh: u32,
}

impl Grid {
    fn params(&self) -> [u32; 16] {
        params(&[self.w, self.h, self.s, self.sw, self.sh])
    }
}

impl GpuPreprocessor {
    /// Contrast normalisation of many pages (twin of
    /// [`crate::preprocess::normalize_contrast`]). The background estimate and the stretch
    /// table are computed by the CPU code from GPU-computed block maxima and histograms; the
    /// per-pixel flattening evaluates the same f32 expressions, so outputs match except where a
    /// fused multiply-add moves `v * gain + 0.5` across an integer (one level; such a shift can
    /// also move a histogram percentile by one level). The parity test bounds both.
    pub fn normalize_contrast_pages(&self, pages: &[GrayImage]) -> Result<Vec<GrayImage>> {
        let bytes: Vec<u64> = pages.iter().map(|p| p.as_raw().len() as u64).collect();
        let mut out = Vec::with_capacity(pages.len());
        for r in chunks(&bytes, self.budget()) {
            out.extend(self.contrast_chunk(&pages[r])?);
        }
        Ok(out)
    }

    fn contrast_chunk(&self, pages: &[GrayImage]) -> Result<Vec<GrayImage>> {
        let align = self.align();
        let grids: Vec<Grid> = pages
            .iter()
            .map(|p| {
                let (w, h) = (p.width() as usize, p.height() as usize);
                let s = block_side(w, h);
                Grid {
                    w: w as u32,
                    h: h as u32,
                    s: s as u32,
                    sw: w.div_ceil(s) as u32,
                    sh: h.div_ceil(s) as u32,
                }
            })
            .collect();
        let dims: Vec<(u32, u32)> = grids.iter().map(|g| (g.w, g.h)).collect();
        let l_page = Layout::new(pages.iter().map(|p| p.as_raw().len() as u64), align);
        let l_small = Layout::new(grids.iter().map(|g| 4 * (g.sw * g.sh) as u64), align);

        // 1. Block maxima.
        let mut b = Batch::new(&self.ctx, &self.pool);
        let parts: Vec<&[u8]> = pages.iter().map(|p| p.as_raw().as_slice()).collect();
        let page_id = b.upload(&l_page.pack(&parts))?;
        let small_id = b.scratch(l_small.total)?;
        for (i, g) in grids.iter().enumerate() {
            b.dispatch(
                &self.pipes.block_max,
                g.params(),
                vec![
                    (1, l_page.slice(page_id, i)),
                    (2, l_small.slice(small_id, i)),
                ],
                g.sw * g.sh,
            );
        }
        b.read(l_small.whole(small_id));
        let page_buf = b.keep(page_id);
        let small = b.run()?.remove(0);

        // 2. Host: background gain and interpolation tables (CPU code), then flatten + histogram.
        let mut gains = Vec::with_capacity(pages.len());
        let mut xs = Vec::with_capacity(pages.len());
        let mut ys = Vec::with_capacity(pages.len());
        let mut maxima = Vec::with_capacity(pages.len());
        for (i, g) in grids.iter().enumerate() {
            let o = l_small.offsets[i] as usize;
            let n = (g.sw * g.sh) as usize;
            let words: &[u32] = bytemuck::cast_slice(&small[o..o + 4 * n]);
            let small_u8: Vec<u8> = words.iter().map(|&v| v as u8).collect();
            gains.push(background_gain(&small_u8, g.sw as usize, g.sh as usize));
            xs.push(coords(g.w as usize, g.sw as usize, g.s as usize));
            ys.push(coords(g.h as usize, g.sh as usize, g.s as usize));
            maxima.push(small_u8);
        }
        let l_gain = Layout::new(gains.iter().map(|v| 4 * v.len() as u64), align);
        let l_xs = Layout::new(xs.iter().map(|v| 16 * v.len() as u64), align);
        let l_ys = Layout::new(ys.iter().map(|v| 16 * v.len() as u64), align);
        let l_hist = Layout::new(pages.iter().map(|_| 1024), align);
        let mut b = Batch::new(&self.ctx, &self.pool);
        let page_id = b.adopt(page_buf);
        let gain_id = b.upload(&l_gain.pack(&byte_parts(&gains)))?;
        let xs_id = b.upload(&l_xs.pack(&byte_parts(&xs)))?;
        let ys_id = b.upload(&l_ys.pack(&byte_parts(&ys)))?;
        let flat_id = b.scratch(l_page.total)?;
        let hist_id = b.zeroed(l_hist.total)?;
        for (i, g) in grids.iter().enumerate() {
            b.dispatch(
                &self.pipes.apply_gain,
                g.params(),
                vec![
                    (1, l_page.slice(page_id, i)),
                    (3, l_gain.slice(gain_id, i)),
                    (4, l_xs.slice(xs_id, i)),
                    (5, l_ys.slice(ys_id, i)),
                    (6, l_page.slice(flat_id, i)),
                    (7, l_hist.slice(hist_id, i)),
                ],
                (g.w * g.h).div_ceil(4),
            );
        }
        b.read(l_hist.whole(hist_id));
        let flat_buf = b.keep(flat_id);
        let hist = b.run()?.remove(0);

        // 3. Host: stretch tables (CPU code), then apply them. A page whose document covers
        // only part of it takes its table from that part's histogram, which the host counts on
        // the flattened page after the read-back (the GPU applies an identity table to it).
        let masks: Vec<Option<Vec<bool>>> = pages
            .iter()
            .zip(&grids)
            .zip(&maxima)
            .map(|((p, g), hi)| content_blocks(p, g.s as usize, hi))
            .collect();
        let luts: Vec<Vec<u32>> = (0..pages.len())
            .map(|i| {
                if masks[i].is_some() {
                    return (0..256).collect();
                }
                let o = l_hist.offsets[i] as usize;
                let counts: &[u32] = bytemuck::cast_slice(&hist[o..o + 1024]);
                let mut h = [0u64; 256];
                for (d, &c) in h.iter_mut().zip(counts) {
                    *d = c as u64;
                }
                stretch_lut(&h).iter().map(|&v| v as u32).collect()
            })
            .collect();
        let l_lut = Layout::new(luts.iter().map(|_| 1024), align);
        let mut b = Batch::new(&self.ctx, &self.pool);
        let flat_id = b.adopt(flat_buf);
        let lut_id = b.upload(&l_lut.pack(&byte_parts(&luts)))?;
        for (i, g) in grids.iter().enumerate() {
            b.dispatch(
                &self.pipes.apply_lut,
                g.params(),
                vec![(8, l_lut.slice(lut_id, i)), (6, l_page.slice(flat_id, i))],
                (g.w * g.h).div_ceil(4),
            );
        }
        b.read(l_page.whole(flat_id));
        let flat = b.run()?.remove(0);
        let mut out = unpack_pages(&flat, &l_page, &dims);
        for ((page, mask), g) in out.iter_mut().zip(&masks).zip(&grids) {
            if let Some(mask) = mask {
                let (w, h, s) = (g.w as usize, g.h as usize, g.s as usize);
                let lut = stretch_lut(&masked_histogram(page.as_raw(), w, h, s, mask));
                for v in page.iter_mut() {
                    *v = lut[*v as usize];
                }
            }
        }
        Ok(out)
    }
}
