//! Gate thresholds (`ci/gate.toml`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

fn default_alpha() -> f64 {
    0.05
}
fn default_max_drop() -> f64 {
    0.02
}
fn default_min_cases() -> usize {
    30
}
fn default_resamples() -> usize {
    2000
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    #[serde(default)]
    pub accuracy: AccuracyConfig,
    #[serde(default)]
    pub performance: Vec<PerformanceRule>,
    #[serde(default = "default_resamples")]
    pub bootstrap_resamples: usize,
    /// A check that cannot be decided (too few cases or timings) fails the gate instead of
    /// being reported only.
    #[serde(default)]
    pub fail_on_inconclusive: bool,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            accuracy: AccuracyConfig::default(),
            performance: Vec::new(),
            bootstrap_resamples: default_resamples(),
            fail_on_inconclusive: false,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccuracyConfig {
    /// Significance level of McNemar's exact test.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Largest accepted accuracy drop (0.02 = 2 points).
    #[serde(default = "default_max_drop")]
    pub max_drop: f64,
    /// Fewer paired cases than this make the check inconclusive.
    #[serde(default = "default_min_cases")]
    pub min_cases: usize,
    #[serde(default)]
    pub categories: BTreeMap<String, CategoryRule>,
}

impl Default for AccuracyConfig {
    fn default() -> Self {
        AccuracyConfig { alpha: default_alpha(), max_drop: default_max_drop(), min_cases: default_min_cases(), categories: BTreeMap::new() }
    }
}

/// The thresholds one accuracy check uses.
pub struct AccuracyRule {
    pub max_drop: f64,
    pub min_cases: usize,
}

impl AccuracyConfig {
    pub fn overall(&self) -> AccuracyRule {
        AccuracyRule { max_drop: self.max_drop, min_cases: self.min_cases }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryRule {
    pub max_drop: Option<f64>,
    pub min_cases: Option<usize>,
}

impl CategoryRule {
    pub fn with_defaults(&self, a: &AccuracyConfig) -> AccuracyRule {
        AccuracyRule { max_drop: self.max_drop.unwrap_or(a.max_drop), min_cases: self.min_cases.unwrap_or(a.min_cases) }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerformanceRule {
    /// One of `gate::METRICS`.
    pub metric: String,
    /// Fail when the whole 95% interval of current/baseline is above 1 + this.
    pub max_increase: Option<f64>,
    /// Fail when the whole 95% interval of current/baseline is below 1 - this.
    pub max_decrease: Option<f64>,
}

impl GateConfig {
    pub fn load(path: &Path) -> Result<GateConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let cfg: GateConfig = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for r in &cfg.performance {
            if !super::METRICS.contains(&r.metric.as_str()) {
                return Err(format!("{}: unknown metric `{}` (known: {})", path.display(), r.metric, super::METRICS.join(", ")));
            }
            if r.max_increase.is_some() && r.max_decrease.is_some() {
                return Err(format!("{}: metric `{}` sets both max_increase and max_decrease", path.display(), r.metric));
            }
        }
        Ok(cfg)
    }
}
