use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::Error;
use crate::compare::Run;
use crate::deploy::{check, render};
use crate::runtime::RuntimeParser;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DeployFormat {
    Table,
    Markdown,
    Json,
}

#[derive(Debug, Args)]
pub struct DeployCheckArgs {
    /// A finished run (an `eval --out` directory, or any directory with results.jsonl). Give
    /// one per prompt rendering (`eval --prompt-style ...`), on the same cases; the first is
    /// the reference.
    #[arg(long = "run", required = true)]
    pub runs: Vec<PathBuf>,
    /// The dataset the runs were made on (default: the first run's manifest's).
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// The runtime parsers to read the outputs with (default: all of them).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub parsers: Vec<RuntimeParser>,
    #[arg(long, value_enum, default_value_t = DeployFormat::Table)]
    pub format: DeployFormat,
    /// Also write the matrix as JSON here (atomically).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: DeployCheckArgs) -> Result<i32, Error> {
    let runs = a.runs.iter().map(|d| Run::load(d)).collect::<Result<Vec<_>, _>>()?;
    let dataset = super::compare::dataset_for(&a.dataset, &runs[0])?.ok_or_else(|| {
        Error::Usage(format!(
            "{}: no dataset to score against: pass --dataset (the run's manifest names none that exists)",
            a.runs[0].display()
        ))
    })?;
    // fgbench's own reading comes first: it is what the parser loss is measured against.
    let mut parsers = vec![RuntimeParser::Fgbench];
    let asked = if a.parsers.is_empty() { RuntimeParser::ALL.to_vec() } else { a.parsers.clone() };
    parsers.extend(asked.into_iter().filter(|p| !p.is_default()));
    let matrix = check(&runs, &dataset, &parsers).map_err(|e| Error::Usage(e.to_string()))?;
    if let Some(out) = &a.out {
        let json = serde_json::to_string_pretty(&matrix).expect("matrix serializes") + "\n";
        crate::fsutil::write_atomic(out, json.as_bytes()).map_err(|source| Error::Write { path: out.clone(), source })?;
    }
    match a.format {
        DeployFormat::Table => print!("{}", render::text(&matrix)),
        DeployFormat::Markdown => print!("{}", render::markdown(&matrix)),
        DeployFormat::Json => println!("{}", serde_json::to_string_pretty(&matrix).expect("matrix serializes")),
    }
    Ok(0)
}
