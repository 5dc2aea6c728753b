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
