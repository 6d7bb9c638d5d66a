//! Splitting a line into words by its own gap distribution.
//!
//! The line's components are projected on the x axis; overlapping ones form ink clusters and
//! the gaps between clusters are either inter-character or inter-word. A 2-means (Otsu) split
//! of the gap widths separates the two when the line has both; the threshold never drops below
//! 0.45x the line's character height (its median glyph height, about the x-height for mixed
//! case): wide letter gaps after an "r" reach ~0.37x, word spaces start near 0.6x.

use super::components::Component;
use crate::geometry::BBox;

/// Smallest word gap, in units of the line's character height.
pub const MIN_WORD_GAP: f32 = 0.45;

/// Gap width (pixels) above which a gap separates words, for the gaps of one line.
///
/// When the gaps fall in two well-separated groups (the larger mean at least twice the smaller
/// plus a pixel) the threshold lies between them; when the smaller group already looks like
/// word gaps, or the gaps are one group of wide gaps, every gap above the minimum splits; one
/// group of narrow gaps keeps the line one word.
pub fn word_gap_threshold(gaps: &[u32], char_height: f32) -> f32 {
    let min_t = (MIN_WORD_GAP * char_height).max(1.0);
    if gaps.is_empty() {
        return min_t;
    }
    let mut g: Vec<f32> = gaps.iter().map(|&x| x as f32).collect();
    g.sort_unstable_by(|a, b| a.total_cmp(b));
    let n = g.len();
    let total: f32 = g.iter().sum();
    // Otsu on the sorted gaps: maximise between-class variance over split points.
    let mut best: Option<(usize, f32)> = None;
    let mut left_sum = 0.0;
    for k in 1..n {
        left_sum += g[k - 1];
        if g[k] == g[k - 1] {
            continue;
        }
        let (n1, n2) = (k as f32, (n - k) as f32);
        let (m1, m2) = (left_sum / n1, (total - left_sum) / n2);
        let between = n1 * n2 * (m2 - m1) * (m2 - m1);
        if best.is_none_or(|(_, b)| between > b) {
            best = Some((k, between));
        }
    }
    let mean = total / n as f32;
    let Some((k, _)) = best else {
        // All gaps equal: words if they are wide, characters otherwise.
        return if mean >= 0.5 * char_height {
            min_t
        } else {
            (0.6 * char_height).max(min_t).max(mean)
        };
    };
    let m1 = g[..k].iter().sum::<f32>() / k as f32;
    let m2 = g[k..].iter().sum::<f32>() / (n - k) as f32;
    if m1 >= min_t {
        return min_t;
    }
    if m2 >= 2.0 * m1 + 1.0 {
        return ((g[k - 1] + g[k]) / 2.0).max(min_t);
    }
    if mean >= 0.5 * char_height {
        min_t
    } else {
        (0.6 * char_height).max(min_t).max(g[n - 1])
    }
}

/// Word boxes of one line, left to right: `members` index `comps`; `char_height` is the line's.
pub fn split_words(comps: &[Component], members: &[u32], char_height: f32) -> Vec<BBox> {
    let mut boxes: Vec<BBox> = members
        .iter()
        .filter_map(|&i| comps.get(i as usize).map(|c| c.bbox))
        .collect();
    if boxes.is_empty() {
        return Vec::new();
    }
    boxes.sort_unstable_by_key(|b| b.x0);
    // Ink clusters: boxes overlapping on the x axis.
    let mut clusters: Vec<BBox> = Vec::new();
    for b in boxes {
        match clusters.last_mut() {
            Some(last) if b.x0 < last.x1 => *last = last.union(&b),
            _ => clusters.push(b),
        }
    }
    let gaps: Vec<u32> = clusters.windows(2).map(|w| w[1].x0 - w[0].x1).collect();
    let t = word_gap_threshold(&gaps, char_height);
    let mut words: Vec<BBox> = Vec::new();
    let mut cur = clusters[0];
    for (c, &gap) in clusters[1..].iter().zip(&gaps) {
        if gap as f32 > t {
            words.push(cur);
            cur = *c;
        } else {
            cur = cur.union(c);
        }
    }
    words.push(cur);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_separates_char_and_word_gaps() {
        let gaps = [2, 3, 2, 14, 3, 2, 2, 15, 1, 3];
        let t = word_gap_threshold(&gaps, 30.0);
        assert!((10.5..14.0).contains(&t), "{t}");
        // One word: only narrow gaps.
        assert!(word_gap_threshold(&[2, 3, 2, 3, 2], 30.0) > 3.0);
        // Single-glyph words: all gaps wide.
        assert!(word_gap_threshold(&[16, 18, 17], 30.0) < 16.0);
    }

    #[test]
    fn words_from_components() {
        let comp = |x0: u32, w: u32| Component {
            bbox: BBox::new(x0, 10, x0 + w, 40),
            pixels: w * 30,
        };
        // "ab cd" with an accent overlapping the 'c'.
        let comps = vec![
            comp(0, 20),
            comp(22, 20),
            comp(60, 20),
            Component {
                bbox: BBox::new(65, 0, 72, 6),
                pixels: 20,
            },
            comp(82, 20),
        ];
        let words = split_words(&comps, &[0, 1, 2, 3, 4], 30.0);
        assert_eq!(
            words,
            vec![BBox::new(0, 10, 42, 40), BBox::new(60, 0, 102, 40)]
        );
    }
}
