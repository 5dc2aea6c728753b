//! `fgbench parity`: the same cases through several engine variants (dtype, in-situ
//! quantization, concurrency), greedy; per case whether the completions are identical and
//! where they first diverge (in tokens), and a summary against the first variant.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::records::ResultRecord;
use crate::stats::mcnemar_exact;
use crate::summary::Accuracy;

/// One case of one variant against the reference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseParity {
    pub id: String,
    pub identical: bool,
    /// Index of the first differing completion token (None when identical).
    pub first_divergence: Option<usize>,
    pub reference_valid: bool,
    pub valid: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantParity {
    pub label: String,
    pub n: usize,
    pub identical: usize,
    pub identical_share: f64,
    /// Median first-divergence token over the cases that differ.
    pub median_divergence: Option<usize>,
    pub reference_accuracy: Accuracy,
    pub accuracy: Accuracy,
    /// Exact McNemar p of the verdict differences.
    pub p_value: f64,
    pub cases: Vec<CaseParity>,
}

/// The part of a completion that parity compares: all of it but leading whitespace, which
/// mistral.rs 0.8.1 strips from every completion (`Sequence::peek_delta` and the final text
/// in its sampling pipeline) and llama.cpp keeps. Without this, a model that starts with a
/// newline (random weights do, every time) differs at token 0 on every case.
fn comparable(output: &str) -> &str {
    output.trim_start()
}

/// Compares a variant's results with the reference's, case by case (matched by id).
/// `encode` gives a completion's token ids as generated (no `<bos>` in front).
pub fn compare_variant(
    label: &str,
    reference: &[ResultRecord],
    other: &[ResultRecord],
    encode: &dyn Fn(&str) -> Vec<u32>,
) -> VariantParity {
    let by_id: HashMap<&str, &ResultRecord> = other.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut cases = Vec::new();
    for r in reference {
        let Some(o) = by_id.get(r.id.as_str()) else { continue };
        let (ro, oo) = (comparable(&r.output), comparable(&o.output));
        let identical = ro == oo;
        let first_divergence = (!identical).then(|| {
            let (a, b) = (encode(ro), encode(oo));
            a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()))
        });
        cases.push(CaseParity { id: r.id.clone(), identical, first_divergence, reference_valid: r.valid, valid: o.valid });
    }
    let n = cases.len();
    let identical = cases.iter().filter(|c| c.identical).count();
    let mut div: Vec<usize> = cases.iter().filter_map(|c| c.first_divergence).collect();
    div.sort_unstable();
    let fixed = cases.iter().filter(|c| !c.reference_valid && c.valid).count();
    let broken = cases.iter().filter(|c| c.reference_valid && !c.valid).count();
    VariantParity {
        label: label.into(),
        n,
        identical,
        identical_share: if n == 0 { 0.0 } else { identical as f64 / n as f64 },
        median_divergence: div.get(div.len() / 2).copied(),
        reference_accuracy: Accuracy::new(cases.iter().filter(|c| c.reference_valid).count(), n),
        accuracy: Accuracy::new(cases.iter().filter(|c| c.valid).count(), n),
        p_value: mcnemar_exact(fixed, broken),
        cases,
    }
}

pub fn render_table(reference: &str, variants: &[VariantParity]) -> String {
    let w = variants.iter().map(|v| v.label.len()).chain([24]).max().unwrap_or(24);
    let mut o = format!(
        "reference: {reference}\n{:<w$} {:>5} {:>10} {:>16} {:>10} {:>10} {:>8}\n",
        "variant", "n", "identical", "median diverge", "acc ref", "acc", "p"
    );
    for v in variants {
        o.push_str(&format!(
            "{:<w$} {:>5} {:>9.1}% {:>16} {:>9.1}% {:>9.1}% {:>8.4}\n",
            v.label,
            v.n,
            100.0 * v.identical_share,
            v.median_divergence.map(|d| format!("token {d}")).unwrap_or_else(|| "-".into()),
            100.0 * v.reference_accuracy.accuracy,
            100.0 * v.accuracy.accuracy,
            v.p_value
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, output: &str, valid: bool) -> ResultRecord {
        serde_json::from_value(serde_json::json!({
            "schema": "fgbench.result/1", "id": id, "category": "simple", "valid": valid,
            "shape": "empty", "calls": [], "output": output, "prompt_tokens": 10, "completion_tokens": 3
        }))
        .unwrap()
    }

    /// One token per character.
    fn chars(s: &str) -> Vec<u32> {
        s.chars().map(|c| c as u32).collect()
    }

    #[test]
    fn leading_whitespace_is_not_a_divergence_but_anything_after_it_is() {
        let reference = [record("a", "\n\nhello", true), record("b", "abcd", true), record("c", "xy", false)];
        let other = [record("a", "hello", true), record("b", "abXd", false), record("c", "xy", false)];
        let v = compare_variant("v", &reference, &other, &chars);
        assert_eq!(v.n, 3);
        assert_eq!(v.identical, 2, "{:?}", v.cases);
        assert_eq!(v.cases[0].first_divergence, None);
        assert_eq!(v.cases[1].first_divergence, Some(2));
        assert_eq!(v.median_divergence, Some(2));
        assert_eq!((v.reference_accuracy.correct, v.accuracy.correct), (2, 1));
    }
}
