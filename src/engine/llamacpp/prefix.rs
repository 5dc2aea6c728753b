//! Reuse of the KV cells of a shared prompt prefix.
//!
//! Function-calling prompts of one app share everything up to the user's request (`<bos>`,
//! the developer turn, every tool declaration): hundreds to thousands of tokens that every
//! sequence would otherwise prefill again. The cache keeps a few such prefixes, each
//! prefilled once into a sequence of its own (a *holder*, which never generates); a new
//! sequence that starts with a cached prefix gets a copy of the holder's cells and prefills
//! only the rest.
//!
//! Why whole holders: with a KV stream per sequence llama.cpp copies cells between streams
//! only whole (`seq_cp` of a full buffer), and Gemma 3's sliding-window layers keep only
//! the last window of positions, so a finished sequence no longer holds the window that
//! ends at its prefix. A holder stops exactly at its prefix, so its cells are exactly what
//! the prefix leaves behind, sliding-window layers included.
//!
//! Which prefixes: a prompt that shares at least [`MIN_PREFIX`] tokens with a recent prompt
//! makes the shared part a new entry, cut back to the last control token inside it (where a
//! turn starts), so the entry ends on a turn boundary rather than inside one user's words.
//! Entries are evicted least recently used first, never while a sequence waits for one.

use std::collections::VecDeque;

use llama_cpp_2::token::LlamaToken;

/// Shorter shared prefixes are prefilled as they come: a holder is not worth it.
pub const MIN_PREFIX: usize = 32;
/// Recent prompts compared with a new one to find shared prefixes.
const RECENT: usize = 16;

/// Where a new prompt's prefix stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Holder `h` holds a prefix of the prompt, prefilled: copy it.
    Ready(usize),
    /// Holder `h` holds a prefix of the prompt, still prefilling: wait for it.
    Filling(usize),
    /// Nothing to reuse: prefill the whole prompt.
    Miss,
}

#[derive(Debug)]
struct Entry {
    tokens: Vec<LlamaToken>,
    /// Tokens of the prefix put into a batch so far.
    fed: usize,
    /// All of it decoded: the holder's cells are complete.
    ready: bool,
    last_used: u64,
    /// Sequences waiting for this entry (it may not be evicted meanwhile).
    waiting: usize,
}

/// The entries, one per holder sequence, and recent prompts.
#[derive(Debug)]
pub struct PrefixCache {
    entries: Vec<Option<Entry>>,
    recent: VecDeque<Vec<LlamaToken>>,
    clock: u64,
    pub hits: u64,
    pub tokens_saved: u64,
}

impl PrefixCache {
    pub fn new(holders: usize) -> PrefixCache {
        PrefixCache { entries: (0..holders).map(|_| None).collect(), recent: VecDeque::new(), clock: 0, hits: 0, tokens_saved: 0 }
    }

    pub fn holders(&self) -> usize {
        self.entries.len()
    }

    /// The prefix length of holder `h`.
    pub fn len(&self, h: usize) -> usize {
        self.entries[h].as_ref().map_or(0, |e| e.tokens.len())
    }

    /// Finds the longest cached prefix of `prompt` (strictly shorter than it: the last
    /// prompt token must be decoded to get logits), or plans a new entry for it. `is_control`
    /// tells which tokens start a turn. Returns what the prompt should do, and the entry it
    /// now counts on (the caller must `release` it once copied or abandoned).
    pub fn lookup(&mut self, prompt: &[LlamaToken], is_control: &dyn Fn(LlamaToken) -> bool) -> Lookup {
        self.clock += 1;
        let best = (0..self.entries.len())
            .filter_map(|h| self.entries[h].as_ref().map(|e| (h, e)))
            .filter(|(_, e)| e.tokens.len() < prompt.len() && prompt.starts_with(&e.tokens))
            .max_by_key(|(_, e)| e.tokens.len())
            .map(|(h, _)| h);
        let found = best.or_else(|| self.plan(prompt, is_control));
        self.remember(prompt);
        let Some(h) = found else { return Lookup::Miss };
        let clock = self.clock;
        let e = self.entries[h].as_mut().expect("found above");
        e.last_used = clock;
        e.waiting += 1;
        if e.ready { Lookup::Ready(h) } else { Lookup::Filling(h) }
    }

    /// A sequence has copied entry `h` (it saved `len(h)` tokens of prefill) or given up
    /// waiting for it.
    pub fn release(&mut self, h: usize, copied: bool) {
        if let Some(e) = self.entries[h].as_mut() {
            e.waiting = e.waiting.saturating_sub(1);
            if copied {
                self.hits += 1;
                self.tokens_saved += e.tokens.len() as u64;
            }
        }
    }

    /// A new entry for the prefix `prompt` shares with a recent prompt, in the least
    /// recently used holder nobody waits for; `None` when nothing worth it is shared or
    /// every holder is busy.
    fn plan(&mut self, prompt: &[LlamaToken], is_control: &dyn Fn(LlamaToken) -> bool) -> Option<usize> {
        let shared = self.recent.iter().map(|r| common_prefix(r, prompt)).max()?;
        let shared = shared.min(prompt.len() - 1);
        // End on a turn boundary: before the last control token after the first one.
        let cut = (1..shared).rev().find(|&i| is_control(prompt[i])).unwrap_or(shared);
        if cut < MIN_PREFIX {
            return None;
        }
        let h = (0..self.entries.len())
            .filter(|&h| self.entries[h].as_ref().is_none_or(|e| e.waiting == 0))
            .min_by_key(|&h| self.entries[h].as_ref().map_or(0, |e| e.last_used))?;
        self.entries[h] = Some(Entry { tokens: prompt[..cut].to_vec(), fed: 0, ready: false, last_used: self.clock, waiting: 0 });
        Some(h)
    }

    fn remember(&mut self, prompt: &[LlamaToken]) {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(prompt.to_vec());
    }

    /// The next chunk of holder `h`'s prefix to prefill (at most `room` tokens), with the
    /// position of its first token; empty when it is all fed.
    pub fn next_chunk(&mut self, h: usize, room: usize) -> (usize, &[LlamaToken]) {
        let Some(e) = self.entries[h].as_mut() else { return (0, &[]) };
        let start = e.fed;
        let take = (e.tokens.len() - start).min(room);
        e.fed += take;
        (start, &e.tokens[start..start + take])
    }

    /// After a decode: entries whose whole prefix has been fed are ready.
    pub fn mark_decoded(&mut self) {
        for e in self.entries.iter_mut().flatten() {
            if e.fed == e.tokens.len() {
                e.ready = true;
            }
        }
    }

    pub fn is_ready(&self, h: usize) -> bool {
        self.entries[h].as_ref().is_some_and(|e| e.ready)
    }

    /// Holders planned since their cells were cleared: the caller clears a reused holder's
    /// cells before its first chunk goes in.
    pub fn is_fresh(&self, h: usize) -> bool {
        self.entries[h].as_ref().is_some_and(|e| e.fed == 0)
    }

    /// Forgets every entry (after a failed decode the cells are unknown).
    pub fn clear(&mut self) {
        self.entries.iter_mut().for_each(|e| *e = None);
    }
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

    fn control(t: LlamaToken) -> bool {
        t.0 == TURN || t.0 == 1
    }

    #[test]
    fn a_second_prompt_with_the_same_block_plans_an_entry_cut_at_the_turn() {
        let mut c = PrefixCache::new(2);
        assert_eq!(c.lookup(&prompt(40, &[5, 6, 7]), &control), Lookup::Miss);
        // Shares the block and the user's first word: the entry still ends before the turn.
        let second = prompt(40, &[5, 8]);
        let Lookup::Filling(h) = c.lookup(&second, &control) else { panic!("expected a new entry") };
        assert_eq!(c.len(h), 41);
        let (start, chunk) = c.next_chunk(h, 30);
        assert_eq!((start, chunk.len()), (0, 30));
        let (start, chunk) = c.next_chunk(h, 30);
        assert_eq!((start, chunk.len()), (30, 11));
        assert!(!c.is_ready(h));
        c.mark_decoded();
        assert!(c.is_ready(h));
        c.release(h, true);
        // The next prompt with the block finds it ready; one without it misses.
        assert_eq!(c.lookup(&prompt(40, &[4]), &control), Lookup::Ready(h));
        c.release(h, true);
        assert_eq!((c.hits, c.tokens_saved), (2, 82));
        assert_eq!(c.lookup(&toks(&[1, 2, 3]), &control), Lookup::Miss);
    }

    #[test]
    fn short_shared_prefixes_are_not_cached() {
        let mut c = PrefixCache::new(2);
        c.lookup(&prompt(10, &[5]), &control);
        assert_eq!(c.lookup(&prompt(10, &[6]), &control), Lookup::Miss);
    }

    #[test]
    fn the_least_recently_used_idle_entry_goes_first_and_waited_for_ones_stay() {
        let mut c = PrefixCache::new(2);
        let block = |k: i32, user: i32| {
            let mut v = vec![1];
            v.extend((0..40).map(|i| 1000 * k + i));
            v.extend([TURN, user]);
            toks(&v)
        };
        for k in 1..=2 {
            c.lookup(&block(k, 1), &control);
            let Lookup::Filling(h) = c.lookup(&block(k, 2), &control) else { panic!() };
            c.next_chunk(h, 100);
            c.mark_decoded();
            if k == 1 {
                c.release(h, true); // block 1 idle, block 2 still waited for
            }
        }
        c.lookup(&block(3, 1), &control);
        let Lookup::Filling(h3) = c.lookup(&block(3, 2), &control) else { panic!() };
        assert_eq!(c.lookup(&block(2, 3), &control), Lookup::Ready(1 - h3), "block 2's entry survived");
        assert_eq!(c.lookup(&block(1, 3), &control), Lookup::Miss, "block 1's entry was evicted");
    }

    #[test]
    fn a_prompt_equal_to_a_cached_prefix_does_not_use_it() {
        let mut c = PrefixCache::new(1);
        let p = prompt(40, &[5]);
        c.lookup(&p, &control);
        let Lookup::Filling(h) = c.lookup(&prompt(40, &[6]), &control) else { panic!() };
        let prefix = p[..c.len(h)].to_vec();
        c.next_chunk(h, 100);
        c.mark_decoded();
        c.release(h, false);
        assert_ne!(c.lookup(&prefix, &control), Lookup::Ready(h));
    }
}
