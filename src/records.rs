//! Run records: predictions (raw outputs + timings) and results (verdicts), JSON lines.

use std::path::PathBuf;

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
    /// Prompt tokens whose KV came from the engine's prefix cache instead of a prefill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// The model's probability, at the first generated position, of the first token of
    /// `<start_function_call>` (softmax over the whole vocabulary): how sure it was to call.
    /// From engines that see the logits (llama.cpp, host sampling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_start_p: Option<f64>,
}

impl Timings {
    /// Decode speed: (completion tokens - 1) / (total - TTFT), tokens per second.
    pub fn decode_tok_s(&self) -> Option<f64> {
        let (n, t, f) = (self.completion_tokens? as f64, self.total_ms?, self.ttft_ms?);
        (n > 1.0 && t > f).then(|| (n - 1.0) / ((t - f) / 1000.0))
    }

    /// Prefill speed: prompt tokens actually prefilled (without those reused from the
    /// engine's prefix cache) / TTFT, tokens per second.
    pub fn prefill_tok_s(&self) -> Option<f64> {
        let prefilled = self.prompt_tokens?.saturating_sub(self.cached_tokens.unwrap_or(0));
        Some(prefilled as f64 / (self.ttft_ms? / 1000.0))
    }

    /// Mean time between output tokens after the first, ms.
    pub fn inter_token_ms(&self) -> Option<f64> {
        let (n, t, f) = (self.completion_tokens? as f64, self.total_ms?, self.ttft_ms?);
        (n > 1.0).then(|| (t - f) / (n - 1.0))
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One model output for one case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub id: String,
    /// Which of `--repeats N` runs of the case this is (0 for the first, and without repeats).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub repeat: u32,
    pub output: String,
    #[serde(flatten)]
    pub timings: Timings,
    /// Why the engine produced no answer (a served deployment down, a server-side parser
    /// error): the case counts as failed, and `--resume` runs it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

/// An engine failure recorded in place of an answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// `server_unavailable` (down, 5xx, 429, stalled), `server_refused` (another 4xx),
    /// `server_parser`, `unsupported` (a prompt past the context), `engine_failure`.
    pub kind: String,
    pub message: String,
}

/// The kinds of [`Failure`], as `EngineError::kind` names them.
pub const FAILURE_KINDS: [&str; 6] = ["server_unavailable", "server_refused", "server_parser", "engine_failure", "unsupported", "canceled"];

impl Failure {
    /// The failure a result record was scored from, if it was one.
    pub fn of_result(r: &ResultRecord) -> Option<Failure> {
        let kind = r.error_type.as_deref().filter(|k| FAILURE_KINDS.contains(k))?;
        Some(Failure { kind: kind.to_string(), message: r.error.clone().unwrap_or_default() })
    }
}

/// A scored prediction.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResultRecord {
    pub schema: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub repeat: u32,
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
