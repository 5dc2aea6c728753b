//! How a run's verdicts hold up under each perturbation: the variant runs live in
//! `RUN/perturb/KIND/` beside the run, and each is paired with the run case by case
//! (accuracy on the same cases, the change, McNemar's exact p, the flipped cases).

use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Perturbation;
use crate::records::ResultRecord;
use crate::stats::{Accuracy, Paired};

/// Where a run keeps the run of one perturbation.
pub fn variant_dir(run: &Path, kind: Perturbation) -> PathBuf {
    run.join("perturb").join(kind.name())
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Robustness {
    pub perturbation: String,
    /// Cases both runs hold.
    pub n: usize,
    pub original: Accuracy,
    pub perturbed: Accuracy,
    /// perturbed - original (a share; negative is a drop).
    pub delta: f64,
    pub p_value: f64,
    /// Right on the original, wrong on the variant.
    pub broken: Vec<String>,
    /// Wrong on the original, right on the variant.
    pub fixed: Vec<String>,
}

/// The original run's first-run verdicts paired with the variant's.
pub fn robustness(kind: Perturbation, original: &[ResultRecord], perturbed: &[ResultRecord]) -> Robustness {
    let by_id: HashMap<&str, bool> = perturbed.iter().filter(|r| r.repeat == 0).map(|r| (r.id.as_str(), r.valid)).collect();
    let pairs: Vec<(&str, bool, bool)> =
        original.iter().filter(|r| r.repeat == 0).filter_map(|r| Some((r.id.as_str(), r.valid, *by_id.get(r.id.as_str())?))).collect();
    let counts = Paired::of(pairs.iter().map(|x| (x.1, x.2)));
    let ids = |keep: fn(bool, bool) -> bool| pairs.iter().filter(|x| keep(x.1, x.2)).map(|x| x.0.to_string()).collect();
    Robustness {
        perturbation: kind.name().into(),
        n: counts.n,
        delta: counts.delta,
        original: counts.a,
        perturbed: counts.b,
        p_value: counts.p_value,
        broken: ids(|o, p| o && !p),
        fixed: ids(|o, p| !o && p),
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// A table of robustness rows (plain text, or markdown).
pub fn render(rows: &[Robustness], markdown: bool) -> String {
    let mut o = String::new();
    if markdown {
        let _ = writeln!(
            o,
            "| perturbation | n | original | perturbed | change | broken | fixed | McNemar p |\n|---|---:|---:|---:|---:|---:|---:|---:|"
        );
    } else {
        let _ = writeln!(
            o,
            "{:<20} {:>5} {:>9} {:>10} {:>8} {:>7} {:>6} {:>9}",
            "perturbation", "n", "original", "perturbed", "change", "broken", "fixed", "p"
        );
    }
    for r in rows {
        let cells = [
            r.perturbation.clone(),
            r.n.to_string(),
            pct(r.original.accuracy),
            pct(r.perturbed.accuracy),
            format!("{:+.1}", 100.0 * r.delta),
            r.broken.len().to_string(),
            r.fixed.len().to_string(),
            format!("{:.4}", r.p_value),
        ];
        if markdown {
            let _ = writeln!(o, "| {} |", cells.join(" | "));
        } else {
            let _ = writeln!(
                o,
                "{:<20} {:>5} {:>9} {:>10} {:>8} {:>7} {:>6} {:>9}",
                cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7]
            );
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, valid: bool) -> ResultRecord {
        serde_json::from_value(serde_json::json!({
            "schema": "fgbench.result/1", "id": id, "category": "c", "valid": valid, "shape": "calls", "calls": [], "output": ""
        }))
        .unwrap()
    }

    #[test]
    fn pairs_by_id_and_lists_the_flips() {
        let original = [rec("a", true), rec("b", true), rec("c", false), rec("d", true)];
        let variant = [rec("b", false), rec("a", true), rec("c", true), rec("x", true)];
        let r = robustness(Perturbation::Rename, &original, &variant);
        assert_eq!(r.n, 3, "d has no variant, x no original");
        assert_eq!((r.original.correct, r.perturbed.correct), (2, 2));
        assert_eq!((r.broken.as_slice(), r.fixed.as_slice()), (&["b".to_string()][..], &["c".to_string()][..]));
        assert_eq!(r.delta, 0.0);
        assert_eq!(r.p_value, 1.0);
        assert!(render(&[r], true).contains("| rename | 3 | 66.7% | 66.7% | +0.0 | 1 | 1 |"));
    }
}
