//! Google's Mobile Actions format (the `google/mobile-actions` dataset, and the app sets under
//! `datasets/app/`): one JSON object per line,
//!
//! ```text
//! {"metadata": "train"|"eval", "tools": [{"function": {name, description, parameters}}],
//!  "messages": [developer, user, assistant with tool_calls (or content when no call)]}
//! ```
//!
//! Rows are read line by line as raw JSON (a dataframe library would merge the rows'
//! schemas and rewrite them). The developer message (current date and time, day of week,
//! activation sentence) is kept verbatim: the renderer places it in the developer turn as
//! FunctionGemma's chat template does. Type names may be upper-case (`STRING`, `OBJECT`);
//! they are stored under the BFCL names the scorer reads (`string`, `dict`, `float`, ...)
//! and render back upper-case. `arguments` may be an object or a JSON string holding one.

use std::io::BufRead;
use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;

use super::DatasetError;
use super::case::{CASE_SCHEMA, Case, CheckKind, ExpectedCall, Message, Role, tool_function, tool_name};
use crate::codec::Value;
use crate::codec::render::official_type_name;

/// One row as read: the case it becomes and the reference completion it carries.
#[derive(Clone, Debug)]
pub struct Row {
    pub case: Case,
    /// `train` or `eval` (the row's `metadata`).
    pub split: String,
    /// The assistant's text on rows without a call (what a training target writes there).
    pub reply: Option<String>,
}

#[derive(Deserialize)]
struct RawRow {
    #[serde(default)]
    metadata: Option<serde_json::Value>,
    #[serde(default)]
    id: Option<String>,
    /// fgbench's addition: the category prefix of this row's case (default: the import's).
    #[serde(default)]
    category: Option<String>,
    tools: Vec<serde_json::Value>,
    messages: Vec<RawMessage>,
}

#[derive(Deserialize)]
struct RawMessage {
    role: String,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<RawToolCall>>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawToolCall {
    function: RawFunction,
}

#[derive(Deserialize)]
struct RawFunction {
    name: String,
    #[serde(default)]
    arguments: serde_json::Value,
}

/// How imported cases are named and categorised.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Category prefix: cases land in `PREFIX_single`, `PREFIX_parallel` or `PREFIX_no_call`.
    pub category: String,
    /// Keep only rows whose `metadata` is this split.
    pub split: Option<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { category: "mobile_actions".into(), split: None }
    }
}

/// Reads a Mobile Actions JSONL file into rows (cases plus what they carry for training).
pub fn read(path: &Path, opts: &ImportOptions) -> Result<Vec<Row>, DatasetError> {
    let io = |source| DatasetError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut rows = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line_no = i + 1;
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        let row =
            parse_row(&line, line_no, opts).map_err(|message| DatasetError::Malformed { path: path.into(), line: line_no, message })?;
        if opts.split.as_deref().is_some_and(|s| s != row.split) {
            continue;
        }
        if let Some(first) = seen.insert(row.case.id.clone(), line_no) {
            return Err(DatasetError::DuplicateId { path: path.into(), line: line_no, id: row.case.id, first });
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(DatasetError::Empty { path: path.into() });
    }
    Ok(rows)
}

/// True when a JSONL file's first non-empty line looks like a Mobile Actions row (tools and
/// messages, no fgbench `schema`).
pub fn sniff(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else { return false };
    let Some(Ok(line)) = std::io::BufReader::new(file).lines().find(|l| l.as_ref().map_or(true, |l| !l.trim().is_empty())) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&line)
        .is_ok_and(|v| v.get("schema").is_none() && v.get("messages").is_some() && v.get("tools").is_some())
}

fn parse_row(line: &str, line_no: usize, opts: &ImportOptions) -> Result<Row, String> {
    let raw: RawRow = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let split = match &raw.metadata {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => return Err(format!("`metadata` must be a string (\"train\" or \"eval\"), found {other}")),
        None => String::new(),
    };
    let tools: Vec<serde_json::Value> = raw.tools.iter().map(|t| normalize_types(tool_function(t).clone())).collect();
    if let Some(i) = tools.iter().position(|t| tool_name(t).is_none()) {
        return Err(format!("tool #{i} has no `function.name`"));
    }
    let Some(last) = raw.messages.iter().rposition(|m| m.role == "assistant") else {
        return Err("no assistant message (the reference answer)".into());
    };
    let mut messages = Vec::with_capacity(last);
    for (k, m) in raw.messages[..last].iter().enumerate() {
        messages.push(message(m).map_err(|e| format!("message #{k}: {e}"))?);
    }
    let answer = &raw.messages[last];
    let mut answers = Vec::new();
    for (k, call) in answer.tool_calls.iter().flatten().enumerate() {
        let args = arguments(&call.function.arguments).map_err(|e| format!("tool call #{k} (`{}`): {e}", call.function.name))?;
        if !tools.iter().any(|t| tool_name(t) == Some(call.function.name.as_str())) {
            return Err(format!("tool call #{k} calls `{}`, which the row does not declare", call.function.name));
        }
        let params: IndexMap<String, Vec<Value>> = args.into_iter().map(|(k, v)| (k, vec![v])).collect();
        answers.push(ExpectedCall::from([(call.function.name.clone(), params)]));
    }
    let (kind, suffix) = match answers.len() {
        0 => (CheckKind::Irrelevance, "no_call"),
        1 if tools.len() == 1 => (CheckKind::Simple, "single"),
        1 => (CheckKind::Multiple, "single"),
        _ => (CheckKind::Parallel, "parallel"),
    };
    let reply = answers.is_empty().then(|| answer.content.clone().unwrap_or_default());
    let category = raw.category.as_deref().unwrap_or(&opts.category);
    let id =
        raw.id.unwrap_or_else(|| format!("{category}_{}{line_no:05}", if split.is_empty() { String::new() } else { format!("{split}_") }));
    let case = Case {
        schema: CASE_SCHEMA.into(),
        id,
        category: format!("{category}_{suffix}"),
        kind,
        messages,
        tools,
        answers,
        source: Some("mobile-actions".into()),
    };
    case.validate()?;
    Ok(Row { case, split, reply })
}

fn message(m: &RawMessage) -> Result<Message, String> {
    let role = match m.role.as_str() {
        "developer" => Role::Developer,
        "system" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        other => return Err(format!("unknown role `{other}`")),
    };
    let tool_calls = m
        .tool_calls
        .iter()
        .flatten()
        .map(|c| super::case::ToolCall {
            function: super::case::ToolCallFunction { name: c.function.name.clone(), arguments: c.function.arguments.clone() },
        })
        .collect();
    Ok(Message { role, content: m.content.clone().unwrap_or_default(), tool_calls, name: m.name.clone() })
}

/// A call's arguments: an object, or a JSON string holding one; absent or null is `{}`.
fn arguments(v: &serde_json::Value) -> Result<IndexMap<String, Value>, String> {
    let parsed;
    let obj = match v {
        serde_json::Value::Null => return Ok(IndexMap::new()),
        serde_json::Value::String(s) => {
            parsed = serde_json::from_str::<serde_json::Value>(s).map_err(|e| format!("`arguments` is a string but not JSON: {e}"))?;
            &parsed
        }
        other => other,
    };
    match Value::from_json(obj) {
        Value::Dict(d) => Ok(d),
        other => Err(format!("`arguments` must be an object, found {}", other.py_repr())),
    }
}

/// Schema type names as the scorer reads them (BFCL's: `dict`, `float`, lower-case others).
fn normalize_types(mut schema: serde_json::Value) -> serde_json::Value {
    map_types(&mut schema, &|t| match t.to_ascii_lowercase().as_str() {
        "object" => "dict".into(),
        "number" => "float".into(),
        other => other.into(),
    });
    schema
}

/// Schema type names as the format writes them: upper-case JSON-schema names.
fn official_types(mut schema: serde_json::Value) -> serde_json::Value {
    map_types(&mut schema, &official_type_name);
    schema
}

/// Rewrites every `type` of a declaration (the parameters object, its properties, list
/// items, nested objects), leaving property names alone even where one is called `type`.
fn map_types(decl: &mut serde_json::Value, f: &dyn Fn(&str) -> String) {
    fn schema(s: &mut serde_json::Value, f: &dyn Fn(&str) -> String) {
        let Some(obj) = s.as_object_mut() else { return };
        if let Some(serde_json::Value::String(t)) = obj.get_mut("type") {
            *t = f(t);
        }
        if let Some(props) = obj.get_mut("properties").and_then(|p| p.as_object_mut()) {
            props.values_mut().for_each(|p| schema(p, f));
        }
        if let Some(items) = obj.get_mut("items") {
            schema(items, f);
        }
    }
    if let Some(params) = decl.get_mut("parameters") {
        schema(params, f);
    }
}

/// One case as a Mobile Actions row (`reply` is the assistant's text when there is no call).
pub fn to_row(case: &Case, split: &str, reply: &str) -> serde_json::Value {
    let tools: Vec<serde_json::Value> =
        case.tools.iter().map(|t| serde_json::json!({"function": official_types(tool_function(t).clone())})).collect();
    let mut messages: Vec<serde_json::Value> = case.messages.iter().map(|m| serde_json::to_value(m).unwrap_or_default()).collect();
    let calls: Vec<serde_json::Value> = case
        .reference_calls()
        .iter()
        .map(|c| serde_json::json!({"function": {"name": c.name, "arguments": Value::Dict(c.args.clone()).to_json()}}))
        .collect();
    messages.push(if calls.is_empty() {
        serde_json::json!({"role": "assistant", "content": reply})
    } else {
        serde_json::json!({"role": "assistant", "tool_calls": calls})
    });
    serde_json::json!({"metadata": split, "id": case.id, "category": category_prefix(&case.category), "tools": tools, "messages": messages})
}

/// A case category without the suffix the import adds.
fn category_prefix(category: &str) -> &str {
    ["_single", "_parallel", "_no_call"].iter().find_map(|s| category.strip_suffix(s)).unwrap_or(category)
}

/// Writes cases as Mobile Actions rows, atomically.
pub fn write(path: &Path, cases: &[Case], split: &str, reply: &str) -> std::io::Result<()> {
    let mut text = String::new();
    for c in cases {
        text.push_str(&serde_json::to_string(&to_row(c, split, reply)).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    crate::fsutil::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = r#"{"metadata": "eval", "tools": [{"function": {"name": "set_alarm", "description": "Set an alarm.", "parameters": {"type": "OBJECT", "properties": {"time": {"type": "STRING", "description": "HH:MM."}, "days": {"type": "ARRAY", "items": {"type": "STRING", "enum": ["mon", "tue"]}}, "loud": {"type": "BOOLEAN"}}, "required": ["time"]}}}, {"function": {"name": "heat", "description": "Heat.", "parameters": {"type": "OBJECT", "properties": {"celsius": {"type": "NUMBER"}}, "required": ["celsius"]}}}], "messages": [{"role": "developer", "content": "Current date and time given in YYYY-MM-DDTHH:MM:SS format: 2026-03-14T09:41:00\nDay of week is Saturday\nYou are a model that can do function calling with the following functions"}, {"role": "user", "content": "Wake me at 7 and heat to 21.5"}, {"role": "assistant", "content": null, "tool_calls": [{"function": {"name": "set_alarm", "arguments": "{\"time\": \"07:00\", \"days\": [\"mon\"]}"}}, {"function": {"name": "heat", "arguments": {"celsius": 21.5}}}]}]}"#;

    fn parse(line: &str) -> Result<Row, String> {
        parse_row(line, 3, &ImportOptions { category: "app".into(), split: None })
    }

    #[test]
    fn a_row_becomes_a_case_with_ordered_answers_and_scorer_type_names() {
        let row = parse(ROW).unwrap();
        let c = &row.case;
        assert_eq!((c.id.as_str(), c.category.as_str(), c.kind), ("app_eval_00003", "app_parallel", CheckKind::Parallel));
        assert_eq!(row.split, "eval");
        assert_eq!(c.messages.len(), 2);
        assert!(
            c.messages[0]
                .content
                .starts_with("Current date and time given in YYYY-MM-DDTHH:MM:SS format: 2026-03-14T09:41:00\nDay of week is Saturday\n")
        );
        assert_eq!(c.tools[0]["parameters"]["type"], "dict");
        assert_eq!(c.tools[0]["parameters"]["properties"]["days"]["items"]["type"], "string");
        assert_eq!(c.tools[1]["parameters"]["properties"]["celsius"]["type"], "float");
        let calls = c.reference_calls();
        assert_eq!(calls.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["set_alarm", "heat"]);
        assert_eq!(calls[0].args["days"], Value::List(vec![Value::Str("mon".into())]));
        assert_eq!(calls[1].args["celsius"], Value::Float(21.5));
    }

    #[test]
    fn the_developer_text_reaches_the_prompt_before_the_declarations() {
        let row = parse(ROW).unwrap();
        let prompt = crate::prompt::render_prompt(&row.case.messages, &row.case.tools);
        assert!(prompt.starts_with(
            "<bos><start_of_turn>developer\nCurrent date and time given in YYYY-MM-DDTHH:MM:SS format: 2026-03-14T09:41:00\nDay of week is Saturday\nYou are a model that can do function calling with the following functions<start_function_declaration>declaration:set_alarm{"
        ), "{prompt}");
        assert!(prompt.contains("type:<escape>OBJECT<escape>"), "{prompt}");
        // The codec writes a missing description as an empty one, as for every other source.
        assert!(prompt.contains("celsius:{description:<escape><escape>,type:<escape>NUMBER<escape>}"), "{prompt}");
        assert!(prompt.ends_with("<start_of_turn>user\nWake me at 7 and heat to 21.5<end_of_turn>\n<start_of_turn>model\n"), "{prompt}");
    }

    #[test]
    fn export_then_import_gives_the_same_case() {
        let row = parse(ROW).unwrap();
        let line = serde_json::to_string(&to_row(&row.case, "eval", "")).unwrap();
        let again = parse(&line).unwrap();
        assert_eq!(again.case.tools, row.case.tools);
        assert_eq!(again.case.answers, row.case.answers);
        assert_eq!(again.case.messages, row.case.messages);
        assert_eq!(again.case.id, row.case.id);
        // Upper-case names on the way out, as the format writes them.
        let out: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(out["tools"][1]["function"]["parameters"]["properties"]["celsius"]["type"], "NUMBER");
    }

    #[test]
    fn a_row_without_a_call_is_a_no_call_case_that_keeps_its_reply() {
        let line = r#"{"metadata": "train", "tools": [{"function": {"name": "heat", "parameters": {"type": "OBJECT", "properties": {}}}}], "messages": [{"role": "user", "content": "Tell me a joke"}, {"role": "assistant", "content": "I can't."}]}"#;
        let row = parse(line).unwrap();
        assert_eq!((row.case.kind, row.case.category.as_str()), (CheckKind::Irrelevance, "app_no_call"));
        assert_eq!(row.reply.as_deref(), Some("I can't."));
        assert!(row.case.reference_calls().is_empty());
    }

    #[test]
    fn malformed_rows_say_what_is_wrong() {
        let cases = [
            (r#"{"tools": [], "messages": [{"role": "user", "content": "hi"}]}"#, "no assistant message"),
            (
                r#"{"tools": [{"function": {"name": "f"}}], "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}]}]}"#,
                "not JSON",
            ),
            (
                r#"{"tools": [{"function": {"name": "f"}}], "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [{"function": {"name": "g", "arguments": {}}}]}]}"#,
                "does not declare",
            ),
            (
                r#"{"tools": [{"function": {"name": "f"}}], "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": [1]}}]}]}"#,
                "must be an object",
            ),
            (
                r#"{"tools": [{"function": {"name": "f"}}], "messages": [{"role": "robot", "content": "hi"}, {"role": "assistant", "content": "x"}]}"#,
                "unknown role",
            ),
            (
                r#"{"tools": [{"function": {"name": "f"}}], "messages": [{"role": "developer", "content": "x"}, {"role": "assistant", "content": "x"}]}"#,
                "no user message",
            ),
            (r#"{"tools": "#, "EOF"),
        ];
        for (line, want) in cases {
            let err = parse(line).err().unwrap_or_else(|| panic!("accepted {line}"));
            assert!(err.contains(want), "{line}: {err}");
        }
    }

    #[test]
    fn read_names_the_file_and_line_of_a_bad_row_and_filters_a_split() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.jsonl");
        let train = ROW.replace("\"eval\"", "\"train\"");
        std::fs::write(&path, format!("{ROW}\n\n{train}\n")).unwrap();
        let eval = read(&path, &ImportOptions { category: "app".into(), split: Some("eval".into()) }).unwrap();
        assert_eq!(eval.len(), 1);
        std::fs::write(&path, format!("{ROW}\n{{\"tools\": 1}}\n")).unwrap();
        let err = read(&path, &ImportOptions::default()).unwrap_err().to_string();
        assert!(err.contains("rows.jsonl:2:"), "{err}");
        assert!(sniff(&path));
    }
}
