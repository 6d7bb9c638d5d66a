//! Text-size normalisation: pages are analysed at a resolution where their body text is a
//! workable size, whatever the scan's resolution.
//!
//! A receipt in the middle of a 600 DPI A4 scan, a 100 DPI fax and a phone photo should take the
//! same path through binarisation, layout and line framing. After the first binarisation,
//! border removal and the orientation proposal, the page's text height is estimated across its
//! lines (the layout stage's glyph-height estimate on its connected
//! components, on a rejoined copy where print falls apart into dots: [`page_text_height`]); a page whose text is smaller than [`MIN_TEXT_HEIGHT`] pixels is resampled up so
//! that it reaches [`TARGET_TEXT_HEIGHT`] (at most [`MAX_UPSCALE`] times): below that, glyphs
//! of neighbouring lines and words touch after binarisation and the layout stage takes small
//! print for broken dot-matrix print. Pages are not resampled down (see [`scale_for`]). Boxes map
//! back through [`super::PageTransform::scale`].

use image::GrayImage;
use image::imageops::{FilterType, resize};

use super::transform::scaled_size;
use crate::layout::{TextHeight, page_text_height};

/// Text height (pixels, the layout stage's estimate: about the x-height to cap height) below
/// which a page is resampled up.
pub const MIN_TEXT_HEIGHT: f32 = 10.0;
/// Text height a page of small text is resampled up to.
pub const TARGET_TEXT_HEIGHT: f32 = 16.0;
/// Largest upward resampling factor (a page of specks must not grow without bound).
pub const MAX_UPSCALE: f32 = 3.0;
/// Pages are never resampled above this many pixels (the decode limit's order of magnitude).
const MAX_SCALED_PIXELS: f64 = 100_000_000.0;

/// Estimated text height of a binary page (ink = 0) as the layout stage sees it (dot-matrix
/// print at its glyphs' height), across its rows: the caller turns a page lying on its side.
pub fn text_height(binary: &GrayImage) -> TextHeight {
    page_text_height(binary)
}

/// The resampling factor for a page of `width` x `height` whose text is `th` high: 1 when the
/// text is already a workable size (or there is none).
///
/// Pages are never resampled down: on the dev and tune sets every rule tried (text above 48 or
/// 64 pixels brought to 32) made FUNSD forms worse, since a page's text height estimate is
/// thrown off by logos, handwriting and merged print long before its text is really huge.
pub fn scale_for(th: TextHeight, width: u32, height: u32) -> f32 {
    let h = th.pixels;
    if h <= 0.0 || !h.is_finite() || h >= MIN_TEXT_HEIGHT {
        return 1.0;
    }
    let s = (TARGET_TEXT_HEIGHT / h).min(MAX_UPSCALE);
    let pixels = width as f64 * height as f64;
    if pixels * (s as f64).powi(2) > MAX_SCALED_PIXELS {
        ((MAX_SCALED_PIXELS / pixels).sqrt() as f32).max(1.0)
    } else {
        s
    }
}

/// `gray` resampled by `scale` (bilinear up, area-like triangle filter down); a copy at 1.
///
/// Up, the resampling is fast_image_resize's SIMD bilinear convolution on the 8-bit plane: the
/// same interpolation as `image`'s triangle filter, several times faster (the triangle filter
/// took an eighth of a small-print page's CPU time), equal up to rounding.
pub fn resample(gray: &GrayImage, scale: f32) -> GrayImage {
    if scale == 1.0 {
        return gray.clone();
    }
    let (w, h) = scaled_size(gray.width(), gray.height(), scale);
    if scale > 1.0
        && let Some(up) = bilinear_up(gray, w, h)
    {
        return up;
    }
    resize(gray, w, h, FilterType::Triangle)
}

/// `gray` resampled to `w` x `h` by fast_image_resize's bilinear convolution; `None` if it
/// refuses the sizes.
fn bilinear_up(gray: &GrayImage, w: u32, h: u32) -> Option<GrayImage> {
    use fast_image_resize::images::{Image, ImageRef};
    use fast_image_resize::{FilterType as Filter, PixelType, ResizeAlg, ResizeOptions, Resizer};
    let src = ImageRef::new(gray.width(), gray.height(), gray.as_raw(), PixelType::U8).ok()?;
    let mut dst = Image::new(w, h, PixelType::U8);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(Filter::Bilinear));
    Resizer::new().resize(&src, &mut dst, &options).ok()?;
    GrayImage::from_raw(w, h, dst.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsampling_is_the_triangle_filter_up_to_rounding() {
        // Stripes, a gradient and a few dark dots: edges in both directions.
        let g = GrayImage::from_fn(61, 37, |x, y| {
            let v = if (x / 3 + y / 5) % 2 == 0 { 40 } else { 230 };
            let v = (v + x * 2 + y) as u8;
            image::Luma([if (x * 7 + y * 3) % 29 == 0 { 0 } else { v }])
        });
        for scale in [1.3f32, 2.0, 2.7, 3.0] {
            let ours = resample(&g, scale);
            let (w, h) = scaled_size(g.width(), g.height(), scale);
            let theirs = resize(&g, w, h, FilterType::Triangle);
            assert_eq!(ours.dimensions(), theirs.dimensions());
            let diffs: Vec<i32> = ours
                .as_raw()
                .iter()
                .zip(theirs.as_raw())
                .map(|(&a, &b)| (a as i32 - b as i32).abs())
                .collect();
            let max = diffs.iter().copied().max().unwrap_or(0);
            let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
            assert!(
                max <= 1 && mean < 0.5,
                "x{scale}: max {max}, mean {mean:.3}"
            );
        }
    }

    #[test]
    fn scale_brings_text_to_a_workable_size() {
        let th = |pixels: f32| TextHeight {
            pixels,
            rejoined: false,
        };
        assert_eq!(scale_for(th(0.0), 100, 100), 1.0);
        assert_eq!(scale_for(th(20.0), 1000, 1000), 1.0);
        assert!((scale_for(th(8.0), 1000, 1000) - 2.0).abs() < 1e-6);
        assert_eq!(scale_for(th(2.0), 1000, 1000), MAX_UPSCALE);
        assert_eq!(scale_for(th(128.0), 5000, 7000), 1.0);
        // Never beyond the pixel cap.
        let s = scale_for(th(5.0), 9000, 9000);
        assert!(
            (9000.0 * s as f64).powi(2) <= MAX_SCALED_PIXELS * 1.001,
            "{s}"
        );
        let g = GrayImage::new(10, 7);
        assert_eq!(resample(&g, 2.0).dimensions(), (20, 14));
        assert_eq!(resample(&g, 0.5).dimensions(), (5, 4));
    }
}
