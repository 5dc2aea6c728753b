use super::*;
use crate::dataset::{CASE_SCHEMA, ExpectedCall};

fn alarm_case() -> Case {
    let tool = |name: &str, props: serde_json::Value, req: &[&str]| serde_json::json!({"function": {"name": name, "description": "d", "parameters": {"type": "OBJECT", "properties": props, "required": req}}});
    let answer: ExpectedCall = [(
        "add_calendar_entry".to_string(),
        [("title".to_string(), vec![Value::Str("Dentist".into())]), ("start".to_string(), vec![Value::Str("2026-03-15T09:30:00".into())])]
            .into_iter()
            .collect(),
    )]
    .into_iter()
    .collect();
    Case {
        schema: CASE_SCHEMA.into(),
        id: "c1".into(),
        category: "app_single".into(),
        kind: CheckKind::Parallel,
        messages: vec![
            Message {
                role: Role::Developer,
                content: format!(
                    "Current date and time given in YYYY-MM-DDTHH:MM:SS format: 2026-03-14T08:00:00\nDay of week is Saturday\n{TRIGGER}"
                ),
                tool_calls: vec![],
                name: None,
            },
            Message { role: Role::User, content: "Put Dentist in my calendar tomorrow at 9:30 am.".into(), tool_calls: vec![], name: None },
        ],
        tools: vec![
            tool("set_alarm", serde_json::json!({"time": {"type": "STRING"}}), &["time"]),
            tool("add_calendar_entry", serde_json::json!({"title": {"type": "STRING"}, "start": {"type": "STRING"}}), &["title", "start"]),
            tool("start_timer", serde_json::json!({"minutes": {"type": "INTEGER"}}), &["minutes"]),
        ],
        answers: vec![answer],
        source: None,
    }
}

fn names(c: &Case) -> Vec<String> {
    c.tools.iter().filter_map(|t| tool_name(t).map(String::from)).collect()
}

fn one(kind: Perturbation, c: &Case) -> Case {
    perturb(std::slice::from_ref(c), kind, 3).remove(0)
}

#[test]
fn shuffle_keeps_the_tools_and_the_answer_and_changes_the_order() {
    let c = alarm_case();
    let v = one(Perturbation::ShuffleTools, &c);
    assert_ne!(names(&v), names(&c));
    let (mut a, mut b) = (names(&v), names(&c));
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert_eq!(v.answers, c.answers);
}

#[test]
fn cases_of_one_tool_block_get_one_order_and_one_activation_sentence() {
    // An app sends one order: the variants of its cases share a prompt prefix.
    let a = alarm_case();
    let mut b = alarm_case();
    b.id = "another".into();
    b.messages[1].content = "Set a timer for 5 minutes.".into();
    for kind in [Perturbation::ShuffleTools, Perturbation::Activation] {
        let v = perturb(&[a.clone(), b.clone()], kind, 3);
        assert_eq!(v[0].tools, v[1].tools, "{kind:?}");
        assert_eq!(v[0].messages[0].content, v[1].messages[0].content, "{kind:?}");
    }
    // The seed still moves the order.
    let orders: std::collections::BTreeSet<Vec<String>> =
        (0..8).map(|seed| names(&perturb(std::slice::from_ref(&a), Perturbation::ShuffleTools, seed)[0])).collect();
    assert!(orders.len() > 1, "the seed moves the order: {orders:?}");
}

#[test]
fn rename_rewrites_declarations_required_lists_and_expected_calls_alike() {
    let v = one(Perturbation::Rename, &alarm_case());
    assert_eq!(names(&v), ["configure_wakeup", "append_agenda_item", "begin_stopwatch"]);
    let f = tool_function(&v.tools[1]);
    let props: Vec<&String> = f["parameters"]["properties"].as_object().unwrap().keys().collect();
    assert_eq!(props, ["heading", "begin"]);
    assert_eq!(f["parameters"]["required"], serde_json::json!(["heading", "begin"]));
    let expected = &v.answers[0]["append_agenda_item"];
    assert_eq!(expected["heading"], vec![Value::Str("Dentist".into())]);
    assert!(expected.contains_key("begin") && !expected.contains_key("start"));
}

#[test]
fn distractors_add_other_tools_and_keep_the_answer() {
    let c = alarm_case();
    let v = one(Perturbation::Distractors, &c);
    assert!((5..=6).contains(&v.tools.len()), "{:?}", names(&v));
    for n in names(&c) {
        assert!(names(&v).contains(&n));
    }
    // The app's own wrapper shape is kept for the added tools.
    assert!(v.tools.iter().all(|t| t.get("function").is_some()));
    assert_eq!(v.answers, c.answers);
}

#[test]
fn removing_the_called_tool_makes_no_call_right() {
    let v = one(Perturbation::RemoveCalledTool, &alarm_case());
    assert_eq!(names(&v), ["set_alarm", "start_timer"]);
    assert_eq!(v.kind, CheckKind::Irrelevance);
    assert!(v.answers.is_empty());
}

#[test]
fn activation_replaces_the_sentence_and_keeps_the_date_lines() {
    let v = one(Perturbation::Activation, &alarm_case());
    let dev = &v.messages[0].content;
    assert!(dev.starts_with("Current date and time"), "{dev}");
    assert!(dev.contains(OLLAMA_TRIGGER) || dev.contains(CUSTOM_SYSTEM), "{dev}");
    // Without a developer turn, one is added with the variant.
    let mut bare = alarm_case();
    bare.messages.remove(0);
    let v = one(Perturbation::Activation, &bare);
    assert_eq!(v.messages[0].role, Role::Developer);
    assert!(v.messages[0].content.contains(OLLAMA_TRIGGER) || v.messages[0].content.contains(CUSTOM_SYSTEM));
}

#[test]
fn date_shift_moves_now_and_relative_answers_by_whole_weeks_but_not_absolute_ones() {
    let c = alarm_case();
    let v = one(Perturbation::DateShift, &c);
    let dev = &v.messages[0].content;
    let Value::Str(start) = &v.answers[0]["add_calendar_entry"]["start"][0] else { panic!() };
    let weeks = ["2026-03-22T09:30:00", "2026-03-29T09:30:00", "2026-04-05T09:30:00", "2026-04-12T09:30:00"];
    let k = weeks.iter().position(|w| w == start).expect("moved by 1-4 weeks");
    let now = ["2026-03-21T08:00:00", "2026-03-28T08:00:00", "2026-04-04T08:00:00", "2026-04-11T08:00:00"][k];
    assert!(dev.contains(now) && dev.contains("Day of week is Saturday"), "{dev}");
    // "on March 20" names its date: it stays, and a week's shift puts it in the past: unchanged.
    let mut abs = c.clone();
    abs.messages[1].content = "Put Dentist in my calendar on March 15 at 9:30 am.".into();
    assert_eq!(one(Perturbation::DateShift, &abs), abs);
}

#[test]
fn surface_noise_never_touches_a_value() {
    let c = alarm_case();
    for seed in 0..40 {
        let v = perturb(std::slice::from_ref(&c), Perturbation::Surface, seed).remove(0);
        let text = &v.messages[1].content;
        assert_ne!(text, &c.messages[1].content);
        assert!(text.contains("Dentist"), "{text}");
        assert_eq!(v.answers, c.answers);
    }
}

#[test]
fn a_case_changes_the_same_way_whatever_else_the_dataset_holds() {
    let c = alarm_case();
    let mut other = alarm_case();
    other.id = "c0".into();
    for kind in Perturbation::ALL {
        let alone = perturb(std::slice::from_ref(&c), kind, 9).remove(0);
        let with = perturb(&[other.clone(), c.clone()], kind, 9).remove(1);
        if kind != Perturbation::Distractors {
            assert_eq!(alone, with, "{kind:?}");
        }
    }
}
