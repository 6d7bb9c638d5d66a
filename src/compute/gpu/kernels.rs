//! [`PageKernels`] on the GPU: the batched preprocessing pipeline
//! ([`crate::preprocess::preprocess_batch`]) with its whole-page steps run by the WGSL kernels.

use image::{DynamicImage, GrayImage, RgbaImage};

use super::preprocessor::GpuPreprocessor;
use crate::error::Result;
use crate::preprocess::{PageKernels, to_gray};

impl PageKernels for GpuPreprocessor {
    fn name(&self) -> &'static str {
        "gpu"
    }

    /// Colour pages (RGB8, RGBA8) go through the GPU in one batch; gray pages are already gray
    /// and other pixel formats (16-bit, gray + alpha) take the CPU twin, which defines them.
    fn gray(&self, images: &[&DynamicImage]) -> Result<Vec<GrayImage>> {
        let colour: Vec<usize> = (0..images.len())
            .filter(|&i| {
                matches!(
                    images[i],
                    DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_)
                )
            })
            .collect();
        let rgba: Vec<RgbaImage> = colour.iter().map(|&i| images[i].to_rgba8()).collect();
        let mut gpu = self.gray_pages(&rgba)?.into_iter();
        drop(rgba);
        let mut out = Vec::with_capacity(images.len());
        let mut next = colour.iter().peekable();
        for (i, image) in images.iter().enumerate() {
            if next.peek() == Some(&&i) {
                next.next();
                out.push(gpu.next().unwrap_or_else(|| to_gray(image)));
            } else {
                out.push(to_gray(image));
            }
        }
        Ok(out)
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
}
