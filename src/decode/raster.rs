//! Single-image formats (PNG, JPEG, BMP, WebP, PNM) through the `image` crate.
//!
//! Order of work: header probe (size limit, DPI), then the decoder is built (which reads only
//! the header), its size is checked again, `image::Limits` are installed as a second line of
//! defence, and only then are the pixels decoded. EXIF orientation is applied for every format
//! whose decoder reports one (JPEG, and PNG/WebP with an eXIf chunk).

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

use super::pixels::to_page_image;
use super::{DecodeLimits, DecodedPage, Format, check_page_pixels, corrupt, guard, probe};
use crate::error::{OcrError, Result};

/// The stored pixel size of a raster image file from its header (the probe, or the decoder's
/// header read where there is no probe), checked against the page limit; nothing is decoded.
pub(super) fn raster_dims(
    bytes: &[u8],
    format: Format,
    limits: &DecodeLimits,
) -> Result<(u32, u32)> {
    let header = probe::probe(bytes, format)?;
    if let Some((w, h)) = header.dims {
        check_page_pixels(w, h, limits)?;
        return Ok((w, h));
    }
    let image_format = image_format(format)?;
    guard(format, || {
        let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
        reader.limits(image_limits(limits));
        let decoder = reader
            .into_decoder()
            .map_err(|e| map_image_error(format, e, limits))?;
        let (w, h) = decoder.dimensions();
        check_page_pixels(w, h, limits)?;
        Ok((w, h))
    })
}

/// The `image` crate's name for one of our raster formats.
fn image_format(format: Format) -> Result<ImageFormat> {
    Ok(match format {
        Format::Png => ImageFormat::Png,
        Format::Jpeg => ImageFormat::Jpeg,
        Format::Bmp => ImageFormat::Bmp,
        Format::WebP => ImageFormat::WebP,
        Format::Pnm => ImageFormat::Pnm,
        Format::Tiff | Format::Pdf => {
            return Err(OcrError::Internal(format!(
                "raster decoder called for {}",
                format.name()
            )));
        }
    })
}

/// Decodes one raster image file into page 0.
pub(super) fn decode_raster(
    bytes: &[u8],
    format: Format,
    limits: &DecodeLimits,
) -> Result<DecodedPage> {
    let header = probe::probe(bytes, format)?;
    if let Some((w, h)) = header.dims {
        check_page_pixels(w, h, limits)?;
    }
    let image_format = image_format(format)?;
    guard(format, || {
        let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
        reader.limits(image_limits(limits));
        let mut decoder = reader
            .into_decoder()
            .map_err(|e| map_image_error(format, e, limits))?;
        let (w, h) = decoder.dimensions();
        check_page_pixels(w, h, limits)?;
        if w == 0 || h == 0 {
            return Err(corrupt(format, format!("zero image size {w}x{h}")));
        }
        let orientation = decoder
            .orientation()
            .unwrap_or(image::metadata::Orientation::NoTransforms);
        let mut img =
            DynamicImage::from_decoder(decoder).map_err(|e| map_image_error(format, e, limits))?;
        img.apply_orientation(orientation);
        let exif = orientation.to_exif();
        Ok(DecodedPage {
            index: 0,
            image: to_page_image(img),
            dpi: header.dpi,
            exif_orientation: (exif != 1).then_some(exif),
            text_layer: None,
        })
    })
}

/// The `image` crate limits matching ours: no side longer than the pixel budget, and no more
/// allocation than the largest page at 8 bytes per pixel (16-bit RGBA) plus slack.
fn image_limits(limits: &DecodeLimits) -> Limits {
    let side = u32::try_from(limits.max_page_pixels).unwrap_or(u32::MAX);
    let mut out = Limits::default();
    out.max_image_width = Some(side);
    out.max_image_height = Some(side);
    out.max_alloc = Some(
        limits
            .max_page_pixels
            .saturating_mul(8)
            .saturating_add(64 * 1024 * 1024),
    );
    out
}

/// Maps an `image` error to ours: limits stay limits, unsupported features are
/// [`OcrError::Unsupported`], everything else (bad data, I/O on a truncated buffer) is corrupt.
fn map_image_error(format: Format, err: ImageError, limits: &DecodeLimits) -> OcrError {
    match err {
        ImageError::Limits(e) => {
            tracing::debug!(error = %e, "image decoder refused the input on its limits");
            let limit = image_limits(limits).max_alloc.unwrap_or(u64::MAX);
            OcrError::LimitExceeded {
                what: "decoder memory bytes",
                actual: limit.saturating_add(1),
                limit,
            }
        }
        ImageError::Unsupported(e) => OcrError::Unsupported {
            format: format.name(),
            detail: e.to_string(),
        },
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            corrupt(format, "truncated file")
        }
        other => corrupt(format, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;
    use image::{GrayImage, Rgb, RgbImage};

    /// A 60x40 test picture: white with a dark block, so orientation changes are visible.
    fn picture() -> RgbImage {
        let mut img = RgbImage::from_pixel(60, 40, Rgb([255, 255, 255]));
        for y in 0..10 {
            for x in 0..20 {
                img.put_pixel(x, y, Rgb([0, 0, 0]));
            }
        }
        img
    }

    fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("encode test image");
        out.into_inner()
    }

    fn decode_one(bytes: &[u8]) -> DecodedPage {
        let mut pages = decode(bytes, &DecodeLimits::default()).expect("decode");
        assert_eq!(pages.len(), 1);
        pages.remove(0)
    }

    #[test]
    fn each_raster_format_decodes_to_its_size() {
        let rgb = DynamicImage::ImageRgb8(picture());
        for format in [
            ImageFormat::Png,
            ImageFormat::Jpeg,
            ImageFormat::Bmp,
            ImageFormat::WebP,
            ImageFormat::Pnm,
        ] {
            let page = decode_one(&encode(&rgb, format));
            assert_eq!(page.index, 0);
            assert_eq!(
                (page.image.width(), page.image.height()),
                (60, 40),
                "{format:?}"
            );
            let gray = page.image.to_luma8();
            assert!(gray.get_pixel(5, 5).0[0] < 60, "{format:?} dark block");
            assert!(gray.get_pixel(50, 30).0[0] > 200, "{format:?} white paper");
            assert!(matches!(
                page.image,
                DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_)
            ));
        }
    }

    #[test]
    fn png_gray_alpha_and_sixteen_bit_become_eight_bit_opaque() {
        let la = image::GrayAlphaImage::from_pixel(8, 8, image::LumaA([0, 0]));
        let page = decode_one(&encode(&DynamicImage::ImageLumaA8(la), ImageFormat::Png));
        let DynamicImage::ImageLuma8(gray) = page.image else {
            panic!("expected Luma8");
        };
        assert!(gray.pixels().all(|p| p.0 == [255]), "transparent -> white");
        let l16 = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_pixel(
            4,
            4,
            image::Luma([0x8000]),
        );
        let page = decode_one(&encode(&DynamicImage::ImageLuma16(l16), ImageFormat::Png));
        assert!(matches!(page.image, DynamicImage::ImageLuma8(_)));
    }

    #[test]
    fn png_phys_gives_dpi() {
        let png = encode(
            &DynamicImage::ImageLuma8(GrayImage::new(4, 4)),
            ImageFormat::Png,
        );
        // Insert a pHYs chunk (300 dpi = 11811 px/m) right after IHDR (8 + 25 bytes).
        let mut data = Vec::new();
        data.extend_from_slice(b"pHYs");
        data.extend_from_slice(&11811u32.to_be_bytes());
        data.extend_from_slice(&11811u32.to_be_bytes());
        data.push(1);
        let mut chunk = 9u32.to_be_bytes().to_vec();
        chunk.extend_from_slice(&data);
        chunk.extend_from_slice(&crate::decode::tests::crc32(&data).to_be_bytes());
        let mut with_phys = png[..33].to_vec();
        with_phys.extend_from_slice(&chunk);
        with_phys.extend_from_slice(&png[33..]);
        let dpi = decode_one(&with_phys).dpi.expect("dpi");
        assert!((dpi - 300.0).abs() < 0.1, "{dpi}");
    }

    #[test]
    fn jpeg_exif_orientation_6_swaps_width_and_height() {
        let jpeg = encode(&DynamicImage::ImageRgb8(picture()), ImageFormat::Jpeg);
        // APP1 "Exif\0\0" + big-endian TIFF header + one IFD entry: Orientation (0x0112) = 6.
        let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
        exif.extend_from_slice(&[0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
        let mut with_exif = vec![0xFF, 0xD8, 0xFF, 0xE1];
        with_exif.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        with_exif.extend_from_slice(&exif);
        with_exif.extend_from_slice(&jpeg[2..]);
        let page = decode_one(&with_exif);
        assert_eq!((page.image.width(), page.image.height()), (40, 60));
        // Rotated 90 degrees clockwise: the top-left dark block moves to the top-right.
        let gray = page.image.to_luma8();
        assert!(gray.get_pixel(35, 5).0[0] < 60);
        assert!(gray.get_pixel(5, 5).0[0] > 200);
    }

    /// A JPEG of `img` carrying EXIF orientation `value`.
    fn jpeg_with_orientation(img: &DynamicImage, value: u8) -> Vec<u8> {
        let jpeg = encode(img, ImageFormat::Jpeg);
        let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
        exif.extend_from_slice(&[
            0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, value, 0, 0, 0, 0, 0, 0,
        ]);
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&exif);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn every_exif_orientation_decodes_to_the_upright_picture() {
        use image::metadata::Orientation;
        let upright = DynamicImage::ImageRgb8(picture());
        let want = upright.to_luma8();
        for value in 1..=8u8 {
            // Store the picture as a camera would for this tag: the tag's inverse applied.
            let inverse = [1, 2, 3, 4, 5, 8, 7, 6][value as usize - 1];
            let mut stored = upright.clone();
            stored.apply_orientation(Orientation::from_exif(inverse).unwrap());
            let page = decode_one(&jpeg_with_orientation(&stored, value));
            let got = page.image.to_luma8();
            assert_eq!(got.dimensions(), want.dimensions(), "orientation {value}");
            let diff: u64 = got
                .pixels()
                .zip(want.pixels())
                .map(|(a, b)| u64::from(a.0[0].abs_diff(b.0[0])))
                .sum();
            let mean = diff as f64 / (60.0 * 40.0);
            assert!(mean < 12.0, "orientation {value}: mean difference {mean}");
            let recorded = (value != 1).then_some(value);
            assert_eq!(page.exif_orientation, recorded, "orientation {value}");
        }
    }

    #[test]
    fn jpeg_jfif_density_gives_dpi() {
        let mut jpeg = encode(&DynamicImage::ImageRgb8(picture()), ImageFormat::Jpeg);
        // The encoder writes a JFIF APP0 right after SOI: units at 13, x density at 14..16.
        assert_eq!(&jpeg[6..11], b"JFIF\0");
        jpeg[13] = 1;
        jpeg[14..16].copy_from_slice(&200u16.to_be_bytes());
        assert_eq!(decode_one(&jpeg).dpi, Some(200.0));
    }
}
