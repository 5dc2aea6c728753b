//! BFCL's value checkers: string standardisation, strings, lists, dicts, lists of dicts.

use indexmap::IndexMap;

use super::Check;
use crate::codec::Value;

/// BFCL's `standardize_string`: drop spaces and `,./-_*^`, lowercase, `'` -> `"`.
pub fn standardize(s: &str) -> String {
    s.chars().filter(|c| !matches!(c, ' ' | ',' | '.' | '/' | '-' | '_' | '*' | '^')).collect::<String>().to_lowercase().replace('\'', "\"")
}

fn standardize_value(v: &Value) -> Value {
    match v {
        Value::Str(s) => Value::Str(standardize(s)),
        other => other.clone(),
    }
}

fn accepted_list(possible: &[Value]) -> String {
    Value::List(possible.to_vec()).py_repr()
}

pub fn string_checker(param: &str, output: &str, possible: &[Value]) -> Check {
    let std_out = Value::Str(standardize(output));
    let std_possible: Vec<Value> = possible.iter().filter(|p| matches!(p, Value::Str(_))).map(standardize_value).collect();
    if !std_out.py_in(&std_possible) {
        return Check::fail(
            "value_error:string",
            format!(
                "Invalid value for parameter '{param}': {}. Expected one of {}. Case insensitive.",
                Value::Str(output.into()).py_repr(),
                accepted_list(possible)
            ),
        );
    }
    Check::pass()
}

pub fn list_checker(param: &str, output: &[Value], possible: &[Value]) -> Check {
    let std_out = Value::List(output.iter().map(standardize_value).collect());
    let std_possible: Vec<Value> = possible.iter().map(|p| Value::List(p.py_iter().iter().map(standardize_value).collect())).collect();
    if !std_out.py_in(&std_possible) {
        return Check::fail(
            "value_error:list/tuple",
            format!(
                "Invalid value for parameter '{param}': {}. Expected one of {}.",
                Value::List(output.to_vec()).py_repr(),
                accepted_list(possible)
            ),
        );
    }
    Check::pass()
}

/// BFCL's `dict_checker`: each accepted dict in turn; the last failure's type is reported.
pub fn dict_checker(output: &Value, possible: &[Value]) -> Check {
    let empty = IndexMap::new();
    let output = match output {
        Value::Dict(d) => d,
        _ => &empty,
    };
    let mut result = Check::fail("dict_checker:unclear", String::new());
    for answer in possible {
        if answer.is_empty_str() {
            continue;
        }
        result = Check::fail("dict_checker:unclear", String::new());
        let mut ok = true;
        let answer_map = match answer {
            Value::Dict(d) => d,
            _ => &empty,
        };
        for (key, value) in output {
            let Some(accepted) = answer_map.get(key) else {
                result = Check::fail("value_error:dict_key", format!("Unexpected dict key parameter: '{key}'."));
                ok = false;
                break;
            };
            let std_accepted: Vec<Value> = accepted.py_iter().iter().map(standardize_value).collect();
            if !standardize_value(value).py_in(&std_accepted) {
                result = Check::fail(
                    "value_error:dict_value",
                    format!(
                        "Invalid value for parameter '{key}': {}. Expected one of {}.",
                        value.py_repr(),
                        Value::List(std_accepted).py_repr()
                    ),
                );
                ok = false;
                break;
            }
        }
        for (key, accepted) in answer_map {
            if !output.contains_key(key) && !Value::Str(String::new()).py_in(&accepted.py_iter()) {
                result = Check::fail("value_error:dict_key", format!("Missing dict key parameter: '{key}'."));
                ok = false;
                break;
            }
        }
        if ok {
            return Check::pass();
        }
    }
    result
}

/// BFCL's `list_dict_checker`: same length, element-wise dict checks, per accepted list.
pub fn list_dict_checker(output: &[Value], possible: &[Value]) -> Check {
    let mut result = Check::fail("list_dict_checker:unclear", String::new());
    for answer in possible {
        let items = answer.py_iter();
        if output.len() != items.len() {
            result = Check::fail("value_error:list_dict_count", "Wrong number of dictionaries in the list.".into());
            continue;
        }
        let mut ok = true;
        for (o, a) in output.iter().zip(&items) {
            result = dict_checker(o, std::slice::from_ref(a));
            if !result.valid {
                ok = false;
                break;
            }
        }
        if ok {
            return Check::pass();
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardize_matches_bfcl() {
        assert_eq!(standardize("April 1, 2024"), standardize("april 1,2024"));
        assert_eq!(standardize("New-York_City."), "newyorkcity");
        assert_eq!(standardize("it's"), "it\"s");
        assert_ne!(standardize("Paris"), standardize("Paris!"));
    }
}
