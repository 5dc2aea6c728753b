//! BFCL's AST checker (`ast_checker.py`): simple, multiple and parallel (order-free) calls.

use indexmap::IndexMap;

use super::tool_schema::ToolSchema;
use super::types::{python_type, type_checker};
use super::values::{dict_checker, list_checker, list_dict_checker, string_checker};
use super::{Check, ScoreOptions};
use crate::codec::Call;
use crate::codec::value::{PyType, Value};
use crate::dataset::case::ExpectedCall;

/// The expected call's function name and its accepted values per parameter.
fn expected_parts(expected: &ExpectedCall) -> (&str, &IndexMap<String, Vec<Value>>) {
    let (name, params) = expected.first().expect("answers are validated to name one function");
    (name.as_str(), params)
}

fn find_tool<'a>(tools: &'a [ToolSchema], name: &str) -> Option<&'a ToolSchema> {
    tools.iter().find(|t| t.name.as_deref() == Some(name))
}

/// BFCL's `simple_function_checker`: one call against one declaration and its answers.
pub fn simple_function_checker(tool: Option<&ToolSchema>, call: &Call, expected: &ExpectedCall, opts: &ScoreOptions) -> Check {
    let Some(tool) = tool else {
        return Check::fail("simple_function_checker:missing_declaration", "The expected function is not among the tools.".into());
    };
    let (_, possible) = expected_parts(expected);
    let mut func_name = tool.name.clone().unwrap_or_default();

    if opts.underscore_to_dot && func_name.contains('.') {
        func_name = func_name.replace('.', "_");
    }
    if call.name != func_name {
        return Check::fail("simple_function_checker:wrong_func_name", format!("Function name '{func_name}' not found in model output."));
    }
    for param in &tool.required {
        if !call.args.contains_key(param) {
            return Check::fail("simple_function_checker:missing_required", format!("Missing required parameter: '{param}'."));
        }
    }
    for (param, value) in &call.args {
        let (Some(detail), Some(accepted)) = (tool.params.get(param), possible.get(param)) else {
            return Check::fail("simple_function_checker:unexpected_param", format!("Unexpected parameter: '{param}'."));
        };
        let declared = detail.declared.as_str();
        let Some(expected_type) = python_type(declared) else {
            return Check::fail("type_error:unknown_declared_type", format!("Parameter '{param}' declares unknown type '{declared}'."));
        };
        let nested = if matches!(declared, "array" | "tuple") {
            let item_type = detail.item_type.as_str();
            match python_type(item_type) {
                Some(t) => Some(t),
                None => {
                    return Check::fail(
                        "type_error:unknown_declared_type",
                        format!("Parameter '{param}' declares unknown item type '{item_type}'."),
                    );
                }
            }
        } else {
            None
        };
        // Python's auto conversion from int to float.
        let value = match (declared, value) {
            ("float", Value::Int(i)) => Value::Float(*i as f64),
            _ => value.clone(),
        };
        let tc = type_checker(param, &value, accepted, declared, expected_type, nested);
        if !tc.check.valid {
            return tc.check;
        }
        if !tc.is_variable {
            let special = match (expected_type, nested, &value) {
                (PyType::Dict, _, v) => Some(dict_checker(v, accepted)),
                (PyType::List, Some(PyType::Dict), Value::List(items)) => Some(list_dict_checker(items, accepted)),
                (PyType::Str, _, Value::Str(s)) => Some(string_checker(param, s, accepted)),
                (PyType::List, _, Value::List(items)) => Some(list_checker(param, items, accepted)),
                _ => None,
            };
            if let Some(check) = special {
                if !check.valid {
                    return check;
                }
                continue;
            }
        }
        if !value.py_in(accepted) {
            return Check::fail(
                "value_error:others",
                format!(
                    "Invalid value for parameter '{param}': {}. Expected one of {}.",
                    value.py_repr(),
                    Value::List(accepted.clone()).py_repr()
                ),
            );
        }
    }
    let empty_str = Value::Str(String::new());
    for (param, accepted) in possible {
        if !call.args.contains_key(param) && !empty_str.py_in(accepted) {
            return Check::fail(
                "simple_function_checker:missing_optional",
                format!("Optional parameter '{param}' not provided and not marked as optional."),
            );
        }
    }
    Check::pass()
}

/// Simple category: exactly one call, checked against the first declared tool.
pub fn simple(tools: &[ToolSchema], calls: &[Call], answers: &[ExpectedCall], opts: &ScoreOptions) -> Check {
    if calls.len() != 1 {
        return Check::fail("simple_function_checker:wrong_count", "Wrong number of functions.".into());
    }
    let Some(expected) = answers.first() else {
        return Check::fail("simple_function_checker:missing_answer", "The case has no accepted answer.".into());
    };
    simple_function_checker(tools.first(), &calls[0], expected, opts)
}

/// Multiple category: one call, checked against the expected function's declaration.
pub fn multiple(tools: &[ToolSchema], calls: &[Call], answers: &[ExpectedCall], opts: &ScoreOptions) -> Check {
    if calls.len() != answers.len() {
        return Check::fail("multiple_function_checker:wrong_count", "Wrong number of functions.".into());
    }
    let Some(expected) = answers.first() else { return Check::pass() };
    let (name, _) = expected_parts(expected);
    simple_function_checker(find_tool(tools, name), &calls[0], expected, opts)
}

/// Parallel categories: as many calls as answers, each answer matched by a distinct call,
/// in any order (greedy, first match wins, as BFCL does).
pub fn parallel(tools: &[ToolSchema], calls: &[Call], answers: &[ExpectedCall], opts: &ScoreOptions) -> Check {
    if calls.len() != answers.len() {
        return Check::fail("parallel_function_checker_no_order:wrong_count", "Wrong number of functions.".into());
    }
    let mut matched = vec![false; calls.len()];
    for (i, expected) in answers.iter().enumerate() {
        let (name, _) = expected_parts(expected);
        let tool = find_tool(tools, name);
        let found = (0..calls.len()).filter(|&j| !matched[j]).find(|&j| simple_function_checker(tool, &calls[j], expected, opts).valid);
        match found {
            Some(j) => matched[j] = true,
            None => {
                let considered: Vec<String> = (0..calls.len()).filter(|&j| !matched[j]).map(|j| j.to_string()).collect();
                return Check::fail(
                    "parallel_function_checker_no_order:cannot_find_match",
                    format!(
                        "Could not find a matching function among index [{}] of model output for index {i} of possible answers.",
                        considered.join(", ")
                    ),
                );
            }
        }
    }
    Check::pass()
}
