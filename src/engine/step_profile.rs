//! Where a batching engine's step time goes, printed when the engine stops if
//! `FGBENCH_STEP_PROFILE` is set. It is how the gap between fgbench's llama.cpp engine and
//! `llama-batched-bench` on a GPU is located without a profiler there: the engine's own
//! bookkeeping, llama.cpp's call, the wait for the device, and the host-side sampling.
//!
//! Steps are grouped by their batch: steps that only decode, by the number of sequences
//! (the steady state of N in flight, comparable to llama-batched-bench's generation phase),
//! and steps that also carry prompt tokens, together.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Instant;

/// The phases of one step, in order: the engine loop outside steps (taking requests,
/// tokenizing, admitting; waits for work included), building the batch, llama.cpp's decode
/// call, the wait for the device to finish (and the logits to arrive), and sampling plus
/// streaming the pieces and stop rules.
pub const PHASES: [&str; 5] = ["between", "batch", "decode", "wait", "sample+stream"];

#[derive(Default, Clone, Debug, PartialEq)]
struct Totals {
    steps: u64,
    tokens: u64,
    ms: [f64; PHASES.len()],
}

impl Totals {
    /// Adds `steps` steps of `tokens` tokens in all, and their phase times (ms); missing
    /// trailing phases count as zero.
    fn add(&mut self, steps: u64, tokens: u64, ms: &[f64]) {
        self.steps += steps;
        self.tokens += tokens;
        for (sum, d) in self.ms.iter_mut().zip(ms) {
            *sum += d;
        }
    }
}

/// Accumulates phase times per kind of step.
#[derive(Debug, Default)]
pub struct StepProfile {
    by_kind: BTreeMap<StepKind, Totals>,
    /// When the previous step ended (the start of the next "between" phase).
    last_end: Option<Instant>,
    marks: Vec<Instant>,
}

/// What a step's batch held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StepKind {
    /// The next token of this many sequences and nothing else.
    DecodeOnly(usize),
    /// Prompt tokens, with or without decoding sequences.
    WithPrompt,
}

impl StepProfile {
    /// A profile if `FGBENCH_STEP_PROFILE` asks for one.
    pub fn from_env() -> Option<StepProfile> {
        std::env::var_os("FGBENCH_STEP_PROFILE").filter(|v| !v.is_empty() && v != "0").map(|_| StepProfile::default())
    }

    /// Marks the start of a step (the end of the time between steps).
    pub fn start(&mut self) {
        self.marks.clear();
        let now = Instant::now();
        self.marks.push(self.last_end.unwrap_or(now));
        self.marks.push(now);
    }

    /// Marks the end of the current phase.
    pub fn mark(&mut self) {
        self.marks.push(Instant::now());
    }

    /// Ends the last phase and the step.
    pub fn finish(&mut self, kind: StepKind, tokens: usize) {
        self.mark();
        let durations: Vec<f64> = self.marks.windows(2).map(|w| (w[1] - w[0]).as_secs_f64() * 1000.0).collect();
        self.add(kind, tokens, &durations);
        self.last_end = self.marks.last().copied();
    }

    /// Adds one step's phase durations (ms); missing trailing phases count as zero.
    pub fn add(&mut self, kind: StepKind, tokens: usize, durations: &[f64]) {
        self.by_kind.entry(kind).or_default().add(1, tokens as u64, durations);
    }

    /// One line per kind of step: count, tokens per step and mean ms per phase. Decode-only
    /// steps: the three most frequent batch sizes, the rest in one line.
    pub fn render(&self) -> String {
        let mut decode: Vec<(usize, &Totals)> =
            self.by_kind.iter().filter_map(|(k, t)| if let StepKind::DecodeOnly(n) = k { Some((*n, t)) } else { None }).collect();
        decode.sort_by_key(|(n, t)| (std::cmp::Reverse(t.steps), *n));
        let mut lines: Vec<(String, Totals)> =
            decode.iter().take(3).map(|(n, t)| (format!("decode-only, {n} sequences"), (*t).clone())).collect();
        if decode.len() > 3 {
            let rest = &decode[3..];
            let (lo, hi) = (rest.iter().map(|r| r.0).min().unwrap_or(0), rest.iter().map(|r| r.0).max().unwrap_or(0));
            let mut sum = Totals::default();
            for (_, t) in rest {
                sum.add(t.steps, t.tokens, &t.ms);
            }
            lines.push((format!("decode-only, other sizes ({lo}-{hi} sequences)"), sum));
        }
        if let Some(t) = self.by_kind.get(&StepKind::WithPrompt) {
            lines.push(("with prompt tokens".to_string(), t.clone()));
        }
        let mut out = String::new();
        for (label, t) in lines {
            let n = t.steps as f64;
            let phases: Vec<String> = PHASES.iter().zip(t.ms).map(|(p, ms)| format!("{p} {:.3}", ms / n)).collect();
            let total: f64 = t.ms.iter().sum::<f64>() / n;
            let _ = writeln!(
                out,
                "step profile: {label}: {} steps, {:.1} tokens/step; ms/step: {}; total {total:.3}",
                t.steps,
                t.tokens as f64 / n,
                phases.join(", ")
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_grouped_by_kind_and_averaged_per_phase() {
        let mut p = StepProfile::default();
        p.add(StepKind::DecodeOnly(32), 32, &[1.0, 0.0, 2.0, 3.0, 4.0]);
        p.add(StepKind::DecodeOnly(32), 32, &[3.0, 0.0, 2.0, 5.0, 0.0]);
        p.add(StepKind::WithPrompt, 500, &[0.5, 0.5]);
        let text = p.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("decode-only, 32 sequences: 2 steps, 32.0 tokens/step"), "{text}");
        assert!(lines[0].contains("between 2.000, batch 0.000, decode 2.000, wait 4.000, sample+stream 2.000; total 10.000"), "{text}");
        assert!(lines[1].contains("with prompt tokens: 1 steps, 500.0 tokens/step"), "{text}");
        assert!(lines[1].contains("decode 0.000"), "{text}");
    }

    #[test]
    fn rare_batch_sizes_are_summed_into_one_line() {
        let mut p = StepProfile::default();
        for (n, steps) in [(32, 50), (31, 5), (30, 4), (7, 1), (3, 1)] {
            for _ in 0..steps {
                p.add(StepKind::DecodeOnly(n), n, &[0.0, 0.0, 1.0]);
            }
        }
        let text = p.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].contains("decode-only, 32 sequences: 50 steps"), "{text}");
        assert!(lines[1].contains("decode-only, 31 sequences: 5 steps"), "{text}");
        assert!(lines[2].contains("decode-only, 30 sequences: 4 steps"), "{text}");
        assert!(lines[3].contains("decode-only, other sizes (3-7 sequences): 2 steps, 5.0 tokens/step"), "{text}");
    }

    #[test]
    fn a_timed_step_fills_every_phase() {
        let mut p = StepProfile::default();
        for _ in 0..2 {
            p.start();
            for _ in 0..PHASES.len() - 2 {
                p.mark();
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
            p.finish(StepKind::DecodeOnly(1), 1);
        }
        let t = &p.by_kind[&StepKind::DecodeOnly(1)];
        assert_eq!(t.steps, 2);
        // The sleep falls in the last phase, and the first step's end starts the second's
        // "between" phase.
        assert!(t.ms[PHASES.len() - 1] >= 4.0, "{:?}", t.ms);
        assert!(t.ms[..PHASES.len() - 1].iter().all(|ms| *ms < 2.0), "{:?}", t.ms);
    }
}
