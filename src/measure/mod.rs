//! `fgbench bench`: latency and throughput of an engine at several concurrency levels, with
//! warm-up, repetitions, bootstrap intervals on the percentiles, SLO goodput and peak memory.
//!
//! Clocks: every duration is monotonic (`Instant`). Per request, the engine boundary clocks
//! TTFT, the last `<end_function_call>` and the total (see the engine). A level's wall time
//! runs from handing the first measured request to a worker until the last one returns.

pub mod open_loop;

use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::engine::{Completion, Engine, EngineError, GenerationSettings};
use crate::stats::{bootstrap_ci, mean, percentile};

/// What to measure.
pub struct BenchPlan {
    pub prompts: Vec<(String, String)>,
    pub concurrency: Vec<usize>,
    pub warmup: usize,
    pub repetitions: usize,
    /// Measured requests per level (prompts cycled); default [`BenchPlan::requests_for`].
    pub requests_per_level: Option<usize>,
    pub slo_ttft_ms: Option<f64>,
    pub slo_e2e_ms: Option<f64>,
}

/// Waves of requests a level sends by default: enough to hold its concurrency for most of
/// the level, not just while the first wave starts and the last one drains.
pub const DEFAULT_WAVES: usize = 4;

impl BenchPlan {
    /// Measured requests at `concurrency`: as asked, else the larger of [`DEFAULT_WAVES`]
    /// waves and every prompt `repetitions` times.
    pub fn requests_for(&self, concurrency: usize) -> usize {
        self.requests_per_level.unwrap_or_else(|| (DEFAULT_WAVES * concurrency).max(self.prompts.len() * self.repetitions))
    }

    /// `n` prompts, the plan's cycled.
    pub fn cycled(&self, n: usize) -> Vec<&str> {
        self.prompts.iter().map(|(_, p)| p.as_str()).cycle().take(n).collect()
    }
}

/// A statistic with its bootstrap 95% interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

fn estimate(v: &[f64], q: f64) -> Option<Estimate> {
    let value = percentile(v, q)?;
    let (ci_low, ci_high) = bootstrap_ci(v.len(), 1000, 0xbe7c, |idx| percentile(&idx.iter().map(|&i| v[i]).collect::<Vec<_>>(), q))?;
    Some(Estimate { value, ci_low, ci_high })
}

/// The numbers of one concurrency level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelResult {
    /// Requests in flight (closed loop), or the most that were at once (open loop).
    pub concurrency: usize,
    /// Open loop: the offered arrival rate, requests/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_rate: Option<f64>,
    pub requests: usize,
    /// Requests / concurrency: how many times the level's slots were filled.
    pub waves: f64,
    /// Set when the level cannot be what its concurrency says (fewer requests than slots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub wall_s: f64,
    pub requests_per_s: f64,
    pub output_tokens_per_s: f64,
    pub ttft_ms_p50: Option<Estimate>,
    pub e2e_ms_p50: Option<Estimate>,
    pub e2e_ms_p90: Option<Estimate>,
    pub e2e_ms_p95: Option<Estimate>,
    pub e2e_ms_p99: Option<Estimate>,
    /// Mean over requests of prompt tokens / TTFT.
    pub prefill_tok_s: Option<f64>,
    /// Mean over requests of (completion tokens - 1) / (total - TTFT).
    pub decode_tok_s: Option<f64>,
    /// Mean time between output tokens after the first, ms.
    pub inter_token_ms: Option<f64>,
    /// Mean time to the last `<end_function_call>` (requests that made a call), ms.
    pub last_call_ms: Option<f64>,
    /// Share of requests meeting every given SLO (TTFT and/or end to end).
    pub goodput: Option<f64>,
    /// At concurrency 1: the share of the level's wall time spent outside engine calls.
    pub harness_overhead: Option<f64>,
    /// Requests that got no answer: `--find-max-rate` counts them as SLO misses.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

pub(crate) fn level_result(concurrency: usize, done: &[Completion], wall_s: f64, plan: &BenchPlan) -> LevelResult {
    let col = |f: &dyn Fn(&Completion) -> Option<f64>| done.iter().filter_map(f).collect::<Vec<f64>>();
    let total = col(&|c| c.timings.total_ms);
    let ttft = col(&|c| c.timings.ttft_ms);
    let out_tokens: f64 = done.iter().filter_map(|c| c.timings.completion_tokens).sum::<u64>() as f64;
    let decode = col(&|c| c.timings.decode_tok_s());
    let itl = col(&|c| c.timings.inter_token_ms());
    let goodput = (plan.slo_ttft_ms.is_some() || plan.slo_e2e_ms.is_some()).then(|| {
        let ok = done
            .iter()
            .filter(|c| {
                plan.slo_ttft_ms.is_none_or(|s| c.timings.ttft_ms.is_some_and(|t| t <= s))
                    && plan.slo_e2e_ms.is_none_or(|s| c.timings.total_ms.is_some_and(|t| t <= s))
            })
            .count();
        ok as f64 / done.len().max(1) as f64
    });
    let waves = done.len() as f64 / concurrency.max(1) as f64;
    let note = (done.len() < concurrency)
        .then(|| format!("only {} requests: concurrency {concurrency} is never reached; raise --requests-per-level", done.len()))
        .or_else(|| (waves < 2.0).then(|| format!("{waves:.1} waves: the level is mostly ramp-up and drain; raise --requests-per-level")));
    LevelResult {
        concurrency,
        request_rate: None,
        requests: done.len(),
        waves,
        note,
        wall_s,
        requests_per_s: done.len() as f64 / wall_s.max(1e-9),
        output_tokens_per_s: out_tokens / wall_s.max(1e-9),
        ttft_ms_p50: estimate(&ttft, 0.5),
        e2e_ms_p50: estimate(&total, 0.5),
        e2e_ms_p90: estimate(&total, 0.9),
        e2e_ms_p95: estimate(&total, 0.95),
        e2e_ms_p99: estimate(&total, 0.99),
        prefill_tok_s: mean(&col(&|c| c.timings.prefill_tok_s())),
        decode_tok_s: mean(&decode),
        inter_token_ms: mean(&itl),
        last_call_ms: mean(&col(&|c| c.timings.last_call_ms)),
        goodput,
        harness_overhead: (concurrency == 1 && wall_s > 0.0).then(|| ((wall_s - total.iter().sum::<f64>() / 1000.0) / wall_s).max(0.0)),
        failed: 0,
    }
}

/// Completions gathered from several threads, and the first failure among them.
pub(crate) struct Outcomes {
    done: Mutex<Vec<Completion>>,
    failure: Mutex<Option<EngineError>>,
    failures: std::sync::atomic::AtomicUsize,
}

impl Outcomes {
    pub(crate) fn new(capacity: usize) -> Outcomes {
        Outcomes { done: Mutex::new(Vec::with_capacity(capacity)), failure: Mutex::new(None), failures: Default::default() }
    }

    /// Keeps one request's result; false once any request has failed.
    pub(crate) fn record(&self, r: Result<Completion, EngineError>) -> bool {
        match r {
            Ok(c) => self.done.lock().expect("done lock").push(c),
            Err(e) => {
                self.failures.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                self.failure.lock().expect("failure lock").get_or_insert(e);
            }
        }
        !self.failed()
    }

    pub(crate) fn failed(&self) -> bool {
        self.failure.lock().expect("failure lock").is_some()
    }

    /// The completions and how many requests failed, with the first failure.
    pub(crate) fn finish_counting(self) -> (Vec<Completion>, usize, Option<EngineError>) {
        let failed = self.failures.load(std::sync::atomic::Ordering::SeqCst);
        (self.done.into_inner().expect("done lock"), failed, self.failure.into_inner().expect("failure lock"))
    }

    /// The completions, or the first failure.
    pub(crate) fn finish(self) -> Result<Vec<Completion>, EngineError> {
        match self.failure.into_inner().expect("failure lock") {
            Some(e) => Err(e),
            None => Ok(self.done.into_inner().expect("done lock")),
        }
    }
}

/// Runs `prompts` through `engine` with `workers` requests in flight; returns the
/// completions and the wall time.
pub(crate) fn drive(
    engine: &dyn Engine,
    prompts: &[&str],
    workers: usize,
    settings: &GenerationSettings,
) -> Result<(Vec<Completion>, f64), EngineError> {
    let outcomes = Outcomes::new(prompts.len());
    let start = Instant::now();
    crate::pool::for_each_index(prompts.len(), workers, |_, i| outcomes.record(engine.generate(prompts[i], settings)));
    let wall = start.elapsed().as_secs_f64();
    Ok((outcomes.finish()?, wall))
}

/// Measures every concurrency level of the plan.
pub fn bench(
    engine: &dyn Engine,
    plan: &BenchPlan,
    settings: &GenerationSettings,
    mut progress: impl FnMut(&LevelResult),
) -> Result<Vec<LevelResult>, EngineError> {
    let mut levels = Vec::new();
    for &c in &plan.concurrency {
        drive(engine, &plan.cycled(plan.warmup), c, settings)?;
        let (done, wall) = drive(engine, &plan.cycled(plan.requests_for(c)), c, settings)?;
        let r = level_result(c, &done, wall, plan);
        progress(&r);
        levels.push(r);
    }
    Ok(levels)
}

/// Peak resident set size of this process (VmHWM), in MiB; Linux only.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// GPU memory this process holds, in MiB, from `nvidia-smi` (CUDA builds only; `None` on CPU
/// or when nvidia-smi is unavailable).
pub fn gpu_memory_mib() -> Option<f64> {
    if crate::engine::backend_feature() != "cuda" {
        return None;
    }
    let out = std::process::Command::new("nvidia-smi")
        .args(["--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"])
        .output()
        .ok()?;
    let me = std::process::id().to_string();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(','))
        .filter(|(pid, _)| pid.trim() == me)
        .map(|(_, mib)| mib.trim().parse::<f64>().ok())
        .sum()
}

/// One CSV row per level.
pub fn to_csv(levels: &[LevelResult]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "concurrency",
        "request_rate",
        "requests",
        "waves",
        "wall_s",
        "requests_per_s",
        "output_tokens_per_s",
        "ttft_ms_p50",
        "e2e_ms_p50",
        "e2e_ms_p90",
        "e2e_ms_p95",
        "e2e_ms_p99",
        "prefill_tok_s",
        "decode_tok_s",
        "inter_token_ms",
        "last_call_ms",
        "goodput",
        "harness_overhead",
    ])?;
    let f = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_default();
    let e = |v: &Option<Estimate>| f(v.as_ref().map(|x| x.value));
    for l in levels {
        w.write_record([
            l.concurrency.to_string(),
            f(l.request_rate),
            l.requests.to_string(),
            format!("{:.1}", l.waves),
            format!("{:.3}", l.wall_s),
            format!("{:.4}", l.requests_per_s),
            format!("{:.3}", l.output_tokens_per_s),
            e(&l.ttft_ms_p50),
            e(&l.e2e_ms_p50),
            e(&l.e2e_ms_p90),
            e(&l.e2e_ms_p95),
            e(&l.e2e_ms_p99),
            f(l.prefill_tok_s),
            f(l.decode_tok_s),
            f(l.inter_token_ms),
            f(l.last_call_ms),
            f(l.goodput),
            l.harness_overhead.map(|x| format!("{x:.6}")).unwrap_or_default(),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

pub fn render_table(levels: &[LevelResult]) -> String {
    let est = |e: &Option<Estimate>| {
        e.as_ref().map(|x| format!("{:.0} [{:.0},{:.0}]", x.value, x.ci_low, x.ci_high)).unwrap_or_else(|| "-".into())
    };
    let f = |v: Option<f64>, d: usize| v.map(|x| format!("{x:.d$}")).unwrap_or_else(|| "-".into());
    let mut o = format!(
        "{:>9} {:>5} {:>5} {:>8} {:>9} {:>18} {:>18} {:>18} {:>9} {:>8} {:>7} {:>8}\n",
        "conc",
        "reqs",
        "waves",
        "req/s",
        "out tok/s",
        "TTFT p50 ms",
        "e2e p50 ms",
        "e2e p95 ms",
        "prefill/s",
        "decode/s",
        "ITL ms",
        "goodput"
    );
    for l in levels {
        o.push_str(&format!(
            "{:>9} {:>5} {:>5.1} {:>8.3} {:>9.1} {:>18} {:>18} {:>18} {:>9} {:>8} {:>7} {:>8}\n",
            match l.request_rate {
                Some(r) => format!("{r:.2}/s"),
                None => l.concurrency.to_string(),
            },
            l.requests,
            l.waves,
            l.requests_per_s,
            l.output_tokens_per_s,
            est(&l.ttft_ms_p50),
            est(&l.e2e_ms_p50),
            est(&l.e2e_ms_p95),
            f(l.prefill_tok_s, 0),
            f(l.decode_tok_s, 1),
            f(l.inter_token_ms, 1),
            l.goodput.map(|g| format!("{:.0}%", 100.0 * g)).unwrap_or_else(|| "-".into())
        ));
    }
    for l in levels {
        if let Some(n) = &l.note {
            match l.request_rate {
                Some(r) => o.push_str(&format!("note: {r}/s: {n}\n")),
                None => o.push_str(&format!("note: concurrency {}: {n}\n", l.concurrency)),
            }
        }
    }
    o
}
