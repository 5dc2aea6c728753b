//! Where a prompt's prefill can be split in two (a cached prefix, then the rest) and still
//! give the very numbers of prefilling it whole.
//!
//! llama.cpp cuts a sequence's prompt into micro-batches from its first token, and its
//! kernels pick their code path, and with it the order of their sums, by a micro-batch's
//! shape. A prefix cache that starts the rest of a prompt at an arbitrary token therefore
//! changes the last bits of its logits and, now and then, a greedy near-tie. A cut is exact
//! when every token goes through the same kernels as in a whole prefill:
//! - a cut on a micro-batch boundary changes no micro-batch at all, on any backend;
//! - on the CPU, a cut inside a micro-batch is exact too when it keeps every token on its
//!   kernels there: the repacked quantized matmuls take activation rows in groups of
//!   [`ROW_GROUP`] (the rows left over at a micro-batch's end take another kernel), and flash
//!   attention tiles a sequence's queries only when a micro-batch holds at least
//!   [`ATTENTION_TILE`] of them (fewer take a row-by-row kernel).
//!
//! This holds for one sequence prefilling at a time; several prompts in one batch change
//! the micro-batches' shapes with or without a cache.

/// Activation rows the CPU's repacked quantized matmul kernels take together.
const ROW_GROUP: usize = 4;
/// Queries per sequence from which the CPU's flash attention takes them in tiles.
const ATTENTION_TILE: usize = 64;

/// The exact cuts of one engine configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExactCuts {
    /// Tokens per micro-batch.
    ubatch: usize,
    /// The CPU's kernels compute (which allows cuts inside a micro-batch).
    cpu: bool,
}

impl ExactCuts {
    pub fn new(ubatch: usize, cpu: bool) -> ExactCuts {
        ExactCuts { ubatch: ubatch.max(1), cpu }
    }

    /// Whether prefilling a prompt of `n` tokens as `[0, c)` and then `[c, n)` gives the
    /// numbers of prefilling it whole.
    pub fn allows(&self, c: usize, n: usize) -> bool {
        let into = c % self.ubatch;
        if into == 0 {
            return true;
        }
        // The length of the last micro-batch of `len` tokens.
        let last = |len: usize| (len - 1) % self.ubatch + 1;
        // Inside a micro-batch: both parts of it and the last micro-batch, with and without
        // the cut, are tiled in attention, and the leftover rows are the same tokens.
        self.cpu
            && self.ubatch.is_multiple_of(ROW_GROUP)
            && c.is_multiple_of(ROW_GROUP)
            && into >= ATTENTION_TILE
            && n > c
            && last(n - c) >= ATTENTION_TILE
            && last(n) >= ATTENTION_TILE
    }

    /// The longest exact cut at or before `end` for a prompt of `n` tokens that also serves
    /// the prompts that share the first `end` tokens and go on for at least one more.
    pub fn at_or_before(&self, end: usize, n: usize) -> usize {
        (1..=end).rev().find(|&c| self.allows(c, n) && self.allows(c, end + 1)).unwrap_or(0)
    }
}

#[cfg(test)]
impl ExactCuts {
    /// Every cut: for tests of the cache's bookkeeping.
    pub fn any() -> ExactCuts {
        ExactCuts { ubatch: 1, cpu: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_batch_boundaries_are_exact_on_every_backend() {
        for cpu in [false, true] {
            let cuts = ExactCuts::new(512, cpu);
            assert!(cuts.allows(1024, 1363));
            assert!(cuts.allows(512, 513));
        }
        assert!(!ExactCuts::new(512, false).allows(1284, 1363), "a GPU's kernels are not characterised inside one");
    }

    #[test]
    fn cpu_cuts_inside_a_micro_batch_keep_row_groups_and_attention_tiles() {
        let cuts = ExactCuts::new(512, true);
        // An app prompt: 1,363 tokens, its last micro-batch 339 tokens from 1,024.
        assert!(cuts.allows(1284, 1363));
        assert!(!cuts.allows(1349, 1363), "1,349 splits a row group");
        assert!(!cuts.allows(1348, 1363), "the rest (15 tokens) would not be tiled");
        assert!(!cuts.allows(1056, 1363), "the cut-off part (32 tokens) would not be tiled");
        assert!(!cuts.allows(1284, 1566), "uncut, its last micro-batch (30 tokens) is not tiled");
        // The rest may span micro-batches; its last one must be tiled as the uncut one is.
        assert!(cuts.allows(1284, 1284 + 512 + 100));
        assert!(!cuts.allows(1284, 1284 + 512 + 10));
    }

    #[test]
    fn the_chosen_cut_serves_the_shortest_prompt_of_the_prefix() {
        let cuts = ExactCuts::new(512, true);
        let c = cuts.at_or_before(1349, 1363);
        assert_eq!(c, 1284, "a multiple of 4, 64 tokens before the shortest prompt that shares 1,349");
        assert!((1350..=1536).all(|n| cuts.allows(c, n)));
        assert_eq!(ExactCuts::new(512, false).at_or_before(1349, 1363), 1024);
        assert_eq!(ExactCuts::new(512, false).at_or_before(400, 500), 0, "no exact cut");
        assert_eq!(ExactCuts::any().at_or_before(41, 45), 41);
    }
}
