//! Axis-aligned boxes in pixel coordinates, shared by every stage.

use serde::{Deserialize, Serialize};

/// An axis-aligned box in pixels: `x0,y0` inclusive, `x1,y1` exclusive (so width = x1 - x0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct BBox {
    /// Left edge (inclusive).
    pub x0: u32,
    /// Top edge (inclusive).
    pub y0: u32,
    /// Right edge (exclusive).
    pub x1: u32,
    /// Bottom edge (exclusive).
    pub y1: u32,
}

impl BBox {
    /// A box from its edges; swaps them if given in the wrong order.
    pub fn new(x0: u32, y0: u32, x1: u32, y1: u32) -> Self {
        BBox {
            x0: x0.min(x1),
            y0: y0.min(y1),
            x1: x0.max(x1),
            y1: y0.max(y1),
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.x1 - self.x0
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.y1 - self.y0
    }

    /// Area in pixels.
    pub fn area(&self) -> u64 {
        self.width() as u64 * self.height() as u64
    }

    /// True when the box has no area.
    pub fn is_empty(&self) -> bool {
        self.x1 <= self.x0 || self.y1 <= self.y0
    }

    /// Smallest box containing both.
    pub fn union(&self, other: &BBox) -> BBox {
        if self.is_empty() {
            return *other;
        }
        if other.is_empty() {
            return *self;
        }
        BBox {
            x0: self.x0.min(other.x0),
            y0: self.y0.min(other.y0),
            x1: self.x1.max(other.x1),
            y1: self.y1.max(other.y1),
        }
    }

    /// Union of many boxes; `None` when the iterator is empty.
    pub fn union_all<'a>(boxes: impl IntoIterator<Item = &'a BBox>) -> Option<BBox> {
        boxes.into_iter().copied().reduce(|a, b| a.union(&b))
    }

    /// Overlap of the vertical extents, in pixels (0 when disjoint).
    pub fn vertical_overlap(&self, other: &BBox) -> u32 {
        self.y1.min(other.y1).saturating_sub(self.y0.max(other.y0))
    }

    /// Overlap of the horizontal extents, in pixels (0 when disjoint).
    pub fn horizontal_overlap(&self, other: &BBox) -> u32 {
        self.x1.min(other.x1).saturating_sub(self.x0.max(other.x0))
    }

    /// Clamp the box to an image of the given size.
    pub fn clamp(&self, width: u32, height: u32) -> BBox {
        BBox {
            x0: self.x0.min(width),
            y0: self.y0.min(height),
            x1: self.x1.min(width),
            y1: self.y1.min(height),
        }
    }

    /// Grow the box by `dx`, `dy` on each side, clamped to `width` x `height`.
    pub fn expand(&self, dx: u32, dy: u32, width: u32, height: u32) -> BBox {
        BBox {
            x0: self.x0.saturating_sub(dx),
            y0: self.y0.saturating_sub(dy),
            x1: (self.x1 + dx).min(width),
            y1: (self.y1 + dy).min(height),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_and_overlap() {
        let a = BBox::new(0, 0, 10, 10);
        let b = BBox::new(5, 8, 20, 30);
        assert_eq!(a.union(&b), BBox::new(0, 0, 20, 30));
        assert_eq!(a.vertical_overlap(&b), 2);
        assert_eq!(a.horizontal_overlap(&b), 5);
        assert_eq!(BBox::new(10, 10, 0, 0), a);
        assert_eq!(a.expand(3, 3, 12, 100), BBox::new(0, 0, 12, 13));
    }
}
