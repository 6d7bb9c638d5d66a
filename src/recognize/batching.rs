//! How the CRNN recogniser cuts lines into forward passes ([`BatchPolicy`], [`plan_batches`])
//! and stacks a pass's lines into one padded input buffer ([`stack_lines`]).

use crate::lines::normalize::{LINE_HEIGHT, LineImage, WIDTH_MULTIPLE};

/// Batching knobs of the CRNN recogniser.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchPolicy {
    /// Most lines in one forward pass.
    pub max_lines: usize,
    /// Most padded input pixels (`LINE_HEIGHT` x widest line x lines) in one forward pass.
    pub max_pixels: usize,
    /// The fixed cost of one forward pass, in padded input pixels of work it is worth: the
    /// planner ([`plan_batches`]) cuts a page's lines into the batches that minimise
    /// (passes x this + padded pixels). Small on the CPU (padding is paid in full there), large
    /// on a GPU (a pass costs launches and a sync; padding is nearly free).
    pub pass_cost_pixels: usize,
}

/// [`BatchPolicy::pass_cost_pixels`] for burn's `flex` CPU backend, measured with
/// `ferrocr eval-lines --batch N` (docs/BENCHMARKS.md): a pass costs ~6 ms of fixed work and a
/// line ~0.065 ms per model column, so one pass is worth about 100-130 columns of line.
pub const CPU_PASS_COST_PIXELS: usize = LINE_HEIGHT * 128;

impl Default for BatchPolicy {
    fn default() -> Self {
        BatchPolicy {
            max_lines: 64,
            max_pixels: LINE_HEIGHT * 512 * 64,
            pass_cost_pixels: CPU_PASS_COST_PIXELS,
        }
    }
}

impl BatchPolicy {
    /// Up to `max_lines` / `max_pixels` per pass, with passes so costly relative to padding
    /// that the planner only cuts where the limits force it: the policy for a GPU, and for
    /// measuring a fixed batch size.
    pub fn fewest_passes(max_lines: usize, max_pixels: usize) -> Self {
        BatchPolicy {
            max_lines,
            max_pixels,
            pass_cost_pixels: max_pixels.max(1),
        }
    }
}

impl BatchPolicy {
    /// The policy for `backend` ("gpu" or "cpu") within `max_lines` / `max_pixels` per pass.
    /// On a GPU one gathered batch is one forward pass (a pass costs fixed launches; padding is
    /// nearly free, and the recurrent layers skip each line's padding). On the CPU (burn flex)
    /// large forward passes were measured 3x slower per page than 64-line passes
    /// (docs/BENCHMARKS.md), so there batches are cut to at most 64 lines where the padding
    /// cost model of [`plan_batches`] says.
    pub fn for_backend(backend: &str, max_lines: usize, max_pixels: usize) -> Self {
        if backend == "gpu" {
            return BatchPolicy::fewest_passes(max_lines, max_pixels);
        }
        let d = BatchPolicy::default();
        BatchPolicy {
            max_lines: d.max_lines.min(max_lines),
            max_pixels: d.max_pixels.min(max_pixels),
            ..d
        }
    }
}

/// Split lines (given as widths) into batches of lines of neighbouring widths: indices sorted by
/// width, cut (by dynamic programming over the cut points) so that every batch stays within the
/// policy's line and padded-pixel limits and the total cost, passes x `pass_cost_pixels` +
/// padded pixels, is smallest. A line wider than the pixel budget runs alone. Returns batches
/// of original indices, narrowest first.
pub fn plan_batches(widths: &[usize], policy: BatchPolicy) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..widths.len()).collect();
    order.sort_by_key(|&i| widths[i]);
    let n = order.len();
    let max_lines = policy.max_lines.max(1);
    // best[i]: least cost of the first i sorted lines; cut[i]: where their last batch starts.
    // Costs in u128: a pass cost as large as `usize::MAX` (an unbounded pixel budget) adds up
    // without saturating, so costs still compare and `max_lines` still cuts.
    let mut best = vec![u128::MAX; n + 1];
    let mut cut = vec![0usize; n + 1];
    best[0] = 0;
    for i in 1..=n {
        let widest = (LINE_HEIGHT * widths[order[i - 1]]) as u128;
        for j in (i.saturating_sub(max_lines)..i).rev() {
            let lines = (i - j) as u128;
            let padded = widest * lines;
            if lines > 1 && padded > policy.max_pixels as u128 {
                break; // more lines only pad more
            }
            let cost = best[j] + policy.pass_cost_pixels as u128 + padded;
            if cost < best[i] {
                best[i] = cost;
                cut[i] = j;
            }
        }
    }
    let mut batches = Vec::new();
    let mut i = n;
    while i > 0 {
        let j = cut[i];
        batches.push(order[j..i].to_vec());
        i = j;
    }
    batches.reverse();
    batches
}

/// Stack line images into one `[n, 1, LINE_HEIGHT, max_width]` buffer (paper-padded).
pub fn stack_lines<'a>(
    lines: impl Iterator<Item = &'a LineImage> + Clone,
) -> (Vec<f32>, usize, usize) {
    let max_w = lines
        .clone()
        .map(|l| l.width)
        .max()
        .unwrap_or(WIDTH_MULTIPLE);
    let n = lines.clone().count();
    let mut data = vec![0.0f32; n * LINE_HEIGHT * max_w];
    for (k, l) in lines.enumerate() {
        for y in 0..LINE_HEIGHT {
            let dst = k * LINE_HEIGHT * max_w + y * max_w;
            data[dst..dst + l.width].copy_from_slice(&l.pixels[y * l.width..(y + 1) * l.width]);
        }
    }
    (data, n, max_w)
}
