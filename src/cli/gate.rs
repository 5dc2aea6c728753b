use std::path::PathBuf;

use clap::Args;

use super::compare::AllowArgs;
use crate::Error;
use crate::gate::{Decision, GateConfig, gate, render_table, update_baseline};

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The stored baseline run directory.
    #[arg(long, required_unless_present = "interleaved")]
    pub baseline: Option<PathBuf>,
    /// The run to check.
    #[arg(long, required_unless_present = "interleaved")]
    pub current: Option<PathBuf>,
    /// Measure both models now, alternately in this process (recommended for CI: noise hits
    /// both alike), instead of reading stored runs.
    #[arg(long, requires_all = ["baseline_model", "current_model"])]
    pub interleaved: bool,
    /// Interleaved mode: the baseline model (same sources as `eval --model`, or a served
    /// deployment's URL, run through the openai engine).
    #[arg(long)]
    pub baseline_model: Option<String>,
    #[arg(long)]
    pub baseline_adapter: Option<PathBuf>,
    /// Interleaved mode: the candidate model.
    #[arg(long)]
    pub current_model: Option<String>,
    #[arg(long)]
    pub current_adapter: Option<PathBuf>,
    /// Interleaved mode: the cases.
    #[arg(long, default_value = "datasets/demo.jsonl")]
    pub dataset: PathBuf,
    /// Interleaved mode: only the first K cases.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Interleaved mode: timing repetitions per case (accuracy uses the first).
    #[arg(long, default_value_t = 1)]
    pub repetitions: usize,
    #[arg(long, value_enum, default_value_t = crate::prompt::PromptStyle::Official)]
    pub prompt_style: crate::prompt::PromptStyle,
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub engine: super::engine_args::EngineArgs,
    /// Thresholds (see ci/gate.toml); defaults: accuracy may not drop by more than 2 points
    /// with McNemar p < 0.05, at least 30 paired cases.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// What to print: the verdict `table`, `markdown` (a pull-request comment), `json`, or
    /// `bmf` (Bencher Metric Format, for continuous benchmarking).
    #[arg(long, value_enum)]
    pub format: Option<GateFormat>,
    /// Same as --format markdown.
    #[arg(long, conflicts_with = "format")]
    pub markdown: bool,
    /// Same as --format json.
    #[arg(long, conflicts_with_all = ["format", "markdown"])]
    pub json: bool,
    /// Also write the verdict as JUnit XML here (one test case per check).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// When the gate passes, make the current run the new baseline (atomic replace).
    #[arg(long)]
    pub update_baseline: bool,
    /// Gate runs made with different generation settings, dtype or quantization.
    #[arg(long)]
    pub allow_settings_mismatch: bool,
    #[command(flatten)]
    pub allow: AllowArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GateFormat {
    Table,
    Markdown,
    Json,
    Bmf,
}

/// Exit 0 pass, 1 regression, 2 bad input or usage, 3 a runtime failure. Besides stdout:
/// --junit FILE, and a markdown summary appended to $GITHUB_STEP_SUMMARY when it is set.
pub fn run(a: GateArgs) -> Result<i32, Error> {
    let cfg = match &a.config {
        Some(p) => GateConfig::load(p).map_err(Error::Usage)?,
        None => GateConfig::default(),
    };
    let report = if a.interleaved {
        interleaved_report(&a, &cfg)?
    } else {
        let (b, c) = (a.baseline.as_ref().expect("clap requires it"), a.current.as_ref().expect("clap requires it"));
        let (runs, _) = a.allow.load_runs(&[b.clone(), c.clone()], &None)?;
        gate(&runs[0], &runs[1], &cfg, a.allow.allow(), a.allow_settings_mismatch)?
    };
    let format = a.format.unwrap_or(if a.json {
        GateFormat::Json
    } else if a.markdown {
        GateFormat::Markdown
    } else {
        GateFormat::Table
    });
    match format {
        GateFormat::Json => println!("{}", serde_json::to_string_pretty(&report).expect("report serializes")),
        GateFormat::Bmf => println!("{}", serde_json::to_string_pretty(&crate::gate::export::bmf(&report)).expect("bmf serializes")),
        GateFormat::Table | GateFormat::Markdown => print!("{}", render_table(&report, format == GateFormat::Markdown)),
    }
    if let Some(path) = &a.junit {
        crate::fsutil::write_atomic(path, crate::gate::export::junit(&report).as_bytes())
            .map_err(|source| Error::Write { path: path.clone(), source })?;
    }
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        let path = PathBuf::from(summary);
        append(&path, &render_table(&report, true)).map_err(|source| Error::Write { path, source })?;
    }
    if report.decision == Decision::Fail {
        return Ok(crate::error::EXIT_CHECK_FAILED);
    }
    if let (true, Some(b), Some(c)) = (a.update_baseline, &a.baseline, &a.current) {
        update_baseline(c, b).map_err(|source| Error::Write { path: b.clone(), source })?;
        eprintln!("fgbench: baseline {} updated from {}", b.display(), c.display());
    }
    Ok(0)
}

/// Loads both models with the same engine settings and measures them alternately.
fn interleaved_report(a: &GateArgs, cfg: &GateConfig) -> Result<crate::gate::GateReport, Error> {
    use super::engine_args::ModelArgs;
    let ds = crate::dataset::Dataset::load(&a.dataset)?;
    let cases = super::eval::select_cases(&ds, &[], a.limit, None)?;
    // Either model may be a served deployment's URL: then it runs through the openai engine.
    let load = |model: &Option<String>, adapter: &Option<PathBuf>| -> Result<Box<dyn crate::engine::Engine>, Error> {
        let source = model.clone().expect("clap requires it");
        let engine = a.engine.for_source(&source);
        let m = ModelArgs { model: source, adapter: adapter.clone(), offline: a.offline }.resolve(&engine)?;
        engine.load(&m, 1)
    };
    let (base, cur) = (load(&a.baseline_model, &a.baseline_adapter)?, load(&a.current_model, &a.current_adapter)?);
    let scoring = crate::score::ScoreOptions { scorer: a.allow.scorer.unwrap_or_default(), ..Default::default() };
    let run = crate::run::EvalSettings {
        generation: a.engine.generation(),
        style: a.prompt_style,
        concurrency: 1,
        scoring,
        repeats: 1,
        leakage: None,
    };
    let r = crate::gate::interleaved(base.as_ref(), cur.as_ref(), &cases, &run, a.repetitions)?;
    Ok(crate::gate::gate_records(&r.base_acc, &r.cur_acc, &r.base_perf, &r.cur_perf, cfg))
}

/// Appends to a file another step may also write (GitHub's job summary).
fn append(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")
}
