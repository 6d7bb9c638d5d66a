//! Conversion of any decoded image to 8-bit luma, transparent areas composited on white.

use image::{DynamicImage, GrayImage};

/// Rec. 709 luma weights in 1/65536 units (the same weights as the `image` crate), so that the
/// integer conversion matches `DynamicImage::to_luma8` to within one level.
const WR: u32 = 13933; // 0.2126
const WG: u32 = 46871; // 0.7152
const WB: u32 = 4732; // 0.0722

#[inline]
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((WR * r as u32 + WG * g as u32 + WB * b as u32 + 32768) >> 16) as u8
}

/// Composite a luma value with alpha `a` over white paper.
#[inline]
fn over_white(l: u8, a: u8) -> u8 {
    let a = a as u32;
    ((l as u32 * a + 255 * (255 - a) + 127) / 255) as u8
}

/// Convert a decoded image to grayscale (0 = black, 255 = white).
///
/// Colour is reduced with Rec. 709 luma weights; transparent pixels are composited over white
/// so that transparent backgrounds (common in PNG exports) read as paper, not as black.
/// 8-bit images take allocation-light fast paths; other depths go through 8-bit RGBA.
pub fn to_gray(image: &DynamicImage) -> GrayImage {
    let (w, h) = (image.width(), image.height());
    match image {
        DynamicImage::ImageLuma8(g) => g.clone(),
        DynamicImage::ImageLumaA8(la) => {
            let data: Vec<u8> = la
                .as_raw()
                .chunks_exact(2)
                .map(|p| over_white(p[0], p[1]))
                .collect();
            GrayImage::from_raw(w, h, data).unwrap_or_else(|| GrayImage::new(w, h))
        }
        DynamicImage::ImageRgb8(rgb) => {
            let data: Vec<u8> = rgb
                .as_raw()
                .chunks_exact(3)
                .map(|p| luma(p[0], p[1], p[2]))
                .collect();
            GrayImage::from_raw(w, h, data).unwrap_or_else(|| GrayImage::new(w, h))
        }
        DynamicImage::ImageRgba8(rgba) => rgba_to_gray(rgba),
        other => rgba_to_gray(&other.to_rgba8()),
    }
}

fn rgba_to_gray(rgba: &image::RgbaImage) -> GrayImage {
    let (w, h) = rgba.dimensions();
    let data: Vec<u8> = rgba
        .as_raw()
        .chunks_exact(4)
        .map(|p| over_white(luma(p[0], p[1], p[2]), p[3]))
        .collect();
    GrayImage::from_raw(w, h, data).unwrap_or_else(|| GrayImage::new(w, h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayAlphaImage, LumaA, Rgb, RgbImage, Rgba, RgbaImage};

    #[test]
    fn rgb_matches_luma_weights() {
        let mut img = RgbImage::new(3, 1);
        img.put_pixel(0, 0, Rgb([255, 0, 0]));
        img.put_pixel(1, 0, Rgb([0, 255, 0]));
        img.put_pixel(2, 0, Rgb([255, 255, 255]));
        let g = to_gray(&DynamicImage::ImageRgb8(img));
        assert_eq!(g.get_pixel(0, 0)[0], 54);
        assert_eq!(g.get_pixel(1, 0)[0], 182);
        assert_eq!(g.get_pixel(2, 0)[0], 255);
    }

    #[test]
    fn transparent_is_white() {
        let mut img = RgbaImage::new(2, 1);
        img.put_pixel(0, 0, Rgba([0, 0, 0, 0]));
        img.put_pixel(1, 0, Rgba([0, 0, 0, 255]));
        let g = to_gray(&DynamicImage::ImageRgba8(img));
        assert_eq!(g.get_pixel(0, 0)[0], 255);
        assert_eq!(g.get_pixel(1, 0)[0], 0);

        let mut la = GrayAlphaImage::new(1, 1);
        la.put_pixel(0, 0, LumaA([0, 128]));
        let g = to_gray(&DynamicImage::ImageLumaA8(la));
        assert!((g.get_pixel(0, 0)[0] as i32 - 127).abs() <= 1);

        let img16 = DynamicImage::ImageRgba8(RgbaImage::from_pixel(1, 1, Rgba([0, 0, 0, 0])));
        let g16 = to_gray(&DynamicImage::ImageRgba16(img16.to_rgba16()));
        assert_eq!(g16.get_pixel(0, 0)[0], 255);
    }
}
