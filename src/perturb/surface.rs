//! `surface`: noise in a request's own words, never in an argument value: filler words in
//! front, then one of: lower case, the end punctuation dropped or doubled, or a typo (two
//! letters of a word of five or more swapped).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::dataset::{Case, Role};

const FILLERS: &[&str] = &["hey, could you ", "um, ", "ok so ", "please ", "quick question, can you ", "right, "];

/// Byte ranges of `text` that hold one of `values` (ASCII case folded).
fn protected(text: &str, values: &[String]) -> Vec<(usize, usize)> {
    let hay = text.to_ascii_lowercase();
    let mut out = Vec::new();
    for v in values {
        let needle = v.to_ascii_lowercase();
        if needle.is_empty() {
            continue;
        }
        out.extend(hay.match_indices(&needle).map(|(at, _)| (at, at + needle.len())));
    }
    out
}

fn inside(spans: &[(usize, usize)], at: usize, end: usize) -> bool {
    spans.iter().any(|&(s, e)| at < e && end > s)
}

pub fn noise(c: &mut Case, rng: &mut ChaCha8Rng) {
    let values = super::answer_strings(c);
    let Some(m) = c.messages.iter_mut().rev().find(|m| m.role == Role::User) else { return };
    let text = m.content.trim().to_string();
    let spans = protected(&text, &values);
    let mut out = match rng.random_range(0..3) {
        0 => text.char_indices().map(|(i, ch)| if inside(&spans, i, i + ch.len_utf8()) { ch } else { ch.to_ascii_lowercase() }).collect(),
        1 => match text.char_indices().last() {
            Some((i, ch)) if ".?!".contains(ch) && !inside(&spans, i, i + 1) => text[..i].to_string(),
            _ => format!("{text}!!"),
        },
        _ => typo(&text, &spans, rng),
    };
    // Filler in front: the first letter is lowered unless a value starts there.
    let filler = FILLERS[rng.random_range(0..FILLERS.len())];
    if !inside(&spans, 0, 1) {
        let mut chars = out.chars();
        if let Some(first) = chars.next() {
            out = first.to_lowercase().chain(chars).collect();
        }
    }
    m.content = format!("{filler}{out}");
}

fn typo(text: &str, spans: &[(usize, usize)], rng: &mut ChaCha8Rng) -> String {
    let words: Vec<(usize, &str)> = text
        .split(|c: char| !c.is_ascii_alphabetic())
        .scan(0usize, |pos, w| {
            let at = text[*pos..].find(w).map(|o| *pos + o).unwrap_or(*pos);
            *pos = at + w.len();
            Some((at, w))
        })
        .filter(|(at, w)| w.len() >= 5 && !inside(spans, *at, at + w.len()))
        .collect();
    if words.is_empty() {
        return text.to_string();
    }
    let (at, w) = words[rng.random_range(0..words.len())];
    let i = rng.random_range(1..w.len() - 2);
    let b = w.as_bytes();
    let swapped = format!("{}{}{}{}", &w[..i], b[i + 1] as char, b[i] as char, &w[i + 2..]);
    format!("{}{swapped}{}", &text[..at], &text[at + w.len()..])
}
