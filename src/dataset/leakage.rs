//! How much of a test set its training set already holds, beyond exact duplicates: folded
//! duplicates, shared skeletons (`skeleton.rs`), near duplicates by word n-grams, argument
//! values shared per field, the declared tool sets and the (tool set, called names) patterns;
//! per test case, the nearest training row. Works on any dataset `Dataset::load` reads.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::case::tool_name;
use super::skeleton::{answer_values, fold, skeleton};
use super::{Case, Role};

pub const LEAKAGE_SCHEMA: &str = "fgbench.leakage/1";

/// Where a run's dataset keeps its leakage report: `X.jsonl` -> `X.leakage.json`.
pub fn leakage_path(dataset: &Path) -> std::path::PathBuf {
    dataset.with_extension("leakage.json")
}

/// The leakage report beside a dataset, when there is one.
pub fn beside(dataset: &Path) -> Result<Option<LeakageReport>, String> {
    let path = leakage_path(dataset);
    if path.is_file() { LeakageReport::read(&path).map(Some) } else { Ok(None) }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeakageReport {
    pub schema: String,
    pub train: String,
    pub test: String,
    pub train_rows: usize,
    pub test_rows: usize,
    /// Test requests whose text is a training request's, byte for byte.
    pub exact_duplicates: usize,
    pub exact_duplicate_rate: f64,
    /// ... once case, punctuation and spacing are folded.
    pub folded_duplicates: usize,
    pub folded_duplicate_rate: f64,
    /// Test requests whose skeleton a training request has.
    pub skeleton_overlap: usize,
    pub skeleton_overlap_rate: f64,
    pub train_skeletons: usize,
    pub test_skeletons: usize,
    /// Test requests with a training request at least `near_threshold` similar (Jaccard
    /// similarity of word 1-3-gram sets of the folded texts).
    pub near_duplicates: usize,
    pub near_duplicate_rate: f64,
    pub near_threshold: f64,
    pub toolsets: ToolsetOverlap,
    /// (declared tool set, called names in order) seen in training.
    pub call_patterns: Overlap,
    /// Free-form argument values (strings outside an enum, numbers, list items) per field.
    pub values: Vec<FieldOverlap>,
    pub value_overlap_rate: f64,
    pub cases: Vec<CaseLeak>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ToolsetOverlap {
    pub train_distinct: usize,
    pub test_distinct: usize,
    /// Test rows declaring a tool list a training row declares, in the same order.
    pub seen_in_order_rate: f64,
    /// ... in any order.
    pub seen_any_order_rate: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Overlap {
    pub train_distinct: usize,
    pub test_distinct: usize,
    pub seen_rate: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FieldOverlap {
    pub function: String,
    pub parameter: String,
    /// Distinct values the test set gives this field, and how many of them training gives it too.
    pub test_values: usize,
    pub seen_in_train: usize,
}

/// One test case against the training set.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseLeak {
    pub id: String,
    pub skeleton: String,
    pub exact_duplicate: bool,
    pub folded_duplicate: bool,
    pub skeleton_seen: bool,
    /// Training rows with this skeleton.
    pub skeleton_train_rows: usize,
    /// The most similar training row, and how similar (0-1).
    pub nearest_train: Option<String>,
    pub similarity: f64,
    pub near_duplicate: bool,
    pub toolset_seen: bool,
    pub call_pattern_seen: bool,
}

/// What leakage looks at in one case.
struct Row {
    text: String,
    folded: String,
    skeleton: String,
    toolset: Vec<String>,
    called: Vec<String>,
}

impl Row {
    fn of(case: &Case) -> Row {
        // Every user turn: multi-turn cases are matched on all the user said.
        let text: Vec<&str> = case.messages.iter().filter(|m| m.role == Role::User).map(|m| m.content.as_str()).collect();
        let text = text.join("\n");
        let values = answer_values(case.answers.iter().flat_map(|a| a.values()).flat_map(|params| params.values()).flatten());
        Row {
            folded: fold(&text),
            skeleton: skeleton(&text, &values),
            toolset: case.tools.iter().filter_map(|t| tool_name(t).map(String::from)).collect(),
            called: case.answers.iter().filter_map(|a| a.keys().next().cloned()).collect(),
            text,
        }
    }

    fn toolset_unordered(&self) -> Vec<String> {
        let mut t = self.toolset.clone();
        t.sort();
        t
    }

    fn pattern(&self) -> (Vec<String>, Vec<String>) {
        (self.toolset_unordered(), self.called.clone())
    }
}

/// Word 1-, 2- and 3-grams of a folded text, hashed, with start and end marks so that short
/// texts still have several.
fn shingles(folded: &str) -> Vec<u64> {
    let words: Vec<&str> = std::iter::once("\u{2}").chain(folded.split(' ')).chain(std::iter::once("\u{3}")).collect();
    let mut out: Vec<u64> =
        (1..=3).flat_map(|n| words.windows(n).map(|w| hash(&w)).collect::<Vec<_>>()).collect::<HashSet<_>>().into_iter().collect();
    out.sort_unstable();
    out
}

fn hash<T: Hash + ?Sized>(t: &T) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    t.hash(&mut h);
    h.finish()
}

/// Nearest training rows by shingle Jaccard similarity, through an inverted index.
struct NearIndex {
    postings: HashMap<u64, Vec<u32>>,
    sizes: Vec<u32>,
}

impl NearIndex {
    fn new(train: &[Vec<u64>]) -> NearIndex {
        let mut postings: HashMap<u64, Vec<u32>> = HashMap::new();
        for (i, s) in train.iter().enumerate() {
            for &h in s {
                postings.entry(h).or_default().push(i as u32);
            }
        }
        NearIndex { postings, sizes: train.iter().map(|s| s.len() as u32).collect() }
    }

    /// The most similar training row (lowest index on ties) and its similarity.
    fn nearest(&self, s: &[u64]) -> Option<(usize, f64)> {
        let mut shared: HashMap<u32, u32> = HashMap::new();
        for h in s {
            for &i in self.postings.get(h).map(Vec::as_slice).unwrap_or_default() {
                *shared.entry(i).or_default() += 1;
            }
        }
        shared
            .into_iter()
            .map(|(i, n)| (i as usize, n as f64 / (s.len() as f64 + self.sizes[i as usize] as f64 - n as f64)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
    }
}

fn rate(n: usize, of: usize) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

/// The leakage of `train` into `test` (see the module doc).
pub fn leakage(train: &[Case], test: &[Case], near_threshold: f64) -> LeakageReport {
    let train_rows: Vec<Row> = train.par_iter().map(Row::of).collect();
    let test_rows: Vec<Row> = test.par_iter().map(Row::of).collect();
    let texts: HashSet<&str> = train_rows.iter().map(|r| r.text.as_str()).collect();
    let folded: HashSet<&str> = train_rows.iter().map(|r| r.folded.as_str()).collect();
    let mut skeletons: HashMap<&str, usize> = HashMap::new();
    for r in &train_rows {
        *skeletons.entry(r.skeleton.as_str()).or_default() += 1;
    }
    let toolsets: HashSet<&Vec<String>> = train_rows.iter().map(|r| &r.toolset).collect();
    let toolsets_any: HashSet<Vec<String>> = train_rows.iter().map(Row::toolset_unordered).collect();
    let patterns: HashSet<(Vec<String>, Vec<String>)> = train_rows.iter().map(Row::pattern).collect();
    let index = NearIndex::new(&train_rows.par_iter().map(|r| shingles(&r.folded)).collect::<Vec<_>>());

    let cases: Vec<CaseLeak> = test
        .par_iter()
        .zip(&test_rows)
        .map(|(case, r)| {
            let nearest = index.nearest(&shingles(&r.folded));
            let similarity = nearest.map_or(0.0, |n| n.1);
            let skeleton_train_rows = skeletons.get(r.skeleton.as_str()).copied().unwrap_or(0);
            CaseLeak {
                id: case.id.clone(),
                skeleton: r.skeleton.clone(),
                exact_duplicate: texts.contains(r.text.as_str()),
                folded_duplicate: folded.contains(r.folded.as_str()),
                skeleton_seen: skeleton_train_rows > 0,
                skeleton_train_rows,
                nearest_train: nearest.map(|n| train[n.0].id.clone()),
                similarity: (similarity * 1e4).round() / 1e4,
                near_duplicate: similarity >= near_threshold,
                toolset_seen: toolsets.contains(&r.toolset),
                call_pattern_seen: patterns.contains(&r.pattern()),
            }
        })
        .collect();

    let n = test.len();
    let count = |f: fn(&CaseLeak) -> bool| cases.iter().filter(|c| f(c)).count();
    let (values, value_overlap_rate) = field_overlap(train, test);
    let test_skeletons: HashSet<&str> = test_rows.iter().map(|r| r.skeleton.as_str()).collect();
    LeakageReport {
        schema: LEAKAGE_SCHEMA.into(),
        train: String::new(),
        test: String::new(),
        train_rows: train.len(),
        test_rows: n,
        exact_duplicates: count(|c| c.exact_duplicate),
        exact_duplicate_rate: rate(count(|c| c.exact_duplicate), n),
        folded_duplicates: count(|c| c.folded_duplicate),
        folded_duplicate_rate: rate(count(|c| c.folded_duplicate), n),
        skeleton_overlap: count(|c| c.skeleton_seen),
        skeleton_overlap_rate: rate(count(|c| c.skeleton_seen), n),
        train_skeletons: skeletons.len(),
        test_skeletons: test_skeletons.len(),
        near_duplicates: count(|c| c.near_duplicate),
        near_duplicate_rate: rate(count(|c| c.near_duplicate), n),
        near_threshold,
        toolsets: ToolsetOverlap {
            train_distinct: toolsets.len(),
            test_distinct: test_rows.iter().map(|r| &r.toolset).collect::<HashSet<_>>().len(),
            seen_in_order_rate: rate(count(|c| c.toolset_seen), n),
            seen_any_order_rate: rate(test_rows.iter().filter(|r| toolsets_any.contains(&r.toolset_unordered())).count(), n),
        },
        call_patterns: Overlap {
            train_distinct: patterns.len(),
            test_distinct: test_rows.iter().map(Row::pattern).collect::<HashSet<_>>().len(),
            seen_rate: rate(count(|c| c.call_pattern_seen), n),
        },
        values,
        value_overlap_rate,
        cases,
    }
}

/// Per (function, parameter): the distinct free-form test values, and how many training
/// gives the same field; and the share of all of them seen.
fn field_overlap(train: &[Case], test: &[Case]) -> (Vec<FieldOverlap>, f64) {
    let seen: HashSet<(String, String, String)> = train.iter().flat_map(|c| c.free_values()).collect();
    let mut per_field: BTreeMap<(String, String), HashSet<String>> = BTreeMap::new();
    for (f, p, v) in test.iter().flat_map(|c| c.free_values()) {
        per_field.entry((f, p)).or_default().insert(v);
    }
    let (mut all, mut hit) = (0, 0);
    let fields = per_field
        .into_iter()
        .map(|((function, parameter), values)| {
            let seen_in_train = values.iter().filter(|v| seen.contains(&(function.clone(), parameter.clone(), (*v).clone()))).count();
            all += values.len();
            hit += seen_in_train;
            FieldOverlap { function, parameter, test_values: values.len(), seen_in_train }
        })
        .collect();
    (fields, rate(hit, all))
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

impl LeakageReport {
    /// The headline rows: what is measured, how many test rows, their share.
    fn headline(&self) -> Vec<(String, String, String)> {
        let row = |what: &str, n: usize, r: f64| (what.to_string(), n.to_string(), pct(r));
        let c = |r: f64| ((r * self.test_rows as f64).round() as usize).to_string();
        vec![
            row("exact duplicate requests", self.exact_duplicates, self.exact_duplicate_rate),
            row("duplicates once case and punctuation are folded", self.folded_duplicates, self.folded_duplicate_rate),
            row("skeleton seen in training", self.skeleton_overlap, self.skeleton_overlap_rate),
            row(&format!("near duplicates (similarity >= {})", self.near_threshold), self.near_duplicates, self.near_duplicate_rate),
            (
                "tool list declared in training (same order)".into(),
                c(self.toolsets.seen_in_order_rate),
                pct(self.toolsets.seen_in_order_rate),
            ),
            (
                "tool set declared in training (any order)".into(),
                c(self.toolsets.seen_any_order_rate),
                pct(self.toolsets.seen_any_order_rate),
            ),
            ("(tool set, called names) seen in training".into(), c(self.call_patterns.seen_rate), pct(self.call_patterns.seen_rate)),
        ]
    }

    /// A plain-text or markdown rendering (`markdown` picks which).
    pub fn render(&self, markdown: bool) -> String {
        let mut out = String::new();
        let title = format!(
            "Leakage of {} ({} rows) into {} ({} rows): {} skeletons in training, {} in test; free-form argument values seen in training: {}",
            self.train,
            self.train_rows,
            self.test,
            self.test_rows,
            self.train_skeletons,
            self.test_skeletons,
            pct(self.value_overlap_rate)
        );
        let mut fields: Vec<&FieldOverlap> = self.values.iter().collect();
        fields.sort_by(|a, b| b.seen_in_train.cmp(&a.seen_in_train).then(a.function.cmp(&b.function)));
        let field_rows: Vec<[String; 4]> = fields
            .iter()
            .take(20)
            .map(|f| {
                [
                    format!("{}.{}", f.function, f.parameter),
                    f.test_values.to_string(),
                    f.seen_in_train.to_string(),
                    pct(rate(f.seen_in_train, f.test_values)),
                ]
            })
            .collect();
        if markdown {
            out.push_str(&format!("**{title}**\n\n| test rows | n | share |\n|---|---:|---:|\n"));
            for (what, n, r) in self.headline() {
                out.push_str(&format!("| {what} | {n} | {r} |\n"));
            }
            out.push_str("\n| field | test values | seen in training | share |\n|---|---:|---:|---:|\n");
            for r in &field_rows {
                out.push_str(&format!("| {} | {} | {} | {} |\n", r[0], r[1], r[2], r[3]));
            }
        } else {
            out.push_str(&format!("{title}\n\n"));
            for (what, n, r) in self.headline() {
                out.push_str(&format!("  {what:<52} {n:>6} {r:>7}\n"));
            }
            out.push_str(&format!("\n  {:<40} {:>11} {:>8} {:>7}\n", "field", "test values", "seen", "share"));
            for r in &field_rows {
                out.push_str(&format!("  {:<40} {:>11} {:>8} {:>7}\n", r[0], r[1], r[2], r[3]));
            }
        }
        out
    }

    /// Reads a report `fgbench datasets leakage --out` wrote.
    pub fn read(path: &Path) -> Result<LeakageReport, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let report: LeakageReport = serde_json::from_str(&text).map_err(|e| format!("{}: not a leakage report: {e}", path.display()))?;
        if report.schema != LEAKAGE_SCHEMA {
            return Err(format!("{}: unsupported schema `{}` (this fgbench reads `{LEAKAGE_SCHEMA}`)", path.display(), report.schema));
        }
        Ok(report)
    }

    /// Case id -> whether its skeleton was seen in training.
    pub fn seen_by_id(&self) -> HashMap<&str, bool> {
        self.cases.iter().map(|c| (c.id.as_str(), c.skeleton_seen)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Value;
    use crate::dataset::{CASE_SCHEMA, CheckKind, ExpectedCall, Message};

    fn case(id: &str, text: &str, tools: &[&str], answer: &[(&str, &[(&str, Value)])]) -> Case {
        let answers: Vec<ExpectedCall> = answer
            .iter()
            .map(|(f, params)| {
                [(f.to_string(), params.iter().map(|(k, v)| (k.to_string(), vec![v.clone()])).collect())].into_iter().collect()
            })
            .collect();
        Case {
            schema: CASE_SCHEMA.into(),
            id: id.into(),
            category: "t".into(),
            kind: if answers.is_empty() { CheckKind::Irrelevance } else { CheckKind::Parallel },
            messages: vec![Message { role: Role::User, content: text.into(), tool_calls: vec![], name: None }],
            tools: tools.iter().map(|t| serde_json::json!({"name": t, "parameters": {"type": "object", "properties": {}}})).collect(),
            answers,
            source: None,
        }
    }

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    #[test]
    fn crafted_sets_give_the_counts_by_hand() {
        let train = vec![
            case(
                "t1",
                "Wake me up at 21:00 labelled water plants",
                &["alarm", "timer"],
                &[("alarm", &[("time", s("21:00")), ("label", s("water plants"))])],
            ),
            case("t2", "Start a 10 minute timer.", &["alarm", "timer"], &[("timer", &[("minutes", Value::Int(10))])]),
            case("t3", "What's the capital of Peru?", &["alarm", "timer"], &[]),
        ];
        let test = vec![
            // Same skeleton as t1, other values.
            case(
                "a",
                "Wake me up at 5:10 am labelled gym",
                &["alarm", "timer"],
                &[("alarm", &[("time", s("05:10")), ("label", s("gym"))])],
            ),
            // t3 with other case and punctuation: a folded duplicate (and so a skeleton too).
            case("b", "what's the capital of peru", &["timer", "alarm"], &[]),
            // t2 word for word.
            case("c", "Start a 10 minute timer.", &["alarm", "timer"], &[("timer", &[("minutes", Value::Int(10))])]),
            // New words, a tool set never declared.
            case(
                "d",
                "Could you please count down for the eggs, nine minutes",
                &["timer"],
                &[("timer", &[("minutes", Value::Int(9)), ("label", s("eggs"))])],
            ),
        ];
        let r = leakage(&train, &test, 0.8);
        assert_eq!(r.test_rows, 4);
        assert_eq!((r.exact_duplicates, r.folded_duplicates, r.skeleton_overlap), (1, 2, 3));
        assert_eq!(r.exact_duplicate_rate, 0.25);
        assert_eq!(r.skeleton_overlap_rate, 0.75);
        let by_id: HashMap<&str, &CaseLeak> = r.cases.iter().map(|c| (c.id.as_str(), c)).collect();
        assert!(by_id["a"].skeleton_seen && !by_id["a"].folded_duplicate);
        assert_eq!(by_id["a"].nearest_train.as_deref(), Some("t1"));
        assert_eq!(by_id["c"].similarity, 1.0);
        assert!(by_id["c"].near_duplicate && !by_id["d"].near_duplicate && !by_id["d"].skeleton_seen);
        // Tool lists: a, c in the same order as training; b in another order; d never.
        assert_eq!(r.toolsets.seen_in_order_rate, 0.5);
        assert_eq!(r.toolsets.seen_any_order_rate, 0.75);
        assert!(by_id["c"].call_pattern_seen && !by_id["d"].call_pattern_seen);
        // Values: alarm.time 05:10 and alarm.label gym are new; timer.minutes 10 is seen, 9 is not.
        let minutes = r.values.iter().find(|f| f.function == "timer" && f.parameter == "minutes").unwrap();
        assert_eq!((minutes.test_values, minutes.seen_in_train), (2, 1));
    }

    #[test]
    fn an_empty_training_set_leaks_nothing() {
        let test = vec![case("a", "Hello there", &["x"], &[])];
        let r = leakage(&[], &test, 0.8);
        assert_eq!((r.skeleton_overlap, r.near_duplicates), (0, 0));
        assert_eq!(r.cases[0].nearest_train, None);
    }
}
