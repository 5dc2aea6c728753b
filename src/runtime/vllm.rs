//! vLLM's `functiongemma` tool parser (non-streaming `extract_tool_calls`). A call is found
//! by regex, `call:(\w+){(.*?)}` closed by `<end_function_call>` or, failing that, an
//! unterminated one running to the end of the text; its arguments are only the
//! `key:<escape>value<escape>` pairs, each value then tried as JSON. So bare numbers,
//! booleans, lists and objects are dropped, `<escape>123<escape>` becomes the number 123,
//! and the string keys of a nested object land at the top level.

use std::sync::LazyLock;

use indexmap::IndexMap;
use regex::Regex;

use super::python_json_loads;
use crate::codec::tokens::START_CALL;
use crate::codec::{Call, Value};

static CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)<start_function_call>call:(\w+)\{(.*?)\}<end_function_call>|<start_function_call>call:(\w+)\{(.*)")
        .expect("valid regex")
});
static ARG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)(\w+):<escape>(.*?)<escape>").expect("valid regex"));

pub(super) fn decode(output: &str) -> Vec<Call> {
    if !output.contains(START_CALL) {
        return Vec::new();
    }
    CALL.captures_iter(output)
        .map(|c| {
            let name = c.get(1).or(c.get(3)).map_or("", |m| m.as_str());
            let args = c.get(2).filter(|m| !m.is_empty()).or(c.get(4)).map_or("", |m| m.as_str());
            Call { name: name.to_string(), args: arguments(args) }
        })
        .collect()
}

fn arguments(text: &str) -> IndexMap<String, Value> {
    ARG.captures_iter(text)
        .map(|c| {
            let raw = &c[2];
            (c[1].to_string(), python_json_loads(raw).unwrap_or_else(|| Value::Str(raw.to_string())))
        })
        .collect()
}
