//! [`GpuPreprocessor`]: the batched page kernels (gray, integral images, Sauvola, rotation).
//! Contrast normalisation and line resampling are in `contrast.rs` and `lines.rs`.

use std::ops::Range;
use std::sync::Arc;

use image::{GrayImage, RgbaImage};

use super::batch::{Batch, Layout};
use super::context::GpuContext;
use super::pool::BufferPool;
use super::shaders::Pipelines;
use crate::compute::device::DevicePreference;
use crate::error::{OcrError, Result};
use crate::preprocess::{IntegralImages, RotationSteps, sauvola_parameters};

/// Most bytes one role (e.g. all pages' integral tables) may take in one submission; larger
/// inputs are split into several submissions.
pub const BATCH_BYTES: u64 = 512 << 20;

/// The WGSL preprocessing kernels on one GPU, batched: every method takes many pages and runs
/// them in as few command submissions as memory allows (one for pages that fit in
/// [`BATCH_BYTES`]), with buffers from a pool reused between calls and pipelines compiled once.
///
/// Each method returns exactly what its CPU twin in [`crate::preprocess`] or
/// [`crate::lines::normalize`] returns for each page (bit-identical for gray, integral
/// images and rotation; within the tolerances documented per method otherwise), so a caller
/// can switch between the two freely. Errors are [`OcrError::Backend`]: on any error, run the
/// CPU twin instead (device loss is sticky: see [`GpuContext::health`]).
///
/// Thread-safe (`Send + Sync`): share one per GPU behind an `Arc`.
pub struct GpuPreprocessor {
    pub(super) ctx: Arc<GpuContext>,
    pub(super) pipes: Pipelines,
    pub(super) pool: BufferPool,
}

/// Pack up to 16 parameter words.
pub(super) fn params(vals: &[u32]) -> [u32; 16] {
    let mut p = [0u32; 16];
    p[..vals.len()].copy_from_slice(vals);
    p
}

/// Consecutive ranges of items whose `bytes` sum stays within `budget` (at least one item each).
pub(super) fn chunks(bytes: &[u64], budget: u64) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut acc) = (0usize, 0u64);
    for (i, &b) in bytes.iter().enumerate() {
        if i > start && acc + b > budget {
            out.push(start..i);
            (start, acc) = (i, 0);
        }
        acc += b;
    }
    if start < bytes.len() {
        out.push(start..bytes.len());
    }
    out
}

/// Split a read-back buffer into pages of `w x h` bytes following `layout`.
pub(super) fn unpack_pages(bytes: &[u8], layout: &Layout, dims: &[(u32, u32)]) -> Vec<GrayImage> {
    dims.iter()
        .zip(&layout.offsets)
        .map(|(&(w, h), &o)| {
            let n = (w * h) as usize;
            let data = bytes[o as usize..o as usize + n].to_vec();
            GrayImage::from_raw(w, h, data).unwrap_or_else(|| GrayImage::new(w, h))
        })
        .collect()
}

impl GpuPreprocessor {
    /// Compile the kernels on `ctx`'s device.
    pub fn new(ctx: Arc<GpuContext>) -> Result<Self> {
        let pipes = Pipelines::new(&ctx.device)?;
        Ok(GpuPreprocessor {
            ctx,
            pipes,
            pool: BufferPool::default(),
        })
    }

    /// Open a GPU by the device policy (see [`GpuContext::new`]) and compile the kernels.
    pub fn open(preference: DevicePreference) -> Result<Self> {
        Self::new(Arc::new(GpuContext::new(preference)?))
    }

    /// The device the kernels run on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// Bytes of idle buffers kept by the pool for the next call.
    pub fn pooled_bytes(&self) -> u64 {
        self.pool.idle_bytes()
    }

    pub(super) fn budget(&self) -> u64 {
        BATCH_BYTES.min(self.ctx.max_binding_bytes())
    }

    pub(super) fn align(&self) -> u64 {
        self.ctx.alignment()
    }

    /// Colour -> gray for many pages (twin of [`crate::preprocess::to_gray`] on RGBA8 input:
    /// bit-identical). Decoders produce RGB/RGBA/gray; convert to RGBA8 first.
    pub fn gray_pages(&self, pages: &[RgbaImage]) -> Result<Vec<GrayImage>> {
        let bytes: Vec<u64> = pages.iter().map(|p| p.as_raw().len() as u64).collect();
        let mut out = Vec::with_capacity(pages.len());
        for r in chunks(&bytes, self.budget()) {
            let pages = &pages[r];
            let dims: Vec<(u32, u32)> = pages.iter().map(|p| p.dimensions()).collect();
            let l_in = Layout::new(pages.iter().map(|p| p.as_raw().len() as u64), self.align());
            let l_out = Layout::new(dims.iter().map(|&(w, h)| (w * h) as u64), self.align());
            let mut b = Batch::new(&self.ctx, &self.pool);
            let parts: Vec<&[u8]> = pages.iter().map(|p| p.as_raw().as_slice()).collect();
            let inp = b.upload(&l_in.pack(&parts))?;
            let dst = b.scratch(l_out.total)?;
            for (i, &(w, h)) in dims.iter().enumerate() {
                b.dispatch(
                    &self.pipes.gray,
                    params(&[w * h]),
                    vec![(1, l_in.slice(inp, i)), (2, l_out.slice(dst, i))],
                    (w * h).div_ceil(4),
                );
            }
            b.read(l_out.whole(dst));
            let read = b.run()?;
            out.extend(unpack_pages(&read[0], &l_out, &dims));
        }
        Ok(out)
    }

    /// Integral images of many pages (twin of [`crate::preprocess::integral_images`]:
    /// identical tables, exact 64-bit sums of squares). Mostly for tests and `doctor`:
    /// [`GpuPreprocessor::binarize_pages`] keeps the tables on the GPU.
    pub fn integral_pages(&self, pages: &[GrayImage]) -> Result<Vec<IntegralImages>> {
        let mut out = Vec::with_capacity(pages.len());
        for r in chunks(&table_bytes(pages), self.budget()) {
            let pages = &pages[r];
            let mut b = Batch::new(&self.ctx, &self.pool);
            let t = self.record_integral(&mut b, pages)?;
            b.read(t.sum.whole(t.sum_buf));
            b.read(t.sq.whole(t.sq_buf));
            let read = b.run()?;
            for (i, p) in pages.iter().enumerate() {
                let (w, h) = p.dimensions();
                let n = ((w + 1) * (h + 1)) as usize;
                let so = t.sum.offsets[i] as usize;
                let qo = t.sq.offsets[i] as usize;
                let sum: &[u32] = bytemuck::cast_slice(&read[0][so..so + 4 * n]);
                let sq: &[u32] = bytemuck::cast_slice(&read[1][qo..qo + 8 * n]);
                out.push(IntegralImages {
                    width: w,
                    height: h,
                    sum: sum.iter().map(|&v| v as u64).collect(),
                    sum_sq: sq
                        .chunks_exact(2)
                        .map(|c| c[0] as u64 | ((c[1] as u64) << 32))
                        .collect(),
                });
            }
        }
        Ok(out)
    }

    /// Sauvola binarisation of many pages (twin of [`crate::preprocess::sauvola`] with the
    /// same `window` and `k` for every page; `window` 0 = automatic per page). Integral images
    /// and the decision run on the GPU in one submission per [`BATCH_BYTES`] of tables.
    /// Tolerance: identical except pixels whose decision is a floating-point tie (the parity
    /// test requires ≤ 0.1 % and measures 0 on the sample pages).
    pub fn binarize_pages(
        &self,
        pages: &[GrayImage],
        window: u32,
        k: f32,
    ) -> Result<Vec<GrayImage>> {
        let mut out = Vec::with_capacity(pages.len());
        for r in chunks(&table_bytes(pages), self.budget()) {
            let pages = &pages[r];
            let dims: Vec<(u32, u32)> = pages.iter().map(|p| p.dimensions()).collect();
            let mut b = Batch::new(&self.ctx, &self.pool);
            let t = self.record_integral(&mut b, pages)?;
            let l_out = Layout::new(dims.iter().map(|&(w, h)| (w * h) as u64), self.align());
            let dst = b.scratch(l_out.total)?;
            for (i, &(w, h)) in dims.iter().enumerate() {
                let (win, k) = sauvola_parameters(w, h, window, k);
                b.dispatch(
                    &self.pipes.sauvola,
                    params(&[w, h, win / 2, k.to_bits()]),
                    vec![
                        (1, t.pages.slice(t.pages_buf, i)),
                        (2, t.sum.slice(t.sum_buf, i)),
                        (3, t.sq.slice(t.sq_buf, i)),
                        (4, l_out.slice(dst, i)),
                    ],
                    (w * h).div_ceil(4),
                );
            }
            b.read(l_out.whole(dst));
            let read = b.run()?;
            out.extend(unpack_pages(&read[0], &l_out, &dims));
        }
        Ok(out)
    }

    /// Upload `pages` and record the two integral passes.
    fn record_integral<'a>(&'a self, b: &mut Batch<'a>, pages: &[GrayImage]) -> Result<Tables> {
        let align = self.align();
        let cells = |p: &GrayImage| ((p.width() + 1) * (p.height() + 1)) as u64;
        let l_pages = Layout::new(pages.iter().map(|p| p.as_raw().len() as u64), align);
        let sum = Layout::new(pages.iter().map(|p| 4 * cells(p)), align);
        let sq = Layout::new(pages.iter().map(|p| 8 * cells(p)), align);
        let parts: Vec<&[u8]> = pages.iter().map(|p| p.as_raw().as_slice()).collect();
        let pages_buf = b.upload(&l_pages.pack(&parts))?;
        let sum_buf = b.scratch(sum.total)?;
        let sq_buf = b.scratch(sq.total)?;
        for (i, p) in pages.iter().enumerate() {
            let (w, h) = p.dimensions();
            let tables = vec![(2, sum.slice(sum_buf, i)), (3, sq.slice(sq_buf, i))];
            let mut cols = tables.clone();
            cols.push((1, l_pages.slice(pages_buf, i)));
            b.dispatch(&self.pipes.integral_columns, params(&[w, h]), cols, w + 1);
            b.dispatch(&self.pipes.integral_rows, params(&[w, h]), tables, h);
        }
        Ok(Tables {
            pages: l_pages,
            pages_buf,
            sum,
            sum_buf,
            sq,
            sq_buf,
        })
    }

    /// Rotate many pages about their centres (twin of [`crate::preprocess::rotate_bilinear`]:
    /// bit-identical), page `i` by `degrees[i]`; areas with no source are `fill`. Pages with
    /// angle 0 are copied; pages wider or taller than 32,767 px are rotated on the CPU (the
    /// kernel's 16.16 coordinates are i32).
    pub fn rotate_pages(
        &self,
        pages: &[GrayImage],
        degrees: &[f32],
        fill: u8,
    ) -> Result<Vec<GrayImage>> {
        if degrees.len() != pages.len() {
            return Err(OcrError::bad_param("degrees", "one angle per page"));
        }
        let gpu: Vec<usize> = (0..pages.len())
            .filter(|&i| {
                let (w, h) = pages[i].dimensions();
                degrees[i] != 0.0
                    && degrees[i].is_finite()
                    && w > 0
                    && h > 0
                    && w < 32768
                    && h < 32768
            })
            .collect();
        let mut out: Vec<Option<GrayImage>> = vec![None; pages.len()];
        let bytes: Vec<u64> = gpu
            .iter()
            .map(|&i| pages[i].as_raw().len() as u64)
            .collect();
        for r in chunks(&bytes, self.budget()) {
            let idx = &gpu[r];
            let dims: Vec<(u32, u32)> = idx.iter().map(|&i| pages[i].dimensions()).collect();
            let l_in = Layout::new(dims.iter().map(|&(w, h)| (w * h) as u64), self.align());
            let l_rows = Layout::new(dims.iter().map(|&(_, h)| 8 * h as u64), self.align());
            let mut rows = Vec::with_capacity(idx.len());
            let mut steps = Vec::with_capacity(idx.len());
            for (&i, &(w, h)) in idx.iter().zip(&dims) {
                let s = RotationSteps::new(w, h, degrees[i]);
                let table: Vec<i32> = (0..h)
                    .flat_map(|y| {
                        let (sx, sy) = s.row_start(y);
                        [sx as i32, sy as i32]
                    })
                    .collect();
                rows.push(table);
                steps.push(s);
            }
            let row_parts: Vec<&[u8]> = rows.iter().map(|t| bytemuck::cast_slice(t)).collect();
            let parts: Vec<&[u8]> = idx.iter().map(|&i| pages[i].as_raw().as_slice()).collect();
            let mut b = Batch::new(&self.ctx, &self.pool);
            let inp = b.upload(&l_in.pack(&parts))?;
            let row_buf = b.upload(&l_rows.pack(&row_parts))?;
            let dst = b.scratch(l_in.total)?;
            for (k, &(w, h)) in dims.iter().enumerate() {
                let s = steps[k];
                b.dispatch(
                    &self.pipes.rotate,
                    params(&[
                        w,
                        h,
                        s.step_x as i32 as u32,
                        s.step_y as i32 as u32,
                        fill as u32,
                    ]),
                    vec![
                        (1, l_in.slice(inp, k)),
                        (2, l_rows.slice(row_buf, k)),
                        (3, l_in.slice(dst, k)),
                    ],
                    (w * h).div_ceil(4),
                );
            }
            b.read(l_in.whole(dst));
            let read = b.run()?;
            for (&i, img) in idx.iter().zip(unpack_pages(&read[0], &l_in, &dims)) {
                out[i] = Some(img);
            }
        }
        Ok(out
            .into_iter()
            .enumerate()
            .map(|(i, o)| {
                o.unwrap_or_else(|| crate::preprocess::rotate_bilinear(&pages[i], degrees[i], fill))
            })
            .collect())
    }
}

/// Largest per-page table (the 8-byte sums of squares), for splitting batches.
fn table_bytes(pages: &[GrayImage]) -> Vec<u64> {
    pages
        .iter()
        .map(|p| 8 * ((p.width() + 1) * (p.height() + 1)) as u64)
        .collect()
}

/// The buffers of recorded integral images.
struct Tables {
    pages: Layout,
    pages_buf: usize,
    sum: Layout,
    sum_buf: usize,
    sq: Layout,
    sq_buf: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_the_budget_and_keep_oversized_items_alone() {
        assert_eq!(chunks(&[3, 3, 3, 10, 1], 6), vec![0..2, 2..3, 3..4, 4..5]);
        assert_eq!(chunks(&[1, 1, 1], 100), vec![0..3]);
        assert!(chunks(&[], 5).is_empty());
    }
}
