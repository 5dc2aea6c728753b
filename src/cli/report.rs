use std::path::PathBuf;

use clap::Args;

use super::compare::AllowArgs;
use crate::Error;
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
    #[command(flatten)]
    pub allow: AllowArgs,
}

pub fn run(a: ReportArgs) -> Result<i32, Error> {
    let (runs, dataset) = a.allow.load_runs(&a.runs, &a.dataset)?;
    let written = write_report(&runs, a.compare, dataset.as_ref(), a.allow.allow(), &a.out)?;
    println!("{}", written.verdict);
    println!("report: {} ({} charts)", written.index.display(), written.charts.len());
    if dataset.is_none() {
        eprintln!("fgbench: note: no dataset found; the per-case table shows outputs without prompts or accepted answers (pass --dataset)");
    }
    Ok(0)
}
