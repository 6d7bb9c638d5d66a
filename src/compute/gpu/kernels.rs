//! [`PageKernels`] on the GPU: the batched preprocessing pipeline
//! ([`crate::preprocess::preprocess_batch`]) with its whole-page steps run by the WGSL kernels,
//! and the batch's line crops resampled to model inputs in one submission.

use image::{DynamicImage, GrayImage, RgbaImage};
use rayon::prelude::*;

use super::preprocessor::GpuPreprocessor;
use crate::error::Result;
use crate::geometry::BBox;
use crate::lines::LineImage;
use crate::preprocess::{PageKernels, to_gray};

impl PageKernels for GpuPreprocessor {
    fn name(&self) -> &'static str {
        "gpu"
    }

    /// Colour pages (RGB8, RGBA8) go through the GPU in one batch; gray pages are already gray
    /// and other pixel formats (16-bit, gray + alpha) take the CPU twin, which defines them.
    fn gray(&self, images: &[&DynamicImage]) -> Result<Vec<GrayImage>> {
        let colour = |i: &DynamicImage| {
            matches!(i, DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_))
        };
        let rgba: Vec<RgbaImage> = images
            .par_iter()
            .filter(|i| colour(i))
            .map(|i| i.to_rgba8())
            .collect();
        let mut gpu = self.gray_pages(&rgba)?.into_iter();
        drop(rgba);
        Ok(images
            .iter()
            .map(|i| match colour(i).then(|| gpu.next()).flatten() {
                Some(g) => g,
                None => to_gray(i),
            })
            .collect())
    }

    fn contrast(&self, pages: &[GrayImage]) -> Result<Vec<GrayImage>> {
        self.normalize_contrast_pages(pages)
    }

    fn binarize(&self, pages: &[GrayImage], window: u32, k: f32) -> Result<Vec<GrayImage>> {
        self.binarize_pages(pages, window, k)
    }

    fn rotate(&self, pages: &[GrayImage], degrees: &[f32], fill: u8) -> Result<Vec<GrayImage>> {
        self.rotate_pages(pages, degrees, fill)
    }

    fn lines(
        &self,
        pages: &[&GrayImage],
        lines: &[(usize, BBox)],
        views: bool,
    ) -> Result<Vec<LineImage>> {
        self.normalize_lines(pages, lines, views)
    }
}
