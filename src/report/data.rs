//! What a report shows, read from the runs: labels, accuracy per category, error types,
//! latencies, timings.

use std::collections::{BTreeMap, HashMap};

use crate::compare::Run;
use crate::dataset::Dataset;
use crate::records::ResultRecord;
use crate::run::RunTiming;
use crate::summary::Accuracy;

pub(super) struct ReportData {
    /// One per run: the run's label ("A: ...", "B: ..." when two).
    pub labels: Vec<String>,
    pub cats_per_run: Vec<BTreeMap<String, Accuracy>>,
    pub overall: Vec<Accuracy>,
    /// The categories, then "overall".
    pub cat_labels: Vec<String>,
    /// Per run, per entry of `cat_labels`: accuracy and its interval.
    pub acc_values: Vec<Vec<(f64, f64, f64)>>,
    pub types: Vec<String>,
    pub type_counts: Vec<Vec<usize>>,
    pub e2e: Vec<Vec<f64>>,
    /// (prompt tokens, TTFT ms) per case.
    pub ttft: Vec<Vec<(f64, f64)>>,
    /// (declared tools, TTFT ms) per case.
    pub ttft_tools: Vec<Vec<(f64, f64)>>,
    pub timings: Vec<Option<RunTiming>>,
    pub throughput: Vec<Vec<(f64, f64)>>,
}

impl ReportData {
    pub fn collect(runs: &[Run], dataset: Option<&Dataset>) -> ReportData {
        let labels: Vec<String> = match runs.len() {
            1 => vec![runs[0].label()],
            _ => vec![format!("A: {}", runs[0].label()), format!("B: {}", runs[1].label())],
        };
        // Accuracy by category (+ overall).
        let cats_per_run: Vec<BTreeMap<String, Accuracy>> = runs.iter().map(|r| per_category(&r.results)).collect();
        let mut categories: Vec<String> = cats_per_run.iter().flat_map(|m| m.keys().cloned()).collect();
        categories.sort();
        categories.dedup();
        let overall: Vec<Accuracy> =
            runs.iter().map(|r| Accuracy::new(r.results.iter().filter(|x| x.valid).count(), r.results.len())).collect();
        let acc_values: Vec<Vec<(f64, f64, f64)>> = cats_per_run
            .iter()
            .zip(&overall)
            .map(|(m, o)| {
                categories
                    .iter()
                    .map(|c| m.get(c).map(|a| (a.accuracy, a.ci_low, a.ci_high)).unwrap_or((0.0, 0.0, 0.0)))
                    .chain(std::iter::once((o.accuracy, o.ci_low, o.ci_high)))
                    .collect()
            })
            .collect();
        let mut cat_labels = categories.clone();
        cat_labels.push("overall".into());

        // Error types.
        let mut types: Vec<String> = runs.iter().flat_map(|r| r.results.iter().filter_map(|x| x.error_type.clone())).collect();
        types.sort();
        types.dedup();
        let type_counts: Vec<Vec<usize>> = runs
            .iter()
            .map(|r| types.iter().map(|t| r.results.iter().filter(|x| x.error_type.as_deref() == Some(t)).count()).collect())
            .collect();
        let e2e: Vec<Vec<f64>> = runs.iter().map(|r| r.results.iter().filter_map(|x| x.timings.total_ms).collect()).collect();
        let ttft: Vec<Vec<(f64, f64)>> = runs
            .iter()
            .map(|r| r.results.iter().filter_map(|x| Some((x.timings.prompt_tokens? as f64, x.timings.ttft_ms?))).collect())
            .collect();
        // How the number of declared tools (the length of the shared tool block) drives TTFT.
        let tools: HashMap<&str, usize> =
            dataset.map(|d| d.cases.iter().map(|c| (c.id.as_str(), c.tools.len())).collect()).unwrap_or_default();
        let ttft_tools: Vec<Vec<(f64, f64)>> = runs
            .iter()
            .map(|r| r.results.iter().filter_map(|x| Some((*tools.get(x.id.as_str())? as f64, x.timings.ttft_ms?))).collect())
            .collect();
        let timings: Vec<Option<RunTiming>> = runs.iter().map(run_timing).collect();
        let throughput: Vec<Vec<(f64, f64)>> =
            timings.iter().map(|t| t.iter().map(|t| (t.concurrency as f64, t.cases_per_s)).collect()).collect();

        ReportData { labels, cats_per_run, overall, cat_labels, acc_values, types, type_counts, e2e, ttft, ttft_tools, timings, throughput }
    }
}

fn per_category(results: &[ResultRecord]) -> BTreeMap<String, Accuracy> {
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for r in results {
        let e = counts.entry(r.category.clone()).or_default();
        e.0 += usize::from(r.valid);
        e.1 += 1;
    }
    counts.into_iter().map(|(k, (c, n))| (k, Accuracy::new(c, n))).collect()
}

fn run_timing(run: &Run) -> Option<RunTiming> {
    let text = std::fs::read_to_string(run.dir.join(crate::run::SUMMARY)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(v.get("timing")?.clone()).ok()
}
