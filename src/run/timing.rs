//! Timing figures of a run, from the per-case timings in its predictions.

use serde::{Deserialize, Serialize};

use crate::records::Prediction;
use crate::stats::{mean, percentile};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunTiming {
    /// Cases generated in this invocation (resumed cases are not re-timed).
    pub cases: usize,
    pub concurrency: usize,
    pub wall_s: f64,
    pub cases_per_s: f64,
    pub model_load_s: f64,
    pub ttft_ms_mean: Option<f64>,
    pub ttft_ms_p50: Option<f64>,
    pub e2e_ms_p50: Option<f64>,
    pub e2e_ms_p95: Option<f64>,
    /// Mean over cases of completion tokens / (total - ttft).
    pub decode_tok_s_mean: Option<f64>,
    /// Mean over cases of prompt tokens / ttft.
    pub prefill_tok_s_mean: Option<f64>,
    pub prompt_tokens_mean: Option<f64>,
    pub completion_tokens_mean: Option<f64>,
    /// Time the harness itself worked (rendering prompts, parsing and scoring outputs,
    /// writing records) as a share of the run's wall time.
    pub harness_overhead: f64,
    /// What the engine's prefix cache saved, when the engine reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_cache: Option<PrefixReuse>,
}

/// Prompt prefixes reused from the engine's cache instead of prefilled.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PrefixReuse {
    /// Requests that started from a cached prefix.
    pub hits: usize,
    /// Requests the engine reported on.
    pub requests: usize,
    /// Prompt tokens not prefilled thanks to the cache.
    pub tokens_saved: u64,
}

/// The prefix-cache figures of some predictions (`None` when the engine reported none).
pub fn prefix_reuse(preds: &[Prediction]) -> Option<PrefixReuse> {
    let reported: Vec<u64> = preds.iter().filter_map(|p| p.timings.cached_tokens).collect();
    (!reported.is_empty()).then(|| PrefixReuse {
        hits: reported.iter().filter(|&&n| n > 0).count(),
        requests: reported.len(),
        tokens_saved: reported.iter().sum(),
    })
}

/// Timing of the predictions made in this run; `harness_s` is the summed time spent on
/// harness work (outside `Engine::generate`). Cases the engine failed carry no timings and
/// do not count as cases done.
pub fn run_timing(preds: &[Prediction], concurrency: usize, wall_s: f64, load_s: f64, harness_s: f64) -> RunTiming {
    let answered = preds.iter().filter(|p| p.failure.is_none()).count();
    let col = |f: &dyn Fn(&Prediction) -> Option<f64>| preds.iter().filter_map(f).collect::<Vec<f64>>();
    let ttft = col(&|p| p.timings.ttft_ms);
    let total = col(&|p| p.timings.total_ms);
    let decode = col(&|p| p.timings.decode_tok_s());
    let prefill = col(&|p| p.timings.prefill_tok_s());
    let overhead = if wall_s > 0.0 { harness_s / wall_s } else { 0.0 };
    RunTiming {
        cases: answered,
        concurrency,
        wall_s,
        cases_per_s: if wall_s > 0.0 { answered as f64 / wall_s } else { 0.0 },
        model_load_s: load_s,
        ttft_ms_mean: mean(&ttft),
        ttft_ms_p50: percentile(&ttft, 0.5),
        e2e_ms_p50: percentile(&total, 0.5),
        e2e_ms_p95: percentile(&total, 0.95),
        decode_tok_s_mean: mean(&decode),
        prefill_tok_s_mean: mean(&prefill),
        prompt_tokens_mean: mean(&col(&|p| p.timings.prompt_tokens.map(|x| x as f64))),
        completion_tokens_mean: mean(&col(&|p| p.timings.completion_tokens.map(|x| x as f64))),
        harness_overhead: overhead,
        prefix_cache: prefix_reuse(preds),
    }
}
