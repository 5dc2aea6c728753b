use indexmap::IndexMap;

use super::LossKind;
use crate::codec::{Call, Value};

fn call(name: &str, args: &[(&str, Value)]) -> Call {
    Call { name: name.into(), args: args.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<IndexMap<_, _>>() }
}

#[test]
fn loss_kinds_name_the_first_difference() {
    let timer = call("start_timer", &[("label", Value::Str("tea".into())), ("minutes", Value::Int(25))]);
    let two = vec![timer.clone(), timer.clone()];
    assert_eq!(LossKind::of(std::slice::from_ref(&timer), &[]), LossKind::NoCalls);
    assert_eq!(LossKind::of(&two, std::slice::from_ref(&timer)), LossKind::LostCall);
    assert_eq!(LossKind::of(std::slice::from_ref(&timer), &two), LossKind::ExtraCall);
    let renamed = call("timer", &[("label", Value::Str("tea".into())), ("minutes", Value::Int(25))]);
    assert_eq!(LossKind::of(std::slice::from_ref(&timer), &[renamed]), LossKind::NameChanged);
    let dropped = call("start_timer", &[("label", Value::Str("tea".into()))]);
    assert_eq!(LossKind::of(std::slice::from_ref(&timer), &[dropped]), LossKind::DroppedArgument);
    let typed = call("start_timer", &[("label", Value::Str("tea".into())), ("minutes", Value::Str("25".into()))]);
    assert_eq!(LossKind::of(std::slice::from_ref(&timer), &[typed]), LossKind::TypeChanged);
    let list = call("add", &[("items", Value::List(vec![Value::Str("a".into()), Value::Str("b".into())]))]);
    let cut = call("add", &[("items", Value::List(vec![Value::Str("a".into())]))]);
    assert_eq!(LossKind::of(&[list], &[cut]), LossKind::TruncatedValue);
}
