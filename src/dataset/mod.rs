//! Eval sets: the canonical case format, loading, and importers.

pub mod bfcl;
pub mod case;
pub mod fetch;
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
    pub fn load(path: &Path) -> Result<Dataset, DatasetError> {
        let io = |source| DatasetError::Io { path: path.to_path_buf(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut cases = Vec::new();
        let mut seen = std::collections::HashMap::new();
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line_no = i + 1;
            let line = line.map_err(io)?;
            if line.trim().is_empty() {
                continue;
            }
            let case = parse_case_line(path, line_no, &line)?;
            if let Some(first) = seen.insert(case.id.clone(), line_no) {
                return Err(DatasetError::DuplicateId { path: path.into(), line: line_no, id: case.id, first });
            }
            cases.push(case);
        }
        if cases.is_empty() {
            return Err(DatasetError::Empty { path: path.into() });
        }
        Ok(Dataset { path: path.to_path_buf(), cases })
    }

    pub fn get(&self, id: &str) -> Result<&Case, DatasetError> {
        self.cases
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| DatasetError::UnknownId { path: self.path.clone(), id: id.to_string() })
    }

    pub fn ids(&self) -> HashSet<&str> {
        self.cases.iter().map(|c| c.id.as_str()).collect()
    }
}

fn parse_case_line(path: &Path, line: usize, text: &str) -> Result<Case, DatasetError> {
    let malformed = |message: String| DatasetError::Malformed { path: path.into(), line, message };
    let raw: serde_json::Value = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
    match raw.get("schema").and_then(|s| s.as_str()) {
        Some(CASE_SCHEMA) => {}
        Some(other) => return Err(DatasetError::Schema { path: path.into(), line, found: other.into() }),
        None => return Err(malformed("missing field `schema`".into())),
    }
    let case: Case = serde_json::from_value(raw).map_err(|e| malformed(e.to_string()))?;
    let invalid = |message: String| DatasetError::Invalid { path: path.into(), line, id: case.id.clone(), message };
    // An irrelevance case may offer no tool at all (BFCL has such cases); any other needs one.
    if case.tools.is_empty() && case.kind != CheckKind::Irrelevance {
        return Err(DatasetError::NoTools { path: path.into(), line, id: case.id.clone() });
    }
    if let Some(i) = case.tools.iter().position(|t| case::tool_name(t).is_none()) {
        return Err(invalid(format!("tool #{i} has no `name`")));
    }
    if !case.messages.iter().any(|m| m.role == Role::User) {
        return Err(invalid("no user message".into()));
    }
    let needs_answers = !matches!(case.kind, CheckKind::Irrelevance | CheckKind::Relevance);
    if needs_answers && case.answers.is_empty() {
        return Err(invalid(format!("kind `{:?}` needs accepted answers", case.kind).to_lowercase()));
    }
    for answer in &case.answers {
        if answer.len() != 1 {
            return Err(invalid("each accepted answer must name exactly one function".into()));
        }
    }
    Ok(case)
}

/// Writes cases as canonical JSONL to `path` atomically (temp file, then rename).
pub fn write_cases(path: &Path, cases: &[Case]) -> std::io::Result<()> {
    let mut text = String::new();
    for c in cases {
        text.push_str(&serde_json::to_string(c).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    crate::fsutil::write_atomic(path, text.as_bytes())
}
