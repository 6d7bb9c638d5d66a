//! The other views of a line (its geometry only): the same page window read a little wider, or
//! framed with a little more paper above and below. [`crate::recognize::views`] says when a
//! line is read under them and how the readings are compared; normalisation draws them
//! ([`super::normalize::normalize_line_with_views`], and the GPU twin).

use super::normalize::{LINE_HEIGHT, LineGeometry};

/// How many views a line carries for its second look.
pub const SECOND_LOOK_VIEWS: usize = 2;

/// Horizontal stretch of the wider view.
const STRETCH: f32 = 1.1;
/// Extra window above and below of the looser view, as a fraction of the window's height.
const LOOSEN: f32 = 0.1;

impl LineGeometry {
    /// Width of the source window in page pixels.
    fn source_width(&self) -> f32 {
        self.out_width as f32 / self.scale_x
    }

    /// The same window read `factor` times wider (more model columns per character).
    pub fn stretched(&self, factor: f32) -> Self {
        let w = self.source_width();
        self.clone().with_scale_x(self.scale_x * factor, w)
    }

    /// The window grown by `fraction` of its height above and below (same left and right),
    /// resampled to the same model height: the text comes out smaller, with more paper.
    pub fn loosened(&self, fraction: f32) -> Self {
        let w = self.source_width();
        let src_h = LINE_HEIGHT as f32 / self.scale_y;
        let grow = src_h * fraction;
        let ratio = self.scale_x / self.scale_y;
        let mut g = self.clone();
        g.source_y0 -= grow;
        g.scale_y = LINE_HEIGHT as f32 / (src_h + 2.0 * grow);
        g.ny = ((1.0 / g.scale_y).ceil() as usize).clamp(1, 4);
        let scale_x = g.scale_y * ratio;
        g.with_scale_x(scale_x, w)
    }
}

/// The geometries of a line's views ([`SECOND_LOOK_VIEWS`] of them), in a fixed order.
pub fn view_geometries(geo: &LineGeometry) -> [LineGeometry; SECOND_LOOK_VIEWS] {
    [geo.stretched(STRETCH), geo.loosened(LOOSEN)]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::geometry::BBox;
    use crate::lines::normalize::{LineImage, WIDTH_MULTIPLE, line_geometry, resample_line};
    use image::{GrayImage, Luma};

    /// A page with a dark 6 x 20 bar on white paper at x 100..106, y 40..60.
    pub(crate) fn page_with_bar() -> GrayImage {
        // A dark 6 x 20 bar on white paper at x 100..106, y 40..60.
        let mut g = GrayImage::from_pixel(300, 100, Luma([240]));
        for y in 40..60 {
            for x in 100..106 {
                g.put_pixel(x, y, Luma([20]));
            }
        }
        g
    }

    /// Page x and y of the centre of mass of a line image's ink.
    fn ink_centre(l: &LineImage) -> (f32, f32) {
        let (mut s, mut mx, mut my) = (0.0, 0.0, 0.0);
        for y in 0..LINE_HEIGHT {
            for x in 0..l.content_width {
                let v = l.pixels[y * l.width + x];
                s += v;
                mx += v * (x as f32 + 0.5);
                my += v * (y as f32 + 0.5);
            }
        }
        (
            l.column_to_page_x(mx / s),
            l.source_y0 + (my / s) / l.scale_y,
        )
    }

    #[test]
    fn views_frame_the_same_ink_differently() {
        let page = page_with_bar();
        let geo = line_geometry(&page, BBox::new(80, 30, 130, 70));
        let line = resample_line(&page, &geo);
        let (x, y) = ink_centre(&line);
        let [wide, loose] = view_geometries(&geo);
        assert!(wide.out_width > geo.out_width);
        assert!(loose.scale_y < geo.scale_y && loose.out_width < geo.out_width);
        for g in [wide, loose] {
            let v = resample_line(&page, &g);
            let (vx, vy) = ink_centre(&v);
            assert!(
                (vx - x).abs() < 0.5 && (vy - y).abs() < 0.5,
                "{vx},{vy} vs {x},{y}"
            );
            assert_eq!(v.width % WIDTH_MULTIPLE, 0);
        }
    }
}
