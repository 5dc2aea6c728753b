//! Scoring: BFCL's AST rules (or exact match) on the calls BFCL's decoder sees, plus format
//! diagnostics.

pub mod answer_key;
pub mod checker;
pub mod exact;
pub mod tool_schema;
pub mod types;
pub mod values;

pub use answer_key::AnswerKey;

use serde::{Deserialize, Serialize};

use crate::codec::{self, Call};
use crate::dataset::CheckKind;
use crate::runtime::RuntimeParser;

/// The error type fgbench adds for output the strict parser rejects.
pub const PARSE_ERROR: &str = "parse_error";

/// One checker's answer: valid, or an error type (BFCL's strings) and message.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub valid: bool,
    pub error_type: Option<String>,
    pub error: Option<String>,
}

impl Check {
    pub fn pass() -> Check {
        Check { valid: true, error_type: None, error: None }
    }

    pub fn fail(error_type: &str, error: String) -> Check {
        Check { valid: false, error_type: Some(error_type.into()), error: Some(error) }
    }
}

/// Which rules judge a call: recorded in every manifest; `compare` and `gate` refuse runs
/// judged by different ones unless told to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scorer {
    /// BFCL's AST checker (string standardisation, accepted-value lists, parallel calls in
    /// any order).
    #[default]
    Bfcl,
    /// Exact match as Google scores Mobile Actions: function names in order, arguments equal
    /// as values (README: "How scoring works").
    Exact,
}

impl Scorer {
    pub fn name(self) -> &'static str {
        match self {
            Scorer::Bfcl => "bfcl",
            Scorer::Exact => "exact",
        }
    }
}

/// Scoring settings that change verdicts (recorded with the results).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreOptions {
    /// The rules (absent in manifests written before there was a choice: BFCL's).
    #[serde(default)]
    pub scorer: Scorer,
    /// BFCL's `underscore_to_dot` model flag: compare dotted names as `a_b`. False for
    /// FunctionGemma, whose format allows dots in names.
    #[serde(default)]
    pub underscore_to_dot: bool,
    /// Whose parser reads the output into calls: fgbench's (BFCL's decoder, the default and
    /// absent from manifests), or a deployment runtime's, to score a run as it would see it.
    #[serde(default, skip_serializing_if = "RuntimeParser::is_default")]
    pub parser: RuntimeParser,
}

impl ScoreOptions {
    /// What judged a run, as `compare` shows it: the scorer, and the parser when it is a
    /// runtime's.
    pub fn label(&self) -> String {
        match self.parser {
            RuntimeParser::Fgbench => self.scorer.name().to_string(),
            p => format!("{} (parsed as {} does)", self.scorer.name(), p.name()),
        }
    }
}

/// The shape of an output, independent of whether it is right.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputShape {
    /// One or more well-formed calls.
    Calls,
    /// No call and no text.
    Empty,
    /// Text only: prose instead of a call.
    Prose,
    /// Something the strict parser rejects.
    Malformed,
}

/// The verdict on one output, with what the scorer saw.
#[derive(Clone, Debug)]
pub struct Scored {
    pub check: Check,
    /// The calls BFCL's decoder sees (what the verdict is about).
    pub calls: Vec<Call>,
    pub shape: OutputShape,
    /// The strict parser's complaint, with its byte offset.
    pub parse_error: Option<String>,
}

/// Scores a raw completion against a case: decode as BFCL does, check with BFCL's rules,
/// and report malformed output as `parse_error` when it is also wrong.
pub fn score_output(case: &AnswerKey, output: &str, opts: &ScoreOptions) -> Scored {
    let (calls, shape, parse_error) = analyse_output(output, opts.parser);
    let mut check = check_calls(case, &calls, opts);
    if !check.valid && shape == OutputShape::Malformed {
        check.error_type = Some(PARSE_ERROR.into());
    }
    Scored { check, calls, shape, parse_error }
}

/// What an output is without a case to judge it by: the calls as `parser` reads them
/// (fgbench's: BFCL's decoder), its shape, and the strict parser's complaint (the shape and
/// complaint describe the text, whoever reads it).
pub fn analyse_output(output: &str, parser: RuntimeParser) -> (Vec<Call>, OutputShape, Option<String>) {
    let calls = parser.decode(output);
    let (shape, parse_error) = match codec::parse(output) {
        Ok(p) if !p.calls.is_empty() => (OutputShape::Calls, None),
        Ok(p) if p.text_before.trim().is_empty() => (OutputShape::Empty, None),
        Ok(_) => (OutputShape::Prose, None),
        Err(e) => (OutputShape::Malformed, Some(e.to_string())),
    };
    (calls, shape, parse_error)
}

/// The verdict for decoded calls: the chosen scorer, routed by the case's kind.
pub fn check_calls(case: &AnswerKey, calls: &[Call], opts: &ScoreOptions) -> Check {
    if opts.scorer == Scorer::Exact {
        return exact::check(case, calls);
    }
    match case.kind {
        CheckKind::Irrelevance if calls.is_empty() => Check::pass(),
        CheckKind::Irrelevance => {
            Check::fail("irrelevance_error:decoder_success", "Valid syntax. Successfully decode AST when it should not.".into())
        }
        CheckKind::Relevance if calls.is_empty() => {
            Check::fail("relevance_error:decoder_failed", "Invalid syntax. Failed to decode AST when it should have.".into())
        }
        CheckKind::Relevance => Check::pass(),
        CheckKind::Simple => checker::simple(&case.tools, calls, &case.answers, opts),
        CheckKind::Multiple => checker::multiple(&case.tools, calls, &case.answers, opts),
        CheckKind::Parallel => checker::parallel(&case.tools, calls, &case.answers, opts),
    }
}
