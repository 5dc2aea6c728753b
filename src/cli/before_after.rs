//! `fgbench before-after`: the question fgbench exists for. Evaluates a model before and
//! after fine-tuning (the base and the base + adapter, or two checkpoints) on one dataset,
//! compares them case by case, and writes one HTML report that opens with the verdict.

use std::path::PathBuf;

use clap::Args;

use super::engine_args::{EngineArgs, ModelArgs};
use super::eval::{EvalJob, evaluate};
use crate::Error;
use crate::compare::{Allow, Run, compare, render};
use crate::dataset::Dataset;
use crate::prompt::PromptStyle;
use crate::runtime::RuntimeParser;
use crate::score::Scorer;

#[derive(Debug, Args)]
pub struct BeforeAfterArgs {
    /// The model before fine-tuning (same sources as `eval --model`).
    #[arg(long, default_value = "demo")]
    pub model: String,
    /// The fine-tune as a LoRA adapter on --model (PEFT directory or GGUF LoRA).
    #[arg(long, required_unless_present = "after_model", conflicts_with = "after_model")]
    pub adapter: Option<PathBuf>,
    /// The fine-tune as a checkpoint of its own (instead of --adapter).
    #[arg(long)]
    pub after_model: Option<String>,
    /// The held-out cases (fgbench cases or Mobile Actions rows).
    #[arg(long)]
    pub dataset: PathBuf,
    /// Only the first K cases (the files are in random order, so a random sample).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Run directories (before/, after/), compare.md and the report (report/index.html).
    #[arg(long)]
    pub out: PathBuf,
    /// Cases in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// `exact` (as Google scores Mobile Actions) or `bfcl`.
    #[arg(long, value_enum, default_value_t = Scorer::Exact)]
    pub scorer: Scorer,
    #[command(flatten)]
    pub parser: super::eval::ParserArg,
    #[arg(long, value_enum, default_value_t = PromptStyle::Official)]
    pub prompt_style: PromptStyle,
    /// Run every case N times (with --temperature): pass rates compared case by case.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeats: u32,
    /// Redo both runs instead of reusing finished ones in --out.
    #[arg(long)]
    pub fresh: bool,
    #[arg(long)]
    pub offline: bool,
    /// The metamorphic suite, on the fine-tune (and on the base with --perturb-before).
    #[command(flatten)]
    pub perturb: super::eval::PerturbArgs,
    /// Run the --perturb suite on the base too, so the report shows whether the fine-tune
    /// made the model more or less brittle (as long again as the fine-tune's suite; a base
    /// that never calls has nothing to show there).
    #[arg(long)]
    pub perturb_before: bool,
    /// Also read both runs' outputs as every runtime's parser does (`deploy-check`): whether
    /// the gain survives on vLLM, Ollama, mlx-lm and llama-server; OUT/deploy-check.md and
    /// .json.
    #[arg(long)]
    pub runtimes: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(a: BeforeAfterArgs) -> Result<i32, Error> {
    let ds = Dataset::load(&a.dataset)?;
    let before = ModelArgs { model: a.model.clone(), adapter: None, offline: a.offline };
    let after = match &a.after_model {
        Some(m) => ModelArgs { model: m.clone(), adapter: None, offline: a.offline },
        None => ModelArgs { model: a.model.clone(), adapter: a.adapter.clone(), offline: a.offline },
    };
    let before_perturb =
        if a.perturb_before { a.perturb.clone() } else { super::eval::PerturbArgs { kinds: Vec::new(), ..a.perturb.clone() } };
    let mut dirs = Vec::new();
    for (label, model, perturb) in [("before", &before, &before_perturb), ("after", &after, &a.perturb)] {
        let out = a.out.join(label);
        if a.fresh {
            let _ = std::fs::remove_dir_all(&out);
        }
        eprintln!(
            "fgbench: {label}: {}{}",
            model.model,
            model.adapter.as_ref().map(|p| format!(" + adapter {}", p.display())).unwrap_or_default()
        );
        let job = EvalJob {
            model,
            engine: &a.engine,
            dataset: &ds,
            dataset_path: &a.dataset,
            categories: &[],
            limit: a.limit,
            per_category: None,
            out: &out,
            concurrency: a.concurrency,
            // A finished run with the same manifest is reused; anything else is refused.
            resume: out.join(crate::run::MANIFEST).is_file(),
            prompt_style: a.prompt_style,
            scorer: a.scorer,
            parser: a.parser.parser,
            repeats: a.repeats as usize,
            shard: None,
            perturb,
        };
        evaluate(&job)?;
        dirs.push(out);
    }
    let runs = [Run::load(&dirs[0])?, Run::load(&dirs[1])?];
    let comparison = compare(&runs[0], &runs[1], Allow::default(), Some(&ds))?;
    let md = a.out.join("compare.md");
    crate::fsutil::write_atomic(&md, render::markdown(&comparison).as_bytes())
        .map_err(|source| Error::Write { path: md.clone(), source })?;
    let written = crate::report::write_report(&runs, true, Some(&ds), Allow::default(), &a.out.join("report"))?;
    println!("\n{}", written.verdict);
    if a.runtimes {
        let mut text = String::new();
        for (label, run) in ["before", "after"].iter().zip(&runs) {
            let m = crate::deploy::check(std::slice::from_ref(run), &ds, &RuntimeParser::ALL).map_err(|e| Error::Usage(e.to_string()))?;
            text.push_str(&format!("## {label}\n\n{}\n", crate::deploy::render::markdown(&m)));
            let json = a.out.join(format!("deploy-check-{label}.json"));
            let body = serde_json::to_string_pretty(&m).expect("matrix serializes") + "\n";
            crate::fsutil::write_atomic(&json, body.as_bytes()).map_err(|source| Error::Write { path: json.clone(), source })?;
            let cells = m.rows[0].cells.iter().map(|c| format!("{} {:.1}%", c.parser, 100.0 * c.accuracy.accuracy)).collect::<Vec<_>>();
            println!("{label} behind each runtime: {}", cells.join(", "));
        }
        let path = a.out.join("deploy-check.md");
        crate::fsutil::write_atomic(&path, text.as_bytes()).map_err(|source| Error::Write { path: path.clone(), source })?;
        println!("runtimes: {}", path.display());
    }
    println!("report: {}", written.index.display());
    println!("comparison: {}", md.display());
    Ok(0)
}
