//! The ink components of a binary page with their runs kept, so that preprocessing can erase
//! chosen components (specks, border blobs) a few `fill` calls at a time. The labelling itself
//! is the layout's ([`crate::layout::components::label_runs`]): one labeller for the pipeline.

use image::GrayImage;

pub use crate::layout::components::{Component, Run};
use crate::layout::components::{image_runs, label_runs};

/// The 8-connected ink components of a binary image (ink = pixel value < 128).
#[derive(Debug, Clone, Default)]
pub struct Components {
    /// Every ink run, in row-major order.
    pub runs: Vec<Run>,
    /// Component index of each run (parallel to `runs`).
    pub run_label: Vec<u32>,
    /// The components, indexed by label (in the order of their first pixel).
    pub components: Vec<Component>,
}

impl Components {
    /// Label the ink of `binary`.
    pub fn label(binary: &GrayImage) -> Components {
        let (runs, row_start) = image_runs(binary);
        let (components, run_label) = label_runs(&runs, &row_start);
        Components {
            runs,
            run_label,
            components,
        }
    }

    /// Set to paper (255) every pixel of the components for which `remove[label]` is true.
    /// Returns the number of pixels cleared.
    pub fn clear(&self, binary: &mut GrayImage, remove: &[bool]) -> u64 {
        let w = binary.width() as usize;
        let data: &mut [u8] = binary;
        let mut cleared = 0u64;
        for (r, &l) in self.runs.iter().zip(&self.run_label) {
            if remove.get(l as usize).copied().unwrap_or(false) {
                let base = r.y as usize * w;
                if let Some(s) = data.get_mut(base + r.x0 as usize..base + r.x1 as usize) {
                    s.fill(255);
                    cleared += s.len() as u64;
                }
            }
        }
        cleared
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::BBox;
    use image::Luma;

    #[test]
    fn labels_match_pixel_flood_fill_counts() {
        // A "U" shape (one component through the bottom), a diagonal chain (8-connected),
        // and an isolated pixel.
        let mut img = GrayImage::from_pixel(20, 12, Luma([255]));
        for y in 0..6 {
            img.put_pixel(1, y, Luma([0]));
            img.put_pixel(5, y, Luma([0]));
        }
        for x in 1..6 {
            img.put_pixel(x, 6, Luma([0]));
        }
        for i in 0..5 {
            img.put_pixel(10 + i, 2 + i, Luma([0]));
        }
        img.put_pixel(18, 10, Luma([0]));
        let c = Components::label(&img);
        assert_eq!(c.components.len(), 3);
        let mut areas: Vec<u32> = c.components.iter().map(|c| c.pixels).collect();
        areas.sort_unstable();
        assert_eq!(areas, vec![1, 5, 17]);
        let u = c.components.iter().find(|c| c.pixels == 17).copied();
        assert_eq!(u.map(|u| u.bbox), Some(BBox::new(1, 0, 6, 7)));
        let remove: Vec<bool> = c.components.iter().map(|c| c.pixels < 10).collect();
        let mut img2 = img.clone();
        assert_eq!(c.clear(&mut img2, &remove), 6);
        assert_eq!(img2.get_pixel(18, 10)[0], 255);
        assert_eq!(img2.get_pixel(1, 0)[0], 0);
    }
}
