//! BFCL's FunctionGemma rendering (`FunctionGemmaHandler._format_prompt` in the bfcl-eval
//! wheel), reproduced byte for byte for leaderboard parity. It differs from the official
//! template: a newline after the developer text, no `parameters:{...}` wrapper, BFCL's type
//! names upper-cased as given (`DICT`, `FLOAT`: so nested dict properties are not declared),
//! tool responses outside any turn, no `<bos>` (the serving engine adds it). BFCL also appends
//! its language hint to every description before rendering, as done here.

use std::fmt::Write;

use super::tokens::*;
use super::value::{Value, py_float_repr, py_strip};
use crate::dataset::case::{Message, Role, tool_function};

/// BFCL's `_get_language_specific_hint` for Python categories.
pub const PYTHON_HINT: &str = " Note that the provided function is in Python 3 syntax.";

const STANDARD_KEYS: [&str; 5] = ["description", "type", "properties", "required", "nullable"];

fn escape(s: &str) -> String {
    format!("{ESCAPE}{s}{ESCAPE}")
}

/// `_format_value`: Python's str() of scalars, `<escape>`d strings, sorted dict keys.
fn format_value(v: &Value, escape_keys: bool) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => py_float_repr(*f),
        Value::Str(s) => escape(s),
        Value::List(items) => format!("[{}]", items.iter().map(|i| format_value(i, escape_keys)).collect::<Vec<_>>().join(",")),
        Value::Dict(d) => {
            let mut keys: Vec<&String> = d.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", if escape_keys { escape(k) } else { k.clone() }, format_value(&d[k], escape_keys)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
    }
}

fn json_str<'a>(v: Option<&'a serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => Value::from_json(other).py_str(),
    }
}

/// Python truthiness of a JSON value (`if value:`).
fn truthy(v: Option<&serde_json::Value>) -> bool {
    match v {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => !s.is_empty(),
        Some(serde_json::Value::Array(a)) => !a.is_empty(),
        Some(serde_json::Value::Object(o)) => !o.is_empty(),
        Some(serde_json::Value::Number(n)) => n.as_f64() != Some(0.0),
    }
}

fn required_list(v: &serde_json::Value) -> String {
    let items: Vec<String> = v.as_array().into_iter().flatten().map(|r| escape(&json_str(Some(r)))).collect();
    format!("[{}]", items.join(","))
}

fn format_parameters(props: &serde_json::Value) -> String {
    let Some(map) = props.as_object() else { return String::new() };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    keys.into_iter()
        .filter(|k| !STANDARD_KEYS.contains(&k.as_str()))
        .map(|k| format_schema_property(k, &map[k]))
        .collect::<Vec<_>>()
        .join(",")
}

fn format_schema_property(key: &str, value: &serde_json::Value) -> String {
    let desc = json_str(value.get("description"));
    let type_val = json_str(value.get("type")).to_uppercase();
    let mut out = format!("{key}:{{description:{}", escape(&desc));
    match type_val.as_str() {
        "STRING" => {
            if let Some(e) = value.get("enum") {
                let _ = write!(out, ",enum:{}", format_value(&Value::from_json(e), true));
            }
        }
        "OBJECT" => {
            out.push_str(",properties:{");
            if truthy(value.get("properties")) {
                out.push_str(&format_parameters(&value["properties"]));
            }
            out.push('}');
            if truthy(value.get("required")) {
                let _ = write!(out, ",required:{}", required_list(&value["required"]));
            }
        }
        "ARRAY" => out.push_str(&format_array_details(value)),
        _ => {}
    }
    let _ = write!(out, ",type:{}}}", escape(&type_val));
    out
}

fn format_array_details(value: &serde_json::Value) -> String {
    let Some(items) = value.get("items").filter(|i| truthy(Some(i))).and_then(|i| i.as_object()) else {
        return String::new();
    };
    let mut keys: Vec<&String> = items.keys().collect();
    keys.sort();
    let parts: Vec<String> = keys
        .into_iter()
        .filter(|k| !items[*k].is_null())
        .map(|k| {
            let v = &items[k];
            match (k.as_str(), v) {
                ("properties", serde_json::Value::Object(_)) => format!("properties:{{{}}}", format_parameters(v)),
                ("required", _) => format!("required:{}", required_list(v)),
                ("type", serde_json::Value::String(t)) => format!("type:{}", format_value(&Value::Str(t.to_uppercase()), true)),
                ("type", other) => {
                    let upper: Vec<Value> = other.as_array().into_iter().flatten().map(|t| Value::Str(json_str(Some(t)).to_uppercase())).collect();
                    format!("type:{}", format_value(&Value::List(upper), true))
                }
                (k, v) => format!("{k}:{}", format_value(&Value::from_json(v), true)),
            }
        })
        .collect();
    format!(",items:{{{}}}", parts.join(","))
}

fn format_declaration(tool: &serde_json::Value, hint: &str) -> String {
    let f = tool_function(tool);
    let name = json_str(f.get("name"));
    let description = format!("{}{hint}", json_str(f.get("description")));
    let mut out = format!("{DECLARATION_PREFIX}{name}{{description:{}", escape(&description));
    if let Some(params) = f.get("parameters").filter(|p| truthy(Some(p))) {
        if truthy(params.get("properties")) {
            let _ = write!(out, ",properties:{{{}}}", format_parameters(&params["properties"]));
        }
        if truthy(params.get("required")) {
            let _ = write!(out, ",required:{}", required_list(&params["required"]));
        }
        if let Some(t) = params.get("type") {
            let _ = write!(out, ",type:{}", escape(&json_str(Some(t)).to_uppercase()));
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
        other => format!("{{value:{}}}", escape(&other.py_str())),
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
        let _ = write!(out, "{END_TURN}\n");
    }
    for m in rest {
        match m.role {
            Role::User => {
                let _ = write!(out, "{START_TURN}user\n{}{END_TURN}\n", py_strip(&m.content));
            }
            Role::Assistant => {
                let _ = write!(out, "{START_TURN}model\n");
                if !m.content.is_empty() {
                    out.push_str(py_strip(&m.content));
                }
                for call in &m.tool_calls {
                    let _ = write!(out, "{START_CALL}{CALL_PREFIX}{}{}{END_CALL}", call.function.name, format_args(&call.function.arguments));
                }
                let _ = write!(out, "{END_TURN}\n");
            }
            Role::Tool => {
                let name = m.name.as_deref().unwrap_or("unknown_tool");
                let body = match serde_json::from_str::<serde_json::Value>(&m.content) {
                    Ok(v @ serde_json::Value::Object(_)) => format_value(&Value::from_json(&v), false),
                    _ => format!("{{value:{}}}", escape(&m.content)),
                };
                let _ = write!(out, "{START_RESPONSE}{RESPONSE_PREFIX}{name}{body}{END_RESPONSE}");
            }
            // BFCL only treats a leading system message; others are not rendered.
            Role::System | Role::Developer => {}
        }
    }
    let _ = write!(out, "{START_TURN}model\n");
    out
}
