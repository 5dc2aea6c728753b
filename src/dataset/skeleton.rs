//! A request's *skeleton*: its text with the argument values, numbers, dates and times
//! replaced by typed placeholders, case and punctuation folded. Two requests with one skeleton
//! were written from one sentence pattern: "Wake me up at 21:00 labelled water plants" and
//! "Wake me up at 5:10 am labelled gym" are both `wake me up at <TIME> labelled <STR>`.
//!
//! The steps, in order (docs/generalisation.md):
//! 1. every argument value of the case's accepted answers that the text contains (a string,
//!    a number, a list item; longest first, case-insensitive, on word boundaries) becomes a
//!    placeholder typed by its shape: `<TIME>` (HH:MM), `<DATE>` (an ISO date or date-time),
//!    `<NUM>`, else `<STR>`;
//! 2. what is left of dates and times becomes `<DATE>` and `<TIME>`: ISO dates, month-day
//!    dates, weekday names, today/tomorrow/tonight, clock times with or without am/pm;
//! 3. numbers, in digits or words (one to ninety-nine, "a half"/"quarter" stay words), become `<NUM>`,
//!    and a number followed by am/pm or o'clock becomes `<TIME>`;
//! 4. the text is lower-cased, punctuation dropped, and a run of one placeholder type joined
//!    by spaces, commas, "and" or "or" (a list) collapses to one placeholder.

use std::sync::LazyLock;

use regex::Regex;

use crate::codec::Value;

/// Placeholders are written with characters folding never produces, then shown as `<TYPE>`.
const STR: &str = "\u{1}STR\u{2}";
const NUM: &str = "\u{1}NUM\u{2}";
const TIME: &str = "\u{1}TIME\u{2}";
const DATE: &str = "\u{1}DATE\u{2}";

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid built-in pattern")
}

static ISO_DATE: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?\b"));
static MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| {
    let month = "(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";
    re(&format!(
        r"(?i)\b(?:(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{month}|{month}\s+\d{{1,2}}(?:st|nd|rd|th)?)\b(?:,?\s+\d{{4}})?"
    ))
});
static DAY_WORD: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b(?:today|tonight|tomorrow|yesterday|(?:mon|tues|wednes|thurs|fri|satur|sun)days?|weekdays?|weekends?)\b"));
static CLOCK: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\b\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\b\.?)?|\b\d{1,2}\s*[ap]\.?m\b\.?"));
static NUMBER: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d+(?:[.,]\d+)?\b"));
static NUMBER_WORD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred)\b",
    )
});
static NUM_CLOCK: LazyLock<Regex> = LazyLock::new(|| re("\u{1}NUM\u{2}(?:\\s+\u{1}NUM\u{2})*\\s*(?:[ap]\\.?m\\b\\.?|o'clock)"));
static PUNCT: LazyLock<Regex> = LazyLock::new(|| re("[^\\w\\s\u{1}\u{2}']|'(?:\\s|$)|(?:^|\\s)'"));
/// A run of one placeholder type (a list, once punctuation is gone), one regex per type.
static LISTS: LazyLock<Vec<(Regex, &'static str)>> =
    LazyLock::new(|| [STR, NUM, TIME, DATE].iter().map(|p| (re(&format!("{p}(?:(?:\\s+(?:and|or))?\\s+{p})+")), *p)).collect());

/// The placeholder for an argument value, by the value's shape.
fn typed(value: &str) -> &'static str {
    if ISO_DATE.is_match(value) {
        DATE
    } else if CLOCK.find(value).is_some_and(|m| m.len() == value.len()) {
        TIME
    } else if NUMBER.find(value).is_some_and(|m| m.len() == value.len()) {
        NUM
    } else {
        STR
    }
}

/// Every scalar the answers accept, as the text would spell it (strings and numbers; list
/// items and nested object values included).
pub fn answer_values<'a>(values: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Str(s) if s.trim().chars().count() >= 2 => out.push(s.trim().to_string()),
            Value::Int(i) => out.push(i.to_string()),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                out.push(format!("{f:.1}"));
                out.push(format!("{}", *f as i64));
            }
            Value::Float(f) => out.push(format!("{f}")),
            Value::List(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Dict(map) => map.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for v in values {
        walk(v, &mut out);
    }
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

/// The skeleton of `text`, given the argument values its answer holds (see the module doc).
pub fn skeleton(text: &str, values: &[String]) -> String {
    let mut s = text.to_string();
    for v in values {
        s = replace_word(&s, v, typed(v));
    }
    s = ISO_DATE.replace_all(&s, DATE).into_owned();
    s = MONTH_DAY.replace_all(&s, DATE).into_owned();
    s = DAY_WORD.replace_all(&s, DATE).into_owned();
    s = CLOCK.replace_all(&s, TIME).into_owned();
    s = NUMBER.replace_all(&s, NUM).into_owned();
    s = NUMBER_WORD.replace_all(&s, NUM).into_owned();
    s = NUM_CLOCK.replace_all(&s, TIME).into_owned();
    let collapsed = LISTS.iter().fold(fold(&s), |s, (list, p)| list.replace_all(&s, *p).into_owned());
    collapsed.replace('\u{1}', "<").replace('\u{2}', ">")
}

/// `text` with every occurrence of `value` (ASCII case folded, not inside a longer word)
/// replaced by `with`.
fn replace_word(text: &str, value: &str, with: &str) -> String {
    let (hay, needle) = (text.to_ascii_lowercase(), value.to_ascii_lowercase());
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let (edge_start, edge_end) = (word(needle.chars().next()), word(needle.chars().last()));
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in hay.match_indices(&needle) {
        let end = at + needle.len();
        if at < last {
            continue;
        }
        let before = hay[..at].chars().next_back();
        let after = hay[end..].chars().next();
        if (edge_start && word(before)) || (edge_end && word(after)) || before == Some('\u{1}') {
            continue;
        }
        out.push_str(&text[last..at]);
        out.push_str(with);
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

/// Lower case, punctuation dropped (an apostrophe inside a word stays), single spaces.
pub fn fold(text: &str) -> String {
    let lower = text.to_lowercase();
    // Placeholders keep their upper-case type names.
    let lower = ["str", "num", "time", "date"]
        .iter()
        .fold(lower, |s, t| s.replace(&format!("\u{1}{t}\u{2}"), &format!("\u{1}{}\u{2}", t.to_uppercase())));
    let spaced = PUNCT.replace_all(&lower, " ");
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sk(text: &str, values: &[&str]) -> String {
        let values: Vec<Value> = values.iter().map(|v| Value::Str(v.to_string())).collect();
        skeleton(text, &answer_values(&values))
    }

    #[test]
    fn the_alarm_example_shares_one_skeleton() {
        let a = sk("Wake me up at 21:00 labelled water plants", &["21:00", "water plants"]);
        let b = sk("Wake me up at 5:10 am labelled gym", &["05:10", "gym"]);
        assert_eq!(a, "wake me up at <TIME> labelled <STR>");
        assert_eq!(a, b);
    }

    #[test]
    fn times_in_every_spelling_are_times() {
        for t in ["7 pm", "7pm", "7:30 p.m.", "seven pm", "seven o'clock", "19.30", "07:05"] {
            assert_eq!(sk(&format!("Alarm at {t} please"), &[]), "alarm at <TIME> please", "{t}");
        }
        // "half past" and "quarter to" keep their words: they are how a time is said, not a value.
        assert_eq!(sk("wake me at half past six in the evening", &[]), "wake me at half past <NUM> in the evening");
    }

    #[test]
    fn dates_of_every_kind_are_dates() {
        for d in ["tomorrow", "on Friday", "on March 14", "on the 3rd of June", "on 14 March 2027", "2026-03-14", "2026-03-14T09:30:00"] {
            let got = sk(&format!("Schedule it {d}"), &[]);
            assert!(got == "schedule it <DATE>" || got == "schedule it on <DATE>", "{d}: {got}");
        }
    }

    #[test]
    fn numbers_in_digits_and_words_and_lists_collapse() {
        assert_eq!(sk("Start a 25 minute timer", &[]), sk("Start a twenty-five minute timer", &[]));
        assert_eq!(sk("Set it to 21.5 degrees", &[]), "set it to <NUM> degrees");
        // An argument value that is a number in the answer is typed NUM wherever the text has it.
        let n = vec![Value::Int(42)];
        assert_eq!(skeleton("Episode 42 please", &answer_values(&n)), "episode <NUM> please");
        // A list of values, however long, is one placeholder.
        let one = sk("Add milk to groceries", &["milk", "groceries"]);
        let three = sk("Add eggs, milk and bread to groceries", &["eggs", "milk", "bread", "groceries"]);
        assert_eq!(one, "add <STR> to <STR>");
        assert_eq!(one, three);
        assert_eq!(sk("every Monday and Wednesday", &[]), "every <DATE>");
    }

    #[test]
    fn quoted_and_free_form_values_and_longest_first() {
        // A quoted message body is one value; the quotes fold away.
        assert_eq!(sk("Text Maria \"see you at 8\"", &["Maria", "see you at 8"]), sk("Text Tom \"hi\"", &["Tom", "hi"]));
        // The longest value wins where two overlap ("New York" before "York").
        assert_eq!(sk("Fly to New York", &["York", "New York"]), "fly to <STR>");
        // A value is matched case-insensitively, on word boundaries only.
        assert_eq!(sk("play ABBEY road, not abbey roadworks", &["Abbey Road"]), "play <STR> not abbey roadworks");
        // Texts with other words keep them: different sentence patterns, different skeletons.
        assert_ne!(sk("Please text Tom hi", &["Tom", "hi"]), sk("Text Tom hi", &["Tom", "hi"]));
    }

    #[test]
    fn folding_drops_case_and_punctuation_but_keeps_apostrophes_in_words() {
        assert_eq!(fold("  What's   the Capital, of Peru?! "), "what's the capital of peru");
    }
}
