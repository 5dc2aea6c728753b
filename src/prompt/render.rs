//! Prompt rendering in the official FunctionGemma format (Google's chat template).
//!
//! Every whitespace and ordering choice of the format is made in this file:
//! - `<bos>`, then a developer turn: the system/developer text (default: the trigger
//!   sentence), immediately followed by one `<start_function_declaration>` block per tool;
//! - schema keys in alphabetical order (description, enum, items, parameters, properties,
//!   required, type); type names upper-cased, BFCL's Python names mapped to JSON schema;
//! - as in the template, only description/enum/items/properties/required/type are rendered:
//!   `default`, `nullable` and other keywords are dropped, and a property named like a
//!   schema keyword (`description`, `type`, `properties`, `required`, `nullable`) is skipped;
//! - no spaces after commas or colons; strings inside `<escape>` verbatim (no quoting);
//! - user turns trimmed; a tool call, its responses and the model's following text share
//!   one model turn; the prompt ends with `<start_of_turn>model\n` unless it ends inside a
//!   model turn after a tool response (then the model continues that turn).

use std::fmt::Write;

use super::schema::{SchemaStyle, properties, required_list, truthy};
use crate::codec::render::{escaped, official_type_name, render_value};
use crate::codec::tokens::*;
use crate::codec::value::Value;
use crate::dataset::case::{Message, Role, ToolCall, tool_function};

/// The full prompt for a conversation with tools, ready for raw completion.
pub fn render_prompt(messages: &[Message], tools: &[serde_json::Value]) -> String {
    let mut out = String::from(BOS);
    let (system, rest) = match messages.first() {
        Some(m) if matches!(m.role, Role::System | Role::Developer) => (Some(m.content.trim()), &messages[1..]),
        _ => (None, messages),
    };
    if system.is_some() || !tools.is_empty() {
        out.push_str(START_TURN);
        out.push_str("developer\n");
        out.push_str(system.unwrap_or(TRIGGER));
        for tool in tools {
            out.push_str(START_DECL);
            out.push_str(&render_declaration(tool));
            out.push_str(END_DECL);
        }
        out.push_str(END_TURN);
        out.push('\n');
    }
    let mut in_model_turn = false;
    for (i, m) in rest.iter().enumerate() {
        let next_is_tool = rest.get(i + 1).is_some_and(|n| n.role == Role::Tool);
        match m.role {
            Role::Tool => {
                if !in_model_turn {
                    open_turn(&mut out, "model");
                    in_model_turn = true;
                }
                render_tool_response(&mut out, m);
                if !next_is_tool && rest.get(i + 1).is_some_and(|n| n.role != Role::Assistant) {
                    close_turn(&mut out);
                    in_model_turn = false;
                }
            }
            Role::Assistant => {
                if !in_model_turn {
                    open_turn(&mut out, "model");
                }
                out.push_str(m.content.trim());
                for call in &m.tool_calls {
                    out.push_str(&render_tool_call(call));
                }
                if next_is_tool {
                    in_model_turn = true;
                } else {
                    close_turn(&mut out);
                    in_model_turn = false;
                }
            }
            Role::User | Role::System | Role::Developer => {
                if in_model_turn {
                    close_turn(&mut out);
                    in_model_turn = false;
                }
                let role = if m.role == Role::User { "user" } else { "developer" };
                open_turn(&mut out, role);
                out.push_str(m.content.trim());
                close_turn(&mut out);
            }
        }
    }
    if !in_model_turn {
        open_turn(&mut out, "model");
    }
    out
}

fn open_turn(out: &mut String, role: &str) {
    out.push_str(START_TURN);
    out.push_str(role);
    out.push('\n');
}

fn close_turn(out: &mut String) {
    out.push_str(END_TURN);
    out.push('\n');
}

/// `declaration:NAME{description:...,parameters:{properties:{...},required:[...],type:...}}`
pub fn render_declaration(tool: &serde_json::Value) -> String {
    let f = tool_function(tool);
    let name = f.get("name").and_then(|v| v.as_str()).unwrap_or_default();
    let description = f.get("description").and_then(|v| v.as_str()).unwrap_or_default();
    let mut out = format!("{DECLARATION_PREFIX}{name}{{description:{}", escaped(description));
    if let Some(params) = f.get("parameters").filter(|p| p.as_object().is_some_and(|o| !o.is_empty())) {
        let mut parts = Vec::new();
        if let Some(props) = params.get("properties").filter(|p| p.as_object().is_some_and(|o| !o.is_empty())) {
            parts.push(format!("properties:{{{}}}", properties(&OFFICIAL, props)));
        }
        if truthy(params.get("required")) {
            parts.push(format!("required:{}", required_list(&params["required"])));
        }
        if let Some(t) = params.get("type").and_then(|t| t.as_str()) {
            parts.push(format!("type:{}", escaped(&official_type_name(t))));
        }
        let _ = write!(out, ",parameters:{{{}}}", parts.join(","));
    }
    out.push('}');
    out
}

const OFFICIAL: SchemaStyle = SchemaStyle { type_name: official_type_name, null_enum: false };

/// An earlier call of the conversation (OpenAI shape) as the model writes it.
pub fn render_tool_call(call: &ToolCall) -> String {
    let args = match &call.function.arguments {
        serde_json::Value::String(s) => serde_json::from_str(s).unwrap_or(serde_json::Value::String(s.clone())),
        other => other.clone(),
    };
    let body = match Value::from_json(&args) {
        d @ Value::Dict(_) => render_value(&d),
        Value::Null => "{}".into(),
        other => format!("{{value:{}}}", render_value(&Value::Str(other.py_str()))),
    };
    format!("{START_CALL}{CALL_PREFIX}{}{body}{END_CALL}", call.function.name)
}

fn render_tool_response(out: &mut String, m: &Message) {
    let name = m.name.as_deref().unwrap_or("unknown_tool");
    let body = match serde_json::from_str::<serde_json::Value>(&m.content) {
        Ok(v @ serde_json::Value::Object(_)) => render_value(&Value::from_json(&v)),
        _ => format!("{{value:{}}}", escaped(&m.content)),
    };
    let _ = write!(out, "{START_RESPONSE}{RESPONSE_PREFIX}{name}{body}{END_RESPONSE}");
}
