//! `fgbench deploy-check`: does a run's score survive the runtime it ships on? Each run (one
//! per prompt rendering) is scored again with the calls as every runtime parser reads its
//! recorded outputs (src/runtime/): a renderer x parser matrix of accuracies, each cell
//! paired with the reference cell (the first run read by fgbench's parser), and per cell
//! the **parser loss**: cases the model answered right that the runtime's parser turns
//! wrong, by what the parser did to the calls.

mod loss;
pub mod render;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

pub use loss::LossKind;

use crate::codec::Call;
use crate::compare::Run;
use crate::dataset::Dataset;
use crate::runtime::RuntimeParser;
use crate::score::{AnswerKey, ScoreOptions};
use crate::stats::{Accuracy, Paired};

pub const SCHEMA: &str = "fgbench.deploy-check/1";

/// How many examples of each loss kind a cell keeps.
const EXAMPLES_PER_KIND: usize = 2;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    pub schema: String,
    pub scorer: String,
    pub parsers: Vec<String>,
    pub rows: Vec<Row>,
}

/// One run (one prompt rendering), read by every parser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub run: String,
    pub prompt_style: String,
    pub cells: Vec<Cell>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub parser: String,
    pub accuracy: Accuracy,
    /// Against the reference cell (first run, fgbench's parser), case by case.
    pub vs_reference: Paired,
    /// Right as fgbench reads this run's outputs, wrong as this parser does, by kind.
    pub loss: BTreeMap<LossKind, usize>,
    /// Wrong as fgbench reads them, right as this parser does.
    pub gained: usize,
    pub examples: Vec<LossExample>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossExample {
    pub id: String,
    pub kind: LossKind,
    pub output: String,
    pub fgbench_calls: Vec<Call>,
    pub runtime_calls: Vec<Call>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{run}: no results to read")]
    Empty { run: String },
    #[error("{run} and {first} cover different cases ({n} vs {m}); run every rendering on the same cases")]
    DifferentCases { run: String, first: String, n: usize, m: usize },
    #[error("{run}: case `{id}` is not in the dataset {dataset}")]
    UnknownCase { run: String, id: String, dataset: String },
}

/// Per case of one run: (id, verdict and calls per parser, in `parsers` order).
type Verdicts = Vec<(String, String, Vec<(bool, Vec<Call>)>)>;

fn verdicts(run: &Run, dataset: &Dataset, parsers: &[RuntimeParser]) -> Result<Verdicts, DeployError> {
    let keys: HashMap<&str, AnswerKey> = dataset.cases.iter().map(|c| (c.id.as_str(), c.into())).collect();
    let scoring = run.manifest.as_ref().map(|m| m.scoring.clone()).unwrap_or_default();
    let name = run.dir.display().to_string();
    let mut out = Vec::with_capacity(run.results.len());
    for r in &run.results {
        let key = keys.get(r.id.as_str()).ok_or_else(|| DeployError::UnknownCase {
            run: name.clone(),
            id: r.id.clone(),
            dataset: dataset.path.display().to_string(),
        })?;
        let per_parser = parsers
            .iter()
            .map(|&parser| {
                let rec = crate::run::rejudge(key, r, &ScoreOptions { parser, ..scoring.clone() });
                (rec.valid, rec.calls)
            })
            .collect();
        out.push((r.id.clone(), r.output.clone(), per_parser));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The matrix for `runs` (the first is the reference rendering), read by `parsers` (the
/// first should be fgbench's own).
pub fn check(runs: &[Run], dataset: &Dataset, parsers: &[RuntimeParser]) -> Result<Matrix, DeployError> {
    let first = runs.first().ok_or_else(|| DeployError::Empty { run: "(no run)".into() })?;
    let all: Vec<Verdicts> = runs.iter().map(|r| verdicts(r, dataset, parsers)).collect::<Result<_, _>>()?;
    let reference = &all[0];
    if reference.is_empty() {
        return Err(DeployError::Empty { run: first.dir.display().to_string() });
    }
    let mut rows = Vec::new();
    for (run, cases) in runs.iter().zip(&all) {
        if cases.len() != reference.len() || cases.iter().zip(reference).any(|(a, b)| a.0 != b.0) {
            return Err(DeployError::DifferentCases {
                run: run.dir.display().to_string(),
                first: first.dir.display().to_string(),
                n: cases.len(),
                m: reference.len(),
            });
        }
        let cells = parsers
            .iter()
            .enumerate()
            .map(|(j, parser)| {
                let mut loss = BTreeMap::new();
                let (mut gained, mut examples) = (0, Vec::new());
                for (id, output, per) in cases {
                    let ((ours_ok, ours), (theirs_ok, theirs)) = (&per[0], &per[j]);
                    gained += usize::from(!ours_ok && *theirs_ok);
                    if *ours_ok && !theirs_ok {
                        let kind = LossKind::of(ours, theirs);
                        let seen = loss.entry(kind).or_insert(0);
                        *seen += 1;
                        if *seen <= EXAMPLES_PER_KIND {
                            examples.push(LossExample {
                                id: id.clone(),
                                kind,
                                output: output.clone(),
                                fgbench_calls: ours.clone(),
                                runtime_calls: theirs.clone(),
                            });
                        }
                    }
                }
                let right = cases.iter().filter(|c| c.2[j].0).count();
                Cell {
                    parser: parser.name().into(),
                    accuracy: Accuracy::new(right, cases.len()),
                    vs_reference: Paired::of(reference.iter().zip(cases).map(|(r, c)| (r.2[0].0, c.2[j].0))),
                    loss,
                    gained,
                    examples,
                }
            })
            .collect();
        rows.push(Row {
            run: run.dir.display().to_string(),
            prompt_style: run.manifest.as_ref().map(|m| m.prompt_style.clone()).unwrap_or_else(|| "-".into()),
            cells,
        });
    }
    Ok(Matrix { schema: SCHEMA.into(), scorer: first.judged_by(), parsers: parsers.iter().map(|p| p.name().to_string()).collect(), rows })
}

#[cfg(test)]
mod tests;
