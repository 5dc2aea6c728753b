use std::path::PathBuf;

use clap::Args;

use super::engine_args::{EngineArgs, ModelArgs};
use crate::Error;
use crate::dataset::{Case, Dataset};
use crate::prompt::PromptStyle;
use crate::run::manifest::{DatasetRef, Manifest};
use crate::run::shard::Shard;
use crate::run::{EvalSettings, prepare, run_eval};
use crate::runtime::RuntimeParser;
use crate::score::{ScoreOptions, Scorer};
use crate::summary::render_table;

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Dataset file (canonical JSONL or Mobile Actions rows).
    #[arg(long, default_value = "datasets/demo.jsonl")]
    pub dataset: PathBuf,
    /// Run directory: predictions.jsonl, results.jsonl, summary.json, manifest.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Cases in flight at once (the engine batches them).
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Only the first K cases (after --categories).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Only these categories.
    #[arg(long, value_delimiter = ',')]
    pub categories: Vec<String>,
    /// Only the first K cases of each category (a stratified sample of a large set).
    #[arg(long)]
    pub per_category: Option<usize>,
    /// Finish an interrupted run in --out, skipping cases already predicted.
    #[arg(long)]
    pub resume: bool,
    /// Prompt rendering: `official` (Google's chat template), `bfcl` (BFCL's handler, for
    /// leaderboard parity) or `ollama` (as Ollama prompts the model; `deploy-check` reads
    /// such runs beside the official one).
    #[arg(long, value_enum, default_value_t = PromptStyle::Official)]
    pub prompt_style: PromptStyle,
    /// Also write an HTML report of the run into this folder (e.g. reports/NAME/).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// The rules: `bfcl` (BFCL's AST checker) or `exact` (exact match, as Google scores
    /// Mobile Actions); recorded in the manifest.
    #[arg(long, value_enum, default_value_t = Scorer::Bfcl)]
    pub scorer: Scorer,
    #[command(flatten)]
    pub parser: ParserArg,
    /// Run every case N times, run r with seed + r (with --temperature): the summary adds
    /// pass@1, pass@N, pass^N (all N right) and how consistent the outputs are.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeats: u32,
    /// Run shard K of N: the cases whose id hashes to K (after the filters above), recorded in
    /// the manifest; `fgbench merge` joins the N shard runs into one.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    #[command(flatten)]
    pub perturb: PerturbArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Whose parser reads the outputs into calls before scoring.
#[derive(Clone, Copy, Debug, Default, Args)]
pub struct ParserArg {
    /// Read the outputs as this runtime's server does before scoring (`vllm`, `ollama`, `mlx`,
    /// `llama-server`: what the deployment hands the app; docs/runtimes.md) instead of with
    /// fgbench's own parser; recorded in the manifest.
    #[arg(long, value_enum, default_value_t = RuntimeParser::Fgbench)]
    pub parser: RuntimeParser,
}

/// The metamorphic suite run beside an eval.
#[derive(Clone, Debug, Default, Args)]
pub struct PerturbArgs {
    /// Also run these variants of the cases (comma-separated; `fgbench perturb --help`), each
    /// in OUT/perturb/KIND/ and paired with the run: accuracy change, McNemar p, flipped
    /// cases (the robustness table, also in summary.json and the report).
    #[arg(long = "perturb", value_enum, value_delimiter = ',')]
    pub kinds: Vec<crate::perturb::Perturbation>,
    #[arg(long, default_value_t = 0)]
    pub perturb_seed: u64,
}

/// The cases a run covers (see [`crate::dataset::select`]).
pub fn select_cases(ds: &Dataset, categories: &[String], limit: Option<usize>, per_category: Option<usize>) -> Result<Vec<Case>, Error> {
    crate::dataset::select(ds, categories, limit, per_category).map_err(Error::Usage)
}

/// One evaluation: what `eval` does, and `before-after` twice.
pub struct EvalJob<'a> {
    pub model: &'a ModelArgs,
    pub engine: &'a super::engine_args::EngineArgs,
    pub dataset: &'a Dataset,
    pub dataset_path: &'a std::path::Path,
    pub categories: &'a [String],
    pub limit: Option<usize>,
    pub per_category: Option<usize>,
    pub out: &'a std::path::Path,
    pub concurrency: usize,
    pub resume: bool,
    pub prompt_style: PromptStyle,
    pub scorer: Scorer,
    pub parser: RuntimeParser,
    pub repeats: usize,
    pub shard: Option<Shard>,
    pub perturb: &'a PerturbArgs,
}

/// Loads the model, runs (or resumes) the cases into `out`, and prints the summary.
pub fn evaluate(job: &EvalJob) -> Result<crate::run::EvalOutcome, Error> {
    if job.concurrency == 0 {
        return Err(Error::Usage("--concurrency must be at least 1".into()));
    }
    let mut cases = select_cases(job.dataset, job.categories, job.limit, job.per_category)?;
    if let Some(shard) = job.shard {
        cases.retain(|c| shard.holds(&c.id));
    }
    // `--model http://host:port` is a served deployment: the openai engine with that endpoint.
    let engine_args = job.engine.for_source(&job.model.model);
    let model = job.model.resolve(&engine_args)?;
    eprintln!("fgbench: loading {} ({})", model.source, model.path.display());
    let engine = engine_args.load(&model, job.concurrency)?;
    let settings = engine_args.generation();
    let opts = ScoreOptions { scorer: job.scorer, parser: job.parser, ..ScoreOptions::default() };
    let mut manifest = Manifest::new(
        model,
        engine.info(),
        settings.clone(),
        job.prompt_style.name(),
        job.concurrency,
        DatasetRef {
            path: job.dataset_path.display().to_string(),
            sha256: crate::fsutil::sha256_file(job.dataset_path)
                .map_err(|source| Error::Write { path: job.dataset_path.to_path_buf(), source })?,
            cases: cases.len(),
            categories: job.categories.to_vec(),
            limit: job.limit,
            per_category: job.per_category,
        },
    );
    manifest.scoring = opts.clone();
    manifest.repeats = job.repeats;
    manifest.shard = job.shard;
    let existing = prepare(job.out, &manifest, job.resume)?;
    let leakage = crate::dataset::leakage::beside(job.dataset_path).map_err(Error::Usage)?;
    let run = EvalSettings {
        generation: settings,
        style: job.prompt_style,
        concurrency: job.concurrency,
        scoring: opts,
        repeats: job.repeats,
        leakage,
    };
    let outcome = run_eval(engine.as_ref(), &cases, job.out, existing, &run)?;
    print!("{}", render_table(&outcome.summary));
    let t = &outcome.timing;
    println!(
        "\nrun: {} generated{} in {:.1}s ({:.2} cases/s at concurrency {}), load {:.1}s, TTFT p50 {}, e2e p50 {} p95 {}, decode {} tok/s, harness overhead {:.2}%{}",
        outcome.generated,
        if outcome.resumed > 0 { format!(" ({} resumed)", outcome.resumed) } else { String::new() },
        t.wall_s,
        t.cases_per_s,
        t.concurrency,
        t.model_load_s,
        fmt_ms(t.ttft_ms_p50),
        fmt_ms(t.e2e_ms_p50),
        fmt_ms(t.e2e_ms_p95),
        t.decode_tok_s_mean.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into()),
        100.0 * t.harness_overhead,
        t.prefix_cache
            .as_ref()
            .map(|p| format!(", prefix cache: {} hits, {} prompt tokens reused", p.hits, p.tokens_saved))
            .unwrap_or_default()
    );
    println!("records: {}", job.out.display());
    if let Some((id, last)) = outcome.failures.last() {
        eprintln!(
            "fgbench: {} case(s) got no answer from the engine and are recorded as failed (the last: `{id}`: {}); --resume runs them again",
            outcome.failures.len(),
            last.message
        );
    }
    let mut outcome = outcome;
    if !job.perturb.kinds.is_empty() {
        outcome.summary.robustness = perturbation_suite(job, &cases)?;
        print!(
            "\nrobustness (each variant paired with this run):\n{}",
            crate::perturb::robustness::render(&outcome.summary.robustness, false)
        );
    }
    Ok(outcome)
}

/// Runs every requested variant of the run's cases beside it, then adds the robustness rows
/// to the run's summary.json.
fn perturbation_suite(job: &EvalJob, cases: &[Case]) -> Result<Vec<crate::perturb::robustness::Robustness>, Error> {
    use crate::compare::robustness_of_run as of_run;
    use crate::perturb::robustness::variant_dir;
    let no_suite = PerturbArgs::default();
    for &kind in &job.perturb.kinds {
        let dir = variant_dir(job.out, kind);
        if !job.resume {
            let _ = std::fs::remove_dir_all(&dir);
        }
        std::fs::create_dir_all(&dir).map_err(|source| Error::Write { path: dir.clone(), source })?;
        let path = dir.join("cases.jsonl");
        let variant = crate::perturb::perturb(cases, kind, job.perturb.perturb_seed);
        crate::dataset::write_cases(&path, &variant).map_err(|source| Error::Write { path: path.clone(), source })?;
        eprintln!("fgbench: perturbation {}: {} cases -> {}", kind.name(), variant.len(), dir.display());
        let ds = Dataset { path: path.clone(), cases: variant };
        let variant_job = EvalJob {
            dataset: &ds,
            dataset_path: &path,
            categories: &[],
            limit: None,
            per_category: None,
            out: &dir,
            resume: dir.join(crate::run::MANIFEST).is_file(),
            shard: None,
            perturb: &no_suite,
            ..*job
        };
        evaluate(&variant_job)?;
    }
    let results = crate::compare::Run::load(job.out)?.results;
    let rows = of_run(job.out, &results).map_err(Error::Usage)?;
    let summary_path = job.out.join(crate::run::SUMMARY);
    let mut doc: serde_json::Value = std::fs::read_to_string(&summary_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| Error::Usage(format!("{} is missing or not JSON", summary_path.display())))?;
    doc["robustness"] = serde_json::to_value(&rows).expect("robustness serializes");
    crate::fsutil::write_atomic(&summary_path, serde_json::to_string_pretty(&doc).expect("json").as_bytes())
        .map_err(|source| Error::Write { path: summary_path.clone(), source })?;
    Ok(rows)
}

pub fn run(a: EvalArgs) -> Result<i32, Error> {
    let ds = Dataset::load(&a.dataset)?;
    let job = EvalJob {
        model: &a.model,
        engine: &a.engine,
        dataset: &ds,
        dataset_path: &a.dataset,
        categories: &a.categories,
        limit: a.limit,
        per_category: a.per_category,
        out: &a.out,
        concurrency: a.concurrency,
        resume: a.resume,
        prompt_style: a.prompt_style,
        scorer: a.scorer,
        parser: a.parser.parser,
        repeats: a.repeats as usize,
        shard: a.shard,
        perturb: &a.perturb,
    };
    let outcome = evaluate(&job)?;
    if let Some(dir) = &a.report {
        let run = crate::compare::Run::load(&a.out)?;
        let written = crate::report::write_report(&[run], false, Some(&ds), crate::compare::Allow::default(), dir)?;
        println!("report: {}", written.index.display());
    }
    Ok(if outcome.failures.is_empty() {
        0
    } else if outcome.failed_unsupported() {
        crate::error::EXIT_BAD_INPUT
    } else {
        crate::error::EXIT_FAILURE
    })
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.0} ms")).unwrap_or_else(|| "-".into())
}
