//! Statistics: binomial confidence intervals.

/// Wilson score interval for `k` successes in `n` trials at the given z (1.96 for 95%).
/// Unlike the normal approximation it stays inside [0, 1] and behaves at 0% and 100%.
pub fn wilson(k: usize, n: usize, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n_f = n as f64;
    let p = k as f64 / n_f;
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denom;
    let half = z * ((p * (1.0 - p) + z2 / (4.0 * n_f)) / n_f).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

pub const Z95: f64 = 1.959963984540054;

/// A share of correct cases with its 95% Wilson interval.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Accuracy {
    pub n: usize,
    pub correct: usize,
    pub accuracy: f64,
    /// 95% Wilson interval.
    pub ci_low: f64,
    pub ci_high: f64,
}

impl Accuracy {
    pub fn new(correct: usize, n: usize) -> Accuracy {
        let (ci_low, ci_high) = wilson(correct, n, Z95);
        let accuracy = if n == 0 { 0.0 } else { correct as f64 / n as f64 };
        Accuracy { n, correct, accuracy, ci_low, ci_high }
    }
}

/// Two verdicts on the same cases, paired case by case.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Paired {
    pub n: usize,
    pub a: Accuracy,
    pub b: Accuracy,
    /// B minus A, in accuracy points (0..1 scale).
    pub delta: f64,
    /// A wrong, B right.
    pub fixed: usize,
    /// A right, B wrong.
    pub broken: usize,
    /// Exact McNemar test on the discordant pairs.
    pub p_value: f64,
}

impl Paired {
    /// From (A right, B right) per case.
    pub fn of(verdicts: impl IntoIterator<Item = (bool, bool)>) -> Paired {
        let (mut n, mut a_ok, mut b_ok, mut fixed, mut broken) = (0, 0, 0, 0, 0);
        for (a, b) in verdicts {
            n += 1;
            a_ok += usize::from(a);
            b_ok += usize::from(b);
            fixed += usize::from(!a && b);
            broken += usize::from(a && !b);
        }
        let (a, b) = (Accuracy::new(a_ok, n), Accuracy::new(b_ok, n));
        Paired { n, delta: b.accuracy - a.accuracy, a, b, fixed, broken, p_value: mcnemar_exact(fixed, broken) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_known_values() {
        // Reference values from statsmodels' proportion_confint(method="wilson").
        let (lo, hi) = wilson(8, 10, Z95);
        assert!((lo - 0.49016).abs() < 1e-4 && (hi - 0.94332).abs() < 1e-4, "{lo} {hi}");
        let (lo, hi) = wilson(0, 20, Z95);
        assert!(lo == 0.0 && (hi - 0.16113).abs() < 1e-4, "{lo} {hi}");
        assert_eq!(wilson(0, 0, Z95), (0.0, 1.0));
    }
}

/// The q-quantile (0..=1) of `values` with linear interpolation between order statistics
/// (NumPy's default, "type 7"). `None` for no values.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

#[cfg(test)]
mod percentile_tests {
    use super::*;

    #[test]
    fn percentiles_match_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert_eq!(percentile(&v, 0.5), Some(3.0));
        assert!((percentile(&v, 0.9).unwrap() - 7.6).abs() < 1e-12);
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}

/// Two-sided exact McNemar test: the binomial test of `b` vs `c` discordant pairs at p = 1/2.
/// (b = right in A only, c = right in B only.) 1.0 when there are no discordant pairs.
pub fn mcnemar_exact(b: usize, c: usize) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // P(X <= k) for X ~ Binomial(n, 1/2), summed in log space to stay exact for large n.
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_choose = 0.0; // ln C(n, 0)
    let mut cdf = 0.0;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        cdf += (ln_choose + ln_half_n).exp();
    }
    (2.0 * cdf).min(1.0)
}

/// A small, fast, seedable generator (SplitMix64) so bootstrap intervals are reproducible.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Percentile bootstrap 95% interval of `stat` over resamples of `n` indices.
pub fn bootstrap_ci(n: usize, resamples: usize, seed: u64, stat: impl Fn(&[usize]) -> Option<f64>) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let mut rng = SplitMix64(seed);
    let mut values = Vec::with_capacity(resamples);
    let mut idx = vec![0usize; n];
    for _ in 0..resamples {
        for slot in idx.iter_mut() {
            *slot = rng.below(n);
        }
        if let Some(v) = stat(&idx) {
            values.push(v);
        }
    }
    Some((percentile(&values, 0.025)?, percentile(&values, 0.975)?))
}

#[cfg(test)]
mod mcnemar_tests {
    use super::*;

    #[test]
    fn mcnemar_exact_known_values() {
        // scipy.stats.binomtest(k, n, 0.5).pvalue (two-sided) for the smaller count k.
        assert!((mcnemar_exact(2, 8) - 0.109375).abs() < 1e-12);
        assert!((mcnemar_exact(0, 5) - 0.0625).abs() < 1e-12);
        assert!((mcnemar_exact(5, 5) - 1.0).abs() < 1e-12);
        assert!((mcnemar_exact(10, 30) - 0.002_221_433_773_229_364).abs() < 1e-12);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
    }

    #[test]
    fn bootstrap_interval_coverage_is_near_95_percent() {
        // 200 synthetic samples (n=60, uniform around a true median of 10) with a fixed seed:
        // the percentile-bootstrap 95% interval of the median should hold the truth in about
        // 95% of them (a loose band: the percentile bootstrap is approximate at n=60).
        let mut rng = SplitMix64(2026);
        let mut covered = 0;
        for s in 0..200u64 {
            let data: Vec<f64> = (0..60).map(|_| 10.0 + (rng.below(2001) as f64 - 1000.0) / 100.0).collect();
            let (lo, hi) =
                bootstrap_ci(data.len(), 400, s, |idx| percentile(&idx.iter().map(|&i| data[i]).collect::<Vec<_>>(), 0.5)).unwrap();
            covered += usize::from(lo <= 10.0 && 10.0 <= hi);
        }
        assert!((180..=198).contains(&covered), "coverage {covered}/200");
    }

    #[test]
    fn bootstrap_covers_the_mean_of_synthetic_data() {
        // Fixed-seed synthetic sample with known mean 5: the 95% interval of the mean holds it.
        let mut rng = SplitMix64(42);
        let data: Vec<f64> = (0..400).map(|_| 5.0 + (rng.below(1001) as f64 - 500.0) / 100.0).collect();
        let (lo, hi) = bootstrap_ci(data.len(), 1000, 7, |idx| mean(&idx.iter().map(|&i| data[i]).collect::<Vec<_>>())).unwrap();
        assert!(lo < 5.0 && 5.0 < hi && hi - lo < 1.0, "[{lo}, {hi}]");
    }
}
