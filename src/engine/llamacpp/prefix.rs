//! Reuse of the KV cells of a shared prompt prefix.
//!
//! Function-calling prompts of one app share everything up to the user's request (`<bos>`,
//! the developer turn, every tool declaration): hundreds to thousands of tokens that every
//! sequence would otherwise prefill again. The cache keeps a few such prefixes, each in a
//! sequence of its own (a *holder*, which never generates); a new sequence that starts with
//! a cached prefix gets a copy of the holder's cells and prefills only the rest.
//!
//! Why holders: with a KV stream per sequence llama.cpp copies cells between streams only
//! whole (`seq_cp` of a full buffer), and Gemma 3's sliding-window layers keep only the last
//! window of positions, so a finished sequence no longer holds the window that ends at its
//! prefix. A holder's cells are exactly what the prefix leaves behind, sliding-window layers
//! included.
//!
//! How a holder is filled: the sequence whose prompt creates an entry (its *feeder*)
//! prefills up to the entry's end, stops there for one step, and its stream is copied into
//! the holder; then it goes on with the rest of its prompt. So no prefix is prefilled twice,
//! and the prompts after it copy it.
//!
//! Which prefixes: a prompt that shares at least [`MIN_PREFIX`] tokens with a recent prompt
//! makes the shared part an entry, cut back to the last control token inside it (where a
//! turn starts), so the entry ends on a turn boundary rather than inside one user's words.
//! A prompt that shares nothing yet opens an entry of its conversation before its last turn,
//! which the next request of the same app (or the next step of an agent loop) repeats, so
//! the second request of a tool block copies instead of prefilling it again. Every entry
//! ends on an exact cut ([`ExactCuts`]): feeding it splits the feeder's prefill there, and
//! a copy leaves the rest of a prompt to prefill, without changing a bit of either prompt's
//! numbers, so greedy outputs stay those of running without the cache. Entries are evicted
//! least recently used first, those never copied before the others, and never while a
//! sequence waits for one or feeds it.

use std::collections::VecDeque;

use llama_cpp_2::token::LlamaToken;

use super::exact_cut::ExactCuts;

/// Shorter shared prefixes are prefilled as they come: a holder is not worth it.
pub const MIN_PREFIX: usize = 32;
/// Recent prompts compared with a new one to find shared prefixes.
const RECENT: usize = 16;

/// Where a new prompt's prefix stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Holder `h` holds a prefix of the prompt, complete: copy it.
    Ready(usize),
    /// Holder `h` will hold a prefix of the prompt once its feeder reaches the end of it:
    /// wait for it.
    Filling(usize),
    /// A new entry `h` for a prefix of the prompt: prefill up to its end, then hand the cells
    /// over with [`PrefixCache::filled`] (or [`PrefixCache::abandon`] it).
    Feed(usize),
    /// Nothing to reuse or keep: prefill the whole prompt.
    Miss,
}

#[derive(Debug)]
struct Entry {
    tokens: Vec<LlamaToken>,
    /// The holder's cells are complete.
    ready: bool,
    last_used: u64,
    /// Sequences waiting for this entry or feeding it (it may not be evicted meanwhile).
    waiting: usize,
    /// Two prompts have shown the prefix is shared (it was copied, or made from a recent
    /// prompt's); an entry opened on a guess is evicted first.
    shared: bool,
}

/// The entries, one per holder sequence, and recent prompts.
#[derive(Debug)]
pub struct PrefixCache {
    entries: Vec<Option<Entry>>,
    recent: VecDeque<Vec<LlamaToken>>,
    cuts: ExactCuts,
    clock: u64,
    pub hits: u64,
    pub tokens_saved: u64,
}

impl PrefixCache {
    pub fn new(holders: usize, cuts: ExactCuts) -> PrefixCache {
        PrefixCache { entries: (0..holders).map(|_| None).collect(), recent: VecDeque::new(), cuts, clock: 0, hits: 0, tokens_saved: 0 }
    }

    /// The prefix length of holder `h`.
    pub fn len(&self, h: usize) -> usize {
        self.entries[h].as_ref().map_or(0, |e| e.tokens.len())
    }

    /// Finds the longest cached prefix of `prompt` (strictly shorter than it: the last
    /// prompt token must be decoded to get logits), or plans a new entry for it. `is_control`
    /// tells which tokens start a turn. Returns what the prompt should do, and the entry it
    /// now counts on (the caller must `release`, `filled` or `abandon` it).
    pub fn lookup(&mut self, prompt: &[LlamaToken], is_control: &dyn Fn(LlamaToken) -> bool) -> Lookup {
        self.clock += 1;
        let best = (0..self.entries.len())
            .filter_map(|h| self.entries[h].as_ref().map(|e| (h, e)))
            .filter(|(_, e)| e.tokens.len() < prompt.len() && prompt.starts_with(&e.tokens))
            .filter(|(_, e)| self.cuts.allows(e.tokens.len(), prompt.len()))
            .max_by_key(|(_, e)| e.tokens.len())
            .map(|(h, _)| h);
        let planned = if best.is_none() { self.plan(prompt, is_control) } else { None };
        self.remember(prompt);
        let Some(h) = best.or(planned) else { return Lookup::Miss };
        let clock = self.clock;
        let e = self.entries[h].as_mut().expect("found above");
        e.last_used = clock;
        e.waiting += 1;
        match (planned.is_some(), e.ready) {
            (true, _) => Lookup::Feed(h),
            (false, true) => Lookup::Ready(h),
            (false, false) => Lookup::Filling(h),
        }
    }

    /// A sequence has copied entry `h` (it saved `len(h)` tokens of prefill) or given up
    /// waiting for it.
    pub fn release(&mut self, h: usize, copied: bool) {
        if let Some(e) = self.entries[h].as_mut() {
            e.waiting = e.waiting.saturating_sub(1);
            if copied {
                e.shared = true;
                self.hits += 1;
                self.tokens_saved += e.tokens.len() as u64;
            }
        }
    }

    /// The feeder of entry `h` has handed its cells to the holder: the entry is ready.
    pub fn filled(&mut self, h: usize) {
        if let Some(e) = self.entries[h].as_mut() {
            e.ready = true;
            e.waiting = e.waiting.saturating_sub(1);
        }
    }

    /// The feeder of entry `h` went away before reaching its end: the entry is dropped, and
    /// the sequences waiting for it must prefill their prompts themselves.
    pub fn abandon(&mut self, h: usize) {
        self.entries[h] = None;
    }

    /// A new entry for `prompt` in the least recently used holder nobody waits for (one never
    /// copied first); `None` when the prompt has no prefix worth keeping or every holder is busy.
    fn plan(&mut self, prompt: &[LlamaToken], is_control: &dyn Fn(LlamaToken) -> bool) -> Option<usize> {
        let (end, shared) = match self.shared_with_recent(prompt, is_control) {
            Some(end) => (end, true),
            None => (before_last_turn(prompt, is_control)?, false),
        };
        let cut = self.cuts.at_or_before(end, prompt.len());
        if cut < MIN_PREFIX {
            return None;
        }
        let h = (0..self.entries.len())
            .filter(|&h| self.entries[h].as_ref().is_none_or(|e| e.waiting == 0))
            .min_by_key(|&h| self.entries[h].as_ref().map_or((false, 0), |e| (e.shared, e.last_used)))?;
        self.entries[h] = Some(Entry { tokens: prompt[..cut].to_vec(), ready: false, last_used: self.clock, waiting: 0, shared });
        Some(h)
    }

    /// The part of `prompt` it shares with a recent prompt, ending before the last control
    /// token inside it (where a turn starts); `None` when that is under `MIN_PREFIX`.
    fn shared_with_recent(&self, prompt: &[LlamaToken], is_control: &dyn Fn(LlamaToken) -> bool) -> Option<usize> {
        let shared = self.recent.iter().map(|r| common_prefix(r, prompt)).max()?;
        let shared = shared.min(prompt.len() - 1);
        let cut = (1..shared).rev().find(|&i| is_control(prompt[i])).unwrap_or(shared);
        (cut >= MIN_PREFIX).then_some(cut)
    }

    fn remember(&mut self, prompt: &[LlamaToken]) {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(prompt.to_vec());
    }

    pub fn is_ready(&self, h: usize) -> bool {
        self.entries[h].as_ref().is_some_and(|e| e.ready)
    }

    /// Forgets every entry (after a failed decode the cells are unknown).
    pub fn clear(&mut self) {
        self.entries.iter_mut().for_each(|e| *e = None);
    }
}

/// Where the conversation before the prompt's last turn ends: the prompt ends by opening the
/// model's turn, so its last control token is the turn opener, and the opener's occurrence
/// before that starts the last turn.
fn before_last_turn(prompt: &[LlamaToken], is_control: &dyn Fn(LlamaToken) -> bool) -> Option<usize> {
    let opener_at = prompt.iter().rposition(|&t| is_control(t))?;
    let opener = prompt[opener_at];
    prompt[..opener_at].iter().rposition(|&t| t == opener)
}

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TURN: i32 = 9;

    fn toks(v: &[i32]) -> Vec<LlamaToken> {
        v.iter().map(|&i| LlamaToken(i)).collect()
    }

    /// A prompt: `<bos>`, a shared block of `n` tokens, a turn marker, then the user's words.
    fn prompt(n: usize, user: &[i32]) -> Vec<LlamaToken> {
        let mut v = vec![1];
        v.extend((0..n as i32).map(|i| 100 + i));
        v.push(TURN);
        v.extend(user);
        toks(&v)
    }

    /// A chat prompt as rendered: a developer turn of `n` tokens, the user's turn, and the
    /// opened model turn.
    fn chat(n: usize, user: &[i32]) -> Vec<LlamaToken> {
        let mut v = prompt(n, user).iter().map(|t| t.0).collect::<Vec<_>>();
        v.extend([TURN, 7]);
        toks(&v)
    }

    /// A chat prompt of tool block `k` and a one-token user turn.
    fn block(k: i32, user: i32) -> Vec<LlamaToken> {
        let mut v = vec![1];
        v.extend((0..40).map(|i| 1000 * k + i));
        v.extend([TURN, user, TURN, 7]);
        toks(&v)
    }

    fn control(t: LlamaToken) -> bool {
        t.0 == TURN || t.0 == 1
    }

    #[test]
    fn the_first_chat_prompt_feeds_its_conversation_before_the_last_turn_and_the_next_copy_it() {
        let mut c = PrefixCache::new(2, ExactCuts::any());
        let Lookup::Feed(h) = c.lookup(&chat(40, &[5, 6]), &control) else { panic!("expected an entry to feed") };
        assert_eq!(c.len(h), 41, "<bos> and the developer turn, up to the user's turn");
        // A prompt of the block that comes while the feeder prefills waits for it, then copies.
        assert_eq!(c.lookup(&chat(40, &[8]), &control), Lookup::Filling(h));
        assert!(!c.is_ready(h));
        c.filled(h);
        assert!(c.is_ready(h));
        c.release(h, true);
        assert_eq!(c.lookup(&chat(40, &[4, 4, 4]), &control), Lookup::Ready(h));
        c.release(h, true);
        assert_eq!((c.hits, c.tokens_saved), (2, 82));
        assert_eq!(c.lookup(&chat(10, &[5]), &control), Lookup::Miss, "a developer turn too short to keep");
    }

    #[test]
    fn entries_end_on_exact_cuts_and_serve_only_prompts_they_leave_exact() {
        // The CPU's cuts with 512-token micro-batches: a 1,349-token block is kept up to
        // token 1,284, which leaves every prompt of it up to 1,536 tokens exact.
        let mut c = PrefixCache::new(2, ExactCuts::new(512, true));
        let Lookup::Feed(h) = c.lookup(&chat(1347, &[5; 12]), &control) else { panic!() };
        assert_eq!(c.len(h), 1284);
        c.filled(h);
        assert_eq!(c.lookup(&chat(1347, &[6; 30]), &control), Lookup::Ready(h));
        c.release(h, true);
        // A prompt of 1,566 tokens ends on a 30-token micro-batch, which the cut would tile.
        assert!(!matches!(c.lookup(&chat(1347, &[6; 215]), &control), Lookup::Ready(_)));
        // Without a cut of its own to reuse (a GPU's, at micro-batch boundaries only), a
        // short prompt keeps nothing.
        let mut gpu = PrefixCache::new(2, ExactCuts::new(4096, false));
        assert_eq!(gpu.lookup(&chat(1347, &[5; 12]), &control), Lookup::Miss);
    }

    #[test]
    fn a_prompt_without_turns_feeds_the_part_it_shares_with_a_recent_one_cut_at_the_turn() {
        let mut c = PrefixCache::new(2, ExactCuts::any());
        assert_eq!(c.lookup(&prompt(40, &[5, 6, 7]), &control), Lookup::Miss);
        // Shares the block and the user's first word: the entry still ends before the turn.
        let Lookup::Feed(h) = c.lookup(&prompt(40, &[5, 8]), &control) else { panic!("expected a new entry") };
        assert_eq!(c.len(h), 41);
        c.filled(h);
        assert_eq!(c.lookup(&prompt(40, &[4]), &control), Lookup::Ready(h));
        assert_eq!(c.lookup(&toks(&[1, 2, 3]), &control), Lookup::Miss);
    }

    #[test]
    fn short_shared_prefixes_are_not_cached() {
        let mut c = PrefixCache::new(2, ExactCuts::any());
        c.lookup(&prompt(10, &[5]), &control);
        assert_eq!(c.lookup(&prompt(10, &[6]), &control), Lookup::Miss);
    }

    #[test]
    fn an_abandoned_entry_is_gone_and_its_holder_free_again() {
        let mut c = PrefixCache::new(1, ExactCuts::any());
        let Lookup::Feed(h) = c.lookup(&chat(40, &[5]), &control) else { panic!() };
        assert_eq!(c.lookup(&chat(40, &[6]), &control), Lookup::Filling(h));
        c.abandon(h);
        assert_eq!(c.len(h), 0);
        assert!(matches!(c.lookup(&chat(40, &[7]), &control), Lookup::Feed(_)), "the holder is free for a new entry");
    }

    #[test]
    fn the_least_recently_used_idle_entry_goes_first_and_waited_for_ones_stay() {
        let mut c = PrefixCache::new(2, ExactCuts::any());
        for k in 1..=2 {
            let Lookup::Feed(h) = c.lookup(&block(k, 1), &control) else { panic!() };
            c.filled(h);
            if k == 2 {
                // Block 2's entry is waited for; block 1's is idle.
                assert_eq!(c.lookup(&block(k, 2), &control), Lookup::Ready(h));
            }
        }
        let Lookup::Feed(h3) = c.lookup(&block(3, 1), &control) else { panic!() };
        assert_eq!(c.lookup(&block(2, 3), &control), Lookup::Ready(1 - h3), "block 2's entry survived");
        assert!(!matches!(c.lookup(&block(1, 3), &control), Lookup::Ready(_)), "block 1's entry was evicted");
    }

    #[test]
    fn an_entry_opened_on_a_guess_goes_before_one_that_was_copied() {
        let mut c = PrefixCache::new(2, ExactCuts::any());
        let Lookup::Feed(h1) = c.lookup(&block(1, 1), &control) else { panic!() };
        c.filled(h1);
        assert_eq!(c.lookup(&block(1, 2), &control), Lookup::Ready(h1));
        c.release(h1, true);
        let Lookup::Feed(h2) = c.lookup(&block(2, 1), &control) else { panic!() };
        c.filled(h2);
        // Block 2's entry is newer but nobody copied it.
        let Lookup::Feed(h3) = c.lookup(&block(3, 1), &control) else { panic!() };
        assert_eq!(h3, h2);
        assert_eq!(c.lookup(&block(1, 3), &control), Lookup::Ready(h1));
    }

    #[test]
    fn a_prompt_equal_to_a_cached_prefix_does_not_use_it() {
        let mut c = PrefixCache::new(1, ExactCuts::any());
        let p = chat(40, &[5]);
        let Lookup::Feed(h) = c.lookup(&p, &control) else { panic!() };
        let prefix = p[..c.len(h)].to_vec();
        c.filled(h);
        assert_ne!(c.lookup(&prefix, &control), Lookup::Ready(h));
    }
}
