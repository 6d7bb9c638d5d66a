//! TIFF (classic and BigTIFF) through the `tiff` crate: every page (IFD) of the file.
//!
//! The IFD chain is walked first to count the pages and read their sizes (refusing more than
//! `max_pages`, or more pixels together than the document budget); each page is then decoded
//! on demand ([`TiffPages::read`]), its size checked again before its pixels are decoded. Samples are converted to 8-bit gray or
//! RGB: bilevel and 2/4-bit gray are unpacked (the `tiff` crate already inverts WhiteIsZero, so
//! text comes out dark on light either way), 16-bit is reduced, alpha is composited on white,
//! CMYK and YCbCr are converted to RGB. Palette (RGBPalette) images are refused as unsupported
//! because the `tiff` crate does not read them.

use std::io::Cursor;

use ::tiff::decoder::ifd::Value;
use ::tiff::decoder::{Decoder, DecodingResult, Limits};
use ::tiff::tags::Tag;
use ::tiff::{ColorType, TiffError};
use bytes::Bytes;
use image::{DynamicImage, GrayImage, ImageBuffer, RgbImage};

use super::pixels::to_page_image;
use super::{DecodeLimits, DecodedPage, Format, check_page_pixels, check_pages, corrupt, guard};
use crate::error::{OcrError, Result};

/// How many IFDs beyond `max_pages` are counted, so the error can report a real page count
/// without walking an arbitrarily long chain.
const EXTRA_PAGES_COUNTED: usize = 10_000;

/// An opened TIFF file: its pages counted and sized from their headers, each decoded on demand.
pub(super) struct TiffPages {
    decoder: Decoder<Cursor<Bytes>>,
    pixels: Vec<u64>,
    limits: DecodeLimits,
}

impl TiffPages {
    /// Walks the IFD chain (refusing more than `max_pages` pages, or pages whose pixels together
    /// exceed the document budget) without decoding any pixels.
    pub(super) fn open(bytes: Bytes, limits: &DecodeLimits) -> Result<TiffPages> {
        guard(Format::Tiff, || {
            let (count, pixels) = count_pages(bytes.clone(), limits)?;
            check_pages(count, limits)?;
            let total = pixels.iter().fold(0u64, |a, &p| a.saturating_add(p));
            if total > limits.document_pixels() {
                return Err(OcrError::LimitExceeded {
                    what: "document pixels",
                    actual: total,
                    limit: limits.document_pixels(),
                });
            }
            Ok(TiffPages {
                decoder: open(bytes, limits)?,
                pixels,
                limits: limits.clone(),
            })
        })
    }

    /// Width x height of every page, from the headers.
    pub(super) fn pixels(&self) -> &[u64] {
        &self.pixels
    }

    /// Decodes page `index` (0-based).
    pub(super) fn read(&mut self, index: usize) -> Result<DecodedPage> {
        let limits = &self.limits;
        let decoder = &mut self.decoder;
        guard(Format::Tiff, || {
            decoder
                .seek_to_image(index)
                .map_err(|e| map_tiff_error(e, limits))?;
            decode_page(decoder, index, limits)
        })
    }
}

fn open(bytes: Bytes, limits: &DecodeLimits) -> Result<Decoder<Cursor<Bytes>>> {
    Ok(Decoder::new(Cursor::new(bytes))
        .map_err(|e| map_tiff_error(e, limits))?
        .with_limits(tiff_limits(limits)))
}

/// Counts the IFDs (pages) by walking the chain, stopping a while after `max_pages`, and reads
/// each page's pixel count from its header (nothing is decoded). Only the first `max_pages`
/// sizes are kept; the count goes on so the error can name it.
fn count_pages(bytes: Bytes, limits: &DecodeLimits) -> Result<(usize, Vec<u64>)> {
    let map = |e| map_tiff_error(e, limits);
    let mut decoder = open(bytes, limits)?;
    let stop = limits.max_pages.saturating_add(EXTRA_PAGES_COUNTED);
    let area = |d: &mut Decoder<Cursor<Bytes>>| -> Result<u64> {
        let (w, h) = d.dimensions().map_err(map)?;
        Ok(u64::from(w) * u64::from(h))
    };
    let mut count = 1usize;
    let mut pixels = vec![area(&mut decoder)?];
    while decoder.more_images() && count < stop {
        decoder.next_image().map_err(map)?;
        count += 1;
        let a = area(&mut decoder)?;
        if pixels.len() < limits.max_pages {
            pixels.push(a);
        } else if let Some(last) = pixels.last_mut() {
            // Beyond the page limit only the total matters (the file is refused anyway).
            *last = last.saturating_add(a);
        }
    }
    Ok((count, pixels))
}

/// Limits for the `tiff` crate: the decoded page (at most 8 bytes per pixel), compressed chunks
/// no bigger than the file, and generous tag arrays (strip tables of big scans).
fn tiff_limits(limits: &DecodeLimits) -> Limits {
    let page_bytes = limits.max_page_pixels.saturating_mul(8);
    let mut out = Limits::default();
    out.decoding_buffer_size = usize::try_from(page_bytes).unwrap_or(usize::MAX);
    out.intermediate_buffer_size = usize::try_from(limits.max_bytes).unwrap_or(usize::MAX);
    out.ifd_value_size = 64 * 1024 * 1024;
    out
}

fn decode_page(
    decoder: &mut Decoder<Cursor<Bytes>>,
    index: usize,
    limits: &DecodeLimits,
) -> Result<DecodedPage> {
    let map = |e| map_tiff_error(e, limits);
    let (width, height) = decoder.dimensions().map_err(map)?;
    if width == 0 || height == 0 {
        return Err(corrupt(
            Format::Tiff,
            format!("page {index} has zero size {width}x{height}"),
        ));
    }
    check_page_pixels(width, height, limits)?;
    let color = decoder.colortype().map_err(map)?;
    let dpi = read_dpi(decoder);
    let data = decoder.read_image().map_err(map)?;
    let image = to_image(width, height, color, data)?;
    Ok(DecodedPage {
        index,
        image: to_page_image(image),
        dpi,
        exif_orientation: None,
        text_layer: None,
    })
}

/// XResolution with ResolutionUnit (default inch; centimetre converted; "none" ignored).
fn read_dpi(decoder: &mut Decoder<Cursor<Bytes>>) -> Option<f32> {
    let value = match decoder.find_tag(Tag::XResolution).ok()?? {
        Value::Rational(n, d) if d != 0 => f64::from(n) / f64::from(d),
        Value::Float(v) => f64::from(v),
        Value::Double(v) => v,
        Value::Unsigned(v) => f64::from(v),
        Value::Short(v) => f64::from(v),
        _ => return None,
    };
    let unit = decoder
        .find_tag_unsigned::<u16>(Tag::ResolutionUnit)
        .ok()
        .flatten()
        .unwrap_or(2);
    let dpi = match unit {
        2 => value,
        3 => value * 2.54,
        _ => return None,
    } as f32;
    (dpi.is_finite() && (10.0..=100_000.0).contains(&dpi)).then_some(dpi)
}

/// Builds an image from the decoded samples of one page.
fn to_image(w: u32, h: u32, color: ColorType, data: DecodingResult) -> Result<DynamicImage> {
    let size_err = || corrupt(Format::Tiff, "pixel data shorter than the page size");
    let unsupported = || OcrError::Unsupported {
        format: "TIFF",
        detail: format!("{color:?} samples"),
    };
    Ok(match (color, data) {
        (ColorType::Gray(bits @ (1 | 2 | 4)), DecodingResult::U8(v)) => {
            DynamicImage::ImageLuma8(unpack_gray(w, h, bits, &v).ok_or_else(size_err)?)
        }
        (ColorType::Gray(8), DecodingResult::U8(v)) => {
            DynamicImage::ImageLuma8(buffer(w, h, 1, v).ok_or_else(size_err)?)
        }
        (ColorType::Gray(16), DecodingResult::U16(v)) => {
            DynamicImage::ImageLuma16(buffer(w, h, 1, v).ok_or_else(size_err)?)
        }
        (
            ColorType::GrayA(8)
            | ColorType::Multiband {
                bit_depth: 8,
                num_samples: 2,
            },
            DecodingResult::U8(v),
        ) => DynamicImage::ImageLumaA8(buffer(w, h, 2, v).ok_or_else(size_err)?),
        (
            ColorType::GrayA(16)
            | ColorType::Multiband {
                bit_depth: 16,
                num_samples: 2,
            },
            DecodingResult::U16(v),
        ) => DynamicImage::ImageLumaA16(buffer(w, h, 2, v).ok_or_else(size_err)?),
        (ColorType::RGB(8), DecodingResult::U8(v)) => {
            DynamicImage::ImageRgb8(buffer(w, h, 3, v).ok_or_else(size_err)?)
        }
        (ColorType::RGB(16), DecodingResult::U16(v)) => {
            DynamicImage::ImageRgb16(buffer(w, h, 3, v).ok_or_else(size_err)?)
        }
        (ColorType::RGBA(8), DecodingResult::U8(v)) => {
            DynamicImage::ImageRgba8(buffer(w, h, 4, v).ok_or_else(size_err)?)
        }
        (ColorType::RGBA(16), DecodingResult::U16(v)) => {
            DynamicImage::ImageRgba16(buffer(w, h, 4, v).ok_or_else(size_err)?)
        }
        (ColorType::CMYK(8), DecodingResult::U8(v)) => cmyk_to_rgb(w, h, 4, &v, |s| s)?,
        (ColorType::CMYKA(8), DecodingResult::U8(v)) => cmyk_to_rgb(w, h, 5, &v, |s| s)?,
        (ColorType::CMYK(16), DecodingResult::U16(v)) => {
            cmyk_to_rgb(w, h, 4, &v, |s| (s >> 8) as u8)?
        }
        (ColorType::YCbCr(8), DecodingResult::U8(v)) => ycbcr_to_rgb(w, h, &v)?,
        _ => return Err(unsupported()),
    })
}

/// Wraps `w * h * channels` samples (extra trailing samples ignored) as an image buffer.
fn buffer<P: image::Pixel>(
    w: u32,
    h: u32,
    channels: usize,
    mut v: Vec<P::Subpixel>,
) -> Option<ImageBuffer<P, Vec<P::Subpixel>>> {
    let len = (w as usize)
        .checked_mul(h as usize)?
        .checked_mul(channels)?;
    if v.len() < len {
        return None;
    }
    v.truncate(len);
    ImageBuffer::from_raw(w, h, v)
}

/// Unpacks 1/2/4-bit gray rows (MSB first, each row padded to a byte) to 8-bit, 0 = black.
fn unpack_gray(w: u32, h: u32, bits: u8, packed: &[u8]) -> Option<GrayImage> {
    let (w, h, bits) = (w as usize, h as usize, usize::from(bits));
    let row_bytes = (w * bits).div_ceil(8);
    if packed.len() < row_bytes.checked_mul(h)? {
        return None;
    }
    let max = (1u16 << bits) - 1;
    let mask = max as u8;
    let mut out = Vec::with_capacity(w * h);
    for row in packed.chunks_exact(row_bytes).take(h) {
        for x in 0..w {
            let bit = x * bits;
            let v = (row[bit / 8] >> (8 - bits - bit % 8)) & mask;
            out.push((u16::from(v) * 255 / max) as u8);
        }
    }
    GrayImage::from_raw(w as u32, h as u32, out)
}

/// Naive CMYK -> RGB (no ICC profile): R = (1 - C)(1 - K), per 8-bit sample.
fn cmyk_to_rgb<T: Copy>(
    w: u32,
    h: u32,
    stride: usize,
    v: &[T],
    to8: impl Fn(T) -> u8,
) -> Result<DynamicImage> {
    let n = (w as usize) * (h as usize);
    if v.len() < n.saturating_mul(stride) {
        return Err(corrupt(
            Format::Tiff,
            "pixel data shorter than the page size",
        ));
    }
    let mut out = Vec::with_capacity(n * 3);
    for p in v.chunks_exact(stride).take(n) {
        let k = 255 - u32::from(to8(p[3]));
        for &c in &p[..3] {
            out.push(((255 - u32::from(to8(c))) * k / 255) as u8);
        }
    }
    RgbImage::from_raw(w, h, out)
        .map(DynamicImage::ImageRgb8)
        .ok_or_else(|| corrupt(Format::Tiff, "pixel data shorter than the page size"))
}

/// Full-range BT.601 YCbCr -> RGB (JPEG-compressed TIFFs keep YCbCr samples).
fn ycbcr_to_rgb(w: u32, h: u32, v: &[u8]) -> Result<DynamicImage> {
    let n = (w as usize) * (h as usize);
    if v.len() < n.saturating_mul(3) {
        return Err(corrupt(
            Format::Tiff,
            "pixel data shorter than the page size",
        ));
    }
    let mut out = Vec::with_capacity(n * 3);
    for p in v.chunks_exact(3).take(n) {
        let (y, cb, cr) = (
            f32::from(p[0]),
            f32::from(p[1]) - 128.0,
            f32::from(p[2]) - 128.0,
        );
        let clamp = |x: f32| x.round().clamp(0.0, 255.0) as u8;
        out.extend_from_slice(&[
            clamp(y + 1.402 * cr),
            clamp(y - 0.344_136 * cb - 0.714_136 * cr),
            clamp(y + 1.772 * cb),
        ]);
    }
    RgbImage::from_raw(w, h, out)
        .map(DynamicImage::ImageRgb8)
        .ok_or_else(|| corrupt(Format::Tiff, "pixel data shorter than the page size"))
}

/// Maps a `tiff` error: unsupported features -> Unsupported, decoder limits -> LimitExceeded,
/// everything else (format errors, reads past the end) -> Corrupt.
fn map_tiff_error(err: TiffError, limits: &DecodeLimits) -> OcrError {
    match err {
        TiffError::UnsupportedError(e) => OcrError::Unsupported {
            format: "TIFF",
            detail: e.to_string(),
        },
        TiffError::LimitsExceeded => {
            let limit = limits.max_page_pixels.saturating_mul(8);
            OcrError::LimitExceeded {
                what: "decoder memory bytes",
                actual: limit.saturating_add(1),
                limit,
            }
        }
        TiffError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            corrupt(Format::Tiff, "truncated file")
        }
        other => corrupt(Format::Tiff, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;
    use crate::decode::tests::tiff_1bit;
    use ::tiff::encoder::{Rational, TiffEncoder, colortype};
    use ::tiff::tags::ResolutionUnit;

    fn gray8_tiff(pages: usize) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut enc = TiffEncoder::new(&mut out).expect("encoder");
        for page in 0..pages {
            let (w, h) = (30 + page as u32, 20);
            let data: Vec<u8> = (0..w * h)
                .map(|i| if i % w < 10 { 0 } else { 255 })
                .collect();
            let mut img = enc.new_image::<colortype::Gray8>(w, h).expect("image");
            img.resolution(ResolutionUnit::Inch, Rational { n: 300, d: 1 });
            img.write_data(&data).expect("write");
        }
        out.into_inner()
    }

    #[test]
    fn eight_bit_gray_with_resolution() {
        let pages = decode(&gray8_tiff(1), &DecodeLimits::default()).expect("decode");
        assert_eq!(pages.len(), 1);
        let DynamicImage::ImageLuma8(img) = &pages[0].image else {
            panic!("expected Luma8");
        };
        assert_eq!(img.dimensions(), (30, 20));
        assert_eq!(img.get_pixel(0, 0).0, [0]);
        assert_eq!(img.get_pixel(29, 19).0, [255]);
        assert_eq!(pages[0].dpi, Some(300.0));
    }

    #[test]
    fn multi_page_tiff_gives_every_page_in_order() {
        let pages = decode(&gray8_tiff(3), &DecodeLimits::default()).expect("decode");
        assert_eq!(pages.len(), 3);
        for (i, page) in pages.iter().enumerate() {
            assert_eq!(page.index, i);
            assert_eq!(page.image.width(), 30 + i as u32);
        }
    }

    #[test]
    fn a_reader_sizes_pages_from_headers_and_decodes_any_page_on_demand() {
        let bytes = bytes::Bytes::from(gray8_tiff(3));
        let mut reader =
            crate::decode::PageReader::open(bytes, &DecodeLimits::default()).expect("open");
        assert_eq!(reader.format(), Format::Tiff);
        assert_eq!(reader.page_count(), 3);
        assert_eq!(
            (0..4).map(|i| reader.page_pixels(i)).collect::<Vec<_>>(),
            [600, 620, 640, 0]
        );
        // Backwards, and twice: each read seeks to its own IFD.
        for i in [2, 0, 1, 2] {
            let page = reader.read_page(i).expect("page");
            assert_eq!((page.index, page.image.width()), (i, 30 + i as u32));
        }
        assert!(matches!(reader.read_page(3), Err(OcrError::Internal(_))));
    }

    #[test]
    fn sixteen_bit_gray_and_rgb_become_eight_bit() {
        let mut out = Cursor::new(Vec::new());
        let mut enc = TiffEncoder::new(&mut out).expect("encoder");
        enc.write_image::<colortype::Gray16>(4, 2, &[0, 65535, 32768, 0, 0, 0, 0, 65535])
            .expect("gray16");
        enc.write_image::<colortype::RGB16>(2, 1, &[65535, 0, 0, 0, 0, 65535])
            .expect("rgb16");
        enc.write_image::<colortype::RGBA8>(1, 1, &[0, 0, 0, 0])
            .expect("rgba8");
        enc.write_image::<colortype::CMYK8>(1, 1, &[0, 255, 255, 0])
            .expect("cmyk8");
        let pages = decode(&out.into_inner(), &DecodeLimits::default()).expect("decode");
        let DynamicImage::ImageLuma8(g) = &pages[0].image else {
            panic!("expected Luma8");
        };
        let g3 = &g.as_raw()[..3];
        assert_eq!(g3[..2], [0, 255]);
        assert!((127..=128).contains(&g3[2]), "{g3:?}");
        let DynamicImage::ImageRgb8(c) = &pages[1].image else {
            panic!("expected Rgb8");
        };
        assert_eq!(c.as_raw().as_slice(), &[255, 0, 0, 0, 0, 255]);
        assert_eq!(
            pages[2].image.to_rgb8().as_raw().as_slice(),
            &[255, 255, 255]
        );
        assert_eq!(pages[3].image.to_rgb8().as_raw().as_slice(), &[255, 0, 0]);
    }

    #[test]
    fn bilevel_is_dark_text_on_light_for_both_photometrics() {
        // 10x2, first pixel of each row is ink, the rest paper.
        for white_is_zero in [true, false] {
            let (ink, paper) = if white_is_zero { (1u8, 0u8) } else { (0, 1) };
            let row = |first: u8, rest: u8| -> [u8; 2] {
                let mut bits = [0u8; 2];
                for x in 0..10 {
                    let v = if x == 0 { first } else { rest };
                    bits[x / 8] |= v << (7 - x % 8);
                }
                bits
            };
            let mut data = row(ink, paper).to_vec();
            data.extend_from_slice(&row(ink, paper));
            let bytes = tiff_1bit(10, 2, &data, if white_is_zero { 0 } else { 1 });
            let pages = decode(&bytes, &DecodeLimits::default()).expect("decode");
            let DynamicImage::ImageLuma8(img) = &pages[0].image else {
                panic!("expected Luma8");
            };
            assert_eq!(img.dimensions(), (10, 2));
            assert_eq!(
                img.get_pixel(0, 1).0,
                [0],
                "ink is black (wiz={white_is_zero})"
            );
            assert_eq!(
                img.get_pixel(9, 1).0,
                [255],
                "paper is white (wiz={white_is_zero})"
            );
            assert_eq!(pages[0].dpi, Some(200.0));
        }
    }

    #[test]
    fn unpack_two_and_four_bit_gray() {
        let img = unpack_gray(3, 1, 2, &[0b00_01_11_00]).expect("unpack");
        assert_eq!(img.as_raw().as_slice(), &[0, 85, 255]);
        let img = unpack_gray(3, 1, 4, &[0x0F, 0x80]).expect("unpack");
        assert_eq!(img.as_raw().as_slice(), &[0, 255, 136]);
        assert!(unpack_gray(9, 2, 1, &[0; 3]).is_none(), "short buffer");
    }
}
