//! The canonical case format (`fgbench.case/1`): one JSON object per line.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::codec::Value;

pub const CASE_SCHEMA: &str = "fgbench.case/1";

/// How a case is checked; BFCL picks the checker from its category name, we store it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// Exactly one call, against the first tool.
    Simple,
    /// Exactly one call, against the expected function among several tools.
    Multiple,
    /// Several calls, matched to the expected ones in any order.
    Parallel,
    /// Any output without a call is right.
    Irrelevance,
    /// Any output with a call is right.
    Relevance,
}

impl CheckKind {
    /// BFCL's routing: `"parallel" in category`, then `"multiple"`, then simple;
    /// irrelevance/relevance by name.
    pub fn from_bfcl_category(category: &str) -> CheckKind {
        if category.contains("irrelevance") {
            CheckKind::Irrelevance
        } else if category.contains("relevance") {
            CheckKind::Relevance
        } else if category.contains("parallel") {
            CheckKind::Parallel
        } else if category.contains("multiple") {
            CheckKind::Multiple
        } else {
            CheckKind::Simple
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

/// A call the assistant made earlier in the conversation (OpenAI shape, as BFCL stores it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub function: ToolCallFunction,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCallFunction {
    pub name: String,
    /// An object, or a JSON string holding one.
    #[serde(default)]
    pub arguments: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    #[serde(default)]
    pub content: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The tool's name, on `tool` messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One expected call in BFCL's shape: `{function: {param: [accepted values]}}`; a value list
/// containing `""` means the parameter may be left out.
pub type ExpectedCall = IndexMap<String, IndexMap<String, Vec<Value>>>;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub schema: String,
    pub id: String,
    pub category: String,
    pub kind: CheckKind,
    pub messages: Vec<Message>,
    /// JSON-schema tool declarations, as BFCL gives them (`name`, `description`, `parameters`).
    pub tools: Vec<serde_json::Value>,
    /// The accepted answers; empty for irrelevance/relevance.
    #[serde(default)]
    pub answers: Vec<ExpectedCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Case {
    /// (function, parameter, value) for every free-form value of a case's reference calls.
    pub fn free_values(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for call in self.reference_calls() {
            let props = self.tool(&call.name).and_then(|t| tool_function(t).get("parameters")).and_then(|p| p.get("properties"));
            for (param, value) in &call.args {
                let schema = props.and_then(|p| p.get(param));
                let item_schema = schema.and_then(|s| s.get("items"));
                let items = match value {
                    Value::List(items) => items.iter().map(|v| (v, item_schema)).collect::<Vec<_>>(),
                    v => vec![(v, schema)],
                };
                for (v, schema) in items {
                    let has_enum = schema.and_then(|s| s.get("enum")).is_some();
                    let key = match v {
                        Value::Str(s) if !has_enum => s.trim().to_lowercase(),
                        Value::Int(i) => format!("{}", *i as f64),
                        Value::Float(f) => format!("{f}"),
                        _ => continue,
                    };
                    out.push((call.name.clone(), param.clone(), key));
                }
            }
        }
        out
    }

    /// The checks every case must pass before it is scored, wherever it comes from (a dataset
    /// file, a socket request): the scorer relies on them.
    pub fn validate(&self) -> Result<(), String> {
        validate_parts(&self.parts())
    }

    /// What the case checks look at.
    pub(crate) fn parts(&self) -> CaseParts<'_> {
        CaseParts {
            id: &self.id,
            kind: self.kind,
            tool_count: self.tools.len(),
            unnamed_tool: self.tools.iter().position(|t| tool_name(t).is_none()),
            has_user_message: self.messages.iter().any(|m| m.role == Role::User),
            answers: &self.answers,
        }
    }

    /// The reference answer as an ordered list of calls (what the exact scorer compares
    /// against and what a training target writes): each expected call in order, each
    /// parameter with its first accepted value; a parameter whose accepted values start with
    /// `""` (BFCL's "may be left out") is left out.
    pub fn reference_calls(&self) -> Vec<crate::codec::Call> {
        reference_calls(&self.answers)
    }

    /// The text of the last user message.
    pub fn user_text(&self) -> &str {
        self.messages.iter().rev().find(|m| m.role == Role::User).map(|m| m.content.as_str()).unwrap_or_default()
    }

    /// The tool declaration with this name.
    pub fn tool(&self, name: &str) -> Option<&serde_json::Value> {
        self.tools.iter().find(|t| tool_name(t) == Some(name))
    }
}

/// What the case checks look at, however the case was read.
pub(crate) struct CaseParts<'a> {
    pub id: &'a str,
    pub kind: CheckKind,
    pub tool_count: usize,
    /// The first tool without a `name`.
    pub unnamed_tool: Option<usize>,
    pub has_user_message: bool,
    pub answers: &'a [ExpectedCall],
}

/// The checks every case must pass before it is scored (see `Case::validate`).
pub(crate) fn validate_parts(c: &CaseParts) -> Result<(), String> {
    if c.id.is_empty() {
        return Err("empty `id`".into());
    }
    // An irrelevance case may offer no tool at all (BFCL has such cases); any other needs one.
    if c.tool_count == 0 && c.kind != CheckKind::Irrelevance {
        return Err("no tools".into());
    }
    if let Some(i) = c.unnamed_tool {
        return Err(format!("tool #{i} has no `name`"));
    }
    if !c.has_user_message {
        return Err("no user message".into());
    }
    let needs_answers = !matches!(c.kind, CheckKind::Irrelevance | CheckKind::Relevance);
    if needs_answers && c.answers.is_empty() {
        return Err(format!("kind `{:?}` needs accepted answers", c.kind).to_lowercase());
    }
    if let Some(i) = c.answers.iter().position(|a| a.len() != 1) {
        return Err(format!("accepted answer #{i} must name exactly one function"));
    }
    Ok(())
}

/// The reference answer of these accepted answers (see `Case::reference_calls`).
pub fn reference_calls(answers: &[ExpectedCall]) -> Vec<crate::codec::Call> {
    answers
        .iter()
        .filter_map(|answer| answer.first())
        .map(|(name, params)| crate::codec::Call {
            name: name.clone(),
            args: params
                .iter()
                .filter_map(|(k, accepted)| accepted.first().filter(|v| !v.is_empty_str()).map(|v| (k.clone(), v.clone())))
                .collect(),
        })
        .collect()
}

/// A tool's `name`, looking through an OpenAI-style `{"type":"function","function":{...}}` wrapper.
pub fn tool_name(tool: &serde_json::Value) -> Option<&str> {
    tool_function(tool).get("name").and_then(|n| n.as_str())
}

/// The function object of a tool declaration, unwrapping `{"function": {...}}`.
pub fn tool_function(tool: &serde_json::Value) -> &serde_json::Value {
    match tool.get("function") {
        Some(f) if f.is_object() => f,
        _ => tool,
    }
}
