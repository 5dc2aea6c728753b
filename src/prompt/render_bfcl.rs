//! BFCL's FunctionGemma rendering (`FunctionGemmaHandler._format_prompt` in the bfcl-eval
//! wheel), reproduced byte for byte for leaderboard parity. It differs from the official
//! template: a newline after the developer text, no `parameters:{...}` wrapper, BFCL's type
//! names upper-cased as given (`DICT`, `FLOAT`: so nested dict properties are not declared),
//! tool responses outside any turn, no `<bos>` (the serving engine adds it). BFCL also appends
//! its language hint to every description before rendering, as done here.

use std::fmt::Write;

use super::schema::{SchemaStyle, escaped, json_str, properties, required_list, truthy};
use crate::codec::render::format_value;
use crate::codec::tokens::*;
use crate::codec::value::{Value, py_strip};
use crate::dataset::case::{Message, Role, tool_function};

/// BFCL's `_get_language_specific_hint` for Python categories.
pub const PYTHON_HINT: &str = " Note that the provided function is in Python 3 syntax.";

const BFCL: SchemaStyle = SchemaStyle { type_name: str::to_uppercase, null_enum: true };

fn format_declaration(tool: &serde_json::Value, hint: &str) -> String {
    let f = tool_function(tool);
    let name = json_str(f.get("name"));
    let description = format!("{}{hint}", json_str(f.get("description")));
    let mut out = format!("{DECLARATION_PREFIX}{name}{{description:{}", escaped(&description));
    if let Some(params) = f.get("parameters").filter(|p| truthy(Some(p))) {
        if truthy(params.get("properties")) {
            let _ = write!(out, ",properties:{{{}}}", properties(&BFCL, &params["properties"]));
        }
        if truthy(params.get("required")) {
            let _ = write!(out, ",required:{}", required_list(&params["required"]));
        }
        if let Some(t) = params.get("type") {
            let _ = write!(out, ",type:{}", escaped(&json_str(Some(t)).to_uppercase()));
        }
    }
    out.push('}');
    out
}

fn format_args(args: &serde_json::Value) -> String {
    let parsed = match args {
        serde_json::Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| args.clone()),
        other => other.clone(),
    };
    match Value::from_json(&parsed) {
        d @ Value::Dict(_) => format_value(&d, false),
        other => format!("{{value:{}}}", escaped(&other.py_str())),
    }
}

/// The prompt BFCL's FunctionGemma handler sends for these messages and tools, with BFCL's
/// Python language hint applied to the tool descriptions (pass `""` to leave them as given).
pub fn render_prompt_bfcl(messages: &[Message], tools: &[serde_json::Value], hint: &str) -> String {
    let mut out = String::new();
    let (system, rest) = match messages.first() {
        Some(m) if m.role == Role::System => (m.content.as_str(), &messages[1..]),
        _ => (TRIGGER, messages),
    };
    if !(tools.is_empty() && system.is_empty()) {
        out.push_str(START_TURN);
        out.push_str("developer\n");
        if !system.is_empty() {
            out.push_str(py_strip(system));
            out.push('\n');
        }
        for tool in tools {
            let _ = write!(out, "{START_DECL}{}{END_DECL}", format_declaration(tool, hint));
        }
        let _ = writeln!(out, "{END_TURN}");
    }
    for m in rest {
        match m.role {
            Role::User => {
                let _ = write!(out, "{START_TURN}user\n{}{END_TURN}\n", py_strip(&m.content));
            }
            Role::Assistant => {
                let _ = writeln!(out, "{START_TURN}model");
                if !m.content.is_empty() {
                    out.push_str(py_strip(&m.content));
                }
                for call in &m.tool_calls {
                    let _ =
                        write!(out, "{START_CALL}{CALL_PREFIX}{}{}{END_CALL}", call.function.name, format_args(&call.function.arguments));
                }
                let _ = writeln!(out, "{END_TURN}");
            }
            Role::Tool => {
                let name = m.name.as_deref().unwrap_or("unknown_tool");
                let body = match serde_json::from_str::<serde_json::Value>(&m.content) {
                    Ok(v @ serde_json::Value::Object(_)) => format_value(&Value::from_json(&v), false),
                    _ => format!("{{value:{}}}", escaped(&m.content)),
                };
                let _ = write!(out, "{START_RESPONSE}{RESPONSE_PREFIX}{name}{body}{END_RESPONSE}");
            }
            // BFCL only treats a leading system message; others are not rendered.
            Role::System | Role::Developer => {}
        }
    }
    let _ = writeln!(out, "{START_TURN}model");
    out
}
