//! Ollama's FunctionGemma parser. A call block is whatever lies between
//! `<start_function_call>` and the next `<end_function_call>` (an unterminated one is never
//! emitted); its name and arguments come from `call:([^{]+)\{(.*)\}`, whose `.` stops at a newline, and a
//! block that does not match still becomes a call, with an empty name. Arguments are split at
//! top-level commas (braces, brackets and `<escape>` pairs respected) and each value read as:
//! an `<escape>` string, `true`/`false`, an integer written canonically, a number by Go's
//! `fmt.Sscanf("%f")` (a prefix scan: `12abc` is 12), a list, an object, else the bare text.
//! What a client receives is the JSON Ollama writes: a whole float arrives as an integer, and
//! a NaN or infinity fails the response (no calls). A value that is exactly `<escape>` makes
//! the parser slice out of bounds; the request fails, read here as no calls.

use std::sync::LazyLock;

use indexmap::IndexMap;
use regex::Regex;

use super::call_blocks;
use crate::codec::tokens::ESCAPE;
use crate::codec::{Call, Value};

static CALL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"call:([^{]+)\{(.*)\}").expect("valid regex"));

/// The response failed on the server: no calls reach the client.
struct Failed;

/// The server feeds the parser token by token, and each marker is one token, so the blocks
/// its tool state hands to `parseToolCall` are the texts between the markers; an unclosed
/// one stays in the buffer and is never emitted.
pub(super) fn decode(output: &str) -> Vec<Call> {
    call_blocks(output).0.into_iter().map(parse_call).collect::<Result<_, Failed>>().unwrap_or_default()
}

fn parse_call(block: &str) -> Result<Call, Failed> {
    let Some(c) = CALL.captures(block) else {
        return Ok(Call { name: String::new(), args: IndexMap::new() });
    };
    Ok(Call { name: c[1].to_string(), args: members(&c[2])? })
}

/// `key:value` parts (a part without `:` is skipped), the key verbatim up to the first `:`.
fn members(text: &str) -> Result<IndexMap<String, Value>, Failed> {
    let mut out = IndexMap::new();
    for part in split_arguments(text) {
        if let Some(colon) = part.find(':') {
            out.insert(part[..colon].to_string(), value(&part[colon + 1..])?);
        }
    }
    Ok(out)
}

/// Splits at commas outside braces, brackets and `<escape>` pairs; empty parts are skipped.
fn split_arguments(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let (mut parts, mut start, mut depth, mut in_escape, mut i) = (Vec::new(), 0, 0i64, false, 0);
    while i < bytes.len() {
        if bytes[i..].starts_with(ESCAPE.as_bytes()) {
            in_escape = !in_escape;
            i += ESCAPE.len();
            continue;
        }
        if !in_escape {
            match bytes[i] {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth -= 1,
                b',' if depth == 0 => {
                    if i > start {
                        parts.push(&text[start..i]);
                    }
                    start = i + 1;
                }
                _ => {}
            }
        }
        i += 1;
    }
    if bytes.len() > start {
        parts.push(&text[start..]);
    }
    parts
}

fn value(text: &str) -> Result<Value, Failed> {
    if text.starts_with(ESCAPE) && text.ends_with(ESCAPE) {
        if text.len() < 2 * ESCAPE.len() {
            return Err(Failed);
        }
        return Ok(Value::Str(text[ESCAPE.len()..text.len() - ESCAPE.len()].to_string()));
    }
    match text {
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        _ => {}
    }
    if let Some(n) = number(text) {
        return n;
    }
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        // An empty list is Go's nil slice, which its JSON encoder writes as null.
        let items = split_arguments(inner).into_iter().map(value).collect::<Result<Vec<_>, _>>()?;
        return Ok(if items.is_empty() { Value::Null } else { Value::List(items) });
    }
    if let Some(inner) = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        // Go's map has no order; encoding/json writes its keys sorted.
        let mut object = members(inner)?;
        object.sort_keys();
        return Ok(Value::Dict(object));
    }
    Ok(Value::Str(text.to_string()))
}

/// `parseNumber`: an integer when `%d` reads one that prints back as the same text, else a
/// float by `%f`'s prefix scan; as the client receives it after Go's JSON encoding.
fn number(text: &str) -> Option<Result<Value, Failed>> {
    if let Ok(i) = text.parse::<i64>()
        && i.to_string() == text
    {
        return Some(Ok(Value::Int(i)));
    }
    let f = scan_float(text)?;
    Some(if !f.is_finite() {
        Err(Failed)
    } else if f.fract() == 0.0 && f.abs() < 1e21 && f.abs() < i64::MAX as f64 {
        Ok(Value::Int(f as i64))
    } else {
        Ok(Value::Float(f))
    })
}

/// Go's `fmt.Sscanf(text, "%f", &f)`: leading blanks skipped, the longest float-shaped token
/// taken (`floatToken`), then parsed as `strconv.ParseFloat` does; trailing text ignored.
fn scan_float(text: &str) -> Option<f64> {
    let s = text.trim_start_matches([' ', '\t', '\r']);
    let b = s.as_bytes();
    let mut i = 0;
    let accept = |i: &mut usize, set: &[u8]| -> bool {
        if *i < b.len() && set.contains(&b[*i]) {
            *i += 1;
            true
        } else {
            false
        }
    };
    if accept(&mut i, b"nN") && accept(&mut i, b"aA") && accept(&mut i, b"nN") {
        return Some(f64::NAN);
    }
    i = 0;
    accept(&mut i, b"+-");
    let signed = i;
    if accept(&mut i, b"iI") && accept(&mut i, b"nN") && accept(&mut i, b"fF") {
        return Some(if s.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    i = signed;
    let hex = accept(&mut i, b"0") && accept(&mut i, b"xX");
    if !hex {
        i = signed;
    }
    let digits: &[u8] = if hex { b"0123456789abcdefABCDEF_" } else { b"0123456789_" };
    while accept(&mut i, digits) {}
    if accept(&mut i, b".") {
        while accept(&mut i, digits) {}
    }
    if accept(&mut i, if hex { b"pP" } else { b"eE" }) {
        accept(&mut i, b"+-");
        while accept(&mut i, b"0123456789_") {}
    }
    let token = &s[..i];
    if hex { parse_hex_float(token) } else { token.parse::<f64>().ok().filter(|_| !token.contains('_')) }
}

/// `strconv.ParseFloat` on a hexadecimal token (`0x1.8p3`); underscores only between digits.
fn parse_hex_float(token: &str) -> Option<f64> {
    let clean = token.replace('_', "");
    let (neg, body) = match clean.as_bytes().first() {
        Some(b'-') => (true, &clean[1..]),
        Some(b'+') => (false, &clean[1..]),
        _ => (false, &clean[..]),
    };
    let body = &body[2..];
    let (mantissa, exp) = body.split_once(['p', 'P'])?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars().chain(frac.chars()) {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let v = v * 2f64.powi(exp - 4 * frac.len() as i32);
    Some(if neg { -v } else { v })
}
