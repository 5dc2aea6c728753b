//! The wire syntax of values and calls (what the model writes and what a prompt quotes):
//! strings inside `<escape>` verbatim, scalars as Python prints them, dict keys sorted, no
//! spaces after commas or colons. Prompts are put together in `crate::prompt`.

use super::tokens::*;
use super::value::{Value, py_float_repr};

/// A string as the format quotes it: between two `<escape>` tokens, verbatim.
pub fn escaped(s: &str) -> String {
    format!("{ESCAPE}{s}{ESCAPE}")
}

/// JSON-schema type name, upper-cased; BFCL's Python type names mapped to their JSON kin.
pub fn official_type_name(t: &str) -> String {
    match t {
        "dict" => "OBJECT".into(),
        "float" => "NUMBER".into(),
        "tuple" => "ARRAY".into(),
        "any" => "STRING".into(),
        "bool" => "BOOLEAN".into(),
        "int" => "INTEGER".into(),
        "str" => "STRING".into(),
        "list" => "ARRAY".into(),
        other => other.to_uppercase(),
    }
}

/// A call argument value: strings escaped, dict keys bare and sorted.
pub fn render_value(v: &Value) -> String {
    format_value(v, false)
}

/// Formats a value as the template's `format_argument` does (shared by both prompt styles):
/// strings escaped, scalars as Python prints them, dict keys sorted and optionally escaped.
pub(crate) fn format_value(v: &Value, escape_keys: bool) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => py_float_repr(*f),
        Value::Str(s) => escaped(s),
        Value::List(items) => {
            let parts: Vec<String> = items.iter().map(|i| format_value(i, escape_keys)).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Dict(d) => {
            let mut keys: Vec<&String> = d.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    let key = if escape_keys { escaped(k) } else { k.clone() };
                    format!("{key}:{}", format_value(&d[k], escape_keys))
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
    }
}

/// One call block as the model should write it.
pub fn render_call(call: &super::Call) -> String {
    format!("{START_CALL}{CALL_PREFIX}{}{}{END_CALL}", call.name, render_value(&Value::Dict(call.args.clone())))
}
