//! Model outputs for scorer tests and benches: the right answer to a case rendered in the
//! FunctionGemma call syntax, and labelled mutations of it (wrong names, types, values,
//! missing or extra parameters and calls, malformed text).

#![allow(dead_code)]

use fgbench::codec::tokens::{END_CALL, ESCAPE};
use fgbench::codec::{Call, Value, render_call};
use fgbench::dataset::case::tool_function;
use fgbench::dataset::{Case, CheckKind};
use indexmap::IndexMap;

fn first_accepted(accepted: &[Value], last: bool) -> Option<&Value> {
    let mut it = accepted.iter().filter(|v| !v.is_empty_str());
    if last { it.next_back() } else { it.next() }
}

/// An accepted dict answer `{k: [v, ...]}` as the value a model writes `{k: v}`.
fn dict_answer(v: &Value, last: bool) -> Value {
    match v {
        Value::Dict(d) => Value::Dict(
            d.iter()
                .filter_map(|(k, acc)| match acc {
                    Value::List(items) => first_accepted(items, last).map(|x| (k.clone(), x.clone())),
                    other => Some((k.clone(), other.clone())),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The call a perfect model makes for an expected answer (first or last accepted values).
pub fn expected_call(case: &Case, index: usize, last: bool) -> Call {
    let (name, params) = case.answers[index].first().expect("one function per answer");
    let tool = case.tool(name).map(tool_function);
    let mut args = IndexMap::new();
    for (param, accepted) in params {
        let Some(v) = first_accepted(accepted, last) else { continue };
        let schema = tool.and_then(|t| t.pointer(&format!("/parameters/properties/{}", param.replace('~', "~0").replace('/', "~1"))));
        let declared = schema.and_then(|s| s.get("type")).and_then(|t| t.as_str()).unwrap_or("");
        let items = schema.and_then(|s| s.pointer("/items/type")).and_then(|t| t.as_str()).unwrap_or("");
        let value = match (declared, v) {
            ("dict", v) => dict_answer(v, last),
            ("array", Value::List(xs)) if items == "dict" => Value::List(xs.iter().map(|x| dict_answer(x, last)).collect()),
            _ => v.clone(),
        };
        args.insert(param.clone(), value);
    }
    Call { name: name.clone(), args }
}

pub fn expected_calls(case: &Case, last: bool) -> Vec<Call> {
    (0..case.answers.len()).map(|i| expected_call(case, i, last)).collect()
}

pub fn render(calls: &[Call]) -> String {
    calls.iter().map(render_call).collect()
}

fn with_first_arg(calls: &[Call], f: impl Fn(&Value) -> Option<Value>) -> Option<Vec<Call>> {
    let mut out = calls.to_vec();
    let first = out.first_mut()?;
    let (k, v) = first.args.iter().find_map(|(k, v)| f(v).map(|nv| (k.clone(), nv)))?;
    first.args.insert(k, v);
    Some(out)
}

fn cut_at_char_boundary(s: &str, at: usize) -> &str {
    let mut i = at.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

/// Labelled outputs for one case: the right answer first, then mutations.
pub fn outputs_for(case: &Case) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let prose = "I'm sorry, but I can't help with that request.".to_string();
    if matches!(case.kind, CheckKind::Irrelevance | CheckKind::Relevance) {
        out.push(("no_call", prose.clone()));
        out.push(("empty", String::new()));
        if let Some(name) = case.tools.first().and_then(|t| tool_function(t).get("name")).and_then(|n| n.as_str()) {
            let call = Call { name: name.into(), args: IndexMap::new() };
            let text = render(std::slice::from_ref(&call));
            out.push(("some_call", text.clone()));
            out.push(("truncated_call", cut_at_char_boundary(&text, text.len() / 2).to_string()));
            out.push(("call_without_prefix", text.replace("call:", "")));
        }
        return out;
    }
    let good = expected_calls(case, false);
    let text = render(&good);
    out.push(("correct", text.clone()));
    out.push(("alt_values", render(&expected_calls(case, true))));
    let mut push = |label: &'static str, calls: Option<Vec<Call>>| {
        if let Some(c) = calls {
            out.push((label, render(&c)));
        }
    };
    push("wrong_name", {
        let mut c = good.clone();
        c[0].name.push_str("_v2");
        Some(c)
    });
    push("missing_param", {
        let mut c = good.clone();
        (!c[0].args.is_empty()).then(|| {
            c[0].args.shift_remove_index(0);
            c
        })
    });
    push("extra_param", {
        let mut c = good.clone();
        c[0].args.insert("unexpected_arg".into(), Value::Int(1));
        Some(c)
    });
    push(
        "type_swap",
        with_first_arg(&good, |v| {
            Some(match v {
                Value::Int(i) => Value::Str(i.to_string()),
                Value::Float(f) => Value::Str(f.to_string()),
                Value::Str(_) => Value::Int(7),
                Value::Bool(b) => Value::Str(b.to_string()),
                Value::List(_) | Value::Dict(_) => Value::Str("x".into()),
                Value::Null => Value::Bool(false),
            })
        }),
    );
    push(
        "int_for_float",
        with_first_arg(&good, |v| match v {
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(Value::Int(*f as i64)),
            _ => None,
        }),
    );
    push(
        "float_for_int",
        with_first_arg(&good, |v| match v {
            Value::Int(i) => Some(Value::Float(*i as f64)),
            _ => None,
        }),
    );
    push(
        "bool_for_int",
        with_first_arg(&good, |v| match v {
            Value::Int(i) if *i == 0 || *i == 1 => Some(Value::Bool(*i == 1)),
            _ => None,
        }),
    );
    push(
        "string_variant_equal",
        with_first_arg(&good, |v| match v {
            Value::Str(s) if !s.is_empty() => Some(Value::Str(format!(" {}_.", s.to_uppercase().replace(' ', "-")))),
            _ => None,
        }),
    );
    push(
        "string_variant_diff",
        with_first_arg(&good, |v| match v {
            Value::Str(s) => Some(Value::Str(format!("{s} zz"))),
            _ => None,
        }),
    );
    push(
        "list_reversed",
        with_first_arg(&good, |v| match v {
            Value::List(xs) if xs.len() > 1 => Some(Value::List(xs.iter().rev().cloned().collect())),
            _ => None,
        }),
    );
    push(
        "list_element_type",
        with_first_arg(&good, |v| match v {
            Value::List(xs) if !xs.is_empty() => {
                let mut ys = xs.clone();
                ys[0] = match &ys[0] {
                    Value::Str(_) => Value::Int(3),
                    other => Value::Str(other.py_str()),
                };
                Some(Value::List(ys))
            }
            _ => None,
        }),
    );
    push(
        "dict_key_dropped",
        with_first_arg(&good, |v| match v {
            Value::Dict(d) if !d.is_empty() => {
                let mut e = d.clone();
                e.shift_remove_index(0);
                Some(Value::Dict(e))
            }
            _ => None,
        }),
    );
    push(
        "dict_key_added",
        with_first_arg(&good, |v| match v {
            Value::Dict(d) => {
                let mut e = d.clone();
                e.insert("surprise".into(), Value::Str("x".into()));
                Some(Value::Dict(e))
            }
            _ => None,
        }),
    );
    push("calls_reversed", (good.len() > 1).then(|| good.iter().rev().cloned().collect()));
    push("call_dropped", (good.len() > 1).then(|| good[..good.len() - 1].to_vec()));
    push("call_duplicated", {
        let mut c = good.clone();
        c.push(good[0].clone());
        Some(c)
    });
    out.push(("prose_before", format!("Sure, calling it now. {text}")));
    out.push(("text_after", format!("{text}<end_of_turn>")));
    out.push(("no_call", prose));
    out.push(("truncated", cut_at_char_boundary(&text, text.len() * 2 / 3).to_string()));
    out.push(("missing_end", text.strip_suffix(END_CALL).unwrap_or(&text).to_string()));
    out.push(("extra_brace", format!("{}}}{END_CALL}", text.strip_suffix(END_CALL).unwrap_or(&text))));
    if let Some(start) = text.find(ESCAPE) {
        // A string written bare, without <escape> markers.
        let unescaped = format!("{}{}", &text[..start], text[start + ESCAPE.len()..].replacen(ESCAPE, "", 1));
        out.push(("bare_string", unescaped));
    }
    out.push(("spaces_inside", text.replace(':', ": ").replace(',', " , ")));
    out
}
