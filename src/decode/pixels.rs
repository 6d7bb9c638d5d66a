//! Pixel normalisation: every decoded page becomes 8-bit gray or RGB, opaque on white.
//!
//! Later stages only handle `Luma8` / `Rgb8`, so 16-bit and float samples are reduced to 8 bits
//! and alpha is composited onto a white background (a transparent scan background is paper).

use image::{DynamicImage, GrayImage, RgbImage};

/// Converts any decoded image to `ImageLuma8` or `ImageRgb8`, compositing alpha onto white.
pub(super) fn to_page_image(img: DynamicImage) -> DynamicImage {
    match img {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => img,
        DynamicImage::ImageLumaA8(buf) => {
            let (w, h) = buf.dimensions();
            DynamicImage::ImageLuma8(gray_alpha_on_white(w, h, buf.as_raw()))
        }
        DynamicImage::ImageRgba8(buf) => {
            let (w, h) = buf.dimensions();
            DynamicImage::ImageRgb8(rgba_on_white(w, h, buf.as_raw()))
        }
        other => {
            let color = other.color();
            match (color.has_color(), color.has_alpha()) {
                (false, false) => DynamicImage::ImageLuma8(other.to_luma8()),
                (true, false) => DynamicImage::ImageRgb8(other.to_rgb8()),
                (false, true) => to_page_image(DynamicImage::ImageLumaA8(other.to_luma_alpha8())),
                (true, true) => to_page_image(DynamicImage::ImageRgba8(other.to_rgba8())),
            }
        }
    }
}

/// `v` (straight alpha `a`) over white, rounded.
#[inline]
fn over_white(v: u8, a: u8) -> u8 {
    let (v, a) = (u32::from(v), u32::from(a));
    ((v * a + 255 * (255 - a) + 127) / 255) as u8
}

/// Gray+alpha samples composited onto white.
fn gray_alpha_on_white(w: u32, h: u32, raw: &[u8]) -> GrayImage {
    let out: Vec<u8> = raw
        .chunks_exact(2)
        .map(|p| over_white(p[0], p[1]))
        .collect();
    GrayImage::from_raw(w, h, out).unwrap_or_else(|| GrayImage::new(w, h))
}

/// RGBA samples composited onto white.
fn rgba_on_white(w: u32, h: u32, raw: &[u8]) -> RgbImage {
    let mut out = Vec::with_capacity(raw.len() / 4 * 3);
    for p in raw.chunks_exact(4) {
        let a = p[3];
        out.extend_from_slice(&[
            over_white(p[0], a),
            over_white(p[1], a),
            over_white(p[2], a),
        ]);
    }
    RgbImage::from_raw(w, h, out).unwrap_or_else(|| RgbImage::new(w, h))
}

/// Premultiplied RGBA (as the PDF renderer produces) composited onto white, returned as `Luma8`
/// when every pixel is gray (a third of the memory and of the later per-pixel work), else
/// `Rgb8`. Gray pages, the common case, take one pass and no RGB buffer. `None` if `raw` is
/// shorter than `w * h` pixels.
pub(super) fn premul_rgba_on_white(w: u32, h: u32, raw: &[u8]) -> Option<DynamicImage> {
    let n = (w as usize).checked_mul(h as usize)?;
    let raw = raw.get(..n.checked_mul(4)?)?;
    let pixel = |p: &[u8]| {
        let blank = 255 - p[3];
        [
            p[0].saturating_add(blank),
            p[1].saturating_add(blank),
            p[2].saturating_add(blank),
        ]
    };
    let mut luma = Vec::with_capacity(n);
    for p in raw.chunks_exact(4) {
        let [r, g, b] = pixel(p);
        if r != g || g != b {
            let mut rgb = Vec::with_capacity(n * 3);
            for p in raw.chunks_exact(4) {
                rgb.extend_from_slice(&pixel(p));
            }
            return RgbImage::from_raw(w, h, rgb).map(DynamicImage::ImageRgb8);
        }
        luma.push(r);
    }
    GrayImage::from_raw(w, h, luma).map(DynamicImage::ImageLuma8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, LumaA, Rgba};

    #[test]
    fn transparent_pixels_become_white_and_opaque_ones_keep_their_value() {
        let mut img = ImageBuffer::<Rgba<u8>, Vec<u8>>::new(2, 1);
        img.put_pixel(0, 0, Rgba([0, 0, 0, 0]));
        img.put_pixel(1, 0, Rgba([10, 20, 30, 255]));
        let DynamicImage::ImageRgb8(out) = to_page_image(DynamicImage::ImageRgba8(img)) else {
            panic!("expected Rgb8");
        };
        assert_eq!(out.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(out.get_pixel(1, 0).0, [10, 20, 30]);
    }

    #[test]
    fn half_transparent_black_on_white_is_mid_gray() {
        let img = ImageBuffer::<LumaA<u8>, Vec<u8>>::from_pixel(1, 1, LumaA([0, 128]));
        let DynamicImage::ImageLuma8(out) = to_page_image(DynamicImage::ImageLumaA8(img)) else {
            panic!("expected Luma8");
        };
        assert_eq!(out.get_pixel(0, 0).0, [127]);
    }

    #[test]
    fn sixteen_bit_gray_becomes_eight_bit() {
        let img = ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_pixel(3, 2, image::Luma([65535]));
        let out = to_page_image(DynamicImage::ImageLuma16(img));
        let DynamicImage::ImageLuma8(out) = out else {
            panic!("expected Luma8");
        };
        assert_eq!(out.dimensions(), (3, 2));
        assert!(out.pixels().all(|p| p.0 == [255]));
    }

    #[test]
    fn premultiplied_gray_collapses_to_luma_but_colour_does_not() {
        // Opaque gray, fully transparent (-> white), half-covered black (premultiplied 0).
        let gray = [7, 7, 7, 255, 0, 0, 0, 0, 0, 0, 0, 128];
        let Some(DynamicImage::ImageLuma8(img)) = premul_rgba_on_white(3, 1, &gray) else {
            panic!("expected Luma8");
        };
        assert_eq!(img.as_raw().as_slice(), &[7, 255, 127]);
        let colour = [7, 7, 7, 255, 200, 0, 0, 255];
        let Some(DynamicImage::ImageRgb8(img)) = premul_rgba_on_white(2, 1, &colour) else {
            panic!("expected Rgb8");
        };
        assert_eq!(img.as_raw().as_slice(), &[7, 7, 7, 200, 0, 0]);
        assert!(
            premul_rgba_on_white(3, 1, &colour).is_none(),
            "short buffer"
        );
    }
}
