use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use rayon::prelude::*;

use crate::Error;
use crate::dataset::{Dataset, UniqueIds, mobile_actions};
use crate::records::{Prediction, RecordError, ResultRecord};
use crate::run::record_of;
use crate::score::{AnswerKey, ScoreOptions, Scored, Scorer, score_output};
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
    #[command(flatten)]
    pub parser: super::eval::ParserArg,
}

pub fn run(a: ScoreArgs) -> Result<i32, Error> {
    let opts = ScoreOptions { scorer: a.scorer, parser: a.parser.parser, ..ScoreOptions::default() };
    let (metas, results, problems) = score_files(&a.dataset, &a.predictions, &opts)?;
    for p in &problems {
        eprintln!("fgbench: warning: {p}");
    }
    // The results file is written (and synced) while the summary is made.
    let (written, summary) = std::thread::scope(|s| {
        let writer = a.out.as_ref().map(|out| {
            let results = &results;
            s.spawn(move || crate::fsutil::write_jsonl(out, results).map_err(|source| Error::Write { path: out.clone(), source }))
        });
        let summary = summarize(&metas, &results);
        (writer.map(|w| w.join().expect("the results writer does not panic")), summary)
    });
    written.transpose()?;
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
    // The process ends here: the OS takes the records back at once, where dropping them
    // frees hundreds of thousands of allocations one by one.
    std::mem::forget((metas, results));
    Ok(0)
}

/// What `score_files` gives: the scored cases, their results in the predictions' order, and
/// the problems found in the predictions.
pub type ScoredFiles = (Vec<CaseMeta>, Vec<ResultRecord>, Vec<RecordError>);

/// A prediction's line number and record.
type Numbered = (usize, Prediction);

/// A case's verdict: its category and what the scorer said.
type Verdict = (String, Scored);

/// Scores a predictions file against a dataset file on all cores, keeping of the dataset only
/// a block of lines at a time (and each case's id, category and kind): the predictions are
/// parsed in parallel, then each block of the dataset is read as answer keys and scored in
/// one parallel pass, while the next block is read. Results come in the predictions' order;
/// bad prediction lines (malformed, duplicate, unknown id) are returned as problems with
/// their line numbers.
pub fn score_files(dataset: &Path, predictions: &Path, opts: &ScoreOptions) -> Result<ScoredFiles, Error> {
    let (preds, mut problems) = read_predictions(predictions)?;
    let by_id: FxHashMap<&str, usize> = preds.iter().enumerate().map(|(i, (_, p))| (p.id.as_str(), i)).collect();
    let mut verdicts: Vec<Option<Verdict>> = (0..preds.len()).map(|_| None).collect();
    let mut metas = Vec::new();
    let score = |key: &AnswerKey| {
        let verdict = by_id.get(key.id.as_str()).map(|&i| (i, (key.category.clone(), score_output(key, &preds[i].1.output, opts))));
        (CaseMeta::from(key), verdict)
    };
    let mut keep = |(meta, verdict): (CaseMeta, Option<(usize, Verdict)>)| {
        if let Some((i, v)) = verdict {
            verdicts[i] = Some(v);
        }
        metas.push(meta);
    };
    if mobile_actions::sniff(dataset) {
        Dataset::load(dataset)?.cases.par_iter().map(|c| score(&c.into())).collect::<Vec<_>>().into_iter().for_each(&mut keep);
    } else {
        let mut seen = UniqueIds::default();
        crate::dataset::for_each_line_block(dataset, |lines| {
            let scored: Vec<_> = lines.par_iter().map(|(n, l)| AnswerKey::parse_line(dataset, *n, l).map(|k| score(&k))).collect();
            for ((line, _), s) in lines.iter().zip(scored) {
                let s = s?;
                seen.insert(dataset, *line, &s.0.id)?;
                keep(s);
            }
            Ok(())
        })?;
        seen.finish(dataset)?;
    }
    drop(by_id);
    let mut out = Vec::with_capacity(preds.len());
    for ((line, p), v) in preds.into_iter().zip(verdicts) {
        match v {
            Some((category, scored)) => out.push(record_of(p, category, scored)),
            None => problems.push(RecordError::UnknownId { path: predictions.into(), line, id: p.id }),
        }
    }
    problems.sort_by_key(|p| match p {
        RecordError::Malformed { line, .. } | RecordError::UnknownId { line, .. } | RecordError::DuplicateId { line, .. } => *line,
        RecordError::Io { .. } => 0,
    });
    Ok((metas, out, problems))
}

/// The predictions (parsed on all cores) with their line numbers, and the lines that are
/// malformed or repeat an id.
fn read_predictions(path: &Path) -> Result<(Vec<Numbered>, Vec<RecordError>), Error> {
    let text = std::fs::read_to_string(path).map_err(|source| RecordError::Io { path: path.to_path_buf(), source })?;
    let lines: Vec<(usize, &str)> = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l)).collect();
    let parsed: Vec<Result<Prediction, String>> =
        lines.par_iter().map(|(_, l)| serde_json::from_str::<Prediction>(l).map_err(|e| e.to_string())).collect();
    let mut first_line: FxHashMap<&str, usize> = FxHashMap::default();
    let mut problems = Vec::new();
    let mut keep = vec![false; parsed.len()];
    for (i, ((line, _), p)) in lines.iter().zip(&parsed).enumerate() {
        match p {
            Err(message) => problems.push(RecordError::Malformed { path: path.into(), line: *line, message: message.clone() }),
            Ok(p) => match first_line.get(p.id.as_str()) {
                Some(&first) => problems.push(RecordError::DuplicateId { path: path.into(), line: *line, id: p.id.clone(), first }),
                None => {
                    first_line.insert(&p.id, *line);
                    keep[i] = true;
                }
            },
        }
    }
    drop(first_line);
    let preds =
        lines.iter().zip(parsed).zip(keep).filter(|(_, k)| *k).filter_map(|(((line, _), p), _)| p.ok().map(|p| (*line, p))).collect();
    Ok((preds, problems))
}
