//! How the runtimes FunctionGemma ships on read its output. A deployment does not score the
//! model's raw text: its server parses that text into `tool_calls`, each runtime in its own
//! way, and the app gets what the parser kept. Each profile here reproduces one runtime's
//! parser (written from its behaviour, checked against the runtime's own code where that runs
//! here: `tests/it/runtimes.rs`), so a run can be scored as its deployment would see it.
//! The calls are the ones the runtime's API hands to a client, after its JSON round trip.

mod mlx;
mod ollama;
mod vllm;

use serde::{Deserialize, Serialize};

use crate::codec::tokens::{END_CALL, START_CALL};
use crate::codec::{Call, Value, bfcl_decode};

/// Which parser turns a raw completion into calls before scoring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum RuntimeParser {
    /// fgbench's own reading (BFCL's FunctionGemma decoder), the reference.
    #[default]
    Fgbench,
    /// vLLM's `functiongemma` tool parser (`--tool-call-parser functiongemma`).
    Vllm,
    /// Ollama's FunctionGemma parser.
    Ollama,
    /// mlx-lm's server with its `function_gemma` tool parser.
    Mlx,
    /// llama-server in chat mode: no FunctionGemma parser, so no calls, only text.
    LlamaServer,
}

impl RuntimeParser {
    pub const ALL: [RuntimeParser; 5] =
        [RuntimeParser::Fgbench, RuntimeParser::Vllm, RuntimeParser::Ollama, RuntimeParser::Mlx, RuntimeParser::LlamaServer];

    pub fn name(self) -> &'static str {
        match self {
            RuntimeParser::Fgbench => "fgbench",
            RuntimeParser::Vllm => "vllm",
            RuntimeParser::Ollama => "ollama",
            RuntimeParser::Mlx => "mlx",
            RuntimeParser::LlamaServer => "llama-server",
        }
    }

    pub fn is_default(&self) -> bool {
        *self == RuntimeParser::Fgbench
    }

    /// The calls this runtime's API would return for `output`, in order.
    pub fn decode(self, output: &str) -> Vec<Call> {
        match self {
            RuntimeParser::Fgbench => bfcl_decode::decode(output),
            RuntimeParser::Vllm => vllm::decode(output),
            RuntimeParser::Ollama => ollama::decode(output),
            RuntimeParser::Mlx => mlx::decode(output),
            RuntimeParser::LlamaServer => Vec::new(),
        }
    }
}

/// The texts between each `<start_function_call>` and the next `<end_function_call>`, and
/// what follows a last start marker that is never closed (runtimes differ on keeping it).
fn call_blocks(output: &str) -> (Vec<&str>, Option<&str>) {
    let mut blocks = Vec::new();
    let mut rest = output;
    while let Some(start) = rest.find(START_CALL) {
        let body = &rest[start + START_CALL.len()..];
        let Some(end) = body.find(END_CALL) else { return (blocks, Some(body)) };
        blocks.push(&body[..end]);
        rest = &body[end + END_CALL.len()..];
    }
    (blocks, None)
}

/// Python's `json.loads` on one value, as vLLM and mlx-lm try it: standard JSON plus `NaN`,
/// `Infinity` and `-Infinity`; `None` where Python raises.
fn python_json_loads(text: &str) -> Option<Value> {
    match text.trim_matches([' ', '\t', '\n', '\r']) {
        "NaN" => Some(Value::Float(f64::NAN)),
        "Infinity" => Some(Value::Float(f64::INFINITY)),
        "-Infinity" => Some(Value::Float(f64::NEG_INFINITY)),
        _ => serde_json::from_str::<serde_json::Value>(text).ok().map(|v| Value::from_json(&v)),
    }
}

#[cfg(test)]
mod tests;
