//! Metamorphic variants of a dataset: the same cases changed in a way whose right answer follows
//! mechanically from the original (tools reordered or renamed, distractors added, the called
//! tool removed so that no call is right, another activation sentence, the date context moved,
//! surface noise in the request). One variant case per input case, same id, so a run on the
//! variant pairs with the run on the original. Each case draws from its own seeded stream
//! (seed, kind, and the case's id or, for tool order and activation sentence, its tool
//! block): a case changes the same way whatever else the dataset holds.

mod dates;
mod names;
pub mod robustness;
mod surface;

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::codec::Value;
use crate::codec::tokens::TRIGGER;
use crate::dataset::case::{tool_function, tool_name};
use crate::dataset::{Case, CheckKind, Message, Role};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Perturbation {
    /// The tool declarations in another order.
    ShuffleTools,
    /// Tools and parameters renamed to other plausible names; the expected calls alike.
    Rename,
    /// Two or three tools of other domains declared too.
    Distractors,
    /// The called tools' declarations removed: no call is now the right answer.
    RemoveCalledTool,
    /// The activation sentence as other runtimes write it (Ollama's), or after a custom
    /// system text.
    Activation,
    /// The developer turn's date moved by whole weeks; expected dates said relatively move too.
    DateShift,
    /// Request surface noise outside the argument values: filler words, then case, punctuation
    /// or a typo.
    Surface,
}

impl Perturbation {
    pub const ALL: [Perturbation; 7] = [
        Perturbation::ShuffleTools,
        Perturbation::Rename,
        Perturbation::Distractors,
        Perturbation::RemoveCalledTool,
        Perturbation::Activation,
        Perturbation::DateShift,
        Perturbation::Surface,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Perturbation::ShuffleTools => "shuffle-tools",
            Perturbation::Rename => "rename",
            Perturbation::Distractors => "distractors",
            Perturbation::RemoveCalledTool => "remove-called-tool",
            Perturbation::Activation => "activation",
            Perturbation::DateShift => "date-shift",
            Perturbation::Surface => "surface",
        }
    }
}

/// Ollama's activation sentence (its FunctionGemma renderer).
pub const OLLAMA_TRIGGER: &str = "You can do function calling with the following functions:";
/// A custom system text an app puts before the activation sentence.
pub const CUSTOM_SYSTEM: &str = "You are a helpful assistant on a phone.";

/// The variant of every case.
pub fn perturb(cases: &[Case], kind: Perturbation, seed: u64) -> Vec<Case> {
    let pool: Vec<serde_json::Value> = match kind {
        Perturbation::Distractors => distractor_candidates(cases),
        _ => Vec::new(),
    };
    cases
        .iter()
        .map(|case| {
            let mut rng = case_rng(seed, kind, &stream_key(case, kind));
            let mut c = case.clone();
            match kind {
                Perturbation::ShuffleTools => shuffle_tools(&mut c, &mut rng),
                Perturbation::Rename => rename(&mut c),
                Perturbation::Distractors => add_distractors(&mut c, &pool, &mut rng),
                Perturbation::RemoveCalledTool => remove_called_tools(&mut c),
                Perturbation::Activation => activation(&mut c, &mut rng),
                Perturbation::DateShift => dates::shift(&mut c, rng.random_range(1..=4) * 7),
                Perturbation::Surface => surface::noise(&mut c, &mut rng),
            }
            c
        })
        .collect()
}

/// What a case's random stream is keyed by, besides the seed and the kind. Tool order and the
/// activation sentence are properties of an app's tool block, so they are drawn per tool
/// block (the tool list, and the developer turn for the activation): every case sending one
/// block gets one variant, as an app sends one order, and the variants still share a prompt
/// prefix for the engine's cache. The other kinds draw per case id.
fn stream_key(case: &Case, kind: Perturbation) -> String {
    let tools = || serde_json::to_string(&case.tools).unwrap_or_default();
    match kind {
        Perturbation::ShuffleTools => tools(),
        Perturbation::Activation => {
            let developer = case.messages.first().filter(|m| matches!(m.role, Role::System | Role::Developer));
            format!("{}\n{}", tools(), developer.map_or("", |m| m.content.as_str()))
        }
        _ => case.id.clone(),
    }
}

fn case_rng(seed: u64, kind: Perturbation, id: &str) -> ChaCha8Rng {
    let mut h = rustc_hash::FxHasher::default();
    (seed, kind, id).hash(&mut h);
    ChaCha8Rng::seed_from_u64(h.finish())
}

fn shuffle_tools(c: &mut Case, rng: &mut ChaCha8Rng) {
    let before: Vec<Option<String>> = c.tools.iter().map(|t| tool_name(t).map(String::from)).collect();
    c.tools.shuffle(rng);
    let after: Vec<Option<String>> = c.tools.iter().map(|t| tool_name(t).map(String::from)).collect();
    if after == before && c.tools.len() > 1 {
        c.tools.rotate_left(1); // every case with two tools or more really changes
    }
}

/// The function object of a declaration, mutably (through a `{"function": ...}` wrapper).
fn function_mut(tool: &mut serde_json::Value) -> &mut serde_json::Value {
    if tool.get("function").is_some_and(|f| f.is_object()) { &mut tool["function"] } else { tool }
}

fn rename(c: &mut Case) {
    let taken: HashSet<String> = c.tools.iter().filter_map(|t| tool_name(t).map(String::from)).collect();
    let mut new_names: HashSet<String> = HashSet::new();
    for tool in &mut c.tools {
        let f = function_mut(tool);
        let Some(old) = f.get("name").and_then(|n| n.as_str()).map(String::from) else { continue };
        let mut new = names::tool_name(&old);
        while taken.contains(&new) || !new_names.insert(new.clone()) {
            new.push('2');
        }
        f["name"] = serde_json::Value::String(new.clone());
        let params = rename_params(f);
        for answer in &mut c.answers {
            if let Some(args) = answer.shift_remove(&old) {
                let args = args.into_iter().map(|(k, v)| (params.iter().find(|(o, _)| *o == k).map_or(k, |(_, n)| n.clone()), v)).collect();
                answer.insert(new.clone(), args);
            }
        }
    }
}

/// Renames a declaration's top-level parameters (properties and required); returns old -> new.
fn rename_params(f: &mut serde_json::Value) -> Vec<(String, String)> {
    let Some(props) = f.pointer_mut("/parameters/properties").and_then(|p| p.as_object_mut()) else { return Vec::new() };
    let old: Vec<String> = props.keys().cloned().collect();
    let mut map = Vec::new();
    let mut used: HashSet<String> = HashSet::new();
    let mut renamed = serde_json::Map::new();
    for k in &old {
        let mut new = names::param_name(k);
        while old.contains(&new) || !used.insert(new.clone()) {
            new.push('2');
        }
        renamed.insert(new.clone(), props[k].clone());
        map.push((k.clone(), new));
    }
    *props = renamed;
    if let Some(req) = f.pointer_mut("/parameters/required").and_then(|r| r.as_array_mut()) {
        for r in req.iter_mut() {
            if let Some(n) = r.as_str().and_then(|s| map.iter().find(|(o, _)| o == s)) {
                *r = serde_json::Value::String(n.1.clone());
            }
        }
    }
    map
}

/// Tools declared by other cases of the dataset, then fgbench's own pool, by name.
fn distractor_candidates(cases: &[Case]) -> Vec<serde_json::Value> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for t in cases.iter().flat_map(|c| c.tools.iter()).cloned().chain(names::distractor_pool()) {
        if let Some(n) = tool_name(&t).map(String::from)
            && seen.insert(n)
        {
            out.push(tool_function(&t).clone());
        }
    }
    out
}

fn add_distractors(c: &mut Case, pool: &[serde_json::Value], rng: &mut ChaCha8Rng) {
    let own: HashSet<String> = c.tools.iter().filter_map(|t| tool_name(t).map(String::from)).collect();
    let mut others: Vec<&serde_json::Value> = pool.iter().filter(|t| tool_name(t).is_some_and(|n| !own.contains(n))).collect();
    others.shuffle(rng);
    let wrap = c.tools.first().is_some_and(|t| t.get("function").is_some());
    for t in others.into_iter().take(rng.random_range(2..=3)) {
        let t = if wrap { serde_json::json!({"function": t}) } else { t.clone() };
        let at = rng.random_range(0..=c.tools.len());
        c.tools.insert(at, t);
    }
}

fn remove_called_tools(c: &mut Case) {
    let called: HashSet<String> = c.answers.iter().filter_map(|a| a.keys().next().cloned()).collect();
    if called.is_empty() {
        return;
    }
    c.tools.retain(|t| tool_name(t).is_none_or(|n| !called.contains(n)));
    c.answers.clear();
    c.kind = CheckKind::Irrelevance;
}

fn activation(c: &mut Case, rng: &mut ChaCha8Rng) {
    let variants = [OLLAMA_TRIGGER.to_string(), format!("{CUSTOM_SYSTEM}\n{TRIGGER}"), format!("{CUSTOM_SYSTEM}\n{OLLAMA_TRIGGER}")];
    let variant = &variants[rng.random_range(0..variants.len())];
    match c.messages.first_mut() {
        Some(m) if matches!(m.role, Role::System | Role::Developer) => {
            m.content = if m.content.contains(TRIGGER) {
                m.content.replacen(TRIGGER, variant, 1)
            } else {
                format!("{CUSTOM_SYSTEM}\n{}", m.content)
            };
        }
        _ => c.messages.insert(0, Message { role: Role::Developer, content: variant.clone(), tool_calls: vec![], name: None }),
    }
}

/// Every string the case's answers accept (what surface noise must leave alone).
fn answer_strings(c: &Case) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Str(s) if !s.is_empty() => out.push(s.clone()),
            Value::List(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Dict(m) => m.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for v in c.answers.iter().flat_map(|a| a.values()).flat_map(|p| p.values()).flatten() {
        walk(v, &mut out);
    }
    out
}

#[cfg(test)]
mod tests;
