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
    check_with(case, calls, equal)
}

/// The `normalized` tier, reported beside exact match (exact stays the verdict): strings
/// compared with case, surrounding whitespace and surrounding punctuation folded, and
/// date-times by the instant they name (`2026-03-14T09:00:00`, `2026-03-14 09:00` and
/// `2026-03-14T09:00` are one); numbers and the rest as in exact match.
pub fn check_normalized(case: &AnswerKey, calls: &[Call]) -> Check {
    check_with(case, calls, equal_normalized)
}

fn check_with(case: &AnswerKey, calls: &[Call], equal: fn(&Value, &Value) -> bool) -> Check {
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
        if let Some(problem) = args_problem(&got.args, &want.args, equal) {
            return Check::fail("exact:wrong_arguments", format!("Call #{i} (`{}`): {problem}", want.name));
        }
    }
    Check::pass()
}

fn args_problem(
    got: &indexmap::IndexMap<String, Value>,
    want: &indexmap::IndexMap<String, Value>,
    equal: fn(&Value, &Value) -> bool,
) -> Option<String> {
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

/// Value equality of the `normalized` tier (see `check_normalized`).
pub fn equal_normalized(a: &Value, b: &Value) -> bool {
    use Value::*;
    match (a, b) {
        (Str(x), Str(y)) => match (date_time(x), date_time(y)) {
            (Some(p), Some(q)) => p == q,
            _ => fold(x) == fold(y),
        },
        (List(x), List(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal_normalized(p, q)),
        (Dict(x), Dict(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal_normalized(v, w))),
        _ => equal(a, b),
    }
}

fn fold(s: &str) -> String {
    let trimmed = s.trim().trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace());
    trimmed.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// `YYYY-MM-DD[T or space]HH:MM[:SS]` as (date, minutes of the day, seconds).
fn date_time(s: &str) -> Option<(String, u32, u32)> {
    let s = s.trim();
    let (date, time) = s.split_once(['T', ' ']).unwrap_or((s, "00:00"));
    let d = date.as_bytes();
    if d.len() != 10 || d[4] != b'-' || d[7] != b'-' || !date.chars().filter(|c| *c != '-').all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut parts = time.split(':');
    let h: u32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let sec: u32 = parts.next().map_or(Some(0), |x| x.parse().ok())?;
    if parts.next().is_some() || h > 23 || m > 59 || sec > 59 {
        return None;
    }
    Some((date.to_string(), h * 60 + m, sec))
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
    fn the_normalized_tier_folds_what_exact_match_keeps() {
        assert!(equal_normalized(&s(" Gym."), &s("gym")));
        assert!(equal_normalized(&s("Workout  Mix"), &s("workout mix")));
        assert!(equal_normalized(&s("2026-03-14 09:00"), &s("2026-03-14T09:00:00")));
        assert!(equal_normalized(&Value::Int(21), &Value::Float(21.0)));
        assert!(!equal_normalized(&s("2026-03-14T09:00:00"), &s("2026-03-14T21:00:00")));
        assert!(!equal_normalized(&s("workout"), &s("workout mix")));
        assert!(!equal_normalized(&s("1"), &Value::Int(1)));
        let want = call("a", &[("label", s("Gym")), ("start", s("2026-03-14T09:00:00"))]);
        let got = call("a", &[("label", s("gym")), ("start", s("2026-03-14T09:00"))]);
        let c = case(CheckKind::Multiple, std::slice::from_ref(&want));
        assert!(!check(&c, std::slice::from_ref(&got)).valid);
        assert!(check_normalized(&c, &[got]).valid);
    }

    #[test]
    fn no_call_rows_pass_only_without_a_call() {
        let c = case(CheckKind::Irrelevance, &[]);
        assert!(check(&c, &[]).valid);
        assert_eq!(check(&c, &[call("a", &[])]).error_type.as_deref(), Some("exact:unexpected_call"));
    }
}
