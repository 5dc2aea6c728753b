use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::Error;
use crate::dataset::Dataset;
use crate::records::{ResultRecord, read_predictions};
use crate::run::result_record;
use crate::score::ScoreOptions;
use crate::summary::{render_csv, render_table, summarize};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SummaryFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Dataset file (canonical JSONL).
    #[arg(long)]
    pub dataset: PathBuf,
    /// Predictions: JSONL of {"id": ..., "output": ...} plus optional timing fields.
    #[arg(long)]
    pub predictions: PathBuf,
    /// Write one result per prediction here (JSONL, written atomically).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
    /// Exit non-zero on malformed lines, unknown or duplicate ids, or missing cases.
    #[arg(long)]
    pub strict: bool,
}

pub fn run(a: ScoreArgs) -> Result<i32, Error> {
    let ds = Dataset::load(&a.dataset)?;
    let ids = ds.ids();
    let file = read_predictions(&a.predictions, &|id| ids.contains(id))?;
    for p in &file.problems {
        eprintln!("fgbench: warning: {p}");
    }
    let opts = ScoreOptions::default();
    let by_id: std::collections::HashMap<&str, &crate::dataset::Case> = ds.cases.iter().map(|c| (c.id.as_str(), c)).collect();
    let results: Vec<ResultRecord> =
        file.predictions.iter().map(|p| result_record(by_id[p.id.as_str()], p, &opts)).collect();
    if let Some(out) = &a.out {
        let mut text = String::new();
        for r in &results {
            text.push_str(&serde_json::to_string(r).expect("results serialize"));
            text.push('\n');
        }
        crate::fsutil::write_atomic(out, text.as_bytes()).map_err(|source| Error::Write { path: out.clone(), source })?;
    }
    let summary = summarize(&ds.cases, &results);
    match a.format {
        SummaryFormat::Table => print!("{}", render_table(&summary)),
        SummaryFormat::Json => println!("{}", serde_json::to_string_pretty(&summary).expect("summary serializes")),
        SummaryFormat::Csv => print!("{}", render_csv(&summary).map_err(|e| Error::Write { path: "stdout".into(), source: std::io::Error::other(e) })?),
    }
    if a.strict {
        let missing = summary.missing.iter().map(|id| format!("case `{id}` has no prediction"));
        let problems: Vec<String> = file.problems.iter().map(|p| p.to_string()).chain(missing).collect();
        if let Some(first) = problems.first() {
            return Err(Error::Strict { count: problems.len(), first: first.clone() });
        }
    }
    Ok(0)
}
