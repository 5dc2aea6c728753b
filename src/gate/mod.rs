//! `fgbench gate`: a comparison against a stored baseline turned into a CI decision. Built on
//! the paired comparison; a regression must be both statistically clear and larger than the
//! allowed margin, so a noisy machine does not fail a pull request by chance.

pub mod config;
pub mod export;

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::compare::{Allow, CompareError, Run, compare};
use crate::records::ResultRecord;
use crate::stats::{SplitMix64, mean, percentile};
pub use config::GateConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Pass,
    Fail,
    Inconclusive,
}

impl Decision {
    pub fn word(self) -> &'static str {
        match self {
            Decision::Pass => "pass",
            Decision::Fail => "FAIL",
            Decision::Inconclusive => "inconclusive",
        }
    }
}

/// One row of the verdict table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub metric: String,
    pub baseline: f64,
    pub current: f64,
    /// current / baseline for performance metrics; current - baseline for accuracy.
    pub change: f64,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub threshold: String,
    pub decision: Decision,
    pub detail: String,
    /// The current value's own 95% interval (Wilson for accuracy), for CI dashboards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_ci: Option<[f64; 2]>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateReport {
    pub checks: Vec<Check>,
    /// Fail if any check fails (or, with `fail_on_inconclusive`, cannot be decided);
    /// otherwise pass.
    pub decision: Decision,
    /// Inconclusive checks fail the gate (gate.toml's `fail_on_inconclusive`).
    #[serde(default)]
    pub fail_on_inconclusive: bool,
    /// Machine and batching settings where the two runs differ (docs/cli.md, `gate`): the
    /// accuracy checks are made anyway and these are shown beside the verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setting_differences: Vec<String>,
}

fn accuracy_check(name: &str, pairs: &[(&ResultRecord, &ResultRecord)], rule: &config::AccuracyRule, alpha: f64) -> Check {
    let counts = crate::stats::Paired::of(pairs.iter().map(|(b, c)| (b.valid, c.valid)));
    let (n, base, cur) = (counts.n, counts.a.accuracy, counts.b.accuracy);
    let (fixed, broken, p) = (counts.fixed, counts.broken, counts.p_value);
    let drop = base - cur;
    let decision = if n < rule.min_cases {
        Decision::Inconclusive
    } else if drop > rule.max_drop && p < alpha {
        Decision::Fail
    } else {
        Decision::Pass
    };
    let why = if n < rule.min_cases {
        format!("only {n} paired cases (< {})", rule.min_cases)
    } else {
        format!("McNemar p={p:.4}, {fixed} fixed, {broken} broken")
    };
    let current_ci = (n > 0).then_some([counts.b.ci_low, counts.b.ci_high]);
    Check {
        metric: format!("accuracy {name}"),
        baseline: base,
        current: cur,
        change: cur - base,
        ci_low: None,
        ci_high: None,
        threshold: format!("drop <= {:.1} points or p >= {alpha}", 100.0 * rule.max_drop),
        decision,
        detail: why,
        current_ci,
    }
}

type Extract = fn(&ResultRecord) -> Option<f64>;
/// A statistic over a run's values (mean, a percentile).
type Statistic = fn(&[f64]) -> Option<f64>;

fn metric_fn(name: &str) -> Option<(Extract, Statistic)> {
    let decode: Extract = |r| r.timings.decode_tok_s();
    Some(match name {
        "e2e_ms_p50" => (|r| r.timings.total_ms, |v| percentile(v, 0.5)),
        "e2e_ms_p95" => (|r| r.timings.total_ms, |v| percentile(v, 0.95)),
        "ttft_ms_mean" => (|r| r.timings.ttft_ms, mean),
        "ttft_ms_p95" => (|r| r.timings.ttft_ms, |v| percentile(v, 0.95)),
        "decode_tok_s_mean" => (decode, mean),
        _ => return None,
    })
}

pub const METRICS: [&str; 5] = ["e2e_ms_p50", "e2e_ms_p95", "ttft_ms_mean", "ttft_ms_p95", "decode_tok_s_mean"];

/// current/baseline of a statistic with a bootstrap 95% interval; each run's cases are
/// resampled independently (timings of the two runs are not paired in time). A check that
/// cannot be computed (too few timings) is inconclusive, never dropped.
fn performance_check(rule: &config::PerformanceRule, base: &[&ResultRecord], cur: &[&ResultRecord], resamples: usize) -> Check {
    let undecided = |detail: String| Check {
        metric: rule.metric.clone(),
        baseline: f64::NAN,
        current: f64::NAN,
        change: f64::NAN,
        ci_low: None,
        ci_high: None,
        threshold: "-".into(),
        decision: Decision::Inconclusive,
        detail,
        current_ci: None,
    };
    let Some((get, stat)) = metric_fn(&rule.metric) else { return undecided(format!("unknown metric `{}`", rule.metric)) };
    let b: Vec<f64> = base.iter().filter_map(|r| get(r)).collect();
    let c: Vec<f64> = cur.iter().filter_map(|r| get(r)).collect();
    let (Some(sb), Some(sc)) = (stat(&b).filter(|_| b.len() >= 2), stat(&c).filter(|_| c.len() >= 2)) else {
        return undecided(format!("too few timings to compute it ({} baseline, {} current; 2 each needed)", b.len(), c.len()));
    };
    let mut rng = SplitMix64(0x6a7e);
    let mut ratios = Vec::with_capacity(resamples);
    let resample = |v: &[f64], rng: &mut SplitMix64| -> Vec<f64> { (0..v.len()).map(|_| v[rng.below(v.len())]).collect() };
    for _ in 0..resamples {
        let (rb, rc) = (resample(&b, &mut rng), resample(&c, &mut rng));
        if let (Some(x), Some(y)) = (stat(&rb), stat(&rc))
            && x != 0.0
        {
            ratios.push(y / x);
        }
    }
    let (Some(lo), Some(hi)) = (percentile(&ratios, 0.025), percentile(&ratios, 0.975)) else {
        return undecided("the baseline's statistic is 0 in every resample".into());
    };
    let (decision, threshold) = match (rule.max_increase, rule.max_decrease) {
        (Some(up), _) => {
            let limit = 1.0 + up;
            (
                if lo > limit {
                    Decision::Fail
                } else if hi <= limit {
                    Decision::Pass
                } else {
                    Decision::Inconclusive
                },
                format!("ratio <= {limit:.3}"),
            )
        }
        (None, Some(down)) => {
            let limit = 1.0 - down;
            (
                if hi < limit {
                    Decision::Fail
                } else if lo >= limit {
                    Decision::Pass
                } else {
                    Decision::Inconclusive
                },
                format!("ratio >= {limit:.3}"),
            )
        }
        (None, None) => (Decision::Pass, "report only".into()),
    };
    Check {
        metric: rule.metric.clone(),
        baseline: sb,
        current: sc,
        change: if sb != 0.0 { sc / sb } else { f64::NAN },
        ci_low: Some(lo),
        ci_high: Some(hi),
        threshold,
        decision,
        detail: format!("{} vs {} cases", b.len(), c.len()),
        current_ci: None,
    }
}

/// Runs every check of the config on a baseline and a current run.
///
/// Settings that define the outputs (generation, dtype, quantization) must match: otherwise
/// the gate would compare two different models. Machine and batching settings (device,
/// sequence slots, threads, kernels, engine build...) change speed and, through batched
/// numerics, may flip a few near-tied tokens: the accuracy checks go ahead, since paired
/// McNemar absorbs a few flips, with the differences shown beside the verdict; speed checks
/// are refused, since timings from two set-ups do not compare (`gate --interleaved` measures
/// both now). `allow_settings` lets everything through.
pub fn gate(baseline: &Run, current: &Run, cfg: &GateConfig, allow: Allow, allow_settings: bool) -> Result<GateReport, CompareError> {
    // The comparison does the refusals of datasets, prompt styles, engines and scorers.
    compare(baseline, current, allow, None)?;
    let differences = match (&baseline.manifest, &current.manifest) {
        (Some(b), Some(c)) => setting_differences(b, c),
        _ => SettingDifferences::default(),
    };
    if !allow_settings {
        if !differences.outputs.is_empty() {
            return Err(CompareError::SettingsMismatch(differences.outputs.join("; ")));
        }
        if !differences.machine.is_empty() && !cfg.performance.is_empty() {
            return Err(CompareError::SpeedSettingsMismatch(differences.machine.join("; ")));
        }
    }
    let mut report = gate_records(&baseline.results, &current.results, &baseline.results, &current.results, cfg);
    report.setting_differences = differences.outputs.into_iter().chain(differences.machine).collect();
    Ok(report)
}

/// Where two manifests' settings differ, as "name baseline vs current".
#[derive(Debug, Default)]
pub struct SettingDifferences {
    /// Settings that define the outputs: generation settings, weights' dtype and quantization.
    pub outputs: Vec<String>,
    /// Settings of the machine and the engine's batching: device, backend sampling, KV
    /// layout, batch and micro-batch sizes, sequence slots, threads, prefix cache, engine
    /// build, kernels.
    pub machine: Vec<String>,
}

pub fn setting_differences(b: &crate::run::Manifest, c: &crate::run::Manifest) -> SettingDifferences {
    let (eb, ec) = (&b.engine, &c.engine);
    let outputs: Vec<(&str, String, String)> = vec![
        ("generation", serde_json::to_string(&b.generation).unwrap_or_default(), serde_json::to_string(&c.generation).unwrap_or_default()),
        ("dtype", eb.dtype.clone(), ec.dtype.clone()),
        ("quantization", format!("{:?}", eb.quantization), format!("{:?}", ec.quantization)),
    ];
    let machine: Vec<(&str, String, String)> = vec![
        ("sequence slots", eb.max_sequences.to_string(), ec.max_sequences.to_string()),
        ("backend sampling", eb.backend_sampling.to_string(), ec.backend_sampling.to_string()),
        ("device", eb.device.clone(), ec.device.clone()),
    ];
    // Settings an older manifest does not record are unknown there, not different.
    let recorded: Vec<(&str, Option<String>, Option<String>)> = vec![
        ("kv layout", eb.kv_layout.map(|k| format!("{k:?}")), ec.kv_layout.map(|k| format!("{k:?}"))),
        ("batch tokens", eb.batch_tokens.map(|n| n.to_string()), ec.batch_tokens.map(|n| n.to_string())),
        ("micro-batch tokens", eb.ubatch_tokens.map(|n| n.to_string()), ec.ubatch_tokens.map(|n| n.to_string())),
        ("threads", eb.threads.map(|n| n.to_string()), ec.threads.map(|n| n.to_string())),
        ("prefix cache", eb.prefix_cache.map(|n| n.to_string()), ec.prefix_cache.map(|n| n.to_string())),
        ("engine build", eb.build.clone(), ec.build.clone()),
        ("kernels", eb.kernels.clone(), ec.kernels.clone()),
    ];
    let known = recorded.into_iter().filter_map(|(name, x, y)| Some((name, x?, y?)));
    let differing = |v: Vec<(&str, String, String)>| -> Vec<String> {
        v.into_iter().filter(|(_, x, y)| x != y).map(|(name, x, y)| format!("{name} {x} vs {y}")).collect()
    };
    SettingDifferences { outputs: differing(outputs), machine: differing(machine.into_iter().chain(known).collect()) }
}

/// The checks on records: accuracy on `*_acc` (one record per case, paired by id), timing on
/// `*_perf` (which may hold several repetitions per case).
pub fn gate_records(
    base_acc: &[ResultRecord],
    cur_acc: &[ResultRecord],
    base_perf: &[ResultRecord],
    cur_perf: &[ResultRecord],
    cfg: &GateConfig,
) -> GateReport {
    let by_id: HashMap<&str, &ResultRecord> = cur_acc.iter().map(|r| (r.id.as_str(), r)).collect();
    let pairs: Vec<(&ResultRecord, &ResultRecord)> = base_acc.iter().filter_map(|b| by_id.get(b.id.as_str()).map(|c| (b, *c))).collect();
    let mut checks = vec![accuracy_check("overall", &pairs, &cfg.accuracy.overall(), cfg.accuracy.alpha)];
    for (cat, rule) in &cfg.accuracy.categories {
        let cat_pairs: Vec<_> = pairs.iter().filter(|(b, _)| &b.category == cat).copied().collect();
        checks.push(accuracy_check(cat, &cat_pairs, &rule.with_defaults(&cfg.accuracy), cfg.accuracy.alpha));
    }
    let base: Vec<&ResultRecord> = base_perf.iter().collect();
    let cur: Vec<&ResultRecord> = cur_perf.iter().collect();
    for rule in &cfg.performance {
        checks.push(performance_check(rule, &base, &cur, cfg.bootstrap_resamples));
    }
    let failed = checks.iter().any(|c| c.decision == Decision::Fail || (cfg.fail_on_inconclusive && c.decision == Decision::Inconclusive));
    GateReport {
        checks,
        decision: if failed { Decision::Fail } else { Decision::Pass },
        fail_on_inconclusive: cfg.fail_on_inconclusive,
        setting_differences: Vec::new(),
    }
}

/// Records of the interleaved mode: accuracy records (first repetition) and timing records
/// (all repetitions) of the baseline and the candidate.
pub struct Interleaved {
    pub base_acc: Vec<ResultRecord>,
    pub cur_acc: Vec<ResultRecord>,
    pub base_perf: Vec<ResultRecord>,
    pub cur_perf: Vec<ResultRecord>,
}

/// Measures baseline and candidate alternately in one process, case by case, swapping which
/// goes first on every case, so machine noise (other jobs, thermal drift) hits both alike.
pub fn interleaved(
    base: &dyn crate::engine::Engine,
    cur: &dyn crate::engine::Engine,
    cases: &[crate::dataset::Case],
    run: &crate::run::EvalSettings,
    repetitions: usize,
) -> Result<Interleaved, crate::engine::EngineError> {
    let mut out = Interleaved { base_acc: vec![], cur_acc: vec![], base_perf: vec![], cur_perf: vec![] };
    let keys: Vec<crate::score::AnswerKey> = cases.iter().map(Into::into).collect();
    for rep in 0..repetitions.max(1) {
        for (i, (case, key)) in cases.iter().zip(&keys).enumerate() {
            let prompt = run.style.render(&case.messages, &case.tools);
            let order: [(bool, &dyn crate::engine::Engine); 2] =
                if (i + rep) % 2 == 0 { [(true, base), (false, cur)] } else { [(false, cur), (true, base)] };
            for (is_base, engine) in order {
                let c = engine.generate(&prompt, &run.generation)?;
                let p = crate::records::Prediction { id: case.id.clone(), repeat: 0, output: c.text, timings: c.timings, failure: None };
                let r = crate::run::result_record(key, &p, &run.scoring);
                let (acc, perf) = if is_base { (&mut out.base_acc, &mut out.base_perf) } else { (&mut out.cur_acc, &mut out.cur_perf) };
                if rep == 0 {
                    acc.push(r.clone());
                }
                perf.push(r);
            }
        }
    }
    Ok(out)
}

pub fn render_table(r: &GateReport, markdown: bool) -> String {
    let mut o = String::new();
    let ci = |c: &Check| match (c.ci_low, c.ci_high) {
        (Some(l), Some(h)) => format!("[{l:.3}, {h:.3}]"),
        _ => "-".into(),
    };
    let change =
        |c: &Check| if c.metric.starts_with("accuracy") { format!("{:+.1} pts", 100.0 * c.change) } else { format!("x{:.3}", c.change) };
    let fmt = |c: &Check, v: f64| if c.metric.starts_with("accuracy") { format!("{:.1}%", 100.0 * v) } else { format!("{v:.1}") };
    let cells = |c: &Check| {
        [
            c.metric.clone(),
            fmt(c, c.baseline),
            fmt(c, c.current),
            change(c),
            ci(c),
            c.threshold.clone(),
            c.decision.word().to_string(),
            c.detail.clone(),
        ]
    };
    if markdown {
        o.push_str(&format!("### fgbench gate: **{}**\n\n| metric | baseline | current | change | 95% CI | threshold | result | detail |\n|---|---:|---:|---:|---:|---|---|---|\n", r.decision.word()));
        for c in &r.checks {
            let [metric, baseline, current, change, ci, threshold, result, detail] = cells(c);
            o.push_str(&format!("| {metric} | {baseline} | {current} | {change} | {ci} | {threshold} | {result} | {detail} |\n"));
        }
        if !r.setting_differences.is_empty() {
            o.push_str(&format!("\n**Settings that differ from the baseline:** {}\n", r.setting_differences.join("; ")));
        }
    } else {
        o.push_str(&format!(
            "{:<26} {:>10} {:>10} {:>10} {:>18}  {:<30} {:<12} {}\n",
            "metric", "baseline", "current", "change", "95% CI", "threshold", "result", "detail"
        ));
        for c in &r.checks {
            let [metric, baseline, current, change, ci, threshold, result, detail] = cells(c);
            o.push_str(&format!(
                "{metric:<26} {baseline:>10} {current:>10} {change:>10} {ci:>18}  {threshold:<30} {result:<12} {detail}\n"
            ));
        }
        if !r.setting_differences.is_empty() {
            o.push_str(&format!("\nsettings that differ from the baseline: {}\n", r.setting_differences.join("; ")));
        }
        o.push_str(&format!("\ngate: {}\n", r.decision.word()));
    }
    o
}

/// Replaces the baseline directory with the current run's records, atomically (copy to a
/// temporary sibling, then swap by rename).
pub fn update_baseline(current: &Path, baseline: &Path) -> std::io::Result<()> {
    // Temporary siblings of names no one else uses (`with_extension` would turn
    // `base.v2` into `base.old`, which may be someone's directory).
    let tmp = crate::fsutil::temp_sibling(baseline);
    std::fs::create_dir_all(&tmp)?;
    for name in [crate::run::RESULTS, crate::run::MANIFEST, crate::run::SUMMARY, crate::run::PREDICTIONS] {
        let src = current.join(name);
        if src.is_file() {
            std::fs::copy(&src, tmp.join(name))?;
        }
    }
    let old = crate::fsutil::temp_sibling(baseline);
    if baseline.exists() {
        std::fs::rename(baseline, &old)?;
    }
    std::fs::rename(&tmp, baseline)?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}
