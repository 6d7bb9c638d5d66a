//! Tests of the decode entry points: sniffing and the bad-input corpus, plus the hand-built
//! fixtures (CRC-correct PNG chunks, a 1-bit TIFF, minimal PDFs) the format tests share.

use std::io::Cursor;
use std::time::Instant;

use image::{DynamicImage, ImageFormat, RgbImage};

use super::*;

/// CRC-32 (IEEE) as PNG chunks use it.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Appends one little-endian TIFF IFD entry holding a single value.
fn ifd_entry(b: &mut Vec<u8>, tag: u16, kind: u16, value: u32) {
    b.extend_from_slice(&tag.to_le_bytes());
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&value.to_le_bytes());
}

/// A little-endian, uncompressed, single-strip 1-bit TIFF at 200 DPI with the given
/// photometric interpretation (0 = WhiteIsZero, 1 = BlackIsZero); `rows` is packed MSB first.
pub(crate) fn tiff_1bit(width: u32, height: u32, rows: &[u8], photometric: u16) -> Vec<u8> {
    const ENTRIES: u16 = 11;
    let ifd_len = 2 + 12 * u32::from(ENTRIES) + 4;
    let res_at = 8 + ifd_len;
    let data_at = res_at + 8;
    let mut b = b"II*\0".to_vec();
    b.extend_from_slice(&8u32.to_le_bytes());
    b.extend_from_slice(&ENTRIES.to_le_bytes());
    let mut entry = |tag: u16, kind: u16, value: u32| ifd_entry(&mut b, tag, kind, value);
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    const RATIONAL: u16 = 5;
    entry(256, LONG, width);
    entry(257, LONG, height);
    entry(258, SHORT, 1); // BitsPerSample
    entry(259, SHORT, 1); // Compression: none
    entry(262, SHORT, u32::from(photometric));
    entry(273, LONG, data_at); // StripOffsets
    entry(277, SHORT, 1); // SamplesPerPixel
    entry(278, LONG, height); // RowsPerStrip
    entry(279, LONG, rows.len() as u32); // StripByteCounts
    entry(282, RATIONAL, res_at); // XResolution
    entry(296, SHORT, 2); // ResolutionUnit: inch
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&200u32.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(rows);
    b
}

/// A PDF with one A4 page per content stream, each with Helvetica as /F1, and a correct xref.
pub(crate) fn minimal_pdf(contents: &[&str]) -> Vec<u8> {
    let n = contents.len();
    // Objects: 1 catalog, 2 pages, 3 font, then (page, content) pairs.
    let mut objects: Vec<String> = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!(
            "<< /Type /Pages /Count {n} /Kids [{}] >>",
            (0..n)
                .map(|i| format!("{} 0 R", 4 + 2 * i))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    for (i, content) in contents.iter().enumerate() {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
             /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref_at = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A full A4 page of 11 pt Helvetica text: 60 lines from baseline 770 pt, 12 pt apart.
pub(crate) fn text_page_content() -> String {
    let mut s = String::from("BT /F1 11 Tf 12 TL 72 770 Td\n");
    for line in 0..60 {
        s.push_str(&format!(
            "(Line {line}: The quick brown fox jumps over the lazy dog 0123456789.) Tj T*\n"
        ));
    }
    s.push_str("ET");
    s
}

fn sample_png() -> Vec<u8> {
    let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(200, 100, image::Rgb([200, 10, 10])));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).expect("png");
    out.into_inner()
}

fn sample(format: ImageFormat) -> Vec<u8> {
    let mut img = RgbImage::new(300, 200);
    for (x, y, p) in img.enumerate_pixels_mut() {
        *p = image::Rgb([
            (x * 7 % 256) as u8,
            (y * 13 % 256) as u8,
            ((x ^ y) % 256) as u8,
        ]);
    }
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .expect("encode");
    out.into_inner()
}

fn expect_corrupt(bytes: &[u8], format: &str) {
    match decode(bytes, &DecodeLimits::default()) {
        Err(OcrError::Corrupt { format: f, .. }) if f == format => {}
        other => panic!(
            "expected Corrupt {format}, got {:?}",
            other.map(|p| p.len())
        ),
    }
}

#[test]
fn sniff_recognises_every_magic() {
    let cases: [(&[u8], Format); 10] = [
        (b"\x89PNG\r\n\x1a\n....", Format::Png),
        (b"\xff\xd8\xff\xe0", Format::Jpeg),
        (b"II*\0\x08\0\0\0", Format::Tiff),
        (b"MM\0*\0\0\0\x08", Format::Tiff),
        (b"II+\0\x08\0\0\0", Format::Tiff),
        (b"BM\0\0\0\0\0\0\0\0\0\0\0\0\x28\0\0\0", Format::Bmp),
        (b"RIFF\0\0\0\0WEBPVP8L", Format::WebP),
        (b"P5\n3 3\n255\n", Format::Pnm),
        (b"%PDF-1.7\n", Format::Pdf),
        (
            b"\xef\xbb\xbf junk before the header %PDF-1.4\n",
            Format::Pdf,
        ),
    ];
    for (bytes, format) in cases {
        assert_eq!(sniff(bytes).expect("sniff"), format, "{bytes:?}");
    }
}

#[test]
fn sniff_describes_unknown_input() {
    assert!(matches!(sniff(b""), Err(OcrError::Empty)));
    let Err(OcrError::UnknownFormat { detail }) = sniff(b"hello world\n") else {
        panic!("text must be unknown");
    };
    assert!(
        detail.contains("text") && detail.contains("hello"),
        "{detail}"
    );
    let Err(OcrError::UnknownFormat { detail }) = sniff(b"GIF89a\x01\x00") else {
        panic!("GIF must be unknown");
    };
    assert!(detail.contains("GIF"), "{detail}");
    let Err(OcrError::UnknownFormat { detail }) = sniff(&[0u8, 1, 2, 0xfe, 0xff]) else {
        panic!("binary must be unknown");
    };
    assert!(detail.contains("00 01 02 fe ff"), "{detail}");
    assert!(sniff(b"BMW is a car, not a bitmap").is_err());
    assert!(sniff(b"P5x").is_err());
}

#[test]
fn empty_and_text_input() {
    assert!(matches!(
        decode(b"", &DecodeLimits::default()),
        Err(OcrError::Empty)
    ));
    let err = decode(b"hello world\n", &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, OcrError::UnknownFormat { .. }), "{err}");
    assert_eq!(err.kind(), crate::ErrorKind::BadInput);
}

#[test]
fn truncated_files_are_corrupt() {
    let png = sample_png();
    expect_corrupt(&png[..png.len() / 2], "PNG");
    expect_corrupt(&png[..20], "PNG");
    let jpeg = sample(ImageFormat::Jpeg);
    expect_corrupt(&jpeg[..jpeg.len() / 2], "JPEG");
    expect_corrupt(&jpeg[..jpeg.len() - 2], "JPEG");
    let mut tiff = Cursor::new(Vec::new());
    let gray: Vec<u8> = (0..100 * 80).map(|i| (i % 251) as u8).collect();
    ::tiff::encoder::TiffEncoder::new(&mut tiff)
        .expect("encoder")
        .write_image::<::tiff::encoder::colortype::Gray8>(100, 80, &gray)
        .expect("tiff");
    let tiff = tiff.into_inner();
    expect_corrupt(&tiff[..tiff.len() / 2], "TIFF");
    expect_corrupt(&tiff[..tiff.len() - 20], "TIFF");
    for format in [ImageFormat::Bmp, ImageFormat::WebP, ImageFormat::Pnm] {
        let bytes = sample(format);
        let name = sniff(&bytes).expect("sniff").name();
        expect_corrupt(&bytes[..bytes.len() / 2], name);
    }
}

#[test]
fn png_bomb_header_fails_fast_without_allocating() {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    png.extend_from_slice(&0u32.to_be_bytes());
    png.extend_from_slice(b"IEND");
    png.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    let start = Instant::now();
    let err = decode(&png, &DecodeLimits::default()).unwrap_err();
    assert!(
        start.elapsed().as_millis() < 50,
        "took {:?}",
        start.elapsed()
    );
    assert!(
        matches!(
            err,
            OcrError::LimitExceeded {
                what: "page pixels",
                actual: 10_000_000_000,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.kind(), crate::ErrorKind::TooLarge);
}

#[test]
fn pdf_header_followed_by_garbage_is_corrupt() {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    expect_corrupt(&bytes, "PDF");
    expect_corrupt(b"%PDF-1.4", "PDF");
    // A structurally valid PDF cut in half loses its xref and page objects.
    let pdf = minimal_pdf(&["0 0 0 rg 0 0 10 10 re f"]);
    expect_corrupt(&pdf[..40], "PDF");
}

/// A TIFF bomb: `pages` pages of `side` x `side` 1-bit pixels (header claims) whose IFDs all
/// point at one tiny strip, a few hundred bytes a page.
fn tiff_bomb(pages: u32, side: u32) -> Vec<u8> {
    const ENTRIES: u16 = 8;
    let ifd_len = 2 + 12 * u32::from(ENTRIES) + 4;
    let data_at = 8 + pages * ifd_len;
    let mut b = b"II*\0".to_vec();
    b.extend_from_slice(&8u32.to_le_bytes());
    for i in 0..pages {
        b.extend_from_slice(&ENTRIES.to_le_bytes());
        let mut entry = |tag: u16, kind: u16, value: u32| ifd_entry(&mut b, tag, kind, value);
        entry(256, 4, side);
        entry(257, 4, side);
        entry(258, 3, 1); // BitsPerSample
        entry(259, 3, 32773); // PackBits
        entry(262, 3, 0);
        entry(273, 4, data_at); // every page's strip is the same bytes
        entry(278, 4, side);
        entry(279, 4, 4);
        let next = if i + 1 < pages {
            8 + (i + 1) * ifd_len
        } else {
            0
        };
        b.extend_from_slice(&next.to_le_bytes());
    }
    b.extend_from_slice(&[0x81, 0x00, 0x81, 0x00]);
    b
}

#[test]
fn a_tiff_bomb_is_refused_from_its_headers() {
    // 200 pages of 10000 x 10000 pixels in 20 KB: 20 gigapixels if decoded.
    let bomb = tiff_bomb(200, 10_000);
    assert!(bomb.len() < 40_000, "{}", bomb.len());
    let err = decode(&bomb, &DecodeLimits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            OcrError::LimitExceeded {
                what: "document pixels",
                actual: 20_000_000_000,
                ..
            }
        ),
        "{err:?}"
    );
    // Within budget, the same structure is counted page by page, then decoded.
    let small = tiff_bomb(3, 8);
    let limits = DecodeLimits {
        max_page_pixels: 64,
        max_document_pixels: 150,
        ..DecodeLimits::default()
    };
    assert!(matches!(
        decode(&small, &limits).unwrap_err(),
        OcrError::LimitExceeded {
            what: "document pixels",
            actual: 192,
            limit: 150,
        }
    ));
    let limits = DecodeLimits {
        max_document_pixels: 192,
        ..limits
    };
    assert_eq!(decode(&small, &limits).expect("decodes").len(), 3);
}

#[test]
fn page_limit_is_checked_on_multi_page_tiff() {
    let mut out = Cursor::new(Vec::new());
    let mut enc = ::tiff::encoder::TiffEncoder::new(&mut out).expect("encoder");
    for _ in 0..3 {
        enc.write_image::<::tiff::encoder::colortype::Gray8>(8, 8, &[128; 64])
            .expect("page");
    }
    let tiff = out.into_inner();
    let limits = DecodeLimits {
        max_pages: 2,
        ..DecodeLimits::default()
    };
    let err = decode(&tiff, &limits).unwrap_err();
    assert!(
        matches!(
            err,
            OcrError::LimitExceeded {
                what: "pages",
                actual: 3,
                limit: 2
            }
        ),
        "{err}"
    );
    assert_eq!(
        decode(&tiff, &DecodeLimits::default())
            .expect("decode")
            .len(),
        3
    );
}

#[test]
fn byte_and_pixel_limits() {
    let png = sample_png();
    let limits = DecodeLimits {
        max_bytes: 100,
        ..DecodeLimits::default()
    };
    let err = decode(&png, &limits).unwrap_err();
    assert!(
        matches!(
            err,
            OcrError::LimitExceeded {
                what: "bytes",
                limit: 100,
                ..
            }
        ),
        "{err}"
    );
    let limits = DecodeLimits {
        max_page_pixels: 19_999,
        ..DecodeLimits::default()
    };
    let err = decode(&png, &limits).unwrap_err();
    assert!(
        matches!(
            err,
            OcrError::LimitExceeded {
                what: "page pixels",
                actual: 20_000,
                ..
            }
        ),
        "{err}"
    );
    let limits = DecodeLimits {
        max_page_pixels: 20_000,
        ..DecodeLimits::default()
    };
    assert!(decode(&png, &limits).is_ok());
    let limits = DecodeLimits {
        max_pages: 0,
        ..DecodeLimits::default()
    };
    assert!(matches!(
        decode(&png, &limits),
        Err(OcrError::LimitExceeded { what: "pages", .. })
    ));
}

#[test]
fn corrupted_bytes_never_panic() {
    // Flip bytes all over valid files of every format: any result is fine, a panic is not
    // (decode catches decoder panics, so this checks that the guard covers every path).
    let files = [
        sample(ImageFormat::Png),
        sample(ImageFormat::Jpeg),
        sample(ImageFormat::Bmp),
        sample(ImageFormat::WebP),
        sample(ImageFormat::Tiff),
        minimal_pdf(&["0 0 0 rg 10 10 100 100 re f"]),
    ];
    let limits = DecodeLimits {
        max_page_pixels: 4_000_000,
        ..DecodeLimits::default()
    };
    for file in &files {
        for step in [7usize, 31, 97] {
            let mut bad = file.clone();
            for i in (16..bad.len()).step_by(step) {
                bad[i] ^= 0x5A;
            }
            let _ = decode(&bad, &limits);
        }
    }
}
