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

/// What a failed request does to an open-loop level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFailure {
    /// The level stops and its error is returned (a measurement at a given rate).
    Stop,
    /// The level goes on; the request counts as an SLO miss (the search for the max rate,
    /// where an overloaded deployment timing out is an answer, not an error).
    CountAsMiss,
}

/// Sends `prompts` (cycled) at the scheduled times, each on its own thread, and measures
/// the level: its `concurrency` is the most requests that were in flight at once.
pub fn open_loop(
    engine: &dyn Engine,
    plan: &BenchPlan,
    arrivals: &Arrivals,
    settings: &GenerationSettings,
    on_failure: OnFailure,
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
            if on_failure == OnFailure::Stop && outcomes.failed() {
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
    let (done, failed, first_error) = outcomes.finish_counting();
    let first_error = match (on_failure, first_error) {
        (OnFailure::Stop, Some(e)) => return Err(e),
        (_, e) => e,
    };
    let mut level = level_result(peak.load(Ordering::SeqCst).max(1), &done, wall, plan);
    level.request_rate = Some(arrivals.rate);
    level.failed = failed;
    if failed > 0 {
        // A request that got no answer met no SLO.
        let answered = done.len() as f64;
        level.goodput = level.goodput.map(|g| g * answered / (answered + failed as f64));
    }
    let failures = first_error.map(|e| format!("; {failed} failed, counted as SLO misses (the first: {e})")).unwrap_or_default();
    level.note = Some(format!(
        "open loop: {} requests arriving at {}/s (burstiness {}), at most {} in flight; {:.3} requests/s completed{failures}",
        done.len() + failed,
        arrivals.rate,
        arrivals.burstiness,
        level.concurrency,
        level.requests_per_s
    ));
    Ok(level)
}

/// What `find_max_rate` found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxRate {
    /// The highest rate that met the SLOs, below the lowest that did not.
    Found(f64),
    /// Every rate tried met the SLOs: the max rate is at least this (the search's cap).
    AtLeast(f64),
    /// Even the first rate missed the SLOs.
    BelowStart,
}

/// The highest rate whose level meets the SLOs (goodput at least `target`; a failed request
/// is a miss): doubling from `start` until a rate fails (at most 8 rates, so 128 x start),
/// then `steps` bisections between the last pass and the first failure. Returns every level
/// measured, in order, and what was found.
pub fn find_max_rate(
    engine: &dyn Engine,
    plan: &BenchPlan,
    base: &Arrivals,
    settings: &GenerationSettings,
    target: f64,
    steps: usize,
    mut progress: impl FnMut(&LevelResult),
) -> Result<(Vec<LevelResult>, MaxRate), EngineError> {
    if plan.slo_ttft_ms.is_none() && plan.slo_e2e_ms.is_none() {
        return Err(EngineError::Unsupported("--find-max-rate searches against the SLOs: give --slo-ttft-ms and/or --slo-e2e-ms".into()));
    }
    let mut levels = Vec::new();
    let mut probe = |rate: f64, levels: &mut Vec<LevelResult>| -> Result<bool, EngineError> {
        let l = open_loop(engine, plan, &Arrivals { rate, ..base.clone() }, settings, OnFailure::CountAsMiss)?;
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
    let found = match (pass, fail) {
        (Some(mut lo), Some(mut hi)) => {
            for _ in 0..steps {
                let mid = (lo + hi) / 2.0;
                if probe(mid, &mut levels)? { lo = mid } else { hi = mid }
            }
            MaxRate::Found(lo)
        }
        (Some(lo), None) => MaxRate::AtLeast(lo),
        (None, _) => MaxRate::BelowStart,
    };
    Ok((levels, found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::mock::MockEngine;

    fn plan(slo_e2e_ms: f64) -> BenchPlan {
        BenchPlan {
            prompts: vec![("p".into(), "hello".into())],
            concurrency: vec![],
            warmup: 0,
            repetitions: 1,
            requests_per_level: None,
            slo_ttft_ms: None,
            slo_e2e_ms: Some(slo_e2e_ms),
        }
    }

    fn arrivals() -> Arrivals {
        Arrivals { rate: 200.0, burstiness: 1.0, requests: 12, duration: None, seed: 1 }
    }

    #[test]
    fn a_failed_request_is_an_slo_miss_in_the_search_and_an_error_at_a_fixed_rate() {
        // Every third request gets no answer; the answered ones meet the SLO.
        let n = std::sync::atomic::AtomicUsize::new(0);
        let engine = MockEngine::new(move |_| {
            if n.fetch_add(1, Ordering::SeqCst) % 3 == 2 { Err(EngineError::Generate("overloaded".into())) } else { Ok("x".into()) }
        });
        let settings = GenerationSettings::default();
        let level = open_loop(&engine, &plan(60_000.0), &arrivals(), &settings, OnFailure::CountAsMiss).unwrap();
        assert_eq!((level.requests + level.failed, level.failed), (12, 4));
        assert!((level.goodput.unwrap() - 8.0 / 12.0).abs() < 1e-9, "{:?}", level.goodput);
        assert!(level.note.as_deref().unwrap().contains("4 failed, counted as SLO misses (the first: generation failed: overloaded)"));
        assert!(open_loop(&engine, &plan(60_000.0), &arrivals(), &settings, OnFailure::Stop).is_err());
        // So the search does not stop at the failures: it reports that no rate met 95%.
        let (levels, found) = find_max_rate(&engine, &plan(60_000.0), &arrivals(), &settings, 0.95, 2, |_| {}).unwrap();
        assert_eq!((levels.len(), found), (1, MaxRate::BelowStart));
    }

    #[test]
    fn a_search_that_never_fails_reports_a_lower_bound() {
        let engine = MockEngine::new(|_| Ok("x".into()));
        let settings = GenerationSettings::default();
        let (levels, found) = find_max_rate(&engine, &plan(60_000.0), &arrivals(), &settings, 0.95, 2, |_| {}).unwrap();
        assert_eq!(levels.len(), 8, "eight doublings, no bisection without a failing rate");
        assert_eq!(found, MaxRate::AtLeast(200.0 * 128.0));
        let (_, found) = find_max_rate(&engine, &plan(0.0), &arrivals(), &settings, 0.95, 2, |_| {}).unwrap();
        assert_eq!(found, MaxRate::BelowStart, "an SLO nothing meets");
    }

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
