use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use rayon::prelude::*;

use crate::Error;
use crate::dataset::{Dataset, mobile_actions};
use crate::records::{Prediction, RecordError, ResultRecord};
use crate::run::result_record;
use crate::score::{ScoreOptions, Scorer};
use crate::summary::{CaseMeta, render_csv, render_table, summarize};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SummaryFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Dataset file (canonical JSONL or Mobile Actions rows).
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
    /// The rules: `bfcl` (BFCL's AST checker) or `exact` (exact match, as Google scores
    /// Mobile Actions).
    #[arg(long, value_enum, default_value_t = Scorer::Bfcl)]
    pub scorer: Scorer,
}

pub fn run(a: ScoreArgs) -> Result<i32, Error> {
    let opts = ScoreOptions { scorer: a.scorer, ..ScoreOptions::default() };
    let (metas, results, problems) = score_files(&a.dataset, &a.predictions, &opts)?;
    for p in &problems {
        eprintln!("fgbench: warning: {p}");
    }
    if let Some(out) = &a.out {
        let lines: Vec<String> = results.par_iter().map(|r| serde_json::to_string(r).expect("results serialize")).collect();
        let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for l in &lines {
            text.push_str(l);
            text.push('\n');
        }
        crate::fsutil::write_atomic(out, text.as_bytes()).map_err(|source| Error::Write { path: out.clone(), source })?;
    }
    let summary = summarize(&metas, &results);
    match a.format {
        SummaryFormat::Table => print!("{}", render_table(&summary)),
        SummaryFormat::Json => println!("{}", serde_json::to_string_pretty(&summary).expect("summary serializes")),
        SummaryFormat::Csv => {
            print!("{}", render_csv(&summary).map_err(|e| Error::Write { path: "stdout".into(), source: std::io::Error::other(e) })?)
        }
    }
    if a.strict {
        let missing = summary.missing.iter().map(|id| format!("case `{id}` has no prediction"));
        let problems: Vec<String> = problems.iter().map(|p| p.to_string()).chain(missing).collect();
        if let Some(first) = problems.first() {
            return Err(Error::Strict { count: problems.len(), first: first.clone() });
        }
    }
    Ok(0)
}

/// What `score_files` gives: the scored cases, their results in the predictions' order, and
/// the problems found in the predictions.
pub type Scored = (Vec<CaseMeta>, Vec<ResultRecord>, Vec<RecordError>);

/// Scores a predictions file against a dataset file on all cores, keeping of the dataset only
/// a batch of cases at a time (and each case's id, category and kind): the predictions are
/// parsed in parallel, then the dataset is streamed in batches, each batch's cases parsed
/// and scored in parallel. Results come in the predictions' order; bad prediction lines
/// (malformed, duplicate, unknown id) are returned as problems with their line numbers.
pub fn score_files(dataset: &Path, predictions: &Path, opts: &ScoreOptions) -> Result<Scored, Error> {
    let io = |source| RecordError::Io { path: predictions.to_path_buf(), source };
    let text = std::fs::read_to_string(predictions).map_err(io)?;
    let lines: Vec<(usize, &str)> = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l)).collect();
    let parsed: Vec<Result<Prediction, String>> =
        lines.par_iter().map(|(_, l)| serde_json::from_str::<Prediction>(l).map_err(|e| e.to_string())).collect();
    let mut problems = Vec::new();
    let mut preds: Vec<(usize, Prediction)> = Vec::with_capacity(parsed.len());
    let mut by_id: HashMap<String, usize> = HashMap::with_capacity(parsed.len());
    for ((line, _), p) in lines.iter().zip(parsed) {
        match p {
            Err(message) => problems.push(RecordError::Malformed { path: predictions.into(), line: *line, message }),
            Ok(p) => match by_id.get(&p.id) {
                Some(&first) => {
                    problems.push(RecordError::DuplicateId { path: predictions.into(), line: *line, id: p.id, first: preds[first].0 })
                }
                None => {
                    by_id.insert(p.id.clone(), preds.len());
                    preds.push((*line, p));
                }
            },
        }
    }
    drop(text);
    let mut results: Vec<Option<ResultRecord>> = (0..preds.len()).map(|_| None).collect();
    let mut metas = Vec::new();
    let mut score_batch = |cases: Vec<crate::dataset::Case>| {
        let scored: Vec<(usize, ResultRecord)> =
            cases.par_iter().filter_map(|c| by_id.get(&c.id).map(|&i| (i, result_record(c, &preds[i].1, opts)))).collect();
        for (i, r) in scored {
            results[i] = Some(r);
        }
        metas.extend(cases.iter().map(CaseMeta::from));
    };
    if mobile_actions::sniff(dataset) {
        score_batch(Dataset::load(dataset)?.cases);
    } else {
        crate::dataset::for_each_batch(dataset, |cases| {
            score_batch(cases);
            Ok(())
        })?;
    }
    let mut out = Vec::with_capacity(preds.len());
    for ((line, p), r) in preds.iter().zip(results) {
        match r {
            Some(r) => out.push(r),
            None => problems.push(RecordError::UnknownId { path: predictions.into(), line: *line, id: p.id.clone() }),
        }
    }
    problems.sort_by_key(|p| match p {
        RecordError::Malformed { line, .. } | RecordError::UnknownId { line, .. } | RecordError::DuplicateId { line, .. } => *line,
        RecordError::Io { .. } => 0,
    });
    Ok((metas, out, problems))
}
