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
}

impl AllowArgs {
    pub fn allow(&self) -> Allow {
        Allow { subset: self.allow_subset, style_mismatch: self.allow_style_mismatch, engine_mismatch: self.allow_engine_mismatch }
    }
}

pub fn run(a: CompareArgs) -> Result<i32, Error> {
    let (ra, rb) = (Run::load(&a.run_a)?, Run::load(&a.run_b)?);
    let dataset = dataset_for(&a.dataset, &ra)?;
    let c = compare(&ra, &rb, a.allow.allow(), dataset.as_ref())?;
    match a.format {
        CompareFormat::Table => print!("{}", render::table(&c)),
        CompareFormat::Markdown => print!("{}", render::markdown(&c)),
        CompareFormat::Json => println!("{}", serde_json::to_string_pretty(&c).expect("comparison serializes")),
    }
    Ok(0)
}
