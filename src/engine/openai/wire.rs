//! The OpenAI-compatible wire: request bodies for `/v1/completions` and
//! `/v1/chat/completions`, the streamed chunks that come back, and the mapping of a chat
//! answer's `tool_calls` to FunctionGemma call text for the scorers.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::codec::tokens::{BOS, CONTROL_TOKENS, END_TURN, START_CALL};
use crate::dataset::{Message, Role};
use crate::engine::GenerationSettings;

/// What fgbench sends as a raw prompt: the server's own token ids (from its `/tokenize`),
/// or the text with special tokens, which the server parses (and to which it adds `<bos>`).
#[derive(Clone, Debug)]
pub enum RawPrompt {
    Tokens(Vec<u32>),
    Text(String),
}

impl RawPrompt {
    /// The rendered prompt as text for a server that adds `<bos>` itself.
    pub fn text(prompt: &str) -> RawPrompt {
        RawPrompt::Text(prompt.strip_prefix(BOS).unwrap_or(prompt).to_string())
    }
}

/// The sampling fields both endpoints share: greedy is temperature 0.
fn sampling(model: &str, s: &GenerationSettings) -> serde_json::Map<String, Value> {
    let mut body = serde_json::Map::new();
    body.insert("model".into(), model.into());
    body.insert("max_tokens".into(), s.max_new_tokens.into());
    body.insert("temperature".into(), s.temperature.unwrap_or(0.0).into());
    for (k, v) in [("top_p", s.top_p), ("min_p", s.min_p)] {
        if let Some(v) = v {
            body.insert(k.into(), v.into());
        }
    }
    if let Some(k) = s.top_k {
        body.insert("top_k".into(), k.into());
    }
    if let Some(seed) = s.seed {
        body.insert("seed".into(), seed.into());
    }
    if s.ignore_eos {
        body.insert("ignore_eos".into(), true.into());
    }
    body.insert("stream".into(), true.into());
    body.insert("stream_options".into(), json!({"include_usage": true}));
    body
}

/// `POST /v1/completions` with fgbench's prompt. FunctionGemma's control
/// tokens must come back as text: vLLM keeps them with `skip_special_tokens: false`,
/// llama-server with `preserved_tokens`.
pub fn completion_body(model: &str, prompt: &RawPrompt, s: &GenerationSettings) -> Value {
    let mut body = sampling(model, s);
    body.insert(
        "prompt".into(),
        match prompt {
            RawPrompt::Tokens(ids) => json!(ids),
            RawPrompt::Text(t) => json!(t),
        },
    );
    // fgbench applies the stop sequences to the streamed text itself: a server holds back
    // text that could begin one and drops it when the length limit ends the answer first,
    // so server-side stops would cut answers short of what the model wrote.
    body.insert("skip_special_tokens".into(), false.into());
    body.insert("spaces_between_special_tokens".into(), false.into());
    let preserved: Vec<&str> = CONTROL_TOKENS.iter().copied().chain([END_TURN]).collect();
    body.insert("preserved_tokens".into(), json!(preserved));
    Value::Object(body)
}

/// `POST /v1/chat/completions` with the case's conversation and its tools: the server's own
/// chat template and tool parser do the rest.
pub fn chat_body(model: &str, messages: &[Message], tools: &[Value], s: &GenerationSettings) -> Value {
    let mut body = sampling(model, s);
    body.insert("messages".into(), Value::Array(chat_messages(messages)));
    if !tools.is_empty() {
        let tools: Vec<Value> = tools.iter().map(|t| json!({"type": "function", "function": openai_tool(t)})).collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    Value::Object(body)
}

/// Messages in OpenAI's shape: the developer turn as `system` (what servers accept), earlier
/// calls with ids, tool results answering them by id.
fn chat_messages(messages: &[Message]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut pending: Vec<(String, String)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = match m.role {
            Role::System | Role::Developer => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        };
        let mut v = json!({"role": role, "content": m.content});
        if !m.tool_calls.is_empty() {
            let calls: Vec<Value> = m
                .tool_calls
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    let id = format!("call_{i}_{j}");
                    pending.push((c.function.name.clone(), id.clone()));
                    let args = match &c.function.arguments {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    json!({"id": id, "type": "function", "function": {"name": c.function.name, "arguments": args}})
                })
                .collect();
            v["tool_calls"] = Value::Array(calls);
        }
        if m.role == Role::Tool {
            let name = m.name.clone().unwrap_or_default();
            let at = pending.iter().position(|(n, _)| *n == name).unwrap_or(0);
            let id = if pending.is_empty() { format!("call_{i}") } else { pending.remove(at).1 };
            v["tool_call_id"] = id.into();
            v["name"] = name.into();
        }
        out.push(v);
    }
    out
}

/// A BFCL declaration as an OpenAI function: BFCL's Python type names (`dict`, `float`,
/// `tuple`, `any`) become JSON Schema's.
fn openai_tool(tool: &Value) -> Value {
    let f = crate::dataset::case::tool_function(tool);
    let mut out = json!({"name": f.get("name").cloned().unwrap_or_default()});
    if let Some(d) = f.get("description") {
        out["description"] = d.clone();
    }
    out["parameters"] = f.get("parameters").map(json_schema).unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    out
}

fn json_schema(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, x) in map {
                let x = match (k.as_str(), x) {
                    ("type", Value::String(t)) => match t.as_str() {
                        "dict" => json!("object"),
                        "float" => json!("number"),
                        "tuple" => json!("array"),
                        "any" => continue,
                        _ => x.clone(),
                    },
                    // Property names are not schemas, but their values are.
                    ("properties", Value::Object(props)) => {
                        Value::Object(props.iter().map(|(name, p)| (name.clone(), json_schema(p))).collect())
                    }
                    _ => json_schema(x),
                };
                out.insert(k.clone(), x);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(json_schema).collect()),
        other => other.clone(),
    }
}

/// One streamed chunk of either endpoint (the fields fgbench reads).
#[derive(Debug, Default, Deserialize)]
pub struct Chunk {
    #[serde(default)]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<Usage>,
    /// llama-server's own timings (prompt tokens taken from its cache as `cache_n`).
    #[serde(default)]
    pub timings: Option<ServerTimings>,
    /// A server that fails after the stream started says so in a chunk.
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Choice {
    /// `/v1/completions`.
    #[serde(default)]
    pub text: Option<String>,
    /// `/v1/chat/completions`.
    #[serde(default)]
    pub delta: Option<Delta>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Delta {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub tool_calls: Vec<ToolCallDelta>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ToolCallDelta {
    #[serde(default)]
    pub index: Option<usize>,
    #[serde(default)]
    pub function: Option<FunctionDelta>,
}

#[derive(Debug, Default, Deserialize)]
pub struct FunctionDelta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    #[serde(default)]
    pub prompt_tokens_details: Option<PromptDetails>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PromptDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ServerTimings {
    #[serde(default)]
    pub cache_n: Option<u64>,
}

/// The calls of a chat answer as they stream in, assembled by index.
#[derive(Debug, Default)]
pub struct ToolCalls {
    calls: Vec<(String, String)>,
}

impl ToolCalls {
    pub fn push(&mut self, d: &ToolCallDelta) {
        let i = d.index.unwrap_or(self.calls.len().saturating_sub(1));
        while self.calls.len() <= i {
            self.calls.push(Default::default());
        }
        if let Some(f) = &d.function {
            self.calls[i].0.push_str(f.name.as_deref().unwrap_or(""));
            self.calls[i].1.push_str(f.arguments.as_deref().unwrap_or(""));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The calls as FunctionGemma writes them, then the content: what the scorers parse. A
    /// call whose arguments are not a JSON object, or content that still holds call markup
    /// (the server's parser let a call through as text), is the server's fault, not the
    /// model's: an error naming it.
    pub fn to_functiongemma(&self, content: &str) -> Result<String, String> {
        let mut text = String::new();
        for (name, args) in &self.calls {
            if name.is_empty() {
                return Err(format!("a tool call without a function name (arguments {args:?})"));
            }
            let parsed: Value = if args.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(args).map_err(|e| format!("tool call `{name}`: arguments are not JSON ({e}): {args:?}"))?
            };
            if !parsed.is_object() {
                return Err(format!("tool call `{name}`: arguments are not a JSON object: {args}"));
            }
            let call = crate::dataset::case::ToolCall {
                function: crate::dataset::case::ToolCallFunction { name: name.clone(), arguments: parsed },
            };
            text.push_str(&crate::prompt::render_tool_call(&call));
        }
        if content.contains(START_CALL) || (self.calls.is_empty() && content.trim_start().starts_with("call:")) {
            return Err(format!(
                "the answer's content holds FunctionGemma call markup the server did not parse into tool_calls: {content:?}"
            ));
        }
        text.push_str(content);
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> GenerationSettings {
        GenerationSettings::default()
    }

    #[test]
    fn a_raw_request_is_greedy_streamed_and_keeps_control_tokens() {
        let b = completion_body("m", &RawPrompt::text("<bos><start_of_turn>user\nhi"), &settings());
        assert_eq!(b["prompt"], "<start_of_turn>user\nhi", "the server adds <bos>");
        assert_eq!(b["temperature"], 0.0);
        assert_eq!(b["stream"], true);
        assert_eq!(b["max_tokens"], 128);
        assert!(b.get("stop").is_none(), "stops are applied by fgbench");
        assert!(b["preserved_tokens"].as_array().unwrap().iter().any(|t| t == "<end_function_call>"));
        let ids = completion_body("m", &RawPrompt::Tokens(vec![2, 5]), &settings());
        assert_eq!(ids["prompt"], json!([2, 5]));
    }

    #[test]
    fn bfcl_types_become_json_schema_and_property_names_survive() {
        let tool = json!({"name": "f", "parameters": {"type": "dict", "properties": {
            "type": {"type": "string"}, "x": {"type": "float"}, "t": {"type": "tuple", "items": {"type": "any"}}}}});
        let t = openai_tool(&tool);
        assert_eq!(t["parameters"]["type"], "object");
        assert_eq!(t["parameters"]["properties"]["type"]["type"], "string", "a property named `type` is kept");
        assert_eq!(t["parameters"]["properties"]["x"]["type"], "number");
        assert_eq!(t["parameters"]["properties"]["t"]["type"], "array");
        assert!(t["parameters"]["properties"]["t"]["items"].get("type").is_none());
    }

    #[test]
    fn earlier_calls_and_their_results_are_linked_by_id() {
        let messages: Vec<Message> = serde_json::from_value(json!([
            {"role": "developer", "content": "d"},
            {"role": "user", "content": "u"},
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
            {"role": "tool", "name": "f", "content": "{\"ok\": true}"}
        ]))
        .unwrap();
        let m = chat_messages(&messages);
        assert_eq!(m[0]["role"], "system");
        assert_eq!(m[2]["tool_calls"][0]["function"]["arguments"], "{\"a\":1}");
        assert_eq!(m[3]["tool_call_id"], m[2]["tool_calls"][0]["id"]);
    }

    #[test]
    fn streamed_tool_calls_become_functiongemma_calls_or_a_server_error() {
        let mut calls = ToolCalls::default();
        for d in [
            json!({"index": 0, "function": {"name": "set_alarm", "arguments": "{\"hour\": 7,"}}),
            json!({"index": 0, "function": {"arguments": " \"label\": \"gym\"}"}}),
            json!({"index": 1, "function": {"name": "lights_off", "arguments": ""}}),
        ] {
            calls.push(&serde_json::from_value(d).unwrap());
        }
        assert_eq!(
            calls.to_functiongemma("").unwrap(),
            "<start_function_call>call:set_alarm{hour:7,label:<escape>gym<escape>}<end_function_call>\
             <start_function_call>call:lights_off{}<end_function_call>"
        );
        let mut bad = ToolCalls::default();
        bad.push(&serde_json::from_value(json!({"index": 0, "function": {"name": "f", "arguments": "{oops"}})).unwrap());
        assert!(bad.to_functiongemma("").unwrap_err().contains("not JSON"));
        let none = ToolCalls::default();
        assert_eq!(none.to_functiongemma("No tool fits.").unwrap(), "No tool fits.");
        assert!(none.to_functiongemma("<start_function_call>call:f{}<end_function_call>").is_err());
    }
}
