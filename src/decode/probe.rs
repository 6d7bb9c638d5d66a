//! Cheap header probes: page size and DPI read straight from the file's bytes.
//!
//! They run before any decoder so that a file whose header claims a huge page is refused with
//! [`OcrError::LimitExceeded`] without allocating (even when the rest of the file is missing),
//! and so that DPI can be read where the `image` decoders do not expose it (PNG pHYs, JPEG JFIF
//! density, BMP pixels-per-metre). The JPEG probe also walks the marker chain to the
//! end-of-image marker, because the JPEG decoder silently pads truncated scans.

use super::{Format, corrupt};
use crate::error::{OcrError, Result};

/// What a header says about a page.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct HeaderInfo {
    /// Width and height in pixels as stored (before any EXIF rotation), when known.
    pub dims: Option<(u32, u32)>,
    /// Resolution in dots per inch, when stored.
    pub dpi: Option<f32>,
}

/// Probes the header of a raster `format`; formats without a probe return an empty info.
pub(super) fn probe(bytes: &[u8], format: Format) -> Result<HeaderInfo> {
    match format {
        Format::Png => probe_png(bytes),
        Format::Jpeg => probe_jpeg(bytes),
        Format::Bmp => probe_bmp(bytes),
        _ => Ok(HeaderInfo::default()),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// A plausible DPI value, or `None`.
fn sane_dpi(dpi: f32) -> Option<f32> {
    (dpi.is_finite() && (10.0..=100_000.0).contains(&dpi)).then_some(dpi)
}

/// PNG: IHDR is the first chunk at a fixed offset; pHYs (if any) precedes the first IDAT.
fn probe_png(b: &[u8]) -> Result<HeaderInfo> {
    let truncated = || corrupt(Format::Png, "truncated before the end of the IHDR header");
    if be32(b, 8).ok_or_else(truncated)? != 13 || b.get(12..16) != Some(b"IHDR".as_slice()) {
        return Err(corrupt(Format::Png, "first chunk is not IHDR"));
    }
    let width = be32(b, 16).ok_or_else(truncated)?;
    let height = be32(b, 20).ok_or_else(truncated)?;
    if width == 0 || height == 0 {
        return Err(corrupt(
            Format::Png,
            format!("zero image size {width}x{height}"),
        ));
    }
    let mut dpi = None;
    let mut pos = 8usize;
    // `be32` succeeding means `pos + 4 <= b.len()`, so the additions below cannot overflow.
    while let Some(len) = be32(b, pos) {
        let Some(kind) = b.get(pos + 4..pos + 8) else {
            break;
        };
        match kind {
            b"IDAT" | b"IEND" => break,
            b"pHYs" if len == 9 => {
                // pixels per unit X, pixels per unit Y, unit (1 = metre).
                if let (Some(ppu), Some(1)) = (be32(b, pos + 8), b.get(pos + 16).copied()) {
                    dpi = sane_dpi(ppu as f32 * 0.0254);
                }
                break;
            }
            _ => {}
        }
        pos = pos.saturating_add(12).saturating_add(len as usize);
    }
    Ok(HeaderInfo {
        dims: Some((width, height)),
        dpi,
    })
}

/// JPEG: walks the marker segments (skipping entropy-coded data) to the end-of-image marker,
/// taking the size from the first SOF and the density from a JFIF APP0.
fn probe_jpeg(b: &[u8]) -> Result<HeaderInfo> {
    let mut info = HeaderInfo::default();
    let mut pos = 2usize; // after SOI
    loop {
        // Stray bytes between segments are skipped (as libjpeg does, with a warning), and a
        // marker may be preceded by any number of 0xFF fill bytes.
        if b.get(pos).is_some_and(|&x| x != 0xFF) {
            pos = b[pos..]
                .iter()
                .position(|&x| x == 0xFF)
                .map_or(b.len(), |off| pos + off);
        }
        while b.get(pos) == Some(&0xFF) && b.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (b.get(pos), b.get(pos + 1)) else {
            return Err(corrupt(Format::Jpeg, "truncated: no end-of-image marker"));
        };
        match marker {
            0xD9 => break,
            0xD0..=0xD8 | 0x01 => {
                pos += 2;
                continue;
            }
            _ => {}
        }
        let seg_len = be16(b, pos + 2)
            .ok_or_else(|| corrupt(Format::Jpeg, "truncated inside a marker segment"))?
            as usize;
        if seg_len < 2 {
            return Err(corrupt(Format::Jpeg, "invalid marker segment length"));
        }
        let seg = b
            .get(pos + 4..pos + 2 + seg_len)
            .ok_or_else(|| corrupt(Format::Jpeg, "truncated inside a marker segment"))?;
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) && info.dims.is_none() => {
                let (Some(h), Some(w)) = (be16(seg, 1), be16(seg, 3)) else {
                    return Err(corrupt(Format::Jpeg, "short frame header"));
                };
                info.dims = Some((u32::from(w), u32::from(h)));
            }
            0xE0 if seg.starts_with(b"JFIF\0") && info.dpi.is_none() => {
                if let (Some(&unit), Some(x)) = (seg.get(7), be16(seg, 8)) {
                    info.dpi = match unit {
                        1 => sane_dpi(f32::from(x)),
                        2 => sane_dpi(f32::from(x) * 2.54),
                        _ => None,
                    };
                }
            }
            _ => {}
        }
        pos += 2 + seg_len;
        if marker == 0xDA {
            pos = skip_entropy_data(b, pos);
        }
    }
    if info.dims.is_none() {
        return Err(corrupt(
            Format::Jpeg,
            "no frame header (SOF) before end of image",
        ));
    }
    Ok(info)
}

/// The frame size (width, height) a JPEG stream's SOF claims, read from the marker segments
/// before the first scan; `None` when there is no frame header there. Unlike [`probe`] it needs
/// no end-of-image marker: it sizes JPEG streams embedded in other files (PDF images).
pub(super) fn jpeg_frame_dims(b: &[u8]) -> Option<(u32, u32)> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut pos = 2usize;
    loop {
        while b.get(pos) == Some(&0xFF) && b.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let (&0xFF, &marker) = (b.get(pos)?, b.get(pos + 1)?) else {
            return None;
        };
        match marker {
            0xD9 | 0xDA => return None,
            0xD0..=0xD8 | 0x01 => {
                pos += 2;
                continue;
            }
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let (h, w) = (be16(b, pos + 5)?, be16(b, pos + 7)?);
                return Some((u32::from(w), u32::from(h)));
            }
            _ => pos += 2 + usize::from(be16(b, pos + 2)?),
        }
    }
}

/// Returns the position of the first marker after entropy-coded data starting at `pos` (a
/// 0xFF not followed by a stuffed 0x00 or a restart marker), or `b.len()` if there is none.
fn skip_entropy_data(b: &[u8], mut pos: usize) -> usize {
    while let Some(off) = b
        .get(pos..)
        .and_then(|rest| rest.iter().position(|&x| x == 0xFF))
    {
        let at = pos + off;
        match b.get(at + 1) {
            None => return b.len(),
            Some(0x00 | 0xD0..=0xD7 | 0xFF) => pos = at + 1,
            Some(_) => return at,
        }
    }
    b.len()
}

/// BMP: DIB header with the size (signed; negative height means top-down) and pixels/metre.
fn probe_bmp(b: &[u8]) -> Result<HeaderInfo> {
    let truncated = || corrupt(Format::Bmp, "truncated header");
    let dib = le32(b, 14).ok_or_else(truncated)?;
    let (width, height) = if dib == 12 {
        let w = b.get(18..20).ok_or_else(truncated)?;
        let h = b.get(20..22).ok_or_else(truncated)?;
        (
            i64::from(u16::from_le_bytes([w[0], w[1]])),
            i64::from(u16::from_le_bytes([h[0], h[1]])),
        )
    } else {
        (
            i64::from(le32(b, 18).ok_or_else(truncated)? as i32),
            i64::from(le32(b, 22).ok_or_else(truncated)? as i32),
        )
    };
    let height = height.abs();
    if width <= 0 || height == 0 {
        return Err(corrupt(
            Format::Bmp,
            format!("invalid image size {width}x{height}"),
        ));
    }
    let dpi = if dib >= 40 {
        le32(b, 38).and_then(|ppm| sane_dpi(ppm as i32 as f32 * 0.0254))
    } else {
        None
    };
    let to_u32 = |v: i64| {
        u32::try_from(v).map_err(|_| OcrError::LimitExceeded {
            what: "page pixels",
            actual: u64::try_from(v).unwrap_or(u64::MAX),
            limit: u64::from(u32::MAX),
        })
    };
    Ok(HeaderInfo {
        dims: Some((to_u32(width)?, to_u32(height)?)),
        dpi,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_entropy_skip_ignores_stuffed_bytes_and_restarts() {
        let data = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56, 0xFF, 0xD9];
        assert_eq!(skip_entropy_data(&data, 0), 7);
        assert_eq!(skip_entropy_data(&data[..7], 0), 7);
    }

    #[test]
    fn jpeg_frame_size_is_read_without_the_rest_of_the_stream() {
        // SOI, APP0 (4 bytes), SOF0 claiming 65000 x 60000, then nothing.
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00];
        b.extend([0xFF, 0xC0, 0x00, 0x11, 8]);
        b.extend(60000u16.to_be_bytes());
        b.extend(65000u16.to_be_bytes());
        assert_eq!(jpeg_frame_dims(&b), Some((65000, 60000)));
        assert_eq!(jpeg_frame_dims(&b[..6]), None);
        assert_eq!(jpeg_frame_dims(b"not a jpeg"), None);
    }

    #[test]
    fn jpeg_without_eoi_is_truncated() {
        // SOI, SOF0 (8x4), SOS, some scan data, no EOI.
        let mut b = vec![0xFF, 0xD8];
        b.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8, 0, 4, 0, 8, 1, 1, 0x11, 0]);
        b.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0, 0x12, 0x34]);
        let err = probe(&b, Format::Jpeg).unwrap_err();
        assert!(
            matches!(err, OcrError::Corrupt { format: "JPEG", .. }),
            "{err}"
        );
        b.extend_from_slice(&[0xFF, 0xD9]);
        let info = probe(&b, Format::Jpeg).unwrap();
        assert_eq!(info.dims, Some((8, 4)));
    }

    #[test]
    fn bmp_negative_height_is_top_down() {
        let mut b = vec![0u8; 54];
        b[..2].copy_from_slice(b"BM");
        b[14..18].copy_from_slice(&40u32.to_le_bytes());
        b[18..22].copy_from_slice(&7i32.to_le_bytes());
        b[22..26].copy_from_slice(&(-5i32).to_le_bytes());
        b[38..42].copy_from_slice(&11811i32.to_le_bytes()); // 300 dpi
        let info = probe(&b, Format::Bmp).unwrap();
        assert_eq!(info.dims, Some((7, 5)));
        let dpi = info.dpi.unwrap();
        assert!((dpi - 300.0).abs() < 0.1, "{dpi}");
    }
}
