//! BFCL's `type_checker` (Python rules): exact `type(x) ==` tests, one level of nesting, and
//! the "variable" case where the accepted answers have a different type than declared.

use super::Check;
use crate::codec::value::{PyType, Value};

/// BFCL's `PYTHON_TYPE_MAPPING` from declared type names to Python types.
pub fn python_type(declared: &str) -> Option<PyType> {
    Some(match declared {
        "string" | "any" => PyType::Str,
        "integer" => PyType::Int,
        "float" => PyType::Float,
        "boolean" => PyType::Bool,
        "array" | "tuple" => PyType::List,
        "dict" => PyType::Dict,
        _ => return None,
    })
}

/// The type of the first accepted answer that is not `""`.
fn possible_answer_type(possible: &[Value]) -> Option<PyType> {
    possible.iter().find(|a| !a.is_empty_str()).map(Value::py_type)
}

pub struct TypeCheck {
    pub check: Check,
    pub is_variable: bool,
}

pub fn type_checker(param: &str, value: &Value, possible: &[Value], declared: &str, expected: PyType, nested: Option<PyType>) -> TypeCheck {
    let answer_type = possible_answer_type(possible);
    let is_variable = answer_type.is_some_and(|t| t != expected);
    let mut result = Check::fail("type_error:simple", String::new());
    if value.py_type() == expected {
        let Some(nested) = nested else {
            return TypeCheck { check: Check::pass(), is_variable };
        };
        for answer in possible {
            let mut ok = true;
            if let Value::List(answer_items) = answer {
                for item in value.py_iter() {
                    let inner = type_checker(param, &item, answer_items, nested.name(), nested, None);
                    if !inner.check.valid {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                return TypeCheck { check: Check::pass(), is_variable };
            }
        }
        result = Check::fail(
            "type_error:nested",
            format!(
                "Nested type checking failed for parameter '{param}'. Expected outer type {declared} with inner type {}. Parameter value: {}.",
                nested.name(),
                value.py_repr()
            ),
        );
    }
    // A value of the answers' type is a "variable": accepted here, compared by value later.
    if answer_type.is_some_and(|t| value.py_type() == t) {
        return TypeCheck { check: result_with_variable(result), is_variable: true };
    }
    TypeCheck {
        check: Check::fail(
            "type_error:simple",
            format!(
                "Incorrect type for parameter '{param}'. Expected type {declared}, got {}. Parameter value: {}.",
                value.py_type().name(),
                value.py_repr()
            ),
        ),
        is_variable: false,
    }
}

/// BFCL returns its running `result` here: valid unless the nested check already failed.
fn result_with_variable(result: Check) -> Check {
    if result.error_type.as_deref() == Some("type_error:nested") { result } else { Check::pass() }
}
