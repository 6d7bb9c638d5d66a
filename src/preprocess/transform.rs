//! Coordinate mapping between the prepared page and the original decoded image.
//!
//! `preprocess` first resamples the original by `scale` (to the size the text is analysed at),
//! rotates it clockwise by `rotation` (exact quarter turns, see [`super::rotate_quarter`]), then
//! rotates that image by `-skew_degrees` about its centre ([`super::rotate_bilinear`]). Coordinates here are continuous: pixel `(i, j)` covers
//! `[i, i+1) x [j, j+1)`, so box edges map directly.

use crate::geometry::BBox;

use super::PageTransform;

/// Size of a `width` x `height` image resampled by `scale` (rounded, at least 1 x 1).
pub fn scaled_size(width: u32, height: u32, scale: f32) -> (u32, u32) {
    if scale == 1.0 {
        return (width, height);
    }
    let r = |v: u32| ((v as f64 * scale as f64).round() as u32).max(1);
    (r(width), r(height))
}

impl PageTransform {
    /// The transform of a page that was neither rotated nor deskewed.
    pub fn identity(width: u32, height: u32) -> PageTransform {
        PageTransform {
            original_width: width,
            original_height: height,
            rotation: 0,
            skew_degrees: 0.0,
            scale: 1.0,
            width,
            height,
        }
    }

    /// The transform for an original of `width` x `height` rotated clockwise by `rotation`
    /// (0/90/180/270) and then deskewed by `skew_degrees` (the prepared size follows).
    pub fn new(width: u32, height: u32, rotation: u32, skew_degrees: f32) -> PageTransform {
        Self::scaled(width, height, 1.0, rotation, skew_degrees)
    }

    /// [`Self::new`] for an original first resampled by `scale` (prepared pixels per original
    /// pixel; the resampled size is [`scaled_size`]).
    pub fn scaled(
        width: u32,
        height: u32,
        scale: f32,
        rotation: u32,
        skew_degrees: f32,
    ) -> PageTransform {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        let rotation = ((rotation % 360) / 90) * 90;
        let (sw, sh) = scaled_size(width, height, scale);
        let (pw, ph) = if rotation % 180 == 90 {
            (sh, sw)
        } else {
            (sw, sh)
        };
        PageTransform {
            original_width: width,
            original_height: height,
            rotation,
            skew_degrees: if skew_degrees.is_finite() {
                skew_degrees
            } else {
                0.0
            },
            scale,
            width: pw,
            height: ph,
        }
    }

    /// Size of the resampled original (before the quarter turn).
    fn scaled_dims(&self) -> (u32, u32) {
        scaled_size(self.original_width, self.original_height, self.scale)
    }

    /// Original pixels per resampled pixel along x and y (exact for the rounded sizes).
    fn unscale(&self) -> (f32, f32) {
        let (sw, sh) = self.scaled_dims();
        (
            self.original_width as f32 / sw.max(1) as f32,
            self.original_height as f32 / sh.max(1) as f32,
        )
    }

    /// Map a point of the prepared page to the original image (not clamped).
    pub fn to_original(&self, x: f32, y: f32) -> (f32, f32) {
        // Undo the deskew: the prepared pixel at p shows the rotated page at R(skew)(p - c) + c.
        let (qx, qy) = if self.skew_degrees != 0.0 {
            let (s, c) = self.skew_degrees.to_radians().sin_cos();
            let (cx, cy) = (self.width as f32 / 2.0, self.height as f32 / 2.0);
            let (dx, dy) = (x - cx, y - cy);
            (cx + dx * c - dy * s, cy + dx * s + dy * c)
        } else {
            (x, y)
        };
        // Undo the quarter turn, then the resampling.
        let (sw, sh) = self.scaled_dims();
        let (w, h) = (sw as f32, sh as f32);
        let (x, y) = match self.rotation {
            90 => (qy, h - qx),
            180 => (w - qx, h - qy),
            270 => (w - qy, qx),
            _ => (qx, qy),
        };
        if self.scale == 1.0 {
            return (x, y);
        }
        let (ux, uy) = self.unscale();
        (x * ux, y * uy)
    }

    /// Map a point of the original image to the prepared page (inverse of [`Self::to_original`]).
    pub fn from_original(&self, x: f32, y: f32) -> (f32, f32) {
        let (x, y) = if self.scale == 1.0 {
            (x, y)
        } else {
            let (ux, uy) = self.unscale();
            (x / ux, y / uy)
        };
        let (sw, sh) = self.scaled_dims();
        let (w, h) = (sw as f32, sh as f32);
        let (qx, qy) = match self.rotation {
            90 => (h - y, x),
            180 => (w - x, h - y),
            270 => (y, w - x),
            _ => (x, y),
        };
        if self.skew_degrees == 0.0 {
            return (qx, qy);
        }
        let (s, c) = self.skew_degrees.to_radians().sin_cos();
        let (cx, cy) = (self.width as f32 / 2.0, self.height as f32 / 2.0);
        let (dx, dy) = (qx - cx, qy - cy);
        // Inverse of R(skew): R(-skew).
        (cx + dx * c + dy * s, cy - dx * s + dy * c)
    }

    /// Map a box of the prepared page to the original image: the bounding box of its four
    /// mapped corners, clamped to the original size.
    pub fn map_box(&self, b: BBox) -> BBox {
        let corners = [
            (b.x0 as f32, b.y0 as f32),
            (b.x1 as f32, b.y0 as f32),
            (b.x0 as f32, b.y1 as f32),
            (b.x1 as f32, b.y1 as f32),
        ];
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for (x, y) in corners {
            let (ox, oy) = self.to_original(x, y);
            x0 = x0.min(ox);
            y0 = y0.min(oy);
            x1 = x1.max(ox);
            y1 = y1.max(oy);
        }
        // Snap values within float noise of an integer before rounding outwards.
        let lo = |v: f32, max: u32| ((v + 1e-3).floor().max(0.0) as u32).min(max);
        let hi = |v: f32, max: u32| ((v - 1e-3).ceil().max(0.0) as u32).min(max);
        let (w, h) = (self.original_width, self.original_height);
        BBox::new(lo(x0, w), lo(y0, h), hi(x1, w), hi(y1, h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::deskew::rotate_bilinear;
    use crate::preprocess::orientation::rotate_quarter;
    use crate::preprocess::scale::resample;
    use image::{GrayImage, Luma};

    #[test]
    fn points_round_trip() {
        for (rot, scale) in [0u32, 90, 180, 270]
            .into_iter()
            .zip([1.0f32, 2.0, 0.5, 1.7])
        {
            for skew in [0.0f32, 2.5, -11.0] {
                let t = PageTransform::scaled(640, 480, scale, rot, skew);
                for &(x, y) in &[
                    (0.0f32, 0.0f32),
                    (100.5, 37.25),
                    (639.0, 479.0),
                    (320.0, 10.0),
                ] {
                    let (px, py) = t.from_original(x, y);
                    let (bx, by) = t.to_original(px, py);
                    assert!(
                        (bx - x).abs() < 1e-3 && (by - y).abs() < 1e-3,
                        "{rot} {scale} {skew}: {x},{y}"
                    );
                }
            }
        }
    }

    #[test]
    fn boxes_map_exactly_without_skew() {
        let t = PageTransform::new(200, 100, 90, 0.0);
        assert_eq!((t.width, t.height), (100, 200));
        // Prepared box near the top-right corner = original top-left corner.
        assert_eq!(
            t.map_box(BBox::new(90, 0, 100, 20)),
            BBox::new(0, 0, 20, 10)
        );
        assert_eq!(
            t.map_box(BBox::new(0, 0, 100, 200)),
            BBox::new(0, 0, 200, 100)
        );
        let id = PageTransform::identity(50, 40);
        assert_eq!(id.map_box(BBox::new(3, 4, 60, 70)), BBox::new(3, 4, 50, 40));
    }

    /// A dark dot drawn in the original image, carried through the same image operations as
    /// `preprocess`, lands where the transform says it does.
    #[test]
    fn transform_matches_the_image_operations() {
        let (w, h) = (300u32, 200u32);
        let (ox, oy) = (61u32, 43u32);
        let mut img = GrayImage::from_pixel(w, h, Luma([255]));
        for y in oy..oy + 3 {
            for x in ox..ox + 3 {
                img.put_pixel(x, y, Luma([0]));
            }
        }
        let dot_centre = (ox as f32 + 1.5, oy as f32 + 1.5);
        for (rot, scale) in [0u32, 90, 180, 270, 0, 90]
            .into_iter()
            .zip([1.0f32, 1.0, 1.0, 1.0, 2.0, 0.5])
        {
            for skew in [0.0f32, 4.0, -9.0] {
                let q = rotate_quarter(&resample(&img, scale), rot);
                let prepared = rotate_bilinear(&q, -skew, 255);
                let t = PageTransform::scaled(w, h, scale, rot, skew);
                assert_eq!((t.width, t.height), prepared.dimensions());
                // Ink-weighted centroid of the dot in the prepared page.
                let (mut sx, mut sy, mut sw) = (0f32, 0f32, 0f32);
                for (x, y, p) in prepared.enumerate_pixels() {
                    let wgt = (255 - p[0]) as f32;
                    sx += wgt * (x as f32 + 0.5);
                    sy += wgt * (y as f32 + 0.5);
                    sw += wgt;
                }
                let (cx, cy) = t.to_original(sx / sw, sy / sw);
                let tol = 0.3 / scale.min(1.0);
                assert!(
                    (cx - dot_centre.0).abs() < tol && (cy - dot_centre.1).abs() < tol,
                    "rot {rot} scale {scale} skew {skew}: ({cx}, {cy}) vs {dot_centre:?}"
                );
                // The box around the dot maps onto a box containing the original dot.
                let (px, py) = (sx / sw, sy / sw);
                let r = (2.0 * scale).ceil() as u32;
                let b = BBox::new(
                    px as u32 - r,
                    py as u32 - r,
                    px as u32 + r + 1,
                    py as u32 + r + 1,
                );
                let m = t.map_box(b);
                assert!(
                    m.x0 <= ox + 1 && m.y0 <= oy + 1 && m.x1 >= ox + 2 && m.y1 >= oy + 2,
                    "{m:?}"
                );
            }
        }
    }
}
