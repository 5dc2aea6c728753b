//! What scoring needs of a case: its id, category and kind, the tools' schemas and the
//! accepted answers. `fgbench score` reads only this from a case file; everything else
//! builds it from a loaded `Case`.

use std::borrow::Cow;
use std::path::Path;

use serde::Deserialize;

use super::tool_schema::ToolSchema;
use crate::dataset::case::CaseParts;
use crate::dataset::{CASE_SCHEMA, Case, CheckKind, DatasetError, ExpectedCall, Role, check_case_line, parse_case_line};

#[derive(Clone, Debug, PartialEq)]
pub struct AnswerKey {
    pub id: String,
    pub category: String,
    pub kind: CheckKind,
    pub tools: Vec<ToolSchema>,
    pub answers: Vec<ExpectedCall>,
}

impl From<&Case> for AnswerKey {
    fn from(c: &Case) -> AnswerKey {
        AnswerKey {
            id: c.id.clone(),
            category: c.category.clone(),
            kind: c.kind,
            tools: c.tools.iter().map(ToolSchema::from_value).collect(),
            answers: c.answers.clone(),
        }
    }
}

impl AnswerKey {
    /// One line of a case file read as an answer key, with every check `Dataset::load`
    /// makes of a case. Only the fields scoring needs are kept, and tool descriptions are
    /// skipped unparsed (so are the fields scoring does not read, unchecked); a line this
    /// reading refuses is read again as a whole case, so the errors said are `load`'s.
    pub fn parse_line(path: &Path, line: usize, text: &str) -> Result<AnswerKey, DatasetError> {
        let lean = match serde_json::from_str::<KeyLine>(text) {
            Ok(k) if k.schema == CASE_SCHEMA => k,
            _ => return parse_case_line(path, line, text).map(|c| AnswerKey::from(&c)),
        };
        let parts = CaseParts {
            id: &lean.id,
            kind: lean.kind,
            tool_count: lean.tools.len(),
            unnamed_tool: lean.tools.iter().position(|t| t.name.is_none()),
            has_user_message: lean.messages.iter().any(|m| m.role == Role::User),
            answers: &lean.answers,
        };
        check_case_line(path, line, &parts)?;
        Ok(AnswerKey { id: lean.id, category: lean.category, kind: lean.kind, tools: lean.tools, answers: lean.answers })
    }
}

/// A case line as scoring reads it (the fields of `Case` it needs, typed as there).
#[derive(Deserialize)]
struct KeyLine<'a> {
    #[serde(borrow)]
    schema: Cow<'a, str>,
    id: String,
    category: String,
    kind: CheckKind,
    #[serde(borrow)]
    messages: Vec<MessageLine<'a>>,
    tools: Vec<ToolSchema>,
    #[serde(default)]
    answers: Vec<ExpectedCall>,
}

#[derive(Deserialize)]
struct MessageLine<'a> {
    role: Role,
    #[serde(default, borrow)]
    #[allow(dead_code)]
    content: Cow<'a, str>,
}
