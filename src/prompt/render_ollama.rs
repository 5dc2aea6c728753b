//! Prompt rendering as Ollama's FunctionGemma renderer writes it (`model/renderers/
//! functiongemma.go`). Where it differs from Google's template:
//! - its own activation sentence, "You can do function calling with the following
//!   functions:", written after the system text (on a new line) unless the system text is
//!   that sentence; no system text and no tools means no developer turn at all;
//! - each property keeps only its description (always written, empty if absent) and its
//!   first type: enums, list item types and nested properties are dropped;
//! - the tool-call history: arguments in sorted key order, whole numbers without a
//!   fraction; a tool result is `response:NAME{<escape>TEXT<escape>}` (no `value:` key),
//!   named after the call it answers, and a user turn after a tool result continues the
//!   model turn instead of opening its own.
//!
//! Checked against the cases of Ollama's own renderer test
//! (tests/golden/runtimes/ollama_renderer_cases.json).

use std::fmt::Write;

use crate::codec::render::{escaped, official_type_name};
use crate::codec::tokens::*;
use crate::dataset::case::{Message, Role, tool_function};

pub const OLLAMA_ACTIVATION: &str = "You can do function calling with the following functions:";

pub fn render_prompt_ollama(messages: &[Message], tools: &[serde_json::Value]) -> String {
    let mut out = String::from(BOS);
    let (system, rest) = match messages.first() {
        Some(m) if matches!(m.role, Role::System | Role::Developer) => (m.content.as_str(), &messages[1..]),
        _ => ("", messages),
    };
    if !system.is_empty() || !tools.is_empty() {
        let _ = write!(out, "{START_TURN}developer\n{}", system.trim());
        if !tools.is_empty() {
            if !system.is_empty() {
                out.push('\n');
            }
            if system.trim() != OLLAMA_ACTIVATION {
                out.push_str(OLLAMA_ACTIVATION);
            }
        }
        for tool in tools {
            out.push_str(&declaration(tool));
        }
        let _ = writeln!(out, "{END_TURN}");
    }
    #[derive(PartialEq)]
    enum Prev {
        Other,
        ToolCall,
        ToolResponse,
    }
    let mut prev = Prev::Other;
    for (i, m) in rest.iter().enumerate() {
        match m.role {
            Role::Assistant => {
                if prev != Prev::ToolResponse {
                    let _ = writeln!(out, "{START_TURN}model");
                }
                prev = Prev::Other;
                out.push_str(m.content.trim());
                if !m.tool_calls.is_empty() {
                    for c in &m.tool_calls {
                        let _ = write!(
                            out,
                            "{START_CALL}{CALL_PREFIX}{}{}{END_CALL}",
                            c.function.name,
                            go_value(&arguments(&c.function.arguments))
                        );
                    }
                    if rest.get(i + 1).is_some_and(|n| n.role == Role::Tool) {
                        out.push_str(START_RESPONSE);
                        prev = Prev::ToolCall;
                    } else {
                        let _ = writeln!(out, "{END_TURN}");
                    }
                } else {
                    let _ = writeln!(out, "{END_TURN}");
                }
            }
            Role::User => {
                if prev != Prev::ToolResponse {
                    let _ = writeln!(out, "{START_TURN}user");
                }
                prev = Prev::Other;
                let _ = writeln!(out, "{}{END_TURN}", m.content.trim());
            }
            Role::Tool => {
                if prev != Prev::ToolCall {
                    out.push_str(START_RESPONSE);
                }
                let name = answered_call(rest, i).unwrap_or_default();
                let _ = write!(out, "{RESPONSE_PREFIX}{name}{{{}}}{END_RESPONSE}", escaped(&m.content));
                prev = Prev::ToolResponse;
            }
            Role::System | Role::Developer => {
                let role = if m.role == Role::System { "system" } else { "developer" };
                let _ = writeln!(out, "{START_TURN}{role}\n{}{END_TURN}", m.content.trim());
            }
        }
    }
    if prev != Prev::ToolResponse {
        let _ = writeln!(out, "{START_TURN}model");
    }
    out
}

/// The name of the call the tool message at `i` answers: the latest assistant turn with
/// calls, the call at this message's place among the tool messages after it.
fn answered_call(messages: &[Message], i: usize) -> Option<&str> {
    let j = (0..i).rev().find(|&j| messages[j].role == Role::Assistant && !messages[j].tool_calls.is_empty())?;
    let index = messages[j + 1..i].iter().filter(|m| m.role == Role::Tool).count();
    messages[j].tool_calls.get(index).map(|c| c.function.name.as_str())
}

fn arguments(args: &serde_json::Value) -> serde_json::Value {
    match args {
        serde_json::Value::String(s) => serde_json::from_str(s).unwrap_or(serde_json::Value::Null),
        other => other.clone(),
    }
}

/// `declaration:NAME{description:...,parameters:{properties:{...},required:[...],type:...}}`
/// wrapped in its markers.
fn declaration(tool: &serde_json::Value) -> String {
    let f = tool_function(tool);
    let text = |v: Option<&serde_json::Value>| v.and_then(|d| d.as_str()).unwrap_or_default().to_string();
    let mut out = format!("{START_DECL}{DECLARATION_PREFIX}{}{{description:{}", text(f.get("name")), escaped(&text(f.get("description"))));
    let params = f.get("parameters");
    let props = params.and_then(|p| p.get("properties")).and_then(|p| p.as_object());
    let kind = params.and_then(|p| p.get("type")).and_then(|t| t.as_str()).filter(|t| !t.is_empty());
    if props.is_some() || kind.is_some() {
        let mut parts = Vec::new();
        if let Some(props) = props.filter(|p| !p.is_empty()) {
            let mut names: Vec<&String> = props.keys().collect();
            names.sort();
            let rendered: Vec<String> = names
                .into_iter()
                .map(|name| {
                    let p = &props[name];
                    let mut s = format!("{name}:{{description:{}", escaped(&text(p.get("description"))));
                    let first_type = match p.get("type") {
                        Some(serde_json::Value::String(t)) => Some(t.as_str()),
                        Some(serde_json::Value::Array(ts)) => ts.first().and_then(|t| t.as_str()),
                        _ => None,
                    };
                    if let Some(t) = first_type {
                        let _ = write!(s, ",type:{}", escaped(&official_type_name(t)));
                    }
                    s + "}"
                })
                .collect();
            parts.push(format!("properties:{{{}}}", rendered.join(",")));
        }
        let required: Vec<String> = params
            .and_then(|p| p.get("required"))
            .and_then(|r| r.as_array())
            .map(|r| r.iter().filter_map(|x| x.as_str()).map(escaped).collect())
            .unwrap_or_default();
        if !required.is_empty() {
            parts.push(format!("required:[{}]", required.join(",")));
        }
        if let Some(t) = kind {
            parts.push(format!("type:{}", escaped(&official_type_name(t))));
        }
        let _ = write!(out, ",parameters:{{{}}}", parts.join(","));
    }
    out.push('}');
    out.push_str(END_DECL);
    out
}

/// `formatArgValue` on a value decoded from JSON by Go (every number a float64).
fn go_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => escaped(s),
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Number(n) => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() < 9.2e18 { format!("{}", f as i64) } else { go_float(f) }
        }
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            format!("{{{}}}", keys.into_iter().map(|k| format!("{k}:{}", go_value(&m[k]))).collect::<Vec<_>>().join(","))
        }
        serde_json::Value::Array(xs) => format!("[{}]", xs.iter().map(go_value).collect::<Vec<_>>().join(",")),
        serde_json::Value::Null => "<nil>".into(),
    }
}

/// Go's `%v` of a float64 (`%g`, shortest): an exponent below 1e-4 or from 1e6.
fn go_float(f: f64) -> String {
    let exp = if f == 0.0 { 0 } else { f.abs().log10().floor() as i32 };
    if (-4..6).contains(&exp) {
        format!("{f}")
    } else {
        let s = format!("{f:e}");
        let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        format!("{mantissa}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    }
}
