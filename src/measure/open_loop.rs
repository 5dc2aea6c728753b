//! Open-loop load, as vLLM's `bench serve` and GuideLLM drive a deployment: requests arrive
//! on a schedule (Poisson, or gamma with `burstiness`) whether or not earlier ones finished,
//! so queueing shows up in the latencies; and the search for the highest rate that still
//! meets the SLOs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_distr::{Distribution, Gamma};

use super::{BenchPlan, LevelResult, Outcomes, level_result};
use crate::engine::{Engine, EngineError, GenerationSettings};

/// One open-loop level.
#[derive(Clone, Debug)]
pub struct Arrivals {
    /// Mean requests per second.
    pub rate: f64,
    /// Gamma shape of the gaps: 1 is Poisson, below 1 burstier, above 1 more regular.
    pub burstiness: f64,
    /// Requests sent (prompts cycled).
    pub requests: usize,
    /// Stop sending after this long, even if fewer requests were sent.
    pub duration: Option<Duration>,
    pub seed: u64,
}

impl Arrivals {
    /// The send times, from the start: gaps drawn from a gamma distribution with mean
    /// 1 / rate.
    pub fn schedule(&self) -> Result<Vec<Duration>, String> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.rate) || !positive(self.burstiness) {
            return Err(format!("--request-rate {} and --burstiness {} must be positive", self.rate, self.burstiness));
        }
        let gaps = Gamma::new(self.burstiness, 1.0 / (self.rate * self.burstiness)).map_err(|e| e.to_string())?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed);
        let mut t = 0.0;
        let mut out = Vec::with_capacity(self.requests);
        for i in 0..self.requests {
            if i > 0 {
                t += gaps.sample(&mut rng);
            }
            let at = Duration::from_secs_f64(t);
            if self.duration.is_some_and(|d| at > d) {
                break;
            }
            out.push(at);
        }
        Ok(out)
    }
}

/// Sends `prompts` (cycled) at the scheduled times, each on its own thread, and measures
/// the level: its `concurrency` is the most requests that were in flight at once.
pub fn open_loop(
    engine: &dyn Engine,
    plan: &BenchPlan,
    arrivals: &Arrivals,
    settings: &GenerationSettings,
) -> Result<LevelResult, EngineError> {
    let schedule = arrivals.schedule().map_err(EngineError::Unsupported)?;
    super::drive(engine, &plan.cycled(plan.warmup), 1, settings)?;
    let prompts = plan.cycled(schedule.len());
    let outcomes = Outcomes::new(schedule.len());
    let (in_flight, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let start = Instant::now();
    std::thread::scope(|s| {
        for (at, prompt) in schedule.iter().zip(&prompts) {
            if let Some(wait) = at.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
            if outcomes.failed() {
                break;
            }
            let (outcomes, in_flight, peak) = (&outcomes, &in_flight, &peak);
            s.spawn(move || {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                let r = engine.generate(prompt, settings);
                in_flight.fetch_sub(1, Ordering::SeqCst);
                outcomes.record(r);
            });
        }
    });
    let wall = start.elapsed().as_secs_f64();
    let done = outcomes.finish()?;
    let mut level = level_result(peak.load(Ordering::SeqCst).max(1), &done, wall, plan);
    level.request_rate = Some(arrivals.rate);
    level.note = Some(format!(
        "open loop: {} requests arriving at {}/s (burstiness {}), at most {} in flight; {:.3} requests/s completed",
        done.len(),
        arrivals.rate,
        arrivals.burstiness,
        level.concurrency,
        level.requests_per_s
    ));
    Ok(level)
}

/// The highest rate whose level meets the SLOs (goodput at least `target`): doubling from
/// `start` until a rate fails, then `steps` bisections between the last pass and the first
/// failure. Returns every level measured, in order, and the rate found (None if even
/// `start` failed).
pub fn find_max_rate(
    engine: &dyn Engine,
    plan: &BenchPlan,
    base: &Arrivals,
    settings: &GenerationSettings,
    target: f64,
    steps: usize,
    mut progress: impl FnMut(&LevelResult),
) -> Result<(Vec<LevelResult>, Option<f64>), EngineError> {
    if plan.slo_ttft_ms.is_none() && plan.slo_e2e_ms.is_none() {
        return Err(EngineError::Unsupported("--find-max-rate searches against the SLOs: give --slo-ttft-ms and/or --slo-e2e-ms".into()));
    }
    let mut levels = Vec::new();
    let mut probe = |rate: f64, levels: &mut Vec<LevelResult>| -> Result<bool, EngineError> {
        let l = open_loop(engine, plan, &Arrivals { rate, ..base.clone() }, settings)?;
        progress(&l);
        let ok = l.goodput.is_some_and(|g| g >= target);
        levels.push(l);
        Ok(ok)
    };
    let (mut pass, mut fail) = (None, None);
    let mut rate = base.rate;
    for _ in 0..8 {
        if probe(rate, &mut levels)? {
            pass = Some(rate);
            rate *= 2.0;
        } else {
            fail = Some(rate);
            break;
        }
    }
    if let (Some(mut lo), Some(mut hi)) = (pass, fail) {
        for _ in 0..steps {
            let mid = (lo + hi) / 2.0;
            if probe(mid, &mut levels)? { lo = mid } else { hi = mid }
        }
        pass = Some(lo);
    }
    Ok((levels, pass))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_gaps_average_one_over_the_rate_and_bursts_cluster() {
        let a = Arrivals { rate: 20.0, burstiness: 1.0, requests: 4000, duration: None, seed: 7 };
        let s = a.schedule().unwrap();
        let mean_gap = s.last().unwrap().as_secs_f64() / (s.len() - 1) as f64;
        assert!((mean_gap - 0.05).abs() < 0.005, "{mean_gap}");
        assert_eq!(s, a.schedule().unwrap(), "seeded");
        // Burstier arrivals have more very short gaps at the same mean rate.
        let short = |b: f64| {
            let s = Arrivals { burstiness: b, ..a.clone() }.schedule().unwrap();
            s.windows(2).filter(|w| (w[1] - w[0]).as_secs_f64() < 0.005).count()
        };
        assert!(short(0.25) > 2 * short(1.0), "{} vs {}", short(0.25), short(1.0));
        let capped = Arrivals { duration: Some(Duration::from_secs(1)), ..a.clone() }.schedule().unwrap();
        assert!(capped.len() < 40 && capped.len() > 5, "{}", capped.len());
        assert!(Arrivals { rate: 0.0, ..a }.schedule().is_err());
    }
}
