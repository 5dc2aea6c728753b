use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::engine_args::{EngineArgs, ModelArgs};
use crate::Error;
use crate::dataset::{Dataset, Role};
use crate::engine::Engine;
use crate::measure::open_loop::{Arrivals, MaxRate, OnFailure, find_max_rate, open_loop};
use crate::measure::{BenchPlan, LevelResult, bench, gpu_memory_mib, peak_rss_mib, render_table, to_csv};
use crate::prompt::PromptStyle;
use crate::run::manifest::{DatasetRef, Host, Manifest};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Prompts from this dataset (rendered in --prompt-style).
    #[arg(long, default_value = "datasets/demo.jsonl")]
    pub dataset: PathBuf,
    /// Cases of the dataset to use (in file order).
    #[arg(long, default_value_t = 8)]
    pub limit: usize,
    /// Instead of dataset prompts: one synthetic prompt per length, a demo case padded to
    /// about this many tokens (e.g. 128,512,2048).
    #[arg(long, value_delimiter = ',')]
    pub prompt_tokens: Vec<usize>,
    /// Closed-loop levels to measure (requests in flight), e.g. 1,2,4,8 (default: 1, unless
    /// open-loop rates are asked for).
    #[arg(long, value_delimiter = ',')]
    pub concurrency: Vec<usize>,
    /// Open-loop levels: requests arrive at this mean rate (requests/s), Poisson by default,
    /// whether or not earlier ones have finished, e.g. 0.5,1,2.
    #[arg(long, value_delimiter = ',')]
    pub request_rate: Vec<f64>,
    /// Open loop: gamma shape of the gaps between arrivals (1: Poisson; below 1: burstier).
    #[arg(long, default_value_t = 1.0)]
    pub burstiness: f64,
    /// Open loop: requests sent per level (prompts cycled).
    #[arg(long, default_value_t = 32)]
    pub requests: usize,
    /// Open loop: stop sending after this many seconds per level.
    #[arg(long)]
    pub duration_s: Option<f64>,
    /// Search for the highest open-loop rate whose goodput under --slo-ttft-ms/--slo-e2e-ms
    /// is at least --goodput-target: doubling from the first --request-rate (default 0.25),
    /// then 4 bisections.
    #[arg(long)]
    pub find_max_rate: bool,
    /// The goodput a rate must reach to pass --find-max-rate.
    #[arg(long, default_value_t = 0.95)]
    pub goodput_target: f64,
    /// Seed of the open-loop arrival times.
    #[arg(long, default_value_t = 0)]
    pub arrival_seed: u64,
    /// Unmeasured requests before each level.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Times each prompt is sent per level (at least).
    #[arg(long, default_value_t = 1)]
    pub repetitions: usize,
    /// Measured requests per level, prompts cycled (default: the larger of 4 waves of the
    /// level's concurrency and every prompt --repetitions times). The table says how many
    /// waves each level ran, and warns when a level cannot reach its concurrency.
    #[arg(long)]
    pub requests_per_level: Option<usize>,
    /// Prompts that share a prefix of about this many tokens (a padded developer text before
    /// each case's own tools and request), as an app's requests share their tool block:
    /// measures prefix reuse (`--prefix-cache`).
    #[arg(long)]
    pub shared_prefix_tokens: Option<usize>,
    /// Goodput: share of requests whose TTFT is at most this (ms).
    #[arg(long)]
    pub slo_ttft_ms: Option<f64>,
    /// Goodput: share of requests whose end-to-end latency is at most this (ms).
    #[arg(long)]
    pub slo_e2e_ms: Option<f64>,
    #[arg(long, value_enum, default_value_t = PromptStyle::Official)]
    pub prompt_style: PromptStyle,
    /// Write bench.json and bench.csv here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// A demo case whose user turn is padded with filler words until the prompt is about
/// `target` tokens long.
fn synthetic_prompt(ds: &Dataset, style: PromptStyle, tok: &dyn Engine, target: usize) -> Result<String, Error> {
    let mut case = ds.cases.first().cloned().ok_or_else(|| Error::Usage("empty dataset".into()))?;
    let user = case.messages.iter().position(|m| m.role == Role::User).ok_or_else(|| Error::Usage("no user message".into()))?;
    let base = case.messages[user].content.clone();
    let render = |words: usize, case: &mut crate::dataset::Case| {
        case.messages[user].content = format!("{}{}", "please note this detail ".repeat(words), base);
        style.render(&case.messages, &case.tools)
    };
    let (mut lo, mut hi) = (0usize, target.max(1));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if tok.encode(&render(mid, &mut case))?.len() <= target { lo = mid } else { hi = mid - 1 }
    }
    Ok(render(lo, &mut case))
}

/// The first `limit` cases, each with the same developer text of about `target` tokens put
/// before its own tools: prompts sharing a prefix, different after it.
fn shared_prefix_prompts(
    ds: &Dataset,
    limit: usize,
    style: PromptStyle,
    tok: &dyn Engine,
    target: usize,
) -> Result<Vec<(String, String)>, Error> {
    let cases: Vec<&crate::dataset::Case> = ds.cases.iter().take(limit).collect();
    let first = cases.first().ok_or_else(|| Error::Usage("empty dataset".into()))?;
    let with = |words: usize, case: &crate::dataset::Case| {
        let mut messages = case.messages.clone();
        let text = format!(
            "{}You are a model that can do function calling with the following functions",
            "Keep every answer short and exact. ".repeat(words)
        );
        messages.retain(|m| !matches!(m.role, Role::System | Role::Developer));
        messages.insert(0, crate::dataset::Message { role: Role::Developer, content: text, tool_calls: vec![], name: None });
        style.render(&messages, &case.tools)
    };
    // The shared part is <bos> and the developer text: grow it to about `target` tokens.
    let shared = |words: usize| -> Result<usize, Error> {
        let a = tok.encode(&with(words, first))?;
        let b = tok.encode(&with(words, cases.get(1).copied().unwrap_or(first)))?;
        Ok(a.iter().zip(&b).take_while(|(x, y)| x == y).count())
    };
    let (mut lo, mut hi) = (0usize, target.max(1));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if shared(mid)? <= target { lo = mid } else { hi = mid - 1 }
    }
    Ok(cases.iter().map(|c| (c.id.clone(), with(lo, c))).collect())
}

pub fn run(mut a: BenchArgs) -> Result<i32, Error> {
    if a.concurrency.is_empty() && a.request_rate.is_empty() && !a.find_max_rate {
        a.concurrency = vec![1];
    }
    if a.concurrency.contains(&0) || a.repetitions == 0 || a.requests_per_level == Some(0) {
        return Err(Error::Usage("--concurrency levels, --repetitions and --requests-per-level must be at least 1".into()));
    }
    // A level replays the same prompts: with prefix reuse on, every repeat after the first
    // would skip its prefill and the figures would not be the prompts' cost (nor comparable
    // with llama-batched-bench). Reuse is measured when asked for.
    if a.engine.prefix_cache.is_none() && a.shared_prefix_tokens.is_none() {
        a.engine.prefix_cache = Some(crate::engine::PrefixCacheSetting::Off);
    }
    let ds = Dataset::load(&a.dataset)?;
    let model = a.model.resolve(&a.engine)?;
    // Open-loop arrivals overlap as they come: a local engine gets 8 slots for them unless
    // --max-seqs says otherwise.
    let open = !a.request_rate.is_empty() || a.find_max_rate;
    let slots = a.concurrency.iter().copied().max().unwrap_or(1).max(if open { 8 } else { 1 });
    let engine = a.engine.load(&model, slots)?;
    let tok = engine.as_ref();
    let prompts: Vec<(String, String)> = if let Some(n) = a.shared_prefix_tokens {
        shared_prefix_prompts(&ds, a.limit, a.prompt_style, tok, n)?
    } else if a.prompt_tokens.is_empty() {
        ds.cases.iter().take(a.limit).map(|c| (c.id.clone(), a.prompt_style.render(&c.messages, &c.tools))).collect()
    } else {
        a.prompt_tokens
            .iter()
            .map(|&n| Ok((format!("synthetic_{n}"), synthetic_prompt(&ds, a.prompt_style, tok, n)?)))
            .collect::<Result<_, Error>>()?
    };
    let settings = a.engine.generation();
    let plan = BenchPlan {
        prompts,
        concurrency: a.concurrency.clone(),
        warmup: a.warmup,
        repetitions: a.repetitions,
        requests_per_level: a.requests_per_level,
        slo_ttft_ms: a.slo_ttft_ms,
        slo_e2e_ms: a.slo_e2e_ms,
    };
    let info = engine.info();
    let per_level: Vec<String> = plan.concurrency.iter().map(|&c| format!("{} at {c}", plan.requests_for(c))).collect();
    eprintln!(
        "fgbench: {} loaded in {:.1}s; {} prompts; requests per level: {}",
        model.source,
        info.load_ms / 1000.0,
        plan.prompts.len(),
        per_level.join(", ")
    );
    let mut levels = bench(engine.as_ref(), &plan, &settings, |l| {
        eprintln!("fgbench: concurrency {}: {:.3} requests/s", l.concurrency, l.requests_per_s)
    })?;
    let arrivals = |rate: f64| Arrivals {
        rate,
        burstiness: a.burstiness,
        requests: a.requests,
        duration: a.duration_s.map(Duration::from_secs_f64),
        seed: a.arrival_seed,
    };
    let report = |l: &LevelResult| {
        eprintln!(
            "fgbench: {:.3}/s offered: {:.3} requests/s done, goodput {}",
            l.request_rate.unwrap_or(0.0),
            l.requests_per_s,
            l.goodput.map(|g| format!("{:.0}%", 100.0 * g)).unwrap_or("-".into())
        )
    };
    for &rate in &a.request_rate {
        let l = open_loop(engine.as_ref(), &plan, &arrivals(rate), &settings, OnFailure::Stop)?;
        report(&l);
        levels.push(l);
    }
    let mut max_rate = None;
    if a.find_max_rate {
        let start = a.request_rate.first().copied().unwrap_or(0.25);
        let (found, rate) = find_max_rate(engine.as_ref(), &plan, &arrivals(start), &settings, a.goodput_target, 4, report)?;
        levels.extend(found);
        max_rate = Some(rate);
    }
    let rss = peak_rss_mib();
    print!("{}", render_table(&levels));
    match max_rate {
        Some(MaxRate::Found(r)) => println!("max rate meeting the SLOs (goodput >= {:.0}%): {r:.3} requests/s", 100.0 * a.goodput_target),
        Some(MaxRate::AtLeast(r)) => println!(
            "max rate meeting the SLOs (goodput >= {:.0}%): at least {r:.3} requests/s (every rate tried passed; start higher with --request-rate)",
            100.0 * a.goodput_target
        ),
        Some(MaxRate::BelowStart) => println!("max rate: even the first rate missed the SLOs; start lower with --request-rate"),
        None => {}
    }
    println!(
        "load {:.1}s, peak RSS {}, {} on {} ({} threads)",
        info.load_ms / 1000.0,
        rss.map(|r| format!("{r:.0} MiB")).unwrap_or("-".into()),
        info.backend_feature,
        Host::detect().cpu,
        info.threads.unwrap_or(0)
    );
    if let Some(out) = &a.out {
        let manifest = Manifest::new(
            model,
            info,
            settings,
            a.prompt_style.name(),
            a.concurrency.iter().copied().max().unwrap_or(1),
            DatasetRef {
                path: a.dataset.display().to_string(),
                sha256: crate::fsutil::sha256_file(&a.dataset).map_err(|source| Error::Write { path: a.dataset.clone(), source })?,
                cases: plan.prompts.len(),
                categories: Vec::new(),
                limit: Some(a.limit),
                per_category: None,
            },
        );
        let doc = serde_json::json!({
            "schema": "fgbench.bench/1",
            "manifest": manifest,
            "prompts": plan.prompts.iter().map(|(id, p)| serde_json::json!({"id": id, "tokens": tok.encode(p).map(|v| v.len()).unwrap_or(0)})).collect::<Vec<_>>(),
            "warmup": plan.warmup,
            "repetitions": plan.repetitions,
            "requests_per_level": plan.concurrency.iter().map(|&c| plan.requests_for(c)).collect::<Vec<_>>(),
            "shared_prefix_tokens": a.shared_prefix_tokens,
            "slo_ttft_ms": plan.slo_ttft_ms,
            "slo_e2e_ms": plan.slo_e2e_ms,
            "burstiness": open.then_some(a.burstiness),
            "max_rate": match max_rate {
                Some(MaxRate::Found(r) | MaxRate::AtLeast(r)) => Some(r),
                _ => None,
            },
            "max_rate_is_lower_bound": matches!(max_rate, Some(MaxRate::AtLeast(_))),
            "peak_rss_mib": rss,
            "gpu_memory_mib": gpu_memory_mib(),
            "levels": levels,
        });
        let write = |name: &str, text: String| {
            let p = out.join(name);
            crate::fsutil::write_atomic(&p, text.as_bytes()).map_err(|source| Error::Write { path: p, source })
        };
        write("bench.json", serde_json::to_string_pretty(&doc).expect("json"))?;
        write("bench.csv", to_csv(&levels).map_err(|e| Error::Usage(e.to_string()))?)?;
        println!("wrote {}/bench.json and bench.csv", out.display());
    }
    Ok(0)
}
