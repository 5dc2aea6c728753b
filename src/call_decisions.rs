//! The decision to call at all, the one an on-device router tunes: call vs no call against the
//! case's kind, and, where the engine reports the model's probability of starting a call at
//! the first generated position, how well that probability separates the two (AUROC), the
//! threshold that reaches a target precision, and the risk-coverage curve of the decision.

use serde::{Deserialize, Serialize};

/// The precision a router calling only above a threshold should reach.
pub const TARGET_PRECISION: f64 = 0.95;

/// A case wants a call unless it is an irrelevance case; an output calls when it holds a call
/// block (well formed or not).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CallDecisions {
    pub called_when_wanted: usize,
    pub called_when_not_wanted: usize,
    pub silent_when_wanted: usize,
    pub silent_when_not_wanted: usize,
    /// Share of outputs that call.
    pub call_rate: f64,
    /// Of the outputs that call, the share whose case wants a call.
    pub precision: f64,
    /// Of the cases that want a call, the share whose output calls.
    pub recall: f64,
    /// From the call-start probabilities, when the engine reported them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<CallConfidence>,
    /// (probability, wants a call) per case, kept until `finish`.
    #[serde(skip)]
    scores: Vec<(f64, bool)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CallConfidence {
    /// Cases with a probability.
    pub cases: usize,
    /// Area under the ROC curve of the probability for "wants a call" (0.5: no better than chance).
    pub auroc: f64,
    pub target_precision: f64,
    /// The lowest threshold at which calling only where the probability reaches it has at
    /// least the target precision; `None` when no threshold does.
    pub threshold: Option<f64>,
    pub precision_at_threshold: f64,
    pub recall_at_threshold: f64,
    /// The decision "call when the probability is at least 0.5", its cases taken most
    /// confident first: (coverage, risk = share of wrong decisions among them), in tenths.
    pub risk_coverage: Vec<(f64, f64)>,
}

fn ratio(k: usize, n: usize) -> f64 {
    if n == 0 { 0.0 } else { k as f64 / n as f64 }
}

impl CallDecisions {
    pub fn add(&mut self, wants: bool, called: bool, call_start_p: Option<f64>) {
        match (wants, called) {
            (true, true) => self.called_when_wanted += 1,
            (false, true) => self.called_when_not_wanted += 1,
            (true, false) => self.silent_when_wanted += 1,
            (false, false) => self.silent_when_not_wanted += 1,
        }
        if let Some(p) = call_start_p.filter(|p| p.is_finite()) {
            self.scores.push((p, wants));
        }
    }

    pub fn finish(&mut self) {
        let called = self.called_when_wanted + self.called_when_not_wanted;
        let n = called + self.silent_when_wanted + self.silent_when_not_wanted;
        self.call_rate = ratio(called, n);
        self.precision = ratio(self.called_when_wanted, called);
        self.recall = ratio(self.called_when_wanted, self.called_when_wanted + self.silent_when_wanted);
        self.confidence = (!self.scores.is_empty()).then(|| confidence(std::mem::take(&mut self.scores)));
    }
}

fn confidence(mut scores: Vec<(f64, bool)>) -> CallConfidence {
    let n = scores.len();
    let wanted = scores.iter().filter(|s| s.1).count();
    // Most likely to call first; on ties the cases that do not want a call first (pessimistic).
    scores.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let (mut hits, mut best) = (0, None);
    for (k, &(p, wants)) in scores.iter().enumerate() {
        hits += usize::from(wants);
        let last_of_tie = scores.get(k + 1).is_none_or(|next| next.0 < p);
        if last_of_tie && ratio(hits, k + 1) >= TARGET_PRECISION {
            best = Some((p, ratio(hits, k + 1), ratio(hits, wanted)));
        }
    }
    CallConfidence {
        cases: n,
        auroc: auroc(&scores),
        target_precision: TARGET_PRECISION,
        threshold: best.map(|b| b.0),
        precision_at_threshold: best.map_or(0.0, |b| b.1),
        recall_at_threshold: best.map_or(0.0, |b| b.2),
        risk_coverage: risk_coverage(&scores),
    }
}

/// The Mann-Whitney statistic: the chance a case that wants a call scores above one that does
/// not (ties count half).
fn auroc(scores: &[(f64, bool)]) -> f64 {
    let (pos, neg): (Vec<f64>, Vec<f64>) =
        (scores.iter().filter(|s| s.1).map(|s| s.0).collect(), scores.iter().filter(|s| !s.1).map(|s| s.0).collect());
    if pos.is_empty() || neg.is_empty() {
        return 0.5;
    }
    let wins: f64 = pos
        .iter()
        .map(|p| {
            neg.iter()
                .map(|q| {
                    if p > q {
                        1.0
                    } else if p == q {
                        0.5
                    } else {
                        0.0
                    }
                })
                .sum::<f64>()
        })
        .sum();
    wins / (pos.len() * neg.len()) as f64
}

fn risk_coverage(scores: &[(f64, bool)]) -> Vec<(f64, f64)> {
    let mut by_confidence: Vec<(f64, bool)> = scores.iter().map(|&(p, wants)| ((p - 0.5).abs(), (p >= 0.5) == wants)).collect();
    by_confidence.sort_by(|a, b| b.0.total_cmp(&a.0));
    let n = by_confidence.len();
    (1..=10)
        .map(|tenth| {
            let k = (n * tenth).div_ceil(10).max(1);
            let wrong = by_confidence[..k].iter().filter(|c| !c.1).count();
            (tenth as f64 / 10.0, ratio(wrong, k))
        })
        .collect()
}

impl CallConfidence {
    /// One line for the summary table.
    pub fn line(&self) -> String {
        let pct = |x: f64| format!("{:.1}%", 100.0 * x);
        let threshold = match self.threshold {
            Some(t) => format!(
                "calling only at p >= {t:.3} reaches {} precision with {} recall",
                pct(self.precision_at_threshold),
                pct(self.recall_at_threshold)
            ),
            None => format!("no threshold reaches {} precision", pct(self.target_precision)),
        };
        format!("call-start probability ({} cases): AUROC {:.3}; {threshold}\n", self.cases, self.auroc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rates_and_a_perfectly_separating_probability() {
        let mut d = CallDecisions::default();
        for (wants, called, p) in [(true, true, 0.9), (true, true, 0.8), (true, false, 0.6), (false, true, 0.4), (false, false, 0.1)] {
            d.add(wants, called, Some(p));
        }
        d.finish();
        assert_eq!((d.called_when_wanted, d.called_when_not_wanted, d.silent_when_wanted, d.silent_when_not_wanted), (2, 1, 1, 1));
        assert!((d.call_rate - 0.6).abs() < 1e-12 && (d.precision - 2.0 / 3.0).abs() < 1e-12 && (d.recall - 2.0 / 3.0).abs() < 1e-12);
        let c = d.confidence.unwrap();
        assert_eq!(c.auroc, 1.0);
        // Every threshold down to 0.6 keeps only cases that want a call.
        assert_eq!(c.threshold, Some(0.6));
        assert_eq!((c.precision_at_threshold, c.recall_at_threshold), (1.0, 1.0));
        // "p >= 0.5" is right on all five cases: no risk at any coverage.
        assert!(c.risk_coverage.iter().all(|&(_, risk)| risk == 0.0));
        assert_eq!(c.risk_coverage.len(), 10);
    }

    #[test]
    fn overlapping_probabilities_and_ties() {
        let mut d = CallDecisions::default();
        for (wants, p) in [(true, 0.7), (false, 0.7), (true, 0.2), (false, 0.9)] {
            d.add(wants, false, Some(p));
        }
        d.finish();
        let c = d.confidence.unwrap();
        // Pairs (wanted, not): (0.7,0.7) half, (0.7,0.9) lose, (0.2,0.7) lose, (0.2,0.9) lose.
        assert_eq!(c.auroc, 0.125);
        assert_eq!(c.threshold, None, "the top case does not want a call");
        // The most confident decision (0.9 -> call, not wanted) is wrong: risk 1 at the lowest coverage.
        assert_eq!(c.risk_coverage[0], (0.1, 1.0));
        // Without probabilities there is no confidence section.
        let mut none = CallDecisions::default();
        none.add(true, true, None);
        none.finish();
        assert!(none.confidence.is_none());
    }
}
