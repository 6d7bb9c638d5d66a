//! CTC scoring of a given reading over a line's frame posteriors: the probability of a label
//! summed over all alignments ([`ctc_log_prob`]) and its single best alignment
//! ([`ctc_align`]). Used by the lexicon to weigh dictionary words against what greedy decoding
//! read, and to place the characters of a replaced word.

#[cfg(test)]
use super::alphabet::Alphabet;

/// `x` log-sum-exp `y`.
fn log_add(x: f32, y: f32) -> f32 {
    if x == f32::NEG_INFINITY {
        return y;
    }
    if y == f32::NEG_INFINITY {
        return x;
    }
    let (hi, lo) = if x > y { (x, y) } else { (y, x) };
    hi + (lo - hi).exp().ln_1p()
}

/// Log posterior of class `k` at frame `t` of `probs` (`classes` per row).
fn lp(probs: &[f32], classes: usize, t: usize, k: usize) -> f32 {
    probs[t * classes + k].max(1e-30).ln()
}

/// CTC state `s` of the blank-extended label: blank (0) at even states.
fn state_class(label: &[usize], s: usize) -> usize {
    if s.is_multiple_of(2) { 0 } else { label[s / 2] }
}

/// Whether state `s` may be entered from `s - 2` (skipping a blank between different labels).
fn can_skip(label: &[usize], s: usize) -> bool {
    s % 2 == 1 && s >= 2 && label[s / 2] != label[s / 2 - 1]
}

/// Log probability that frames `probs` (`frames x classes`) spell `label` (class indices, no
/// blanks), summed over all CTC alignments; `-inf` when too few frames.
pub fn ctc_log_prob(probs: &[f32], classes: usize, label: &[usize]) -> f32 {
    let frames = probs.len() / classes.max(1);
    if label.is_empty() || frames == 0 {
        return (0..frames).map(|t| lp(probs, classes, t, 0)).sum();
    }
    let n = 2 * label.len() + 1;
    let mut a = vec![f32::NEG_INFINITY; n];
    a[0] = lp(probs, classes, 0, 0);
    a[1] = lp(probs, classes, 0, label[0]);
    let mut next = vec![f32::NEG_INFINITY; n];
    for t in 1..frames {
        for s in 0..n {
            next[s] = f32::NEG_INFINITY;
            let mut v = a[s];
            if s >= 1 {
                v = log_add(v, a[s - 1]);
            }
            if can_skip(label, s) {
                v = log_add(v, a[s - 2]);
            }
            if v > f32::NEG_INFINITY {
                next[s] = v + lp(probs, classes, t, state_class(label, s));
            }
        }
        std::mem::swap(&mut a, &mut next);
    }
    log_add(a[n - 1], a[n - 2])
}

/// Best single alignment of `label` to the frames: for each label character, its first and last
/// frame (relative to `probs`) and its highest posterior over them. `None` when too few frames.
pub fn ctc_align(
    probs: &[f32],
    classes: usize,
    label: &[usize],
) -> Option<Vec<(usize, usize, f32)>> {
    let frames = probs.len() / classes.max(1);
    if label.is_empty() || frames == 0 {
        return None;
    }
    let n = 2 * label.len() + 1;
    let mut score = vec![f32::NEG_INFINITY; n];
    let mut back = vec![vec![0usize; n]; frames];
    score[0] = lp(probs, classes, 0, 0);
    score[1] = lp(probs, classes, 0, label[0]);
    for (t, back_t) in back.iter_mut().enumerate().skip(1) {
        let mut next = vec![f32::NEG_INFINITY; n];
        for s in 0..n {
            let mut best = (score[s], s);
            if s >= 1 && score[s - 1] > best.0 {
                best = (score[s - 1], s - 1);
            }
            if can_skip(label, s) && score[s - 2] > best.0 {
                best = (score[s - 2], s - 2);
            }
            if best.0 > f32::NEG_INFINITY {
                next[s] = best.0 + lp(probs, classes, t, state_class(label, s));
                back_t[s] = best.1;
            }
        }
        score = next;
    }
    let mut s = if score[n - 1] >= score[n - 2] {
        n - 1
    } else {
        n - 2
    };
    if score[s] == f32::NEG_INFINITY {
        return None;
    }
    let mut spans: Vec<Option<(usize, usize, f32)>> = vec![None; label.len()];
    for t in (0..frames).rev() {
        if s % 2 == 1 {
            let i = s / 2;
            let p = probs[t * classes + label[i]];
            spans[i] = Some(match spans[i] {
                None => (t, t, p),
                Some((_, last, best)) => (t, last, best.max(p)),
            });
        }
        if t > 0 {
            s = back[t][s];
        }
    }
    spans.into_iter().collect()
}

/// Posteriors for tests: each frame a list of (char, probability), blank takes the rest.
#[cfg(test)]
pub(crate) fn posteriors(alphabet: &Alphabet, frames: &[&[(char, f32)]]) -> Vec<f32> {
    let classes = alphabet.num_classes();
    let mut p = vec![0.0; frames.len() * classes];
    for (t, f) in frames.iter().enumerate() {
        let mut rest = 1.0;
        for &(c, v) in *f {
            p[t * classes + alphabet.class_of(c).expect("in alphabet")] = v;
            rest -= v;
        }
        p[t * classes] = rest.max(0.0);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctc_probability_sums_alignments() {
        let a = Alphabet::default();
        let classes = a.num_classes();
        let probs = posteriors(&a, &[&[('a', 1.0)], &[], &[('b', 1.0)]]);
        let ab = [a.class_of('a').unwrap(), a.class_of('b').unwrap()];
        assert!(ctc_log_prob(&probs, classes, &ab).abs() < 1e-4);
        assert!(ctc_log_prob(&probs, classes, &ab[..1]) < -20.0);
        // Two frames of 'a' at 0.5: "a" is read by aa, a-, -a (0.75 in all).
        let probs = posteriors(&a, &[&[('a', 0.5)], &[('a', 0.5)]]);
        let p = ctc_log_prob(&probs, classes, &ab[..1]).exp();
        assert!((p - 0.75).abs() < 1e-4, "{p}");
        let spans = ctc_align(&probs, classes, &ab[..1]).expect("aligned");
        assert_eq!(spans.len(), 1);
    }
}
