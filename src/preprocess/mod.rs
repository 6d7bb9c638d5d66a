//! Preprocess stage (CPU reference implementations; GPU twins live in `compute/`).
//!
//! grayscale -> contrast normalisation -> text-size normalisation ([`scale`]) -> border/black-frame
//! removal -> orientation (0/90/180/270)
//! -> skew estimation (±15°) and correction -> adaptive (Sauvola) binarisation -> speckle removal.
//! Each step is a public function callable alone; [`preprocess`] chains them.
//!
//! Conventions: `gray` images are 8-bit, 0 = black, 255 = white. Binary images are `GrayImage`s
//! with ink = 0 and paper = 255, so they can be saved and viewed as they are.

use image::GrayImage;

mod binarize;
mod border;
pub mod components;
pub(crate) mod contrast;
mod deskew;
mod despeckle;
mod gray;
mod orientation;
mod pipeline;
mod profile;
pub mod scale;
#[cfg(test)]
pub(crate) mod testutil;
mod transform;

pub use binarize::{IntegralImages, auto_window, integral_images, sauvola, sauvola_parameters};
pub use border::remove_borders;
pub use contrast::normalize_contrast;
pub use deskew::{MAX_SKEW, RotationSteps, estimate_skew, rotate_bilinear};
pub use despeckle::{auto_speck_area, despeckle};
pub use gray::to_gray;
pub use orientation::{LineZones, detect_orientation, measure_line_zones, rotate_quarter};
pub use pipeline::{
    CpuKernels, PageKernels, StageTimings, preprocess, preprocess_batch, preprocess_timed,
};

/// Options of the preprocess stage.
#[derive(Debug, Clone, PartialEq)]
pub struct PreprocessOptions {
    /// Estimate and correct skew within ±15°.
    pub deskew: bool,
    /// Detect and correct page orientation (0/90/180/270).
    pub detect_orientation: bool,
    /// Turn the page clockwise by this quarter turn (0, 90, 180 or 270) instead of detecting
    /// its orientation; `None` = as `detect_orientation` says. Set by the orientation check
    /// (`crate::orient`) once reading has decided the page's orientation.
    pub rotation: Option<u32>,
    /// Sauvola window side in pixels; 0 = automatic from the page size.
    pub sauvola_window: u32,
    /// Sauvola's k (sensitivity), typically 0.2-0.5.
    pub sauvola_k: f32,
    /// Remove isolated specks smaller than this many pixels (0 = automatic).
    pub despeckle_max_area: u32,
    /// Remove black frames and scanner borders at the page edges.
    pub remove_borders: bool,
    /// Resample pages whose text is very small or very large to a workable text height
    /// ([`scale`]).
    pub normalize_scale: bool,
}

impl Default for PreprocessOptions {
    fn default() -> Self {
        PreprocessOptions {
            deskew: true,
            detect_orientation: true,
            rotation: None,
            sauvola_window: 0,
            sauvola_k: 0.2,
            despeckle_max_area: 0,
            remove_borders: true,
            normalize_scale: true,
        }
    }
}

/// Maps coordinates of the prepared (rotated, deskewed) page back to the original decoded image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageTransform {
    /// Width of the original decoded image.
    pub original_width: u32,
    /// Height of the original decoded image.
    pub original_height: u32,
    /// Clockwise rotation in degrees (0, 90, 180, 270) applied to the original.
    pub rotation: u32,
    /// Skew in degrees that was corrected after the rotation (rotation about the page centre).
    pub skew_degrees: f32,
    /// Resampling applied to the original before the rotation: prepared pixels per original
    /// pixel (1 = none; above 1 for small text brought up to a workable size, below 1 for huge
    /// scans brought down; see `preprocess::scale`).
    pub scale: f32,
    /// Width of the prepared page.
    pub width: u32,
    /// Height of the prepared page.
    pub height: u32,
}

/// A page ready for layout analysis and recognition.
#[derive(Debug, Clone)]
pub struct PreparedPage {
    /// Upright, deskewed, contrast-normalised grayscale page (0 = black, 255 = white); line crops
    /// for the recogniser are cut from this image.
    pub gray: GrayImage,
    /// Binarised `gray` after speckle and border removal: ink = 0, paper = 255.
    pub binary: GrayImage,
    /// How to map boxes on this page back to the original image.
    pub transform: PageTransform,
}
