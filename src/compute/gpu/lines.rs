//! Line-crop resampling on the GPU: the page-batching stage hands over pages and line boxes,
//! and gets model inputs back, with their views for the recogniser's second look when asked
//! (twin of [`crate::lines::normalize::normalize_page_line`]).

use image::GrayImage;
use rayon::prelude::*;

use super::batch::{Batch, Layout};
use super::preprocessor::{GpuPreprocessor, chunks, params};
use crate::error::{OcrError, Result};
use crate::geometry::BBox;
use crate::lines::normalize::{LINE_HEIGHT, LineGeometry, LineImage, line_geometry};
use crate::lines::views::{SECOND_LOOK_VIEWS, view_geometries};

impl GpuPreprocessor {
    /// Normalise many lines from many pages into model inputs, each with its views when
    /// `views`: `lines[j] = (page index, box)`. The framing (ink box, margins, scale, intensity
    /// levels) is decided on the CPU by [`line_geometry`] and the views' by [`view_geometries`],
    /// exactly as [`crate::lines::normalize::normalize_page_line`] does; the resampling of
    /// every line and view runs on the GPU, one submission per batch of pages. Output pixels
    /// are within 1e-3 of the CPU's (f32 rounding; measured in the parity test), all other
    /// fields are identical.
    pub fn normalize_lines(
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
        // The framing is CPU work per line (ink boxes, levels): on the rayon pool, in order.
        let geos: Vec<LineGeometry> = lines
            .par_iter()
            .map(|&(p, bbox)| line_geometry(pages[p], bbox))
            .collect();
        // Every line's views after all the lines, in the order of `view_geometries`.
        let mut jobs: Vec<(usize, LineGeometry)> = lines
            .iter()
            .map(|l| l.0)
            .zip(geos.iter().cloned())
            .collect();
        if views {
            let line_views: Vec<[LineGeometry; SECOND_LOOK_VIEWS]> =
                geos.par_iter().map(view_geometries).collect();
            for (&(p, _), v) in lines.iter().zip(line_views) {
                jobs.extend(v.into_iter().map(|v| (p, v)));
            }
        }
        let mut out = self.resample(pages, &jobs)?;
        let views = out.split_off(lines.len());
        for (line, v) in out.iter_mut().zip(views.chunks(SECOND_LOOK_VIEWS)) {
            line.views = v.to_vec();
        }
        Ok(out)
    }

    /// Resample `jobs[j] = (page index, geometry)` on the GPU, in order.
    fn resample(
        &self,
        pages: &[&GrayImage],
        jobs: &[(usize, LineGeometry)],
    ) -> Result<Vec<LineImage>> {
        let lines: Vec<usize> = jobs.iter().map(|j| j.0).collect();
        let geos: Vec<&LineGeometry> = jobs.iter().map(|j| &j.1).collect();
        let mut out: Vec<Option<LineImage>> = vec![None; lines.len()];
        let bytes: Vec<u64> = pages.iter().map(|p| p.as_raw().len() as u64).collect();
        for r in chunks(&bytes, self.budget()) {
            let idx: Vec<usize> = (0..lines.len())
                .filter(|&j| r.contains(&lines[j]))
                .collect();
            if idx.is_empty() {
                continue;
            }
            let chunk = &pages[r.clone()];
            let l_page = Layout::new(chunk.iter().map(|p| p.as_raw().len() as u64), self.align());
            let l_line = Layout::new(
                idx.iter()
                    .map(|&j| 4 * (LINE_HEIGHT * geos[j].padded_width) as u64),
                self.align(),
            );
            let mut b = Batch::new(&self.ctx, &self.pool);
            let parts: Vec<&[u8]> = chunk.iter().map(|p| p.as_raw().as_slice()).collect();
            let page_id = b.upload(&l_page.pack(&parts))?;
            let line_id = b.scratch(l_line.total)?;
            for (k, &j) in idx.iter().enumerate() {
                let g = &geos[j];
                let page = &pages[lines[j]];
                let f = f32::to_bits;
                let p = params(&[
                    page.width(),
                    page.height(),
                    g.out_width as u32,
                    g.padded_width as u32,
                    f(g.source_x0),
                    f(g.source_y0),
                    f(1.0 / g.scale_x),
                    f(1.0 / g.scale_y),
                    g.nx as u32,
                    g.ny as u32,
                    f(g.paper_level),
                    f(g.range),
                    LINE_HEIGHT as u32,
                    f(g.shear),
                    f(g.shear_cx),
                ]);
                b.dispatch(
                    &self.pipes.resample,
                    p,
                    vec![
                        (1, l_page.slice(page_id, lines[j] - r.start)),
                        (2, l_line.slice(line_id, k)),
                    ],
                    (LINE_HEIGHT * g.padded_width) as u32,
                );
            }
            b.read(l_line.whole(line_id));
            let read = b.run()?.remove(0);
            for (k, &j) in idx.iter().enumerate() {
                let g = &geos[j];
                let o = l_line.offsets[k] as usize;
                let n = LINE_HEIGHT * g.padded_width;
                let pixels: &[f32] = bytemuck::cast_slice(&read[o..o + 4 * n]);
                out[j] = Some(LineImage {
                    width: g.padded_width,
                    content_width: g.out_width,
                    pixels: pixels.to_vec(),
                    source_x0: g.source_x0,
                    source_y0: g.source_y0,
                    scale_x: g.scale_x,
                    scale_y: g.scale_y,
                    ink_box: g.ink_box,
                    views: Vec::new(),
                });
            }
        }
        out.into_iter()
            .map(|o| o.ok_or_else(|| OcrError::Internal("line not resampled".into())))
            .collect()
    }
}
