//! The `fgbench serve` wire protocol: newline-delimited JSON over a Unix domain socket
//! (docs/protocol.md). Every request may carry an `id` (any JSON value); every response and
//! event for it echoes that id, so many requests can be in flight on one connection.

use serde::{Deserialize, Serialize};

use crate::dataset::{Case, Message};
use crate::engine::GenerationSettings;
use crate::prompt::PromptStyle;

/// The protocol name and major version a client states in `hello`.
pub const PROTOCOL: &str = "fgbench.serve/1";

/// Longest request line accepted (bytes, without the newline).
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// A request line: an optional `id` (any JSON value, echoed in every response) and the
/// request itself, selected by `type`.
#[derive(Clone, Debug, Deserialize)]
pub struct Envelope {
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    #[serde(flatten)]
    pub request: Request,
}

/// What a request asks for.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    Hello {
        protocol: String,
    },
    Models,
    Load {
        name: String,
        source: String,
        /// `llamacpp` or `mistralrs` (default: the server's --engine).
        #[serde(default)]
        engine: Option<String>,
        #[serde(default)]
        adapter: Option<String>,
    },
    Unload {
        name: String,
    },
    Generate {
        model: String,
        #[serde(flatten)]
        input: Input,
        #[serde(default)]
        settings: Settings,
        #[serde(default)]
        stream: bool,
    },
    Call {
        model: String,
        #[serde(flatten)]
        input: Input,
        #[serde(default)]
        settings: Settings,
    },
    Compare {
        models: Vec<String>,
        #[serde(flatten)]
        input: Input,
        #[serde(default)]
        settings: Settings,
    },
    Stats,
    /// Cancels the request with id `target` (on this connection).
    Cancel {
        target: serde_json::Value,
    },
    Shutdown,
}

/// What to run: a raw prompt, a case (tools + messages, rendered by the codec, answers
/// optional), or the id of a case of the server's --dataset. Exactly one.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Input {
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub case: Option<CaseInput>,
    #[serde(default)]
    pub case_id: Option<String>,
    #[serde(default)]
    pub prompt_style: Option<PromptStyle>,
}

/// A case as a client sends it: a full `fgbench.case/1` record, or just tools and messages.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum CaseInput {
    Full(Box<Case>),
    Bare { tools: Vec<serde_json::Value>, messages: Vec<Message> },
}

/// Generation settings a request may override (the rest are the server's).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub max_new_tokens: Option<usize>,
    pub temperature: Option<f64>,
    pub top_k: Option<usize>,
    pub top_p: Option<f64>,
    pub min_p: Option<f64>,
    pub seed: Option<u64>,
    pub stop_after_calls: Option<bool>,
}

impl Settings {
    pub fn apply(&self, base: &GenerationSettings) -> GenerationSettings {
        let mut g = base.clone();
        if let Some(n) = self.max_new_tokens {
            g.max_new_tokens = n;
        }
        if self.temperature.is_some() {
            g.temperature = self.temperature;
        }
        if self.top_k.is_some() {
            g.top_k = self.top_k;
        }
        if self.top_p.is_some() {
            g.top_p = self.top_p;
        }
        if self.min_p.is_some() {
            g.min_p = self.min_p;
        }
        if self.seed.is_some() {
            g.seed = self.seed;
        }
        if let Some(s) = self.stop_after_calls {
            g.stop_after_calls = s;
        }
        g
    }
}

/// Error codes of `{"type":"error"}` responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    MalformedJson,
    InvalidUtf8,
    LineTooLong,
    UnknownType,
    BadRequest,
    UnsupportedProtocol,
    UnknownModel,
    UnknownCase,
    DuplicateId,
    UnknownRequest,
    Busy,
    Canceled,
    Engine,
    Load,
    ShuttingDown,
    /// Not allowed by the server's policy (a load outside --model-dir, a download without
    /// --allow-fetch, past --max-models, `shutdown` without --allow-shutdown).
    Forbidden,
    /// The request failed inside the server (a bug): logged, and the server goes on.
    Internal,
}

/// Classifies a request line that did not deserialize.
pub fn classify(line: &str) -> (ErrorCode, String, Option<serde_json::Value>) {
    let value: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return (ErrorCode::MalformedJson, format!("not valid JSON: {e}"), None),
    };
    let id = value.get("id").cloned();
    let Some(obj) = value.as_object() else {
        return (ErrorCode::BadRequest, "a request is a JSON object".into(), id);
    };
    let known = ["hello", "models", "load", "unload", "generate", "call", "compare", "stats", "cancel", "shutdown"];
    match obj.get("type").and_then(|t| t.as_str()) {
        None => (ErrorCode::BadRequest, "missing field `type`".into(), id),
        Some(t) if !known.contains(&t) => (ErrorCode::UnknownType, format!("unknown request type `{t}` (known: {})", known.join(", ")), id),
        Some(t) => {
            let detail = serde_json::from_value::<Envelope>(value.clone()).err().map(|e| e.to_string()).unwrap_or_default();
            (ErrorCode::BadRequest, format!("`{t}` request: {detail}"), id)
        }
    }
}

/// An error response line.
pub fn error_line(id: Option<&serde_json::Value>, code: ErrorCode, message: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "type": "error", "code": code, "message": message})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_bad_lines_are_classified() {
        let r: Envelope =
            serde_json::from_str(r#"{"id":7,"type":"generate","model":"a","prompt":"hi","stream":true,"settings":{"max_new_tokens":3}}"#)
                .unwrap();
        assert!(
            matches!(&r.request, Request::Generate { stream: true, input, settings, .. } if input.prompt.as_deref() == Some("hi") && settings.max_new_tokens == Some(3))
        );
        assert_eq!(r.id, Some(serde_json::json!(7)));
        assert!(matches!(serde_json::from_str::<Envelope>(r#"{"type":"stats"}"#).unwrap(), Envelope { id: None, request: Request::Stats }));
        assert_eq!(classify("{nope").0, ErrorCode::MalformedJson);
        assert_eq!(
            classify(r#"{"id":"x","type":"fly"}"#),
            (ErrorCode::UnknownType, classify(r#"{"type":"fly"}"#).1, Some(serde_json::json!("x")))
        );
        let (code, msg, _) = classify(r#"{"type":"generate","prompt":"x"}"#);
        assert_eq!(code, ErrorCode::BadRequest);
        assert!(msg.contains("model"), "{msg}");
        assert_eq!(classify("[1,2]").0, ErrorCode::BadRequest);
        assert_eq!(classify(r#"{"id":1}"#).1, "missing field `type`");
    }
}
