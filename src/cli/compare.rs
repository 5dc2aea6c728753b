use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::Error;
use crate::compare::{Allow, Run, compare, render};

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

pub fn run(a: CompareArgs) -> Result<i32, Error> {
    let (ra, rb) = (Run::load(&a.run_a)?, Run::load(&a.run_b)?);
    let allow = Allow { subset: a.allow_subset, style_mismatch: a.allow_style_mismatch, engine_mismatch: a.allow_engine_mismatch };
    let c = compare(&ra, &rb, allow)?;
    match a.format {
        CompareFormat::Table => print!("{}", render::table(&c)),
        CompareFormat::Markdown => print!("{}", render::markdown(&c)),
        CompareFormat::Json => println!("{}", serde_json::to_string_pretty(&c).expect("comparison serializes")),
    }
    Ok(0)
}
