//! Eval sets: the canonical case format, loading, and importers.

pub mod bfcl;
pub mod case;
pub mod fetch;
pub mod mobile_actions;
pub mod train;

use std::collections::HashSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};

pub use case::{CASE_SCHEMA, Case, CheckKind, ExpectedCall, Message, Role};

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read dataset {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: malformed case: {message}")]
    Malformed { path: PathBuf, line: usize, message: String },
    #[error("{path}:{line}: unsupported case schema `{found}` (this fgbench reads `{CASE_SCHEMA}`)")]
    Schema { path: PathBuf, line: usize, found: String },
    #[error("{path}:{line}: duplicate case id `{id}` (first seen on line {first})")]
    DuplicateId { path: PathBuf, line: usize, id: String, first: usize },
    #[error("{path}:{line}: case `{id}` has no tools")]
    NoTools { path: PathBuf, line: usize, id: String },
    #[error("{path}:{line}: case `{id}`: {message}")]
    Invalid { path: PathBuf, line: usize, id: String, message: String },
    #[error("dataset {path} has no case with id `{id}`")]
    UnknownId { path: PathBuf, id: String },
    #[error("{path} holds no cases")]
    Empty { path: PathBuf },
}

/// A loaded eval set, in file order.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub path: PathBuf,
    pub cases: Vec<Case>,
}

impl Dataset {
    /// Loads fgbench's case JSONL, or a Mobile Actions file (recognised by its first row).
    pub fn load(path: &Path) -> Result<Dataset, DatasetError> {
        if mobile_actions::sniff(path) {
            let rows = mobile_actions::read(path, &mobile_actions::ImportOptions::default())?;
            return Ok(Dataset { path: path.to_path_buf(), cases: rows.into_iter().map(|r| r.case).collect() });
        }
        let mut cases = Vec::new();
        for_each_batch(path, |batch| {
            cases.extend(batch);
            Ok(())
        })?;
        Ok(Dataset { path: path.to_path_buf(), cases })
    }

    pub fn get(&self, id: &str) -> Result<&Case, DatasetError> {
        self.cases.iter().find(|c| c.id == id).ok_or_else(|| DatasetError::UnknownId { path: self.path.clone(), id: id.to_string() })
    }

    pub fn ids(&self) -> HashSet<&str> {
        self.cases.iter().map(|c| c.id.as_str()).collect()
    }
}

/// Lines of a case file parsed per batch, in parallel; a batch at a time is in memory.
const BATCH_LINES: usize = 4096;

/// Reads a case JSONL file in batches of cases (file order), parsing each batch's lines on
/// all cores; the whole file is never in memory at once. Checks what `load` checks
/// (schema, case checks, unique ids, not empty).
pub fn for_each_batch(path: &Path, mut f: impl FnMut(Vec<Case>) -> Result<(), DatasetError>) -> Result<(), DatasetError> {
    use rayon::prelude::*;
    let io = |source| DatasetError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut lines = std::io::BufReader::with_capacity(1 << 20, file).lines().enumerate();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    loop {
        let mut batch: Vec<(usize, String)> = Vec::with_capacity(BATCH_LINES);
        for (i, line) in lines.by_ref() {
            let line = line.map_err(io)?;
            if !line.trim().is_empty() {
                batch.push((i + 1, line));
            }
            if batch.len() == BATCH_LINES {
                break;
            }
        }
        if batch.is_empty() {
            break;
        }
        let parsed: Vec<Result<Case, DatasetError>> = batch.par_iter().map(|(n, l)| parse_case_line(path, *n, l)).collect();
        let mut cases = Vec::with_capacity(parsed.len());
        for ((line_no, _), case) in batch.iter().zip(parsed) {
            let case = case?;
            if let Some(first) = seen.insert(case.id.clone(), *line_no) {
                return Err(DatasetError::DuplicateId { path: path.into(), line: *line_no, id: case.id, first });
            }
            cases.push(case);
        }
        f(cases)?;
    }
    if seen.is_empty() {
        return Err(DatasetError::Empty { path: path.into() });
    }
    Ok(())
}

fn parse_case_line(path: &Path, line: usize, text: &str) -> Result<Case, DatasetError> {
    let malformed = |message: String| DatasetError::Malformed { path: path.into(), line, message };
    // Straight into the typed case; only a line that does not fit is read again as a value
    // tree, to say precisely what is wrong with it.
    let case: Case = match serde_json::from_str::<Case>(text) {
        Ok(c) if c.schema == CASE_SCHEMA => c,
        Ok(c) => return Err(DatasetError::Schema { path: path.into(), line, found: c.schema }),
        Err(e) => {
            let raw: serde_json::Value = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
            return Err(match raw.get("schema").and_then(|s| s.as_str()) {
                Some(CASE_SCHEMA) => malformed(e.to_string()),
                Some(other) => DatasetError::Schema { path: path.into(), line, found: other.into() },
                None => malformed("missing field `schema`".into()),
            });
        }
    };
    if case.tools.is_empty() && case.kind != CheckKind::Irrelevance {
        return Err(DatasetError::NoTools { path: path.into(), line, id: case.id.clone() });
    }
    case.validate().map_err(|message| DatasetError::Invalid { path: path.into(), line, id: case.id.clone(), message })?;
    Ok(case)
}

/// Writes cases as canonical JSONL to `path` atomically (temp file, then rename).
pub fn write_cases(path: &Path, cases: &[Case]) -> std::io::Result<()> {
    crate::fsutil::write_jsonl(path, cases)
}

/// The cases a run covers: category filter, at most `per_category` of each, then `limit`, in
/// file order.
pub fn select(ds: &Dataset, categories: &[String], limit: Option<usize>, per_category: Option<usize>) -> Result<Vec<Case>, String> {
    for c in categories {
        if !ds.cases.iter().any(|x| &x.category == c) {
            return Err(format!("--categories: `{c}` is not a category of {}", ds.path.display()));
        }
    }
    let mut taken: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let selected = ds.cases.iter().filter(|c| categories.is_empty() || categories.contains(&c.category)).filter(|c| {
        let n = taken.entry(c.category.as_str()).or_default();
        *n += 1;
        per_category.is_none_or(|k| *n <= k)
    });
    Ok(selected.take(limit.unwrap_or(usize::MAX)).cloned().collect())
}
