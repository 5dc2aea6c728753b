//! Run records: predictions (raw outputs + timings) and results (verdicts), JSON lines.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::codec::Call;
use crate::score::OutputShape;

pub const RESULT_SCHEMA: &str = "fgbench.result/1";

/// Per-request timings, as the engine measured them (all optional: predictions from
/// elsewhere may carry none).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// Time until the last `<end_function_call>` was generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_call_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_ms: Option<f64>,
}

impl Timings {
    /// Decode speed: (completion tokens - 1) / (total - TTFT), tokens per second.
    pub fn decode_tok_s(&self) -> Option<f64> {
        let (n, t, f) = (self.completion_tokens? as f64, self.total_ms?, self.ttft_ms?);
        (n > 1.0 && t > f).then(|| (n - 1.0) / ((t - f) / 1000.0))
    }

    /// Prefill speed: prompt tokens / TTFT, tokens per second.
    pub fn prefill_tok_s(&self) -> Option<f64> {
        Some(self.prompt_tokens? as f64 / (self.ttft_ms? / 1000.0))
    }

    /// Mean time between output tokens after the first, ms.
    pub fn inter_token_ms(&self) -> Option<f64> {
        let (n, t, f) = (self.completion_tokens? as f64, self.total_ms?, self.ttft_ms?);
        (n > 1.0).then(|| (t - f) / (n - 1.0))
    }
}

/// One model output for one case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub id: String,
    pub output: String,
    #[serde(flatten)]
    pub timings: Timings,
}

/// A scored prediction.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResultRecord {
    pub schema: String,
    pub id: String,
    pub category: String,
    pub valid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the strict parser rejected, with the byte offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
    pub shape: OutputShape,
    pub calls: Vec<Call>,
    pub output: String,
    #[serde(flatten)]
    pub timings: Timings,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: malformed prediction: {message}")]
    Malformed { path: PathBuf, line: usize, message: String },
    #[error("{path}:{line}: unknown case id `{id}` (not in the dataset)")]
    UnknownId { path: PathBuf, line: usize, id: String },
    #[error("{path}:{line}: duplicate prediction for `{id}` (first on line {first})")]
    DuplicateId { path: PathBuf, line: usize, id: String, first: usize },
}

/// Predictions read from a file, with the lines that could not be used.
pub struct PredictionFile {
    pub predictions: Vec<Prediction>,
    pub problems: Vec<RecordError>,
}

/// Reads a predictions JSONL file. Bad lines (malformed, unknown or duplicate id) are
/// collected as problems, not fatal, so the rest can still be scored.
pub fn read_predictions(path: &Path, known_ids: &dyn Fn(&str) -> bool) -> Result<PredictionFile, RecordError> {
    let io = |source| RecordError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut predictions = Vec::new();
    let mut problems = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line_no = i + 1;
        let text = match line {
            Ok(t) => t,
            Err(e) => {
                problems.push(RecordError::Malformed { path: path.into(), line: line_no, message: e.to_string() });
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        let p: Prediction = match serde_json::from_str(&text) {
            Ok(p) => p,
            Err(e) => {
                problems.push(RecordError::Malformed { path: path.into(), line: line_no, message: e.to_string() });
                continue;
            }
        };
        if !known_ids(&p.id) {
            problems.push(RecordError::UnknownId { path: path.into(), line: line_no, id: p.id });
            continue;
        }
        if let Some(&first) = seen.get(&p.id) {
            problems.push(RecordError::DuplicateId { path: path.into(), line: line_no, id: p.id, first });
            continue;
        }
        seen.insert(p.id.clone(), line_no);
        predictions.push(p);
    }
    Ok(PredictionFile { predictions, problems })
}
