use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::Error;
use crate::compare::{Allow, Run, compare, render};
use crate::dataset::Dataset;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompareFormat {
    Table,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline run directory (A).
    pub run_a: PathBuf,
    /// The candidate run directory (B).
    pub run_b: PathBuf,
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,
    /// Dataset for the expected answers of fixed and broken cases (default: run A's).
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    #[command(flatten)]
    pub allow: AllowArgs,
}

/// The dataset named by `--dataset`, else the one in run A's manifest when that file exists.
pub fn dataset_for(flag: &Option<PathBuf>, a: &Run) -> Result<Option<Dataset>, Error> {
    let path = flag.clone().or_else(|| a.manifest.as_ref().map(|m| PathBuf::from(&m.dataset.path)).filter(|p| p.is_file()));
    Ok(match path {
        Some(p) => Some(Dataset::load(&p)?),
        None => None,
    })
}

/// What a comparison may mix; each is refused by default.
#[derive(Debug, Args)]
pub struct AllowArgs {
    /// Compare runs of different datasets on the case ids they share.
    #[arg(long)]
    pub allow_subset: bool,
    /// Compare runs rendered in different prompt styles (a format-sensitivity comparison).
    #[arg(long)]
    pub allow_style_mismatch: bool,
    /// Compare runs made by different engines.
    #[arg(long)]
    pub allow_engine_mismatch: bool,
    /// Compare runs judged by different scorers (without rescoring them).
    #[arg(long)]
    pub allow_scorer_mismatch: bool,
    /// Rescore every run with these rules first (`bfcl` or `exact`), from its recorded
    /// outputs and the dataset: both scorers on the same runs are one flag apart.
    #[arg(long, value_enum)]
    pub scorer: Option<crate::score::Scorer>,
    /// Rescore every run with the calls as this runtime's parser reads them (`vllm`,
    /// `ollama`, `mlx`, `llama-server`; `fgbench` is fgbench's own): what the run scores
    /// behind that deployment.
    #[arg(long, value_enum)]
    pub parser: Option<crate::runtime::RuntimeParser>,
}

impl AllowArgs {
    pub fn allow(&self) -> Allow {
        Allow {
            subset: self.allow_subset,
            style_mismatch: self.allow_style_mismatch,
            engine_mismatch: self.allow_engine_mismatch,
            scorer_mismatch: self.allow_scorer_mismatch,
        }
    }

    /// Loads run directories, rescored when --scorer asks, with the dataset that goes with
    /// them (--dataset, else the first run's manifest's, when that file exists).
    pub fn load_runs(&self, dirs: &[PathBuf], dataset: &Option<PathBuf>) -> Result<(Vec<Run>, Option<Dataset>), Error> {
        let mut runs = dirs.iter().map(|d| Run::load(d)).collect::<Result<Vec<_>, _>>()?;
        let ds = dataset_for(dataset, &runs[0])?;
        if self.scorer.is_some() || self.parser.is_some() {
            let Some(ds) = &ds else {
                let path = runs[0].manifest.as_ref().map(|m| m.dataset.path.clone()).unwrap_or_default();
                return Err(crate::compare::CompareError::NoDatasetToRescore { dir: runs[0].dir.clone(), path }.into());
            };
            for r in &mut runs {
                let recorded = r.manifest.as_ref().map(|m| m.scoring.clone()).unwrap_or_default();
                let opts = crate::score::ScoreOptions {
                    scorer: self.scorer.unwrap_or(recorded.scorer),
                    parser: self.parser.unwrap_or(recorded.parser),
                    ..recorded
                };
                r.rescore(ds, &opts);
            }
        }
        Ok((runs, ds))
    }
}

pub fn run(a: CompareArgs) -> Result<i32, Error> {
    let (runs, dataset) = a.allow.load_runs(&[a.run_a.clone(), a.run_b.clone()], &a.dataset)?;
    let c = compare(&runs[0], &runs[1], a.allow.allow(), dataset.as_ref())?;
    match a.format {
        CompareFormat::Table => print!("{}", render::table(&c)),
        CompareFormat::Markdown => print!("{}", render::markdown(&c)),
        CompareFormat::Json => println!("{}", serde_json::to_string_pretty(&c).expect("comparison serializes")),
    }
    Ok(0)
}
