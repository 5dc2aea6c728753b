//! Property tests of the codec: render-then-parse is the identity, and neither the strict
//! parser nor the BFCL decoder panics or hangs on any input.

use fgbench::codec::tokens::{CONTROL_TOKENS, END_CALL, ESCAPE, START_CALL};
use fgbench::codec::{Call, Value, bfcl_decode, parse, render_call};
use indexmap::IndexMap;
use proptest::prelude::*;

fn ident() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,12}"
}

/// Strings the format can carry: anything but the `<escape>` marker itself.
fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[ -~]{0,20}", "\\PC{0,12}", Just("a, b: {c} [d] <e> \"f\" 'g'\nh".to_string()), Just("grüße 你好 🚀".to_string()),]
        .prop_filter("no escape marker", |s| !s.contains(ESCAPE) && !s.contains(END_CALL))
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (-1e12f64..1e12).prop_map(Value::Float),
        text().prop_map(Value::Str),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            prop::collection::vec((ident(), inner), 0..4).prop_map(|kv| Value::Dict(kv.into_iter().collect())),
        ]
    })
}

fn call() -> impl Strategy<Value = Call> {
    (("[a-z][a-z0-9_]{0,8}(\\.[a-z][a-z0-9_]{0,8})?"), prop::collection::vec((ident(), value()), 0..5))
        .prop_map(|(name, kv)| Call { name, args: kv.into_iter().collect::<IndexMap<_, _>>() })
}

/// Structural equality with floats compared by value (the render keeps full precision).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::List(x), Value::List(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Value::Dict(x), Value::Dict(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w))),
        _ => a == b,
    }
}

fn same_call(a: &Call, b: &Call) -> bool {
    same(&Value::Dict(a.args.clone()), &Value::Dict(b.args.clone())) && a.name == b.name
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn render_then_parse_is_identity(calls in prop::collection::vec(call(), 1..4), before in "[a-zA-Z .!]{0,10}") {
        let text = format!("{before}{}", calls.iter().map(render_call).collect::<String>());
        let parsed = parse(&text).unwrap();
        prop_assert_eq!(parsed.text_before, before);
        prop_assert_eq!(parsed.calls.len(), calls.len());
        for (got, want) in parsed.calls.iter().zip(&calls) {
            prop_assert!(same_call(got, want), "{:?} != {:?}", got, want);
        }
        // BFCL's decoder reads well-formed output the same way.
        let decoded = bfcl_decode::decode(&text);
        prop_assert_eq!(decoded.len(), calls.len());
        for (got, want) in decoded.iter().zip(&calls) {
            prop_assert!(same_call(got, want), "bfcl decode: {:?} != {:?}", got, want);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let s = String::from_utf8_lossy(&bytes);
        let _ = parse(&s);
        let _ = bfcl_decode::decode(&s);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        let _ = parse(&s);
        let _ = bfcl_decode::decode(&s);
    }

    #[test]
    fn token_soup_never_panics(parts in prop::collection::vec(prop_oneof![
        prop::sample::select(CONTROL_TOKENS.to_vec()).prop_map(str::to_string),
        Just("call:".to_string()),
        prop::sample::select(vec!["{", "}", "[", "]", ":", ",", "1", "-", "e", "x", " ", "true", "null"]).prop_map(str::to_string),
    ], 0..60)) {
        let s = parts.concat();
        let _ = parse(&s);
        let _ = bfcl_decode::decode(&s);
    }

    #[test]
    fn mutated_valid_output_never_panics(c in call(), cut in any::<prop::sample::Index>(), len in 0usize..12,
                                         insert in prop::sample::select(vec!["{", "}", "]", "[", ",", ":", ESCAPE, START_CALL, END_CALL, "é"])) {
        let text = render_call(&c);
        let mut at = cut.index(text.len() + 1);
        while !text.is_char_boundary(at) { at -= 1; }
        let mut end = (at + len).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        for variant in [format!("{}{}", &text[..at], &text[end..]), format!("{}{insert}{}", &text[..at], &text[at..])] {
            match parse(&variant) {
                Ok(p) => prop_assert!(p.calls.len() <= 2),
                Err(e) => prop_assert!(e.offset <= variant.len()),
            }
            let _ = bfcl_decode::decode(&variant);
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{START_CALL}call:f{{a:{}{}}}{END_CALL}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse(&deep).is_err());
    let _ = bfcl_decode::decode(&deep);
}
