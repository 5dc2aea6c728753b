use std::path::PathBuf;

use clap::Args;

use crate::Error;
use crate::compare::{Allow, Run};
use crate::dataset::Dataset;
use crate::report::write_report;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// One run directory, or two (A then B) with --compare.
    #[arg(required = true, num_args = 1..=2)]
    pub runs: Vec<PathBuf>,
    /// Compare the two runs (paired, case by case).
    #[arg(long)]
    pub compare: bool,
    /// Output folder, e.g. reports/NAME/ (index.html and the PNG charts).
    #[arg(long)]
    pub out: PathBuf,
    /// Dataset for prompts and accepted answers (default: the one in run A's manifest).
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    #[arg(long)]
    pub allow_subset: bool,
    #[arg(long)]
    pub allow_style_mismatch: bool,
    #[arg(long)]
    pub allow_engine_mismatch: bool,
}

pub fn run(a: ReportArgs) -> Result<i32, Error> {
    let runs = a.runs.iter().map(|r| Run::load(r)).collect::<Result<Vec<_>, _>>()?;
    let dataset_path = a.dataset.clone().or_else(|| runs[0].manifest.as_ref().map(|m| PathBuf::from(&m.dataset.path)).filter(|p| p.is_file()));
    let dataset = match &dataset_path {
        Some(p) => Some(Dataset::load(p)?),
        None => None,
    };
    let allow = Allow { subset: a.allow_subset, style_mismatch: a.allow_style_mismatch, engine_mismatch: a.allow_engine_mismatch };
    let written = write_report(&runs, a.compare, dataset.as_ref(), allow, &a.out)?;
    println!("{}", written.verdict);
    println!("report: {} ({} charts)", written.index.display(), written.charts.len());
    if dataset.is_none() {
        eprintln!("fgbench: note: no dataset found; the per-case table shows outputs without prompts or accepted answers (pass --dataset)");
    }
    Ok(0)
}
