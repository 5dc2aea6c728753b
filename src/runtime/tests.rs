use indexmap::IndexMap;

use super::RuntimeParser::{self, *};
use crate::codec::Value;

fn calls(parser: RuntimeParser, output: &str) -> Vec<(String, serde_json::Value)> {
    parser.decode(output).into_iter().map(|c| (c.name, serde_json::to_value(Value::Dict(c.args)).expect("serializes"))).collect()
}

fn one(name: &str, args: serde_json::Value) -> Vec<(String, serde_json::Value)> {
    vec![(name.to_string(), args)]
}

const TIMER: &str = "<start_function_call>call:start_timer{label:<escape>tea<escape>,minutes:25}<end_function_call>";

#[test]
fn vllm_drops_bare_values_and_reads_escaped_numbers() {
    assert_eq!(calls(Vllm, TIMER), one("start_timer", serde_json::json!({"label": "tea"})));
    let out = "<start_function_call>call:lookup{code:<escape>123<escape>,ok:<escape>true<escape>}<end_function_call>";
    assert_eq!(calls(Vllm, out), one("lookup", serde_json::json!({"code": 123, "ok": true})));
    // Names must be \w+: a dotted name is not a call.
    assert!(calls(Vllm, "<start_function_call>call:math.sqrt{x:4}<end_function_call>").is_empty());
}

#[test]
fn vllm_lifts_nested_string_keys_and_reads_an_unterminated_call() {
    let nested = "<start_function_call>call:f{cfg:{name:<escape>a<escape>},id:<escape>b<escape>}<end_function_call>";
    assert_eq!(calls(Vllm, nested), one("f", serde_json::json!({"name": "a", "id": "b"})));
    let cut = "<start_function_call>call:f{city:<escape>Paris<escape>";
    assert_eq!(calls(Vllm, cut), one("f", serde_json::json!({"city": "Paris"})));
}

#[test]
fn mlx_keeps_each_marked_call_but_cuts_nested_objects_and_lists() {
    let two = format!("{TIMER}{TIMER}");
    assert_eq!(calls(Mlx, &two).len(), 2);
    assert_eq!(calls(Mlx, TIMER), one("start_timer", serde_json::json!({"label": "tea", "minutes": 25})));
    // The list is cut at its first comma; the rest has no `:`, so the parser raises and the
    // call is dropped.
    let list = "<start_function_call>call:add{items:[<escape>milk<escape>,<escape>eggs<escape>]}<end_function_call>";
    assert!(calls(Mlx, list).is_empty());
    // A nested object ends at its first `}`.
    let nested = "<start_function_call>call:f{cfg:{a:1},b:2}<end_function_call>";
    assert_eq!(calls(Mlx, nested), one("f", serde_json::json!({"cfg": "{a:1"})));
}

#[test]
fn ollama_reads_typed_values_and_sorts_nothing_but_objects() {
    let out = "<start_function_call>call:search{query:<escape>test<escape>,limit:10,ratio:2.5,on:true,\
               tags:[<escape>a<escape>,<escape>b<escape>],cfg:{z:1,a:<escape>x<escape>}}<end_function_call>";
    let want = serde_json::json!({"query": "test", "limit": 10, "ratio": 2.5, "on": true, "tags": ["a", "b"],
                                  "cfg": {"a": "x", "z": 1}});
    assert_eq!(calls(Ollama, out), one("search", want));
}

#[test]
fn ollama_number_rules_follow_go() {
    let parse = |v: &str| {
        let out = format!("<start_function_call>call:f{{x:{v}}}<end_function_call>");
        Ollama.decode(&out).pop().map(|c| c.args["x"].clone())
    };
    // A prefix scan: trailing text is ignored, and a whole float reaches the client as an integer.
    assert_eq!(parse("12abc"), Some(Value::Int(12)));
    assert_eq!(parse("3.0"), Some(Value::Int(3)));
    assert_eq!(parse("007"), Some(Value::Int(7)));
    assert_eq!(parse("1.5e1x"), Some(Value::Int(15)));
    assert_eq!(parse("0.25"), Some(Value::Float(0.25)));
    assert_eq!(parse("0x1p-2"), Some(Value::Float(0.25)));
    assert_eq!(parse("abc"), Some(Value::Str("abc".into())));
    assert_eq!(parse("1_000"), Some(Value::Str("1_000".into())));
    // An empty list is Go's nil slice: JSON null.
    assert_eq!(parse("[]"), Some(Value::Null));
    // NaN cannot be written as JSON: the response fails.
    assert_eq!(parse("nan"), None);
}

#[test]
fn ollama_never_emits_an_unterminated_call_and_names_an_unmatched_block_empty() {
    assert!(calls(Ollama, "<start_function_call>call:f{a:1}").is_empty());
    assert_eq!(calls(Ollama, "<start_function_call>oops<end_function_call>"), one("", serde_json::json!({})));
    // `.` does not cross a newline, so a value with one breaks the match.
    let multiline = "<start_function_call>call:f{body:<escape>a\nb<escape>}<end_function_call>";
    assert_eq!(calls(Ollama, multiline), one("", serde_json::json!({})));
    // A value that is one `<escape>` panics the parser: no calls reach the client.
    assert!(calls(Ollama, "<start_function_call>call:f{a:<escape>}<end_function_call>").is_empty());
}

#[test]
fn llama_server_returns_no_calls_and_fgbench_matches_bfcls_decoder() {
    assert!(LlamaServer.decode(TIMER).is_empty());
    let mut args = IndexMap::new();
    args.insert("label".to_string(), Value::Str("tea".into()));
    args.insert("minutes".to_string(), Value::Int(25));
    assert_eq!(Fgbench.decode(TIMER), vec![crate::codec::Call { name: "start_timer".into(), args }]);
}

#[test]
fn python_json_loads_accepts_what_python_does() {
    assert_eq!(super::python_json_loads(" 1 "), Some(Value::Int(1)));
    assert_eq!(super::python_json_loads("1.0"), Some(Value::Float(1.0)));
    assert!(matches!(super::python_json_loads("NaN"), Some(Value::Float(f)) if f.is_nan()));
    assert_eq!(super::python_json_loads("tea"), None);
    assert_eq!(super::python_json_loads("\"q\""), Some(Value::Str("q".into())));
}
