//! `fgbench compare`: two runs of the same cases, paired case by case. A pure function of run
//! records: accuracy with intervals and McNemar's exact test, fixed and broken cases, the
//! error-type transition matrix, format health, latency deltas, and the manifests side by side.

pub mod load;
pub mod render;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::records::ResultRecord;
use crate::score::OutputShape;
use crate::stats::{bootstrap_ci, mean, percentile};
pub use load::{CompareError, Run};

pub const COMPARE_SCHEMA: &str = "fgbench.compare/1";

/// What the caller allows that would otherwise be refused.
#[derive(Clone, Copy, Debug, Default)]
pub struct Allow {
    pub subset: bool,
    pub style_mismatch: bool,
    pub engine_mismatch: bool,
    pub scorer_mismatch: bool,
}

pub use crate::stats::Paired;

fn paired(pairs: &[(&ResultRecord, &ResultRecord)]) -> Paired {
    Paired::of(pairs.iter().map(|(a, b)| (a.valid, b.valid)))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseChange {
    pub id: String,
    pub category: String,
    /// The accepted answers (BFCL shape), when the dataset is at hand.
    pub expected: Option<serde_json::Value>,
    pub a_error: Option<String>,
    pub b_error: Option<String>,
    pub a_output: String,
    pub b_output: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Format {
    pub n: usize,
    pub call_rate: f64,
    pub parse_error_rate: f64,
    pub prose_rate: f64,
    /// No call and right (irrelevance).
    pub correct_abstentions: usize,
    /// No call and wrong (a call was expected).
    pub wrong_abstentions: usize,
}

pub fn format_of<'a>(results: impl Iterator<Item = &'a ResultRecord>) -> Format {
    let mut f = Format::default();
    let (mut calls, mut malformed, mut prose) = (0, 0, 0);
    for r in results {
        f.n += 1;
        calls += usize::from(!r.calls.is_empty());
        malformed += usize::from(r.shape == OutputShape::Malformed);
        prose += usize::from(r.shape == OutputShape::Prose);
        if r.calls.is_empty() {
            if r.valid { f.correct_abstentions += 1 } else { f.wrong_abstentions += 1 }
        }
    }
    let rate = |k: usize| if f.n == 0 { 0.0 } else { k as f64 / f.n as f64 };
    f.call_rate = rate(calls);
    f.parse_error_rate = rate(malformed);
    f.prose_rate = rate(prose);
    f
}

/// A timing metric of A and B with the paired bootstrap 95% interval of B - A.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub metric: String,
    pub a: f64,
    pub b: f64,
    pub delta: f64,
    pub ratio: f64,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
}

impl Delta {
    /// The interval as `[low, high]`, when there is one.
    pub fn ci_text(&self) -> Option<String> {
        Some(format!("[{:.1}, {:.1}]", self.ci_low?, self.ci_high?))
    }
}

fn timing_deltas(pairs: &[(&ResultRecord, &ResultRecord)]) -> Vec<Delta> {
    type Get = fn(&ResultRecord) -> Option<f64>;
    type Statistic = fn(&[f64]) -> Option<f64>;
    let decode: Get = |r| r.timings.decode_tok_s();
    let metrics: [(&str, Get, Statistic); 4] = [
        ("ttft_ms mean", |r| r.timings.ttft_ms, mean),
        ("e2e_ms p50", |r| r.timings.total_ms, |v| percentile(v, 0.5)),
        ("e2e_ms p95", |r| r.timings.total_ms, |v| percentile(v, 0.95)),
        ("decode_tok_s mean", decode, mean),
    ];
    let mut out = Vec::new();
    for (name, get, stat) in metrics {
        let both: Vec<(f64, f64)> = pairs.iter().filter_map(|(a, b)| Some((get(a)?, get(b)?))).collect();
        if both.len() < 2 {
            continue;
        }
        let col = |idx: &[usize], side: usize| idx.iter().map(|&i| if side == 0 { both[i].0 } else { both[i].1 }).collect::<Vec<f64>>();
        let all: Vec<usize> = (0..both.len()).collect();
        let (Some(a), Some(b)) = (stat(&col(&all, 0)), stat(&col(&all, 1))) else { continue };
        let ci = bootstrap_ci(both.len(), 2000, 0x5eed, |idx| Some(stat(&col(idx, 1))? - stat(&col(idx, 0))?));
        out.push(Delta {
            metric: name.into(),
            a,
            b,
            delta: b - a,
            ratio: if a != 0.0 { b / a } else { f64::NAN },
            ci_low: ci.map(|c| c.0),
            ci_high: ci.map(|c| c.1),
        });
    }
    out
}

/// One manifest field of A and B; `unfair` marks differences that change what is measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestRow {
    pub field: String,
    pub a: String,
    pub b: String,
    pub differs: bool,
    pub unfair: bool,
}

fn manifest_rows(a: &Run, b: &Run) -> Vec<ManifestRow> {
    let (Some(ma), Some(mb)) = (&a.manifest, &b.manifest) else { return Vec::new() };
    /// A row's label, how to read it from a manifest, and whether a difference makes the comparison unfair.
    type Field = (&'static str, fn(&crate::run::Manifest) -> String, bool);
    let fields: Vec<Field> = vec![
        ("model", |m| m.model.source.clone(), false),
        ("model hash", |m| m.model.content_hash.chars().take(12).collect(), false),
        (
            "adapter",
            |m| {
                m.model
                    .adapter
                    .as_ref()
                    .map(|x| format!("{} (sha256 {})", x.path.display(), x.content_hash.chars().take(12).collect::<String>()))
                    .unwrap_or_else(|| "-".into())
            },
            false,
        ),
        ("engine", |m| format!("{} {}", m.engine.engine, m.engine.engine_version), true),
        ("engine build", |m| m.engine.build.clone().unwrap_or_else(|| "-".into()), true),
        // Greedy outputs depend on the instruction sets the kernels were built for.
        ("kernels", |m| m.engine.kernels.clone().unwrap_or_else(|| "-".into()), true),
        ("device", |m| m.engine.device.clone(), true),
        ("dtype / quantization", |m| format!("{} {}", m.engine.dtype, m.engine.quantization.clone().unwrap_or_default()), false),
        ("prompt style", |m| m.prompt_style.clone(), true),
        ("max new tokens", |m| m.generation.max_new_tokens.to_string(), true),
        ("temperature", |m| m.generation.temperature.map(|t| t.to_string()).unwrap_or_else(|| "greedy".into()), true),
        ("stop sequences", |m| m.generation.stop_sequences.join(" "), true),
        ("dataset", |m| m.dataset.sha256.chars().take(12).collect(), true),
        ("scorer", |m| m.scoring.label(), true),
        ("concurrency", |m| m.concurrency.to_string(), false),
        ("host", |m| format!("{} ({} cores)", m.host.cpu, m.host.cores), false),
    ];
    fields
        .into_iter()
        .map(|(field, get, unfair_if_differs)| {
            let (va, vb) = (get(ma), get(mb));
            let differs = va != vb;
            // "-": a run that does not record it (an older manifest): unknown, not unfair.
            let unfair = differs && unfair_if_differs && va != "-" && vb != "-";
            ManifestRow { field: field.into(), a: va, b: vb, differs, unfair }
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub schema: String,
    pub a: String,
    pub b: String,
    /// Set when the runs cover different cases and only the shared ones are compared.
    pub subset_note: Option<String>,
    pub overall: Paired,
    pub categories: BTreeMap<String, Paired>,
    pub fixed: Vec<CaseChange>,
    pub broken: Vec<CaseChange>,
    /// error type (or `valid`) in A -> in B -> count.
    pub transitions: BTreeMap<String, BTreeMap<String, usize>>,
    pub format_a: Format,
    pub format_b: Format,
    pub timing: Vec<Delta>,
    pub manifests: Vec<ManifestRow>,
    /// With `--repeats` in both runs: per-case pass rates, paired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_rates: Option<PassRates>,
    /// Where A's dataset has a leakage report beside it: the cases whose skeleton training
    /// has seen and the rest, paired.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_skeleton: BTreeMap<String, Paired>,
    /// The perturbation runs beside A and B (`--perturb`), per perturbation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub robustness: Vec<RobustnessPair>,
    pub verdict: String,
}

/// One perturbation as it moved A and B.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RobustnessPair {
    pub perturbation: String,
    pub a: Option<crate::perturb::robustness::Robustness>,
    pub b: Option<crate::perturb::robustness::Robustness>,
}

/// The perturbation rows of both runs, side by side, in the suite's order.
fn robustness_pairs(a: &Run, b: &Run) -> Result<Vec<RobustnessPair>, CompareError> {
    let of = |r: &Run| robustness_of_run(&r.dir, &r.results).map_err(CompareError::Manifest);
    let (ra, rb) = (of(a)?, of(b)?);
    let mut pairs: Vec<RobustnessPair> = Vec::new();
    for kind in crate::perturb::Perturbation::ALL {
        let find = |rows: &[crate::perturb::robustness::Robustness]| rows.iter().find(|r| r.perturbation == kind.name()).cloned();
        let (x, y) = (find(&ra), find(&rb));
        if x.is_some() || y.is_some() {
            pairs.push(RobustnessPair { perturbation: kind.name().into(), a: x, b: y });
        }
    }
    Ok(pairs)
}

/// The pairs split by whether training saw the case's skeleton (A's dataset's leakage report).
fn by_skeleton(a: &Run, pairs: &[(&ResultRecord, &ResultRecord)]) -> Result<BTreeMap<String, Paired>, CompareError> {
    let Some(m) = &a.manifest else { return Ok(BTreeMap::new()) };
    let Some(leakage) = crate::dataset::leakage::beside(std::path::Path::new(&m.dataset.path)).map_err(CompareError::Manifest)? else {
        return Ok(BTreeMap::new());
    };
    let seen = leakage.seen_by_id();
    let mut groups: BTreeMap<String, Vec<(&ResultRecord, &ResultRecord)>> = BTreeMap::new();
    for p in pairs {
        if let Some(&s) = seen.get(p.0.id.as_str()) {
            let g = if s { crate::summary::SEEN } else { crate::summary::UNSEEN };
            groups.entry(g.to_string()).or_default().push(*p);
        }
    }
    Ok(groups.iter().map(|(k, v)| (k.clone(), paired(v))).collect())
}

/// Repeated runs compared case by case on the share of runs that are right.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassRates {
    pub cases: usize,
    pub runs_a: usize,
    pub runs_b: usize,
    /// Mean per-case pass rate of A and B.
    pub a: f64,
    pub b: f64,
    pub delta: f64,
    /// Paired bootstrap 95% interval of the mean difference (cases resampled).
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// Paired sign-flip permutation test of the mean difference (two-sided).
    pub p_value: f64,
}

/// Pass rates of the cases both runs repeated; `None` unless both have repeats.
fn pass_rates(a: &Run, b: &Run) -> Option<PassRates> {
    if a.repeats.is_empty() || b.repeats.is_empty() {
        return None;
    }
    let rates = |r: &Run| -> HashMap<String, (f64, usize)> {
        crate::summary::runs_per_case(&r.repeats)
            .into_iter()
            .map(|(id, runs)| (id.to_string(), (runs.iter().filter(|x| x.valid).count() as f64 / runs.len() as f64, runs.len())))
            .collect()
    };
    let (ra, rb) = (rates(a), rates(b));
    let mut pairs: Vec<(f64, f64)> = ra.iter().filter_map(|(id, (x, _))| rb.get(id).map(|(y, _)| (*x, *y))).collect();
    pairs.sort_by(|p, q| p.0.total_cmp(&q.0).then(p.1.total_cmp(&q.1)));
    if pairs.is_empty() {
        return None;
    }
    let diffs: Vec<f64> = pairs.iter().map(|(x, y)| y - x).collect();
    let mean_of = |idx: &[usize]| mean(&idx.iter().map(|&i| diffs[i]).collect::<Vec<_>>());
    let delta = mean(&diffs)?;
    let ci = bootstrap_ci(diffs.len(), 2000, 0x5eed, mean_of);
    // Under no difference each case's difference is as likely negated.
    let mut rng = crate::stats::SplitMix64(0xf11b);
    let flips = 10_000;
    let extreme = (0..flips)
        .filter(|_| {
            let m = diffs.iter().map(|d| if rng.below(2) == 0 { *d } else { -*d }).sum::<f64>() / diffs.len() as f64;
            m.abs() >= delta.abs() - 1e-12
        })
        .count();
    let runs = |m: &HashMap<String, (f64, usize)>| m.values().map(|v| v.1).min().unwrap_or(0);
    Some(PassRates {
        cases: pairs.len(),
        runs_a: runs(&ra),
        runs_b: runs(&rb),
        a: mean(&pairs.iter().map(|p| p.0).collect::<Vec<_>>())?,
        b: mean(&pairs.iter().map(|p| p.1).collect::<Vec<_>>())?,
        delta,
        ci_low: ci.map(|c| c.0),
        ci_high: ci.map(|c| c.1),
        p_value: (extreme + 1) as f64 / (flips + 1) as f64,
    })
}

fn outcome(r: &ResultRecord) -> String {
    if r.valid { "valid".into() } else { r.error_type.clone().unwrap_or_else(|| "invalid".into()) }
}

/// Refusals first (different datasets, prompt styles, engines), then the paired comparison.
pub fn compare(a: &Run, b: &Run, allow: Allow, dataset: Option<&Dataset>) -> Result<Comparison, CompareError> {
    if let (Some(ma), Some(mb)) = (&a.manifest, &b.manifest) {
        if ma.dataset.sha256 != mb.dataset.sha256 && !allow.subset {
            return Err(CompareError::DifferentDatasets { a: ma.dataset.path.clone(), b: mb.dataset.path.clone() });
        }
        if ma.prompt_style != mb.prompt_style && !allow.style_mismatch {
            return Err(CompareError::StyleMismatch { a: ma.prompt_style.clone(), b: mb.prompt_style.clone() });
        }
        if ma.engine.engine != mb.engine.engine && !allow.engine_mismatch {
            return Err(CompareError::EngineMismatch { a: ma.engine.engine.clone(), b: mb.engine.engine.clone() });
        }
    }
    if a.judged_by() != b.judged_by() && !allow.scorer_mismatch {
        return Err(CompareError::ScorerMismatch { a: a.judged_by(), b: b.judged_by() });
    }
    let by_id: HashMap<&str, &ResultRecord> = b.results.iter().map(|r| (r.id.as_str(), r)).collect();
    let pairs: Vec<(&ResultRecord, &ResultRecord)> =
        a.results.iter().filter_map(|ra| by_id.get(ra.id.as_str()).map(|rb| (ra, *rb))).collect();
    if pairs.is_empty() {
        return Err(CompareError::NoSharedCases);
    }
    let (only_a, only_b) = (a.results.len() - pairs.len(), b.results.len() - pairs.len());
    if (only_a > 0 || only_b > 0) && !allow.subset {
        return Err(CompareError::DifferentDatasets {
            a: format!("{} ({} cases)", a.dir.display(), a.results.len()),
            b: format!("{} ({} cases)", b.dir.display(), b.results.len()),
        });
    }
    let subset_note = (only_a > 0 || only_b > 0)
        .then(|| format!("compared on the {} shared cases ({only_a} only in A, {only_b} only in B)", pairs.len()));

    let mut by_cat: BTreeMap<String, Vec<(&ResultRecord, &ResultRecord)>> = BTreeMap::new();
    for p in &pairs {
        by_cat.entry(p.0.category.clone()).or_default().push(*p);
    }
    let change = |(ra, rb): &(&ResultRecord, &ResultRecord)| CaseChange {
        id: ra.id.clone(),
        category: ra.category.clone(),
        expected: dataset.and_then(|d| d.get(&ra.id).ok()).map(|c| serde_json::to_value(&c.answers).unwrap_or_default()),
        a_error: ra.error_type.clone(),
        b_error: rb.error_type.clone(),
        a_output: ra.output.clone(),
        b_output: rb.output.clone(),
    };
    let mut transitions: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (ra, rb) in &pairs {
        *transitions.entry(outcome(ra)).or_default().entry(outcome(rb)).or_default() += 1;
    }
    let overall = paired(&pairs);
    let categories: BTreeMap<String, Paired> = by_cat.iter().map(|(k, v)| (k.clone(), paired(v))).collect();
    let timing = timing_deltas(&pairs);
    let verdict = verdict(&overall, &categories, &timing);
    Ok(Comparison {
        schema: COMPARE_SCHEMA.into(),
        a: a.label(),
        b: b.label(),
        subset_note,
        overall,
        categories,
        fixed: pairs.iter().filter(|(x, y)| !x.valid && y.valid).map(change).collect(),
        broken: pairs.iter().filter(|(x, y)| x.valid && !y.valid).map(change).collect(),
        transitions,
        format_a: format_of(pairs.iter().map(|p| p.0)),
        format_b: format_of(pairs.iter().map(|p| p.1)),
        timing,
        manifests: manifest_rows(a, b),
        pass_rates: pass_rates(a, b),
        by_skeleton: by_skeleton(a, &pairs)?,
        robustness: robustness_pairs(a, b)?,
        verdict,
    })
}

/// The comparison in one sentence.
fn verdict(overall: &Paired, categories: &BTreeMap<String, Paired>, timing: &[Delta]) -> String {
    let better = categories.values().filter(|p| p.delta > 0.0).count();
    let worse = categories.values().filter(|p| p.delta < 0.0).count();
    let direction = if overall.delta > 0.0 {
        "better"
    } else if overall.delta < 0.0 {
        "worse"
    } else {
        "no different"
    };
    let significance = if overall.p_value < 0.05 { "significant" } else { "not significant" };
    let mut s = format!(
        "B is {direction} overall ({:+.1} points, {:.1}% -> {:.1}%, McNemar p{}, {significance}); better on {better} and worse on {worse} of {} categories",
        100.0 * overall.delta,
        100.0 * overall.a.accuracy,
        100.0 * overall.b.accuracy,
        fmt_p(overall.p_value),
        categories.len()
    );
    if let Some(p95) = timing.iter().find(|d| d.metric == "e2e_ms p95") {
        s.push_str(&format!("; p95 latency {:+.0}%", 100.0 * (p95.ratio - 1.0)));
    }
    s
}

/// A p-value as `=0.031` or, when tiny, `=2.4e-12` (three decimals would print 0.000).
pub fn fmt_p(p: f64) -> String {
    if p < 0.001 { format!("={p:.1e}") } else { format!("={p:.3}") }
}

/// The robustness rows of every perturbation run found beside `run_dir`, in `Perturbation::ALL`
/// order; a perturbation without results is left out.
pub fn robustness_of_run(
    run_dir: &std::path::Path,
    results: &[ResultRecord],
) -> Result<Vec<crate::perturb::robustness::Robustness>, String> {
    let mut rows = Vec::new();
    for kind in crate::perturb::Perturbation::ALL {
        let dir = crate::perturb::robustness::variant_dir(run_dir, kind);
        if !dir.join(crate::run::RESULTS).is_file() {
            continue;
        }
        let variant = Run::load(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        rows.push(crate::perturb::robustness::robustness(kind, results, &variant.results));
    }
    Ok(rows)
}
