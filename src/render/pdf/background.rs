//! What each page of a searchable PDF shows under its text: the scanned image, or the page
//! of a PDF input carried over untouched.
//!
//! - **Images**: a JPEG (8-bit baseline or progressive, gray or colour, no EXIF turn) is
//!   embedded as the file's own bytes (`DCTDecode`), never re-encoded; every other page is
//!   embedded losslessly from its decoded pixels (`FlateDecode`), bilevel pages at one bit per
//!   pixel. The visible page is exactly the page that was read.
//! - **PDF pages**: each page is copied with its content, fonts, images and vectors as a form
//!   XObject by `hayro-write`, and shown at its own size and orientation.

use image::DynamicImage;
use pdf_writer::{Chunk, Filter, Finish, Name, Ref};

use super::text_layer::deflate;

/// How a page's image is stored in the PDF.
pub(super) enum ImageData<'a> {
    /// A JPEG file's bytes as they are, with its number of colour components (1 or 3).
    Jpeg {
        bytes: &'a [u8],
        components: u8,
        width: u32,
        height: u32,
    },
    /// Decoded pixels (`ImageLuma8` or `ImageRgb8`).
    Pixels(&'a DynamicImage),
}

/// The number of colour components of a JPEG that PDF readers display as they are: 8-bit
/// precision, baseline, extended or progressive Huffman coding (SOF0-2), 1 or 3 components.
/// `None` for anything else (CMYK, 12-bit, arithmetic or lossless coding, a broken header).
pub(super) fn embeddable_jpeg_components(bytes: &[u8]) -> Option<u8> {
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        match marker {
            0xC0..=0xC2 => {
                let precision = *bytes.get(i + 4)?;
                let components = *bytes.get(i + 9)?;
                return (precision == 8 && matches!(components, 1 | 3)).then_some(components);
            }
            // Other frame types: lossless, hierarchical or arithmetic coding.
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
            // Start of scan or end of image before a frame header.
            0xDA | 0xD9 => return None,
            _ => i += 2 + len,
        }
    }
    None
}

/// Writes the image XObject `id` for `data` into `chunk`.
pub(super) fn write_image(chunk: &mut Chunk, id: Ref, data: &ImageData) {
    match data {
        ImageData::Jpeg {
            bytes,
            components,
            width,
            height,
        } => {
            let mut image = chunk.image_xobject(id, bytes);
            image.filter(Filter::DctDecode);
            image.width(*width as i32);
            image.height(*height as i32);
            image.bits_per_component(8);
            if *components == 1 {
                image.color_space().device_gray();
            } else {
                image.color_space().device_rgb();
            }
            image.finish();
        }
        ImageData::Pixels(img) => {
            let (width, height) = (img.width(), img.height());
            let (samples, gray, bits) = match img {
                DynamicImage::ImageLuma8(g) if is_bilevel(g.as_raw()) => {
                    (pack_bits(g.as_raw(), width as usize), true, 1)
                }
                DynamicImage::ImageLuma8(g) => (g.as_raw().clone(), true, 8),
                other => (other.to_rgb8().into_raw(), false, 8),
            };
            let compressed = deflate(&samples);
            let mut image = chunk.image_xobject(id, &compressed);
            image.filter(Filter::FlateDecode);
            image.width(width as i32);
            image.height(height as i32);
            image.bits_per_component(bits);
            if gray {
                image.color_space().device_gray();
            } else {
                image.color_space().device_rgb();
            }
            image.finish();
        }
    }
}

/// True when every sample is pure black or pure white.
fn is_bilevel(samples: &[u8]) -> bool {
    samples.iter().all(|&v| v == 0 || v == 255)
}

/// Bilevel gray samples as rows of 1-bit pixels (1 = white), each row padded to a byte.
fn pack_bits(samples: &[u8], width: usize) -> Vec<u8> {
    let row_bytes = width.div_ceil(8);
    let mut out = Vec::with_capacity(row_bytes * samples.len() / width.max(1));
    for row in samples.chunks(width.max(1)) {
        let mut packed = vec![0u8; row_bytes];
        for (x, &v) in row.iter().enumerate() {
            if v != 0 {
                packed[x / 8] |= 0x80 >> (x % 8);
            }
        }
        out.extend_from_slice(&packed);
    }
    out
}

/// The XObject name a page's background goes by in its resources.
pub(super) const BACKGROUND_NAME: Name<'static> = Name(b"Bg");

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(color: image::ColorType) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let img = match color {
            image::ColorType::L8 => DynamicImage::ImageLuma8(image::GrayImage::new(8, 8)),
            _ => DynamicImage::ImageRgb8(image::RgbImage::new(8, 8)),
        };
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    #[test]
    fn jpeg_components_come_from_the_frame_header() {
        assert_eq!(
            embeddable_jpeg_components(&jpeg(image::ColorType::L8)),
            Some(1)
        );
        assert_eq!(
            embeddable_jpeg_components(&jpeg(image::ColorType::Rgb8)),
            Some(3)
        );
        let mut cmyk = jpeg(image::ColorType::Rgb8);
        let sof = cmyk.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        cmyk[sof + 9] = 4;
        assert_eq!(embeddable_jpeg_components(&cmyk), None);
        assert_eq!(embeddable_jpeg_components(&[0xFF, 0xD8, 0xFF]), None);
        assert_eq!(embeddable_jpeg_components(b"\xFF\xD8\xFF\xC0\x00"), None);
    }

    #[test]
    fn bilevel_rows_pack_to_bits_with_white_as_one() {
        assert!(is_bilevel(&[0, 255, 255]));
        assert!(!is_bilevel(&[0, 128]));
        let samples = [255, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 0, 255];
        assert_eq!(pack_bits(&samples, 9), vec![0x80, 0x80, 0x00, 0x80]);
    }
}
