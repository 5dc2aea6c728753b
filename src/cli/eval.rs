use std::path::PathBuf;

use clap::Args;

use super::engine_args::{EngineArgs, ModelArgs};
use crate::Error;
use crate::dataset::{Case, Dataset};
use crate::codec::PromptStyle;
use crate::run::manifest::{DatasetRef, Manifest};
use crate::run::{EvalSettings, prepare, run_eval};
use crate::score::ScoreOptions;
use crate::summary::render_table;

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Dataset file (canonical JSONL).
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
    /// Finish an interrupted run in --out, skipping cases already predicted.
    #[arg(long)]
    pub resume: bool,
    /// Prompt rendering: `official` (Google's chat template) or `bfcl` (BFCL's handler, for
    /// leaderboard parity).
    #[arg(long, value_enum, default_value_t = PromptStyle::Official)]
    pub prompt_style: PromptStyle,
    /// Also write an HTML report of the run into this folder (e.g. reports/NAME/).
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// The cases a run covers: category filter, then limit, in file order.
pub fn select_cases(ds: &Dataset, categories: &[String], limit: Option<usize>) -> Result<Vec<Case>, Error> {
    for c in categories {
        if !ds.cases.iter().any(|x| &x.category == c) {
            return Err(Error::Usage(format!("--categories: `{c}` is not a category of {}", ds.path.display())));
        }
    }
    let selected = ds.cases.iter().filter(|c| categories.is_empty() || categories.contains(&c.category));
    Ok(selected.take(limit.unwrap_or(usize::MAX)).cloned().collect())
}

pub fn run(a: EvalArgs) -> Result<i32, Error> {
    if a.concurrency == 0 {
        return Err(Error::Usage("--concurrency must be at least 1".into()));
    }
    let ds = Dataset::load(&a.dataset)?;
    let cases = select_cases(&ds, &a.categories, a.limit)?;
    let model = a.model.resolve(a.engine.engine)?;
    eprintln!("fgbench: loading {} ({})", model.source, model.path.display());
    let engine = a.engine.load(&model, a.concurrency)?;
    let settings = a.engine.generation();
    let opts = ScoreOptions::default();
    let manifest = Manifest::new(
        model,
        engine.info(),
        settings.clone(),
        a.prompt_style.name(),
        a.concurrency,
        DatasetRef {
            path: a.dataset.display().to_string(),
            sha256: crate::fsutil::sha256_file(&a.dataset).map_err(|source| Error::Write { path: a.dataset.clone(), source })?,
            cases: cases.len(),
            categories: a.categories.clone(),
            limit: a.limit,
        },
    );
    let existing = prepare(&a.out, &manifest, a.resume)?;
    let run = EvalSettings { generation: settings, style: a.prompt_style, concurrency: a.concurrency, scoring: opts };
    let outcome = run_eval(engine.as_ref(), &cases, &a.out, existing, &run)?;
    print!("{}", render_table(&outcome.summary));
    let t = &outcome.timing;
    println!(
        "\nrun: {} generated{} in {:.1}s ({:.2} cases/s at concurrency {}), load {:.1}s, TTFT p50 {}, e2e p50 {} p95 {}, decode {} tok/s, harness overhead {:.2}%",
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
        100.0 * t.harness_overhead
    );
    println!("records: {}", a.out.display());
    if let Some(dir) = &a.report {
        let run = crate::compare::Run::load(&a.out)?;
        let written = crate::report::write_report(&[run], false, Some(&ds), crate::compare::Allow::default(), dir)?;
        println!("report: {}", written.index.display());
    }
    Ok(0)
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.0} ms")).unwrap_or_else(|| "-".into())
}
