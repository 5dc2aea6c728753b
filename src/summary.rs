//! Summaries of scored results: accuracy per category with confidence intervals, format
//! health and error-type counts. A pure function of result records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::call_decisions::CallDecisions;
use crate::dataset::{Case, CheckKind};
use crate::records::ResultRecord;
use crate::score::{OutputShape, PARSE_ERROR};
pub use crate::stats::Accuracy;

pub const SUMMARY_SCHEMA: &str = "fgbench.summary/1";

/// How outputs were shaped, whatever their verdict.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FormatHealth {
    pub calls: usize,
    pub empty: usize,
    pub prose: usize,
    pub malformed: usize,
    /// Share of outputs the strict parser rejects.
    pub parse_error_rate: f64,
    /// Share of outputs that are prose where a call was expected.
    pub prose_instead_of_call_rate: f64,
    /// No call on an irrelevance case (right).
    pub correct_abstentions: usize,
    /// No call where a call was expected (wrong).
    pub wrong_abstentions: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema: String,
    pub total_cases: usize,
    pub scored: usize,
    pub missing: Vec<String>,
    pub overall: Accuracy,
    pub categories: BTreeMap<String, Accuracy>,
    pub format: FormatHealth,
    pub error_types: BTreeMap<String, usize>,
    /// With `--repeats N`: how the N runs of each case agree (the table above is the first run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<RepeatStats>,
    /// The decision to call at all, whatever the call: call vs no call against the case's kind.
    #[serde(default)]
    pub decisions: CallDecisions,
    /// Where the dataset has a leakage report beside it: accuracy on the rows whose skeleton
    /// training has seen and on those it has not (`SEEN`, `UNSEEN`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_skeleton: BTreeMap<String, Accuracy>,
    /// With the exact scorer: the `normalized` tier beside it (exact stays the verdict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalized: Option<NormalizedTier>,
    /// With `--perturb`: each variant run paired with this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub robustness: Vec<crate::perturb::robustness::Robustness>,
}

/// Exact match is a lower bound: how many more are right once case, surrounding whitespace
/// and punctuation of strings, and date-time spellings are folded (`score::exact::check_normalized`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NormalizedTier {
    pub accuracy: Accuracy,
    /// Wrong by exact match, right once normalized.
    pub near_misses: Vec<String>,
}

/// The normalized tier of exact-scored results (first runs only).
pub fn normalized_tier(cases: &[Case], results: &[ResultRecord]) -> NormalizedTier {
    let by_id: rustc_hash::FxHashMap<&str, &Case> = cases.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut near_misses = Vec::new();
    let (mut right, mut n) = (0, 0);
    for r in results.iter().filter(|r| r.repeat == 0) {
        let Some(case) = by_id.get(r.id.as_str()) else { continue };
        n += 1;
        // Only a wrong call can be a near miss; malformed output and engine failures stay wrong.
        let call_was_judged = r.error_type.as_deref().is_some_and(|t| t.starts_with("exact:"));
        if r.valid {
            right += 1;
        } else if call_was_judged && crate::score::exact::check_normalized(&crate::score::AnswerKey::from(*case), &r.calls).valid {
            right += 1;
            near_misses.push(r.id.clone());
        }
    }
    NormalizedTier { accuracy: Accuracy::new(right, n), near_misses }
}

/// The `by_skeleton` groups.
pub const SEEN: &str = "seen in training";
pub const UNSEEN: &str = "unseen";

/// Accuracy per group of the first runs whose case `group` names (cases it does not name are
/// left out).
pub fn accuracy_by<'a>(results: &'a [ResultRecord], group: impl Fn(&'a str) -> Option<&'a str>) -> BTreeMap<String, Accuracy> {
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in results.iter().filter(|r| r.repeat == 0) {
        if let Some(g) = group(r.id.as_str()) {
            let e = counts.entry(g).or_default();
            e.0 += usize::from(r.valid);
            e.1 += 1;
        }
    }
    counts.into_iter().map(|(g, (c, n))| (g.to_string(), Accuracy::new(c, n))).collect()
}

/// Accuracy on the rows whose skeleton training has seen and on the rest, from a leakage report.
pub fn by_skeleton(results: &[ResultRecord], leakage: &crate::dataset::leakage::LeakageReport) -> BTreeMap<String, Accuracy> {
    let seen = leakage.seen_by_id();
    accuracy_by(results, |id| seen.get(id).map(|&s| if s { SEEN } else { UNSEEN }))
}

/// Every case run N times with different seeds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RepeatStats {
    /// Runs per case (the smallest any case has).
    pub n: usize,
    pub cases: usize,
    /// Mean over cases of the share of runs that are right.
    pub pass_at_1: f64,
    /// Share of cases right in at least one of the N runs.
    pub pass_at_n: f64,
    /// Share of cases right in all N runs (pass^N).
    pub pass_all_n: f64,
    /// Share of cases whose N outputs are all the same text.
    pub consistency: f64,
}

/// Per case (in `cases` order), the verdicts and outputs of its runs, when any case has more
/// than one.
pub fn runs_per_case(results: &[ResultRecord]) -> BTreeMap<&str, Vec<&ResultRecord>> {
    let mut m: BTreeMap<&str, Vec<&ResultRecord>> = BTreeMap::new();
    for r in results {
        m.entry(r.id.as_str()).or_default().push(r);
    }
    m
}

/// pass@1, pass@N, pass^N and consistency of repeated runs; `None` without repeats.
pub fn repeat_stats(results: &[ResultRecord]) -> Option<RepeatStats> {
    let per_case = runs_per_case(results);
    let n = per_case.values().map(Vec::len).min()?;
    if n < 2 {
        return None;
    }
    let cases = per_case.len() as f64;
    let rate = |runs: &Vec<&ResultRecord>| runs.iter().filter(|r| r.valid).count() as f64 / runs.len() as f64;
    Some(RepeatStats {
        n,
        cases: per_case.len(),
        pass_at_1: per_case.values().map(rate).sum::<f64>() / cases,
        pass_at_n: per_case.values().filter(|r| r.iter().any(|x| x.valid)).count() as f64 / cases,
        pass_all_n: per_case.values().filter(|r| r.iter().all(|x| x.valid)).count() as f64 / cases,
        consistency: per_case.values().filter(|r| r.windows(2).all(|w| w[0].output == w[1].output)).count() as f64 / cases,
    })
}

/// What a summary needs of a case: its id, category and kind (a scorer that streams a
/// large dataset keeps only this much of each case).
pub trait CaseInfo {
    fn id(&self) -> &str;
    fn category(&self) -> &str;
    fn kind(&self) -> CheckKind;
}

/// The part of a case a summary needs.
#[derive(Clone, Debug)]
pub struct CaseMeta {
    pub id: String,
    pub category: String,
    pub kind: CheckKind,
}

impl From<&Case> for CaseMeta {
    fn from(c: &Case) -> CaseMeta {
        CaseMeta { id: c.id.clone(), category: c.category.clone(), kind: c.kind }
    }
}

impl From<&crate::score::AnswerKey> for CaseMeta {
    fn from(c: &crate::score::AnswerKey) -> CaseMeta {
        CaseMeta { id: c.id.clone(), category: c.category.clone(), kind: c.kind }
    }
}

/// Both hold the three fields under the same names.
macro_rules! case_info_from_fields {
    ($($t:ty),*) => {$(
        impl CaseInfo for $t {
            fn id(&self) -> &str {
                &self.id
            }
            fn category(&self) -> &str {
                &self.category
            }
            fn kind(&self) -> CheckKind {
                self.kind
            }
        }
    )*};
}
case_info_from_fields!(Case, CaseMeta);

/// Summarises results against the cases they were scored on (`cases` gives the kinds and
/// tells which cases have no result).
pub fn summarize<C: CaseInfo>(cases: &[C], results: &[ResultRecord]) -> Summary {
    // The table is about each case's first run; repeats are summarised on their own.
    let by_id: rustc_hash::FxHashMap<&str, &ResultRecord> = results.iter().filter(|r| r.repeat == 0).map(|r| (r.id.as_str(), r)).collect();
    let mut s = Summary { schema: SUMMARY_SCHEMA.into(), total_cases: cases.len(), repeats: repeat_stats(results), ..Default::default() };
    let mut cat_counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut correct, mut expected_call) = (0, 0);
    for case in cases {
        let Some(r) = by_id.get(case.id()) else {
            s.missing.push(case.id().to_string());
            continue;
        };
        s.scored += 1;
        let entry = match cat_counts.get_mut(case.category()) {
            Some(e) => e,
            None => cat_counts.entry(case.category().to_string()).or_default(),
        };
        entry.1 += 1;
        if r.valid {
            entry.0 += 1;
            correct += 1;
        } else if let Some(t) = &r.error_type {
            *s.error_types.entry(t.clone()).or_default() += 1;
        }
        let wants_call = !matches!(case.kind(), CheckKind::Irrelevance);
        if wants_call {
            expected_call += 1;
        }
        s.decisions.add(wants_call, matches!(r.shape, OutputShape::Calls | OutputShape::Malformed), r.timings.call_start_p);
        match r.shape {
            OutputShape::Calls => s.format.calls += 1,
            OutputShape::Empty => s.format.empty += 1,
            OutputShape::Prose => {
                s.format.prose += 1;
                if wants_call {
                    s.format.prose_instead_of_call_rate += 1.0;
                }
            }
            OutputShape::Malformed => s.format.malformed += 1,
        }
        if r.calls.is_empty() {
            if wants_call {
                s.format.wrong_abstentions += 1;
            } else {
                s.format.correct_abstentions += 1;
            }
        }
    }
    s.decisions.finish();
    s.overall = Accuracy::new(correct, s.scored);
    s.categories = cat_counts.into_iter().map(|(k, (c, n))| (k, Accuracy::new(c, n))).collect();
    s.format.parse_error_rate = ratio(s.format.malformed, s.scored);
    s.format.prose_instead_of_call_rate = ratio(s.format.prose_instead_of_call_rate as usize, expected_call);
    s
}

fn ratio(k: usize, n: usize) -> f64 {
    if n == 0 { 0.0 } else { k as f64 / n as f64 }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// A terminal table of the summary.
pub fn render_table(s: &Summary) -> String {
    let mut out = String::new();
    let width = s.categories.keys().map(|k| k.len()).max().unwrap_or(8).max(8);
    out.push_str(&format!("{:<width$}  {:>5}  {:>7}  {:>9}  {}\n", "category", "n", "correct", "accuracy", "95% CI"));
    let mut row = |name: &str, a: &Accuracy| {
        out.push_str(&format!(
            "{:<width$}  {:>5}  {:>7}  {:>9}  [{}, {}]\n",
            name,
            a.n,
            a.correct,
            pct(a.accuracy),
            pct(a.ci_low),
            pct(a.ci_high)
        ));
    };
    for (name, a) in &s.categories {
        row(name, a);
    }
    row("overall", &s.overall);
    let f = &s.format;
    out.push_str(&format!(
        "\nformat: {} with calls, {} prose, {} empty, {} malformed (parse-error rate {}; prose instead of a call {})\n",
        f.calls,
        f.prose,
        f.empty,
        f.malformed,
        pct(f.parse_error_rate),
        pct(f.prose_instead_of_call_rate)
    ));
    out.push_str(&format!(
        "abstentions: {} correct (irrelevance), {} wrong (a call was expected)\n",
        f.correct_abstentions, f.wrong_abstentions
    ));
    let d = &s.decisions;
    out.push_str(&format!(
        "call decisions: call rate {}, precision {} ({} of {} calls where one was wanted), recall {}\n",
        pct(d.call_rate),
        pct(d.precision),
        d.called_when_wanted,
        d.called_when_wanted + d.called_when_not_wanted,
        pct(d.recall)
    ));
    if let Some(c) = &d.confidence {
        out.push_str(&c.line());
    }
    if let Some(t) = &s.normalized {
        let shown: Vec<&str> = t.near_misses.iter().take(8).map(String::as_str).collect();
        out.push_str(&format!(
            "normalized (case, whitespace, punctuation, date-time spellings folded): {} [{}, {}], {} near misses{}\n",
            pct(t.accuracy.accuracy),
            pct(t.accuracy.ci_low),
            pct(t.accuracy.ci_high),
            t.near_misses.len(),
            if shown.is_empty() { String::new() } else { format!(": {}", shown.join(", ")) }
        ));
    }
    for (group, a) in &s.by_skeleton {
        out.push_str(&format!("skeleton {group}: {}/{} = {} [{}, {}]\n", a.correct, a.n, pct(a.accuracy), pct(a.ci_low), pct(a.ci_high)));
    }
    if !s.error_types.is_empty() {
        out.push_str("errors:\n");
        let mut types: Vec<_> = s.error_types.iter().collect();
        types.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (t, n) in types {
            let marker = if t == PARSE_ERROR { " (malformed output)" } else { "" };
            out.push_str(&format!("  {n:>5}  {t}{marker}\n"));
        }
    }
    if let Some(r) = &s.repeats {
        out.push_str(&format!(
            "repeats: {} runs of each of {} cases: pass@1 {}, pass@{} {}, pass^{} {}, identical outputs in {} of cases\n",
            r.n,
            r.cases,
            pct(r.pass_at_1),
            r.n,
            pct(r.pass_at_n),
            r.n,
            pct(r.pass_all_n),
            pct(r.consistency)
        ));
    }
    if !s.missing.is_empty() {
        let shown: Vec<&str> = s.missing.iter().take(10).map(String::as_str).collect();
        let more = if s.missing.len() > 10 { format!(" and {} more", s.missing.len() - 10) } else { String::new() };
        out.push_str(&format!("missing: {} cases without a prediction: {}{more}\n", s.missing.len(), shown.join(", ")));
    }
    out
}

/// CSV rows: one per category and an `overall` row.
pub fn render_csv(s: &Summary) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["category", "n", "correct", "accuracy", "ci_low", "ci_high"])?;
    let rows = s.categories.iter().map(|(k, a)| (k.as_str(), a)).chain(std::iter::once(("overall", &s.overall)));
    for (name, a) in rows {
        w.write_record([
            name.to_string(),
            a.n.to_string(),
            a.correct.to_string(),
            format!("{:.6}", a.accuracy),
            format!("{:.6}", a.ci_low),
            format!("{:.6}", a.ci_high),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
