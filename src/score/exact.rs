//! Exact match, as Google's notebooks score Mobile Actions: the ordered list of function
//! names must equal the reference's, and each call's arguments must equal the reference
//! call's as a key-sorted map.
//!
//! How values compare (documented in README): strings byte for byte (no case folding, no
//! trimming, unlike BFCL's standardisation); numbers by numeric value, so `20` equals
//! `20.0` (the call syntax writes both forms and a JSON reference cannot tell them apart);
//! booleans only equal booleans (`true` is not `1`); lists element by element, in order;
//! objects by their key sets and values, keys in any order; `null` equals `null`.
//! The reference is `reference_calls` (first accepted value per parameter).

use super::AnswerKey;
use super::Check;
use crate::codec::{Call, Value};
use crate::dataset::CheckKind;
use crate::dataset::case::reference_calls;

pub fn check(case: &AnswerKey, calls: &[Call]) -> Check {
    let reference = reference_calls(&case.answers);
    match case.kind {
        CheckKind::Relevance if calls.is_empty() => return Check::fail("exact:no_call", "A call was expected.".into()),
        CheckKind::Relevance => return Check::pass(),
        _ => {}
    }
    if reference.is_empty() && !calls.is_empty() {
        return Check::fail("exact:unexpected_call", format!("No call was expected; the output calls `{}`.", calls[0].name));
    }
    if calls.len() != reference.len() {
        return Check::fail("exact:wrong_count", format!("Expected {} call(s), got {}.", reference.len(), calls.len()));
    }
    for (i, (got, want)) in calls.iter().zip(&reference).enumerate() {
        if got.name != want.name {
            return Check::fail("exact:wrong_func_name", format!("Call #{i}: expected `{}`, got `{}`.", want.name, got.name));
        }
        if let Some(problem) = args_problem(&got.args, &want.args) {
            return Check::fail("exact:wrong_arguments", format!("Call #{i} (`{}`): {problem}", want.name));
        }
    }
    Check::pass()
}

fn args_problem(got: &indexmap::IndexMap<String, Value>, want: &indexmap::IndexMap<String, Value>) -> Option<String> {
    let mut missing: Vec<&str> = want.keys().filter(|k| !got.contains_key(*k)).map(String::as_str).collect();
    let mut extra: Vec<&str> = got.keys().filter(|k| !want.contains_key(*k)).map(String::as_str).collect();
    missing.sort();
    extra.sort();
    if !missing.is_empty() || !extra.is_empty() {
        return Some(format!("missing {missing:?}, unexpected {extra:?}."));
    }
    let mut keys: Vec<&String> = want.keys().collect();
    keys.sort();
    keys.into_iter()
        .find(|k| !equal(&got[*k], &want[*k]))
        .map(|k| format!("`{k}` is {}, expected {}.", got[k].py_repr(), want[k].py_repr()))
}

/// Value equality as documented above.
pub fn equal(a: &Value, b: &Value) -> bool {
    use Value::*;
    match (a, b) {
        (Null, Null) => true,
        (Bool(x), Bool(y)) => x == y,
        (Int(x), Int(y)) => x == y,
        (Int(x), Float(y)) | (Float(y), Int(x)) => (*x as f64) == *y,
        (Float(x), Float(y)) => x == y,
        (Str(x), Str(y)) => x == y,
        (List(x), List(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q)),
        (Dict(x), Dict(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w))),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ExpectedCall;
    use crate::score::tool_schema::ToolSchema;
    use indexmap::IndexMap;

    fn call(name: &str, args: &[(&str, Value)]) -> Call {
        Call { name: name.into(), args: args.iter().map(|(k, v)| (k.to_string(), v.clone())).collect() }
    }

    fn case(kind: CheckKind, reference: &[Call]) -> AnswerKey {
        let answers = reference
            .iter()
            .map(|c| {
                ExpectedCall::from([(c.name.clone(), c.args.iter().map(|(k, v)| (k.clone(), vec![v.clone()])).collect::<IndexMap<_, _>>())])
            })
            .collect();
        let tool = |name: &str| ToolSchema { name: Some(name.into()), ..ToolSchema::default() };
        AnswerKey { id: "t".into(), category: "app".into(), kind, tools: vec![tool("a"), tool("b")], answers }
    }

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    #[test]
    fn order_of_calls_matters_and_key_order_does_not() {
        let a = call("a", &[("x", Value::Int(1)), ("y", s("q"))]);
        let b = call("b", &[]);
        let c = case(CheckKind::Parallel, &[a.clone(), b.clone()]);
        assert!(check(&c, &[a.clone(), b.clone()]).valid);
        let swapped_keys = call("a", &[("y", s("q")), ("x", Value::Int(1))]);
        assert!(check(&c, &[swapped_keys, b.clone()]).valid);
        let wrong_order = check(&c, &[b.clone(), a.clone()]);
        assert_eq!(wrong_order.error_type.as_deref(), Some("exact:wrong_func_name"));
    }

    #[test]
    fn a_missing_or_extra_call_or_argument_fails() {
        let a = call("a", &[("x", Value::Int(1))]);
        let c = case(CheckKind::Multiple, std::slice::from_ref(&a));
        assert_eq!(check(&c, &[]).error_type.as_deref(), Some("exact:wrong_count"));
        assert_eq!(check(&c, &[a.clone(), a.clone()]).error_type.as_deref(), Some("exact:wrong_count"));
        let extra = call("a", &[("x", Value::Int(1)), ("z", Value::Bool(true))]);
        assert_eq!(check(&c, &[extra]).error_type.as_deref(), Some("exact:wrong_arguments"));
        assert_eq!(check(&c, &[call("a", &[])]).error_type.as_deref(), Some("exact:wrong_arguments"));
    }

    #[test]
    fn values_compare_as_documented() {
        assert!(equal(&Value::Int(20), &Value::Float(20.0)));
        assert!(!equal(&Value::Int(20), &Value::Float(20.5)));
        assert!(!equal(&Value::Bool(true), &Value::Int(1)));
        assert!(!equal(&s("Gym"), &s("gym")));
        assert!(!equal(&s("gym "), &s("gym")));
        assert!(!equal(&Value::List(vec![s("a"), s("b")]), &Value::List(vec![s("b"), s("a")])));
        let d1 = Value::Dict([("k".to_string(), s("v")), ("n".to_string(), Value::Null)].into_iter().collect());
        let d2 = Value::Dict([("n".to_string(), Value::Null), ("k".to_string(), s("v"))].into_iter().collect());
        assert!(equal(&d1, &d2));
    }

    #[test]
    fn no_call_rows_pass_only_without_a_call() {
        let c = case(CheckKind::Irrelevance, &[]);
        assert!(check(&c, &[]).valid);
        assert_eq!(check(&c, &[call("a", &[])]).error_type.as_deref(), Some("exact:unexpected_call"));
    }
}
