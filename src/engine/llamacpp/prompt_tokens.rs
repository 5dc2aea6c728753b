//! Prompt text to token ids, the ids llama.cpp's tokenizer gives with special tokens parsed,
//! for a fraction of its time. llama.cpp looks for each special token of the vocabulary in
//! turn (Gemma 3 has 6,414) in every piece of text the tokens before it left, so a
//! FunctionGemma prompt, whose tool declarations hold hundreds of `<escape>`s, costs it
//! milliseconds of a caller's core. Here one Aho-Corasick pass finds every occurrence, the
//! split follows llama.cpp's rules, and the text between special tokens, which llama.cpp
//! tokenizes piece by piece too, goes to llama.cpp one piece at a time, remembered: the
//! prompts of one app repeat their tool block.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use aho_corasick::AhoCorasick;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token_type::LlamaTokenAttr;
use llama_cpp_2::vocab::VocabType;

/// Remembered pieces, in bytes of their text; past it the memory starts over.
const REMEMBERED_BYTES: usize = 8 << 20;

/// One occurrence of a special token's text in a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Found {
    start: usize,
    end: usize,
    /// Index into the special tokens.
    special: usize,
}

/// The occurrences llama.cpp's split (`tokenizer_st_partition`) keeps, in text order: it
/// takes the special tokens longest first, and each one's occurrences left to right where
/// no token taken before overlaps them. `None` where two overlapping tokens of one length
/// compete, whose order llama.cpp leaves to an unstable sort.
fn keep(mut found: Vec<Found>) -> Option<Vec<Found>> {
    found.sort_by_key(|f| (std::cmp::Reverse(f.end - f.start), f.start));
    // Kept occurrences by start; they never overlap, so the one starting last before an
    // occurrence's end is the only one that can overlap it.
    let mut kept: std::collections::BTreeMap<usize, Found> = Default::default();
    for f in found {
        match kept.range(..f.end).next_back() {
            Some((_, k)) if k.end > f.start => {
                if k.end - k.start == f.end - f.start && k.special != f.special {
                    return None;
                }
            }
            _ => {
                kept.insert(f.start, f);
            }
        }
    }
    Some(kept.into_values().collect())
}

/// A prompt cut into text between special tokens and the special tokens.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Text(Range<usize>),
    Special(usize),
}

fn pieces(len: usize, kept: &[Found]) -> Vec<Piece> {
    let mut out = Vec::with_capacity(2 * kept.len() + 1);
    let mut at = 0;
    for f in kept {
        if f.start > at {
            out.push(Piece::Text(at..f.start));
        }
        out.push(Piece::Special(f.special));
        at = f.end;
    }
    if at < len {
        out.push(Piece::Text(at..len));
    }
    out
}

/// The special tokens of a vocabulary, found all at once.
struct Specials {
    finder: AhoCorasick,
    tokens: Vec<LlamaToken>,
}

impl Specials {
    /// `None` where llama.cpp does not tokenize the text between special tokens piece by
    /// piece with nothing carried across (only SentencePiece vocabularies, Gemma's, are
    /// known to), where a special token strips the whitespace next to it, or where one's
    /// text is not UTF-8.
    fn of(model: &LlamaModel) -> Option<Specials> {
        let vocab = model.vocab();
        if vocab.vocab_type() != VocabType::SPM {
            return None;
        }
        let (mut texts, mut tokens) = (Vec::new(), Vec::new());
        for token in vocab.tokens() {
            let attr = vocab.attr(token);
            if !(attr.contains(LlamaTokenAttr::Control)
                || attr.contains(LlamaTokenAttr::UserDefined)
                || attr.contains(LlamaTokenAttr::Unknown))
            {
                continue;
            }
            if attr.contains(LlamaTokenAttr::LStrip) || attr.contains(LlamaTokenAttr::RStrip) {
                return None;
            }
            match vocab.text(token).map(|t| t.to_bytes()) {
                // llama.cpp cannot split on an empty text either (it would find it everywhere).
                Some(t) if !t.is_empty() => {
                    // A text that is not UTF-8 could match inside a character of a prompt.
                    std::str::from_utf8(t).ok()?;
                    texts.push(t.to_vec());
                    tokens.push(token);
                }
                _ => {}
            }
        }
        Some(Specials { finder: AhoCorasick::new(&texts).ok()?, tokens })
    }

    fn split(&self, text: &str) -> Option<Vec<Piece>> {
        let found = self
            .finder
            .find_overlapping_iter(text)
            .map(|m| Found { start: m.start(), end: m.end(), special: m.pattern().as_usize() })
            .collect();
        Some(pieces(text.len(), &keep(found)?))
    }
}

/// Token ids of prompts for one model.
pub(super) struct LlamaTokenizer {
    model: Arc<LlamaModel>,
    /// `None`: every prompt goes to llama.cpp whole.
    specials: Option<Specials>,
    remembered: Mutex<Remembered>,
}

/// Token ids of texts between special tokens, up to `REMEMBERED_BYTES` of text.
#[derive(Default)]
struct Remembered {
    ids: HashMap<Box<str>, Box<[LlamaToken]>>,
    bytes: usize,
}

impl Remembered {
    fn insert(&mut self, text: &str, ids: Vec<LlamaToken>) {
        if self.bytes + text.len() > REMEMBERED_BYTES {
            *self = Remembered::default();
        }
        self.bytes += text.len();
        self.ids.insert(text.into(), ids.into());
    }
}

impl LlamaTokenizer {
    pub fn new(model: Arc<LlamaModel>) -> LlamaTokenizer {
        let specials = Specials::of(&model);
        LlamaTokenizer { model, specials, remembered: Mutex::default() }
    }

    /// Token ids of a prompt, special tokens parsed, with exactly one `<bos>` first.
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        let vocab = self.model.vocab();
        let split = self.specials.as_ref().and_then(|s| Some((s, s.split(text)?)));
        let tokens = match split {
            Some((specials, pieces)) => self.join(text, &pieces, specials),
            None => vocab.tokenize(text.as_bytes(), false, true),
        };
        let mut ids: Vec<u32> = tokens.into_iter().map(|t| t.0 as u32).collect();
        let bos = vocab.bos().0 as u32;
        while ids.len() > 1 && ids[0] == bos && ids[1] == bos {
            ids.remove(0);
        }
        if ids.first() != Some(&bos) {
            ids.insert(0, bos);
        }
        ids
    }

    /// The pieces' tokens in order: special tokens as they are, text as llama.cpp tokenizes
    /// it on its own (the pieces hold no special token, so llama.cpp finds none either).
    fn join(&self, text: &str, pieces: &[Piece], specials: &Specials) -> Vec<LlamaToken> {
        let vocab = self.model.vocab();
        let unknown: Vec<&str> = {
            let remembered = self.remembered.lock().unwrap_or_else(|e| e.into_inner());
            pieces
                .iter()
                .filter_map(|p| if let Piece::Text(r) = p { Some(&text[r.clone()]) } else { None })
                .filter(|t| !remembered.ids.contains_key(*t))
                .collect()
        };
        // Tokenized outside the lock: callers on other threads go on meanwhile.
        let fresh: HashMap<&str, Vec<LlamaToken>> = unknown.into_iter().map(|t| (t, vocab.tokenize(t.as_bytes(), false, false))).collect();
        let mut remembered = self.remembered.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(text.len() / 3);
        for piece in pieces {
            match piece {
                Piece::Special(i) => out.push(specials.tokens[*i]),
                Piece::Text(r) => {
                    let t = &text[r.clone()];
                    match fresh.get(t).map(Vec::as_slice).or_else(|| remembered.ids.get(t).map(|ids| &ids[..])) {
                        Some(ids) => out.extend_from_slice(ids),
                        // Forgotten by another caller's prompt in between.
                        None => out.extend(vocab.tokenize(t.as_bytes(), false, false)),
                    }
                }
            }
        }
        for (t, ids) in fresh {
            remembered.insert(t, ids);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(start: usize, end: usize, special: usize) -> Found {
        Found { start, end, special }
    }

    #[test]
    fn longer_tokens_are_taken_first_and_each_leftmost_first() {
        // "abcd" with tokens "ab" (0) and "bcd" (1): the longer one wins though it starts later.
        assert_eq!(keep(vec![found(0, 2, 0), found(1, 4, 1)]), Some(vec![found(1, 4, 1)]));
        // "\n\n\n\n" with "\n\n" (0) and "\n\n\n" (1): "\n\n\n" at 0, then nothing fits in the last "\n".
        let all = vec![found(0, 2, 0), found(1, 3, 0), found(2, 4, 0), found(0, 3, 1), found(1, 4, 1)];
        assert_eq!(keep(all), Some(vec![found(0, 3, 1)]));
        // "\n\n\n" with "\n\n" only: the leftmost, then the rest is text.
        assert_eq!(keep(vec![found(1, 3, 0), found(0, 2, 0)]), Some(vec![found(0, 2, 0)]));
        // Apart, all are kept, in text order.
        assert_eq!(keep(vec![found(5, 7, 0), found(0, 3, 1)]), Some(vec![found(0, 3, 1), found(5, 7, 0)]));
    }

    #[test]
    fn two_overlapping_tokens_of_one_length_are_left_to_llama_cpp() {
        // "abc" with "ab" and "bc": llama.cpp's result depends on its sort order.
        assert_eq!(keep(vec![found(0, 2, 0), found(1, 3, 1)]), None);
        // The same token overlapping itself is not ambiguous.
        assert!(keep(vec![found(0, 2, 0), found(1, 3, 0)]).is_some());
    }

    #[test]
    fn pieces_alternate_text_and_special_tokens() {
        let kept = [found(0, 3, 1), found(5, 7, 0), found(7, 9, 2)];
        assert_eq!(pieces(12, &kept), vec![Piece::Special(1), Piece::Text(3..5), Piece::Special(0), Piece::Special(2), Piece::Text(9..12)]);
        assert_eq!(pieces(4, &[]), vec![Piece::Text(0..4)]);
        assert_eq!(pieces(0, &[]), vec![]);
    }
}

/// Against llama.cpp's own split on the demo model's real vocabulary (Gemma 3: 6,414 special
/// tokens, runs of spaces and newlines among them): the first 60 prompts of the app's
/// held-out set (official style) and of the demo set (BFCL style), and nested whitespace runs.
#[cfg(test)]
mod against_llama_cpp {
    use super::*;
    use crate::dataset::Dataset;
    use crate::prompt::PromptStyle;
    use llama_cpp_2::model::params::LlamaModelParams;

    #[test]
    fn prompts_get_the_ids_llama_cpp_gives() {
        let gguf = crate::models::demo::ensure_demo_gguf(&crate::dataset::fetch::cache_root()).unwrap();
        let backend = super::super::backend().unwrap();
        let params = LlamaModelParams::default().with_vocab_only(true);
        let model = Arc::new(LlamaModel::load_from_file(backend, &gguf, &params).unwrap());
        let tok = LlamaTokenizer::new(model.clone());
        assert!(tok.specials.is_some(), "Gemma's vocabulary is split here");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut prompts = Vec::new();
        for (file, style) in [("datasets/app/test.jsonl", PromptStyle::Official), ("datasets/demo.jsonl", PromptStyle::Bfcl)] {
            for case in Dataset::load(&root.join(file)).unwrap().cases.iter().take(60) {
                prompts.push(style.render(&case.messages, &case.tools));
            }
        }
        // Whitespace runs are special tokens too, nested in each other.
        prompts.push("<start_of_turn>user\n\n\n\n   a  \t\n\n<escape><escape>     <end_of_turn>\n".into());
        prompts.push(String::new());
        // Twice: the second time most text comes from what was remembered.
        for round in 0..2 {
            for p in &prompts {
                let mut want: Vec<u32> = model.vocab().tokenize(p.as_bytes(), false, true).into_iter().map(|t| t.0 as u32).collect();
                if want.first() != Some(&(model.vocab().bos().0 as u32)) {
                    want.insert(0, model.vocab().bos().0 as u32);
                }
                assert_eq!(tok.tokenize(p), want, "round {round}: {p}");
            }
        }
    }
}
