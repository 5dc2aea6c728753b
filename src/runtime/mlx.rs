//! mlx-lm's server with its `function_gemma` tool parser. The server cuts the text between
//! `<start_function_call>` and `<end_function_call>` (or the end of the output) into one
//! segment per call and hands each to the parser, which keeps the first `call:(\w+){(.*?)}`
//! in it (the first `}` ends the arguments, so a nested object is cut short) and reads the
//! arguments left to right: a key up to the first `:`, then an `<escape>` string, or
//! everything up to the next `,` tried as JSON (so a list is split at its first comma). A
//! segment the parser raises on (no match, a key without `:`) is dropped with a warning.

use std::sync::LazyLock;

use indexmap::IndexMap;
use regex::Regex;

use super::{call_blocks, python_json_loads};
use crate::codec::tokens::ESCAPE;
use crate::codec::{Call, Value};

static CALL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)call:(\w+)\{(.*?)\}").expect("valid regex"));

pub(super) fn decode(output: &str) -> Vec<Call> {
    segments(output).into_iter().filter_map(parse_tool_call).collect()
}

/// The texts the server's state machine collects in its tool state: an unclosed last one
/// too, unless it is empty.
fn segments(output: &str) -> Vec<&str> {
    let (mut blocks, tail) = call_blocks(output);
    blocks.extend(tail.filter(|t| !t.is_empty()));
    blocks
}

/// `parse_tool_call`, or `None` where it raises.
fn parse_tool_call(text: &str) -> Option<Call> {
    let c = CALL.captures(text)?;
    let mut rest = c.get(2).map_or("", |m| m.as_str());
    let mut args = IndexMap::new();
    while !rest.is_empty() {
        let colon = rest.find(':')?;
        let key = rest[..colon].to_string();
        rest = &rest[colon + 1..];
        if let Some(s) = rest.strip_prefix(ESCAPE) {
            let end = s.find(ESCAPE)?;
            args.insert(key, Value::Str(s[..end].to_string()));
            rest = skip_one_char(&s[end + ESCAPE.len()..]);
            continue;
        }
        let split = rest.find(',').unwrap_or(rest.len());
        let raw = &rest[..split];
        args.insert(key, python_json_loads(raw).unwrap_or_else(|| Value::Str(raw.to_string())));
        rest = skip_one_char(&rest[split..]);
    }
    Some(Call { name: c[1].to_string(), args })
}

/// Python's `s[1:]`.
fn skip_one_char(s: &str) -> &str {
    s.char_indices().nth(1).map_or("", |(i, _)| &s[i..])
}
