//! Run-based connected-component labelling of binary images (8-connectivity).
//!
//! Labelling horizontal runs instead of pixels keeps the union-find small (a text page has far
//! fewer runs than ink pixels) and makes clearing a component a few `fill` calls.

use image::GrayImage;

use crate::geometry::BBox;

/// A horizontal run of ink pixels `[x0, x1)` on row `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// Row.
    pub y: u32,
    /// First ink column (inclusive).
    pub x0: u32,
    /// End column (exclusive).
    pub x1: u32,
}

/// Size and extent of one connected component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    /// Number of ink pixels.
    pub area: u32,
    /// Bounding box.
    pub bbox: BBox,
}

/// The 8-connected ink components of a binary image (ink = pixel value < 128).
#[derive(Debug, Clone, Default)]
pub struct Components {
    /// Every ink run, in row-major order.
    pub runs: Vec<Run>,
    /// Component index of each run (parallel to `runs`).
    pub run_label: Vec<u32>,
    /// The components, indexed by label.
    pub components: Vec<Component>,
}

impl Components {
    /// Label the ink of `binary`.
    pub fn label(binary: &GrayImage) -> Components {
        let (w, h) = (binary.width() as usize, binary.height() as usize);
        let src = binary.as_raw();
        let mut runs: Vec<Run> = Vec::new();
        let mut parent: Vec<u32> = Vec::new();
        let mut prev_start = 0usize;
        for y in 0..h {
            let row = &src[y * w..(y + 1) * w];
            let cur_start = runs.len();
            let mut x = 0usize;
            while x < w {
                if row[x] >= 128 {
                    x += 1;
                    continue;
                }
                let x0 = x;
                while x < w && row[x] < 128 {
                    x += 1;
                }
                let id = runs.len() as u32;
                runs.push(Run {
                    y: y as u32,
                    x0: x0 as u32,
                    x1: x as u32,
                });
                parent.push(id);
            }
            // Union with the touching runs of the previous row (8-connectivity: a run touches
            // the runs that overlap it extended by one pixel on each side).
            if y > 0 {
                let mut i = prev_start;
                for j in cur_start..runs.len() {
                    let b = runs[j];
                    while i < cur_start && runs[i].x1 < b.x0 {
                        i += 1;
                    }
                    let mut k = i;
                    while k < cur_start && runs[k].x0 <= b.x1 {
                        union(&mut parent, k as u32, j as u32);
                        k += 1;
                    }
                }
            }
            prev_start = cur_start;
        }
        // Compact labels and accumulate statistics.
        let mut label_of_root = vec![u32::MAX; runs.len()];
        let mut run_label = vec![0u32; runs.len()];
        let mut components: Vec<Component> = Vec::new();
        for (i, r) in runs.iter().enumerate() {
            let root = find(&mut parent, i as u32) as usize;
            if label_of_root[root] == u32::MAX {
                label_of_root[root] = components.len() as u32;
                components.push(Component {
                    area: 0,
                    bbox: BBox {
                        x0: r.x0,
                        y0: r.y,
                        x1: r.x1,
                        y1: r.y + 1,
                    },
                });
            }
            let l = label_of_root[root];
            run_label[i] = l;
            let c = &mut components[l as usize];
            c.area += r.x1 - r.x0;
            c.bbox.x0 = c.bbox.x0.min(r.x0);
            c.bbox.x1 = c.bbox.x1.max(r.x1);
            c.bbox.y0 = c.bbox.y0.min(r.y);
            c.bbox.y1 = c.bbox.y1.max(r.y + 1);
        }
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

fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let p = parent[i as usize];
        parent[i as usize] = parent[p as usize];
        i = p;
    }
    i
}

fn union(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        // Keep the smaller index as root so labels follow the scan order.
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        parent[hi as usize] = lo;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let mut areas: Vec<u32> = c.components.iter().map(|c| c.area).collect();
        areas.sort_unstable();
        assert_eq!(areas, vec![1, 5, 17]);
        let u = c.components.iter().find(|c| c.area == 17).copied();
        assert_eq!(u.map(|u| u.bbox), Some(BBox::new(1, 0, 6, 7)));
        let remove: Vec<bool> = c.components.iter().map(|c| c.area < 10).collect();
        let mut img2 = img.clone();
        assert_eq!(c.clear(&mut img2, &remove), 6);
        assert_eq!(img2.get_pixel(18, 10)[0], 255);
        assert_eq!(img2.get_pixel(1, 0)[0], 0);
    }
}
