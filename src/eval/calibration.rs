//! Confidence calibration: bins of predicted word confidence vs observed word accuracy, and the
//! expected calibration error (ECE = sum over bins of |accuracy - mean confidence| x share of
//! words in the bin).

use serde::Serialize;

/// One calibration bin.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CalibrationBin {
    /// Lower edge of the bin (inclusive).
    pub lo: f64,
    /// Upper edge (exclusive, except for the last bin).
    pub hi: f64,
    /// Words in the bin.
    pub count: usize,
    /// Mean predicted confidence of those words.
    pub mean_confidence: f64,
    /// Fraction of those words that were exactly right.
    pub accuracy: f64,
}

/// A calibration table over equal-width bins.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Calibration {
    /// The bins, low to high.
    pub bins: Vec<CalibrationBin>,
    /// Expected calibration error.
    pub ece: f64,
    /// Words counted.
    pub words: usize,
}

/// Build the table from (confidence, correct) pairs with `n_bins` equal-width bins.
pub fn calibrate(samples: &[(f32, bool)], n_bins: usize) -> Calibration {
    let n_bins = n_bins.max(1);
    let mut sums = vec![(0usize, 0f64, 0usize); n_bins];
    for &(c, ok) in samples {
        let c = c.clamp(0.0, 1.0) as f64;
        let b = ((c * n_bins as f64) as usize).min(n_bins - 1);
        sums[b].0 += 1;
        sums[b].1 += c;
        sums[b].2 += ok as usize;
    }
    let total = samples.len().max(1) as f64;
    let mut ece = 0.0;
    let bins = sums
        .iter()
        .enumerate()
        .map(|(i, &(n, csum, ok))| {
            let (mc, acc) = if n > 0 {
                (csum / n as f64, ok as f64 / n as f64)
            } else {
                (0.0, 0.0)
            };
            ece += (acc - mc).abs() * n as f64 / total;
            CalibrationBin {
                lo: i as f64 / n_bins as f64,
                hi: (i + 1) as f64 / n_bins as f64,
                count: n,
                mean_confidence: mc,
                accuracy: acc,
            }
        })
        .collect();
    Calibration {
        bins,
        ece,
        words: samples.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfectly_calibrated_has_zero_ece_and_overconfident_does_not() {
        let mut s = Vec::new();
        for i in 0..100 {
            s.push((0.75, i % 4 != 0)); // 75% right at confidence 0.75
        }
        assert!(calibrate(&s, 10).ece < 1e-9);
        let over: Vec<(f32, bool)> = (0..100).map(|i| (0.99, i % 2 == 0)).collect();
        let c = calibrate(&over, 10);
        assert!((c.ece - 0.49).abs() < 1e-6);
        assert_eq!(c.bins.iter().map(|b| b.count).sum::<usize>(), 100);
    }
}
