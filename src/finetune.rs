//! Training data for fine-tuning, disjoint from every eval set: tools of our own (none of
//! them appear in datasets/ or BFCL), varied phrasings and argument types, single calls,
//! parallel calls and irrelevance (no call). Prompts are rendered by fgbench's own codec in the
//! chosen prompt style, targets in FunctionGemma's call syntax, so training and evaluation
//! see exactly the same format.

use std::collections::HashSet;

use indexmap::IndexMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::codec::tokens::{END_TURN, START_RESPONSE};
use crate::codec::{Call, Value, render_call};
use crate::dataset::{Case, Message, Role};
use crate::prompt::PromptStyle;

pub const TRAIN_SCHEMA: &str = "fgbench.train/1";

/// What a training target writes after its last call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CallEnding {
    /// `<end_function_call><start_function_response>`: how Google's chat template and its
    /// Mobile Actions notebook end a call turn, so what FunctionGemma itself was trained on
    /// (the runtime feeds the result next).
    #[default]
    StartFunctionResponse,
    /// `<end_function_call><end_of_turn>`: fgbench's earlier targets.
    EndOfTurn,
}

impl CallEnding {
    fn token(self) -> &'static str {
        match self {
            CallEnding::StartFunctionResponse => START_RESPONSE,
            CallEnding::EndOfTurn => END_TURN,
        }
    }
}

/// A target: the calls in order closed by `ending`, or, without a call, the reply closed by
/// `<end_of_turn>`.
fn target(calls: &[Call], reply: &str, ending: CallEnding) -> String {
    if calls.is_empty() {
        format!("{}{END_TURN}", reply.trim())
    } else {
        format!("{}{}", calls.iter().map(render_call).collect::<String>(), ending.token())
    }
}

/// One training example: the prompt the model sees and the completion it should write.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainExample {
    pub schema: String,
    pub id: String,
    /// `single`, `parallel` or `irrelevance`.
    pub kind: String,
    pub prompt: String,
    pub completion: String,
    pub tools: Vec<String>,
    pub user: String,
}

fn param(ty: &str, desc: &str) -> serde_json::Value {
    serde_json::json!({"type": ty, "description": desc})
}

fn tool(name: &str, desc: &str, props: &[(&str, serde_json::Value)], required: &[&str]) -> serde_json::Value {
    let props: serde_json::Map<String, serde_json::Value> = props.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    serde_json::json!({"name": name, "description": desc, "parameters": {"type": "dict", "properties": props, "required": required}})
}

/// The training tools (names chosen not to occur in any eval set; `check_disjoint` proves it).
pub fn train_tools() -> Vec<serde_json::Value> {
    vec![
        tool(
            "reserve_parking_bay",
            "Reserve a parking bay in a garage for some hours.",
            &[
                ("garage", param("string", "Garage name.")),
                ("hours", param("integer", "How many hours.")),
                ("ev_charger", param("boolean", "Needs an EV charger.")),
            ],
            &["garage", "hours"],
        ),
        tool(
            "dim_lighting_scene",
            "Set the brightness of a lighting scene.",
            &[("scene", param("string", "Scene name, e.g. 'reading'.")), ("brightness_pct", param("integer", "Brightness 0-100."))],
            &["scene", "brightness_pct"],
        ),
        tool(
            "lookup_ferry_departures",
            "List ferry departures between two ports on a date.",
            &[
                ("from_port", param("string", "Departure port.")),
                ("to_port", param("string", "Arrival port.")),
                ("date", param("string", "YYYY-MM-DD.")),
            ],
            &["from_port", "to_port", "date"],
        ),
        tool(
            "start_kitchen_timer",
            "Start a named kitchen timer.",
            &[("label", param("string", "What the timer is for.")), ("minutes", param("float", "Duration in minutes."))],
            &["label", "minutes"],
        ),
        tool(
            "append_shopping_items",
            "Add items to the shared shopping list.",
            &[
                ("items", serde_json::json!({"type": "array", "items": {"type": "string"}, "description": "Item names."})),
                ("urgent", param("boolean", "Mark as urgent.")),
            ],
            &["items"],
        ),
        tool(
            "rate_podcast_episode",
            "Rate a podcast episode from 1 to 5 stars.",
            &[
                ("show", param("string", "Podcast name.")),
                ("episode", param("integer", "Episode number.")),
                ("stars", param("integer", "1-5.")),
            ],
            &["show", "episode", "stars"],
        ),
    ]
}

const GARAGES: [&str; 4] = ["Harbour Street", "Central Plaza", "Old Mill", "North Gate"];
const SCENES: [&str; 4] = ["reading", "movie night", "dinner", "wake up"];
const PORTS: [&str; 5] = ["Tarnby", "Vesterholm", "Kalmsund", "Brisport", "Ostrava Bay"];
const LABELS: [&str; 4] = ["pasta", "rice", "eggs", "bread dough"];
const ITEMS: [&str; 6] = ["oat milk", "lemons", "coffee beans", "dish soap", "basil", "rye bread"];
const SHOWS: [&str; 4] = ["Deep Space Diaries", "The Quiet Coder", "Market Minutes", "Garden Hour"];
const OFF_TOPIC: [&str; 6] = [
    "What's the tallest waterfall in Europe?",
    "Tell me a joke about penguins.",
    "How do I say thank you in Finnish?",
    "Summarise the plot of Hamlet in two sentences.",
    "Why is the sky blue?",
    "What's a good name for a goldfish?",
];

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

fn call(name: &str, args: Vec<(&str, Value)>) -> Call {
    Call { name: name.into(), args: args.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<IndexMap<_, _>>() }
}

/// One (user text, expected call) pair for tool `i`, with phrasing and values drawn from `rng`.
fn single(i: usize, rng: &mut ChaCha8Rng) -> (String, Call) {
    let pick = |a: &[&'static str], rng: &mut ChaCha8Rng| a[rng.random_range(0..a.len())];
    match i {
        0 => {
            let (g, h, ev) = (pick(&GARAGES, rng), rng.random_range(1..9), rng.random_bool(0.5));
            let text = match rng.random_range(0..3) {
                0 => format!("Book me a parking spot at {g} for {h} hours{}.", if ev { " with a charger" } else { "" }),
                1 => format!("I need to park at the {g} garage, {h}h{}.", if ev { ", EV charging please" } else { "" }),
                _ => format!("Reserve {h} hours of parking at {g}{}.", if ev { " — my car is electric" } else { "" }),
            };
            let mut args = vec![("garage", s(g)), ("hours", Value::Int(h))];
            if ev {
                args.push(("ev_charger", Value::Bool(true)));
            }
            (text, call("reserve_parking_bay", args))
        }
        1 => {
            let (sc, b) = (pick(&SCENES, rng), rng.random_range(1..11) * 10);
            let text = match rng.random_range(0..2) {
                0 => format!("Set the {sc} lights to {b}%."),
                _ => format!("Dim the {sc} scene to {b} percent brightness."),
            };
            (text, call("dim_lighting_scene", vec![("scene", s(sc)), ("brightness_pct", Value::Int(b))]))
        }
        2 => {
            let a = pick(&PORTS, rng);
            let b = loop {
                let p = pick(&PORTS, rng);
                if p != a {
                    break p;
                }
            };
            let d = format!("2027-0{}-{:02}", rng.random_range(1..10), rng.random_range(1..29));
            (
                format!("Which ferries go from {a} to {b} on {d}?"),
                call("lookup_ferry_departures", vec![("from_port", s(a)), ("to_port", s(b)), ("date", s(&d))]),
            )
        }
        3 => {
            let (l, m) = (pick(&LABELS, rng), rng.random_range(2..25) as f64 / 2.0);
            (
                format!("Start a {m} minute timer for the {l}."),
                call("start_kitchen_timer", vec![("label", s(l)), ("minutes", Value::Float(m))]),
            )
        }
        4 => {
            let n = rng.random_range(1..4);
            let items: Vec<&str> = (0..n).map(|_| pick(&ITEMS, rng)).collect::<HashSet<_>>().into_iter().collect();
            let mut items = items;
            items.sort();
            let urgent = rng.random_bool(0.3);
            let text = format!("Put {} on the shopping list{}.", items.join(" and "), if urgent { ", it's urgent" } else { "" });
            let mut args = vec![("items", Value::List(items.iter().map(|x| s(x)).collect()))];
            if urgent {
                args.push(("urgent", Value::Bool(true)));
            }
            (text, call("append_shopping_items", args))
        }
        _ => {
            let (sh, ep, st) = (pick(&SHOWS, rng), rng.random_range(1..120), rng.random_range(1..6));
            (
                format!("Give episode {ep} of {sh} {st} stars."),
                call("rate_podcast_episode", vec![("show", s(sh)), ("episode", Value::Int(ep)), ("stars", Value::Int(st))]),
            )
        }
    }
}

/// `n` examples (60% single, 20% parallel, 20% irrelevance), deterministic for a seed.
pub fn generate(n: usize, seed: u64, style: PromptStyle, ending: CallEnding) -> Vec<TrainExample> {
    let tools = train_tools();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let name = |t: &serde_json::Value| t["name"].as_str().unwrap_or_default().to_string();
    (0..n)
        .map(|k| {
            let roll = rng.random_range(0..10);
            let (kind, user, offered, calls): (&str, String, Vec<usize>, Vec<Call>) = if roll < 6 {
                let i = rng.random_range(0..tools.len());
                let (text, c) = single(i, &mut rng);
                let mut offered = vec![i, (i + 1 + rng.random_range(0..tools.len() - 1)) % tools.len()];
                offered.sort();
                ("single", text, offered, vec![c])
            } else if roll < 8 {
                let (i, j) = (rng.random_range(0..tools.len()), rng.random_range(0..tools.len()));
                let ((t1, c1), (t2, c2)) = (single(i, &mut rng), single(j, &mut rng));
                let mut offered = vec![i, j];
                offered.sort();
                offered.dedup();
                ("parallel", format!("{} Also: {}", t1, t2.to_lowercase()), offered, vec![c1, c2])
            } else {
                let i = rng.random_range(0..tools.len());
                ("irrelevance", OFF_TOPIC[rng.random_range(0..OFF_TOPIC.len())].to_string(), vec![i], vec![])
            };
            let offered_tools: Vec<serde_json::Value> = offered.iter().map(|&i| tools[i].clone()).collect();
            let messages = vec![Message { role: Role::User, content: user.clone(), tool_calls: vec![], name: None }];
            let completion = target(&calls, "I can't help with that using the available tools.", ending);
            TrainExample {
                schema: TRAIN_SCHEMA.into(),
                id: format!("train_{k:05}"),
                kind: kind.into(),
                prompt: style.render(&messages, &offered_tools),
                completion,
                tools: offered_tools.iter().map(name).collect(),
                user,
            }
        })
        .collect()
}

/// Proves training data cannot leak into an eval set: no training tool name is declared by
/// any eval case, no training id is an eval id, and no training user text occurs in any eval
/// case's messages. Returns the violations (empty when disjoint).
pub fn check_disjoint(train: &[TrainExample], eval: &[Case]) -> Vec<String> {
    let mut problems = Vec::new();
    let train_tools: HashSet<String> = train_tools().iter().filter_map(|t| t["name"].as_str().map(String::from)).collect();
    let eval_ids: HashSet<&str> = eval.iter().map(|c| c.id.as_str()).collect();
    for c in eval {
        for t in &c.tools {
            if let Some(n) = crate::dataset::case::tool_name(t).filter(|n| train_tools.contains(*n)) {
                problems.push(format!("eval case `{}` declares training tool `{n}`", c.id));
            }
        }
    }
    let eval_texts: Vec<String> = eval.iter().flat_map(|c| c.messages.iter().map(|m| m.content.to_lowercase())).collect();
    for ex in train {
        if eval_ids.contains(ex.id.as_str()) {
            problems.push(format!("training id `{}` is also an eval id", ex.id));
        }
        let u = ex.user.to_lowercase();
        if eval_texts.iter().any(|t| t.contains(&u)) {
            problems.push(format!("training prompt `{}` ({}) occurs in an eval case", ex.user, ex.id));
        }
    }
    problems
}

/// The target a training example writes when no tool fits and the data gives no reply.
pub const NO_CALL_REPLY: &str = "I can't help with that using the available tools.";

/// Training examples from an app's own cases (a Mobile Actions file or fgbench cases): the
/// prompt rendered by fgbench's codec, the target the reference calls in order (or the row's
/// reply when there is no call), closed as `ending` says (a reply by `<end_of_turn>`).
pub fn from_cases(rows: &[(Case, Option<String>)], style: PromptStyle, ending: CallEnding) -> Vec<TrainExample> {
    rows.iter()
        .map(|(case, reply)| {
            let calls = case.reference_calls();
            let completion = target(&calls, reply.as_deref().filter(|r| !r.trim().is_empty()).unwrap_or(NO_CALL_REPLY), ending);
            let kind = match calls.len() {
                0 => "no_call",
                1 => "single",
                _ => "parallel",
            };
            TrainExample {
                schema: TRAIN_SCHEMA.into(),
                id: case.id.clone(),
                kind: kind.into(),
                prompt: style.render(&case.messages, &case.tools),
                completion,
                tools: case.tools.iter().filter_map(|t| crate::dataset::case::tool_name(t).map(String::from)).collect(),
                user: case.user_text().to_string(),
            }
        })
        .collect()
}

/// Proves an app's training cases cannot leak into its held-out cases, where the tools are
/// shared on purpose: no id and no user text in common, and no free-form argument value of
/// a held-out reference call (a string outside the parameter's enum, a number, a list item)
/// that the training references give the same function's same parameter. Enum members and
/// booleans are shared by necessity and not checked.
pub fn check_app_disjoint(train: &[Case], eval: &[Case]) -> Vec<String> {
    let mut problems = Vec::new();
    let train_ids: HashSet<&str> = train.iter().map(|c| c.id.as_str()).collect();
    let train_texts: HashSet<String> = train.iter().map(|c| c.user_text().trim().to_lowercase()).collect();
    let mut train_values: HashSet<(String, String, String)> = HashSet::new();
    for c in train {
        for (name, param, v) in c.free_values() {
            train_values.insert((name, param, v));
        }
    }
    for c in eval {
        if train_ids.contains(c.id.as_str()) {
            problems.push(format!("held-out id `{}` is also a training id", c.id));
        }
        if train_texts.contains(&c.user_text().trim().to_lowercase()) {
            problems.push(format!("held-out case `{}` has a training user text: `{}`", c.id, c.user_text()));
        }
        for key in c.free_values() {
            if train_values.contains(&key) {
                let (name, param, v) = key;
                problems.push(format!("held-out case `{}`: {name}.{param} = {v} also occurs in the training data", c.id));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::mobile_actions::{ImportOptions, read};

    fn app_rows(name: &str) -> Vec<(Case, Option<String>)> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/app").join(name);
        read(&path, &ImportOptions { category: "app".into(), split: None }).unwrap().into_iter().map(|r| (r.case, r.reply)).collect()
    }

    #[test]
    fn the_app_split_is_disjoint_and_a_leak_is_found() {
        let train: Vec<Case> = app_rows("train.jsonl").into_iter().map(|r| r.0).collect();
        let mut test: Vec<Case> = app_rows("test.jsonl").into_iter().map(|r| r.0).collect();
        assert!(train.len() >= 1500 && test.len() >= 300, "{} / {}", train.len(), test.len());
        assert_eq!(check_app_disjoint(&train, &test), Vec::<String>::new());
        // A held-out case that reuses a training value (or text) is caught.
        let leaky = train.iter().find(|c| c.reference_calls().iter().any(|k| k.name == "send_message")).unwrap().clone();
        test.push(Case { id: "leak".into(), ..leaky });
        let problems = check_app_disjoint(&train, &test);
        assert!(problems.iter().any(|p| p.contains("send_message.recipient")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("training user text")), "{problems:?}");
    }

    #[test]
    fn targets_are_the_reference_calls_in_order_or_the_rows_reply() {
        let rows = app_rows("test.jsonl");
        let examples = from_cases(&rows, PromptStyle::Official, CallEnding::default());
        let distinct = |c: &Case| c.reference_calls().windows(2).all(|w| w[0].name != w[1].name);
        let two = examples.iter().zip(&rows).find(|(e, r)| e.kind == "parallel" && distinct(&r.0)).unwrap();
        let names: Vec<String> = two.1.0.reference_calls().iter().map(|c| format!("<start_function_call>call:{}{{", c.name)).collect();
        let (a, b) = (two.0.completion.find(&names[0]).unwrap(), two.0.completion.find(&names[1]).unwrap());
        assert!(a < b, "{}", two.0.completion);
        // Google's template ends a call turn where the tool's response starts.
        assert!(two.0.completion.ends_with("<end_function_call><start_function_response>"), "{}", two.0.completion);
        let old = from_cases(&rows, PromptStyle::Official, CallEnding::EndOfTurn);
        let old_two = old.iter().find(|e| e.id == two.0.id).unwrap();
        assert!(old_two.completion.ends_with("<end_function_call><end_of_turn>"), "{}", old_two.completion);
        let none = examples.iter().find(|e| e.kind == "no_call").unwrap();
        assert_eq!(none.completion, "Sorry, I can't do that with the tools I have.<end_of_turn>");
        assert!(none.prompt.starts_with("<bos><start_of_turn>developer\nCurrent date and time"));
    }
}
