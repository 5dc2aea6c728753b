//! `date-shift`: the developer turn's current date moved by whole weeks (so its day of week
//! stays right), and every expected date or date-time moved with it, unless the request names
//! a month (an absolute date does not move). A case whose absolute date would then lie before
//! the new "now" is left as it was.

use std::sync::LazyLock;

use regex::Regex;

use crate::civil::{civil_from_days, days_from_civil};
use crate::codec::Value;
use crate::dataset::{Case, Role};

static NOW: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(?::\d{2})?)").expect("valid"));
static ISO: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d{4})-(\d{2})-(\d{2})((?:[T ]\d{2}:\d{2}(?::\d{2})?)?)$").expect("valid"));
static MONTH: LazyLock<Regex> = LazyLock::new(|| {
    // "May" names a month only beside a day number ("may I" does not).
    Regex::new(r"(?i)\b(january|february|march|april|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\b|\bmay\s+\d|\d(?:st|nd|rd|th)?\s+(?:of\s+)?may\b|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}")
        .expect("valid")
});

fn parse(caps: &regex::Captures) -> Option<i64> {
    let n = |i: usize| caps.get(i)?.as_str().parse::<i64>().ok();
    Some(days_from_civil(n(1)?, n(2)?, n(3)?))
}

fn format_day(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `text` with its first ISO date moved by `days`.
fn shift_text(text: &str, days: i64) -> Option<(String, i64)> {
    let caps = NOW.captures(text)?;
    let day = parse(&caps)?;
    let whole = caps.get(0)?;
    let moved = format!("{}{}", format_day(day + days), &caps[4]);
    Some((format!("{}{moved}{}", &text[..whole.start()], &text[whole.end()..]), day + days))
}

pub fn shift(c: &mut Case, days: i64) {
    let Some(dev) = c.messages.iter().position(|m| matches!(m.role, Role::Developer | Role::System)) else { return };
    let Some((text, new_now)) = shift_text(&c.messages[dev].content, days) else { return };
    let user: String = c.messages.iter().filter(|m| m.role == Role::User).map(|m| m.content.as_str()).collect();
    let absolute = MONTH.is_match(&user);
    let mut answers = c.answers.clone();
    for accepted in answers.iter_mut().flat_map(|a| a.values_mut()).flat_map(|p| p.values_mut()).flatten() {
        let Value::Str(s) = accepted else { continue };
        let Some(caps) = ISO.captures(s) else { continue };
        let Some(day) = parse(&caps) else { continue };
        if absolute {
            if day < new_now {
                return; // the stated date would now be in the past: leave the case as it was
            }
        } else {
            *s = format!("{}{}", format_day(day + days), &caps[4]);
        }
    }
    c.messages[dev].content = text;
    c.answers = answers;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_named_only_where_the_text_gives_a_date() {
        for absolute in ["on March 14", "the 3rd of May", "May 5th", "on 2026-03-14", "on 3/14"] {
            assert!(MONTH.is_match(absolute), "{absolute}");
        }
        for relative in ["may I have it tomorrow", "in three days", "next Friday at 9"] {
            assert!(!MONTH.is_match(relative), "{relative}");
        }
    }

    #[test]
    fn civil_days_round_trip_across_months_and_leap_years() {
        for (y, m, d) in [(2026, 3, 14), (2024, 2, 29), (2026, 12, 31), (1970, 1, 1), (2000, 3, 1)] {
            assert_eq!(civil_from_days(days_from_civil(y, m, d)), (y, m, d));
        }
        assert_eq!(days_from_civil(2027, 1, 4) - days_from_civil(2026, 12, 28), 7);
        assert_eq!(format_day(days_from_civil(2026, 12, 28) + 14), "2027-01-11");
    }
}
