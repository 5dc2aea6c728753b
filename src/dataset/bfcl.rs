//! Importer for the BFCL v4 files as the `bfcl-eval` wheel ships them:
//! `bfcl_eval/data/BFCL_v4_<category>.json` (JSON lines: id, question, function) and
//! `bfcl_eval/data/possible_answer/BFCL_v4_<category>.json` (JSON lines: id, ground_truth).

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use super::case::{CASE_SCHEMA, Case, CheckKind, ExpectedCall, Message};

/// The single-turn categories whose checker rules fgbench implements (Python AST rules).
pub const CATEGORIES: [&str; 11] = [
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
    "live_irrelevance",
    "live_relevance",
];

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no BFCL data under {0} (expected BFCL_v4_*.json there or in bfcl_eval/data/)")]
    NoData(PathBuf),
    #[error("unknown or unsupported BFCL category `{0}` (supported: {list})", list = CATEGORIES.join(", "))]
    UnsupportedCategory(String),
    #[error("missing BFCL file {0}")]
    MissingFile(PathBuf),
    #[error("missing answer file {0}")]
    MissingAnswerFile(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: malformed line: {message}")]
    Malformed { path: PathBuf, line: usize, message: String },
    #[error("{path}:{line}: case `{id}` has no answer in {answers}")]
    NoAnswer { path: PathBuf, line: usize, id: String, answers: PathBuf },
    #[error("{path}:{line}: case `{id}` is multi-turn ({turns} turns); only single-turn categories are supported")]
    MultiTurn { path: PathBuf, line: usize, id: String, turns: usize },
}

/// The folder holding `BFCL_v4_*.json`: `dir` itself, or `dir/bfcl_eval/data`.
pub fn data_dir(dir: &Path) -> Result<PathBuf, ImportError> {
    for candidate in [dir.to_path_buf(), dir.join("bfcl_eval").join("data")] {
        if candidate.join("BFCL_v4_simple_python.json").is_file() {
            return Ok(candidate);
        }
    }
    Err(ImportError::NoData(dir.to_path_buf()))
}

#[derive(serde::Deserialize)]
struct Entry {
    id: String,
    question: Vec<Vec<Message>>,
    function: Vec<serde_json::Value>,
}

#[derive(serde::Deserialize)]
struct Answer {
    id: String,
    ground_truth: Vec<ExpectedCall>,
}

/// Imports the given categories (all supported ones when empty) into canonical cases.
pub fn import(dir: &Path, categories: &[String]) -> Result<Vec<Case>, ImportError> {
    let data = data_dir(dir)?;
    let chosen: Vec<String> = if categories.is_empty() { CATEGORIES.iter().map(|s| s.to_string()).collect() } else { categories.to_vec() };
    let mut cases = Vec::new();
    for cat in &chosen {
        if !CATEGORIES.contains(&cat.as_str()) {
            return Err(ImportError::UnsupportedCategory(cat.clone()));
        }
        cases.extend(import_category(&data, cat)?);
    }
    Ok(cases)
}

fn read_lines(path: &Path) -> Result<Vec<(usize, String)>, ImportError> {
    let io = |source| ImportError::Io { path: path.to_path_buf(), source };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(io)?;
        if !line.trim().is_empty() {
            out.push((i + 1, line));
        }
    }
    Ok(out)
}

fn parse_line<T: serde::de::DeserializeOwned>(path: &Path, line: usize, text: &str) -> Result<T, ImportError> {
    serde_json::from_str(text).map_err(|e| ImportError::Malformed { path: path.into(), line, message: e.to_string() })
}

fn import_category(data: &Path, category: &str) -> Result<Vec<Case>, ImportError> {
    let file = data.join(format!("BFCL_v4_{category}.json"));
    if !file.is_file() {
        return Err(ImportError::MissingFile(file));
    }
    let kind = CheckKind::from_bfcl_category(category);
    let needs_answers = !matches!(kind, CheckKind::Irrelevance | CheckKind::Relevance);
    let answer_file = data.join("possible_answer").join(format!("BFCL_v4_{category}.json"));
    let mut answers: HashMap<String, Vec<ExpectedCall>> = HashMap::new();
    if needs_answers {
        if !answer_file.is_file() {
            return Err(ImportError::MissingAnswerFile(answer_file));
        }
        for (line, text) in read_lines(&answer_file)? {
            let a: Answer = parse_line(&answer_file, line, &text)?;
            answers.insert(a.id, a.ground_truth);
        }
    }
    let mut cases = Vec::new();
    for (line, text) in read_lines(&file)? {
        let e: Entry = parse_line(&file, line, &text)?;
        if e.question.len() != 1 {
            return Err(ImportError::MultiTurn { path: file, line, id: e.id, turns: e.question.len() });
        }
        let case_answers = if needs_answers {
            answers.remove(&e.id).ok_or_else(|| ImportError::NoAnswer {
                path: file.clone(),
                line,
                id: e.id.clone(),
                answers: answer_file.clone(),
            })?
        } else {
            Vec::new()
        };
        cases.push(Case {
            schema: CASE_SCHEMA.into(),
            id: e.id,
            category: category.into(),
            kind,
            messages: e.question.into_iter().next().unwrap_or_default(),
            tools: e.function,
            answers: case_answers,
            source: Some(format!("bfcl_v4/{category}")),
        });
    }
    Ok(cases)
}
