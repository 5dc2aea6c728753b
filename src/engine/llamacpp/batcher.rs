//! The engine thread: continuous batching over sequence slots. Each step puts into one
//! llama.cpp batch the next token of every running sequence plus prompt chunks of newly
//! admitted ones (and of prefixes being cached), decodes once, samples, and retires
//! finished sequences (clearing their KV). Requests wait in a channel until a slot is free.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;
use rand::SeedableRng;
use rayon::prelude::*;

use super::exact_cut::ExactCuts;
use super::prefix::{Lookup, PrefixCache};
use super::sampling::{probability, sample};
use super::text::take_utf8_prefix;
use super::{LlamaOptions, Loaded, Sizing, backend, load_err, offload_device};
use crate::engine::step_profile::{StepKind, StepProfile};
use crate::engine::{EngineError, GenerationSettings, KvLayout, StreamEvent, Tracker, available_cores};

/// How long an idle engine waits for another request of a starting wave, and for the whole
/// wave at most (`gather_arrivals`); after a step that finished sequences, for their callers'
/// next requests. The wait for a request that may not come (`ARRIVAL_QUIET`) is at most a
/// sixteenth of the last step (`WAIT_SHARE`), and so is the whole wait after a step: on a
/// GPU, whose steps take a few milliseconds, a lone request or the sequences still decoding
/// lose a fraction of a step where nobody comes.
const ARRIVAL_QUIET: Duration = Duration::from_millis(1);
const ARRIVAL_WINDOW: Duration = Duration::from_millis(10);
const WAIT_SHARE: u32 = 16;

/// A request as the engine thread sees it.
pub(super) struct Job {
    pub tokens: Vec<LlamaToken>,
    pub settings: GenerationSettings,
    pub start: Instant,
    pub events: Sender<StreamEvent>,
}

/// One running sequence in a slot.
struct Sequence {
    job: Job,
    /// Prompt tokens already put into a batch.
    fed: usize,
    /// Position of the next token.
    pos: i32,
    /// Last sampled token, fed at the next step.
    next: Option<LlamaToken>,
    /// Index of this sequence's logits in the current batch.
    logits_at: Option<i32>,
    /// Bytes of a character split across tokens, waiting for the rest.
    bytes: Vec<u8>,
    track: Tracker,
    rng: rand_chacha::ChaCha8Rng,
    /// The cached prefix (its holder) this sequence waits for before it prefills the rest.
    wait_for: Option<usize>,
    /// The new prefix entry (its holder) this sequence fills: it stops at the prefix's end
    /// until its cells are copied into the holder.
    feeds: Option<usize>,
    /// Prompt tokens whose KV came from the prefix cache; `None` when the cache is off.
    cached: Option<u64>,
    /// Set at the first sampling: the probability of starting a call there.
    call_start_p: Option<f64>,
    sampled: bool,
}

impl Sequence {
    fn new(job: Job) -> Sequence {
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(job.settings.seed.unwrap_or(0));
        let track = Tracker::new(job.start);
        Sequence {
            job,
            fed: 0,
            pos: 0,
            next: None,
            logits_at: None,
            bytes: Vec::new(),
            track,
            rng,
            wait_for: None,
            feeds: None,
            cached: None,
            call_start_p: None,
            sampled: false,
        }
    }

    /// Sends a finished completion; the slot is freed by the caller.
    fn finish(mut self, finish_reason: &str) {
        // Bytes of an unfinished UTF-8 character at the very end are shown lossily.
        let tail = String::from_utf8_lossy(&self.bytes).into_owned();
        if !tail.is_empty() {
            let ms = self.track.ms();
            self.track.push(&tail, ms);
        }
        let mut completion = self.track.finish(finish_reason, &self.job.settings, self.job.tokens.len() as u64, self.cached);
        completion.timings.call_start_p = self.call_start_p;
        let _ = self.job.events.send(StreamEvent::Done(Ok(completion)));
    }

    fn fail(self, e: EngineError) {
        let _ = self.job.events.send(StreamEvent::Done(Err(e)));
    }
}

/// Waits briefly for requests that are about to come, so that their prompts go into the
/// next step instead of the one after: the rest of a wave starting on an idle engine (a
/// closed loop's next requests, or callers started together), or the next requests of
/// callers whose sequences just finished (eval workers, agent loops). Until no request came
/// for `quiet`, `window` has passed, or `capacity` wait.
fn gather_arrivals(rx: &Receiver<Job>, waiting: &mut VecDeque<Job>, capacity: usize, quiet: Duration, window: Duration) {
    let deadline = Instant::now() + window;
    while waiting.len() < capacity {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        match rx.recv_timeout(quiet.min(left)) {
            Ok(job) => waiting.push_back(job),
            Err(_) => return,
        }
    }
}

pub(super) fn worker_main(path: &Path, opts: &LlamaOptions, rx: Receiver<Job>, ready: Sender<Result<Loaded, EngineError>>) {
    let start = Instant::now();
    let loaded = (|| {
        let backend = backend()?;
        let params = LlamaModelParams::default().with_n_gpu_layers(opts.gpu_layers);
        let mut model =
            LlamaModel::load_from_file(backend, path, &params).map_err(|e| load_err(path, format!("llama.cpp could not load it: {e}")))?;
        let adapter = match &opts.lora {
            Some(l) => {
                Some(model.lora_adapter_init(l).map_err(|e| load_err(l, format!("not a llama.cpp LoRA adapter for this model: {e}")))?)
            }
            None => None,
        };
        Ok::<_, EngineError>((model, adapter))
    })();
    let (model, mut adapter) = match loaded {
        Ok(m) => m,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let model = Arc::new(model);
    let slots = opts.max_sequences.max(1);
    let holders = opts.prefix_cache;
    let device = offload_device(opts);
    let sizing = Sizing::resolve(opts, device.is_some(), available_cores());
    let threads = sizing.threads as i32;
    // Holders of cached prefixes are sequences too, each with a stream of its own.
    let n_ctx = ((slots + holders) * opts.ctx_per_seq.max(64)) as u32;
    let params = LlamaContextParams::default()
        .with_n_ctx(std::num::NonZeroU32::new(n_ctx))
        .with_n_batch(sizing.batch_tokens as u32)
        .with_n_ubatch(sizing.ubatch_tokens as u32)
        .with_n_seq_max((slots + holders) as u32)
        .with_kv_unified(opts.kv_layout == KvLayout::Unified)
        // Sliding-window layers keep only their window (llama.cpp's default keeps the full
        // context for every layer): 15 of Gemma 3's 18 layers are sliding, so this cuts the
        // KV memory of 32 slots several-fold. Sequences only grow, so nothing needs the rest.
        .with_swa_full(false)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let backend_ref = backend().expect("initialised above");
    let created = if opts.backend_sampling {
        let samplers = (0..slots)
            .map(|i| (i as i32, llama_cpp_2::sampling::LlamaSampler::chain_simple([llama_cpp_2::sampling::LlamaSampler::greedy()])));
        model.new_context_with_samplers(backend_ref, params, samplers)
    } else {
        model.new_context(backend_ref, params)
    };
    let mut ctx = match created {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(load_err(path, format!("llama.cpp context ({slots} sequences x {} tokens): {e}", opts.ctx_per_seq))));
            return;
        }
    };
    if let Some(a) = adapter.as_mut()
        && let Err(e) = ctx.lora_adapter_set(a, 1.0)
    {
        let _ = ready.send(Err(load_err(path, format!("applying the LoRA adapter: {e}"))));
        return;
    }
    let file_type = model.meta_val_str("general.file_type").ok().and_then(|v| v.parse().ok());
    let parallel_sampling = device.is_some();
    let cuts = ExactCuts::new(sizing.ubatch_tokens, device.is_none());
    let _ = ready.send(Ok(Loaded { model: model.clone(), load_ms: start.elapsed().as_secs_f64() * 1000.0, file_type, device, sizing }));
    drop(ready);
    Batcher {
        model: &model,
        ctx,
        slots: (0..slots).map(|_| None).collect(),
        batch_tokens: sizing.batch_tokens,
        ctx_per_seq: opts.ctx_per_seq,
        backend_sampling: opts.backend_sampling,
        parallel_sampling,
        profile: StepProfile::from_env(),
        prefix: (holders > 0).then(|| PrefixCache::new(holders, cuts)),
        // parse_special: the marker is one token where the vocabulary has it.
        call_start: model.vocab().tokenize(crate::codec::tokens::START_CALL.as_bytes(), false, true).first().map(|t| t.0 as usize),
    }
    .run(rx);
}

struct Batcher<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    slots: Vec<Option<Sequence>>,
    batch_tokens: usize,
    ctx_per_seq: usize,
    backend_sampling: bool,
    /// Sample the sequences on all cores at once. Only while a GPU computes: on a CPU the
    /// cores belong to llama.cpp, whose threads wait for each other spinning, and rayon's
    /// workers competed with them (a vocabulary-bound model, 2 cores, 8 / 32 in flight:
    /// 10.1 / 14.6 requests/s in parallel, 10.9 / 16.0 one after another).
    parallel_sampling: bool,
    /// Phase timings per step (`FGBENCH_STEP_PROFILE`), printed when the loop ends.
    profile: Option<StepProfile>,
    /// Shared prompt prefixes kept in holder sequences (ids after the slots'); `None`: off.
    prefix: Option<PrefixCache>,
    /// The first token of `<start_function_call>` in this vocabulary (the whole marker in
    /// FunctionGemma's; its first piece in a tokenizer without the control tokens).
    call_start: Option<usize>,
}

impl Batcher<'_> {
    fn run(&mut self, rx: Receiver<Job>) {
        let mut waiting: VecDeque<Job> = VecDeque::new();
        let mut batch = LlamaBatch::new(self.batch_tokens, self.slots.len() as i32);
        // How long the last step took, and whether it finished sequences (freeing slots).
        let mut last_step: Option<Duration> = None;
        let mut freed = false;
        loop {
            // Block only when there is nothing to decode.
            let idle = waiting.is_empty() && self.slots.iter().all(Option::is_none);
            let first = if idle {
                match rx.recv() {
                    Ok(c) => Some(c),
                    Err(_) => break,
                }
            } else {
                None
            };
            waiting.extend(first.into_iter().chain(std::iter::from_fn(|| rx.try_recv().ok())));
            let share = |d: Duration| last_step.map_or(d, |t| d.min(t / WAIT_SHARE));
            if idle {
                gather_arrivals(&rx, &mut waiting, self.slots.len(), share(ARRIVAL_QUIET), ARRIVAL_WINDOW);
            } else if freed {
                let free = self.slots.iter().filter(|s| s.is_none()).count();
                gather_arrivals(&rx, &mut waiting, free, share(ARRIVAL_QUIET), share(ARRIVAL_WINDOW));
            }
            self.admit(&mut waiting);
            if self.slots.iter().all(Option::is_none) {
                continue;
            }
            let started = Instant::now();
            let running = self.slots.iter().flatten().count();
            self.step(&mut batch);
            freed = self.slots.iter().flatten().count() < running;
            last_step = Some(started.elapsed());
        }
        if let Some(p) = &self.profile {
            eprint!("{}", p.render());
        }
    }

    /// Moves waiting jobs into free slots; a prompt that cannot fit is refused at once. A
    /// prompt that starts with a cached prefix waits for its holder's cells; one that opens
    /// a new entry fills it.
    fn admit(&mut self, waiting: &mut VecDeque<Job>) {
        let vocab = self.model.vocab();
        for i in 0..self.slots.len() {
            while self.slots[i].is_none() {
                let Some(job) = waiting.pop_front() else { return };
                if let Some(e) = self.refusal(&job) {
                    let _ = job.events.send(StreamEvent::Done(Err(EngineError::Unsupported(e))));
                    continue;
                }
                let mut s = Sequence::new(job);
                if let Some(cache) = self.prefix.as_mut() {
                    s.cached = Some(0);
                    match cache.lookup(&s.job.tokens, &|t| vocab.is_control(t)) {
                        Lookup::Ready(h) | Lookup::Filling(h) => s.wait_for = Some(h),
                        Lookup::Feed(h) => s.feeds = Some(h),
                        Lookup::Miss => {}
                    }
                }
                self.slots[i] = Some(s);
            }
        }
    }

    /// Gives every sequence waiting for a prefix that is now complete a copy of its
    /// holder's cells; it prefills from there.
    fn copy_ready_prefixes(&mut self) {
        let Some(cache) = self.prefix.as_mut() else { return };
        let first_holder = self.slots.len();
        for (seq_id, slot) in self.slots.iter_mut().enumerate() {
            let Some(s) = slot.as_mut() else { continue };
            let Some(h) = s.wait_for.filter(|&h| cache.is_ready(h)) else { continue };
            // Whole-stream copy (the only kind across KV streams); the stream is empty.
            let _ = self.ctx.copy_kv_cache_seq((first_holder + h) as i32, seq_id as i32, None, None);
            let n = cache.len(h);
            s.fed = n;
            s.pos = n as i32;
            s.cached = Some(n as u64);
            s.wait_for = None;
            cache.release(h, true);
        }
    }

    /// Copies the cells of every feeder that has reached the end of its prefix into the
    /// prefix's holder, which makes the entry ready; the feeder goes on with its prompt.
    fn hand_over_filled_prefixes(&mut self) {
        let Some(cache) = self.prefix.as_mut() else { return };
        let first_holder = self.slots.len();
        let mut failed = Vec::new();
        for (seq_id, slot) in self.slots.iter_mut().enumerate() {
            let Some(s) = slot.as_mut() else { continue };
            let Some(h) = s.feeds.filter(|&h| s.fed > 0 && s.fed == cache.len(h)) else { continue };
            s.feeds = None;
            let holder = (first_holder + h) as i32;
            // The holder's stream is emptied first: whole-stream copies go into empty streams.
            let _ = self.ctx.clear_kv_cache_seq(Some(holder as u32), None, None);
            match self.ctx.copy_kv_cache_seq(seq_id as i32, holder, None, None) {
                Ok(()) => cache.filled(h),
                Err(_) => failed.push(h),
            }
        }
        for h in failed {
            self.abandon_prefix(h);
        }
    }

    /// Drops entry `h` before it was filled; whoever waited for it prefills its whole prompt.
    fn abandon_prefix(&mut self, h: usize) {
        if let Some(c) = self.prefix.as_mut() {
            c.abandon(h);
        }
        for s in self.slots.iter_mut().flatten().filter(|s| s.wait_for == Some(h)) {
            s.wait_for = None;
        }
    }

    /// One decode over every running sequence: the next token of each decoding sequence is
    /// always in (cheap, latency bound); prompt chunks fill the rest of the batch. Tokens go
    /// in sequence-id order: with one KV stream per sequence llama.cpp cuts a ubatch wherever
    /// the ids stop being consecutive, and one graph evaluation per ubatch is what a GPU pays.
    fn step(&mut self, batch: &mut LlamaBatch) {
        if let Some(p) = self.profile.as_mut() {
            p.start();
        }
        self.copy_ready_prefixes();
        batch.clear();
        let decoding = self.slots.iter().flatten().filter(|s| s.next.is_some()).count();
        let mut room = self.batch_tokens.saturating_sub(decoding);
        let prefix = self.prefix.as_ref();
        for (seq_id, slot) in self.slots.iter_mut().enumerate() {
            let Some(s) = slot else { continue };
            s.logits_at = None;
            if let Some(tok) = s.next {
                batch.add(tok, s.pos, &[seq_id as i32], true).expect("batch sized for one token per slot");
                s.logits_at = Some(batch.n_tokens() - 1);
                s.pos += 1;
                continue;
            }
            if s.wait_for.is_some() {
                continue;
            }
            // A feeder stops at the end of its prefix, for its cells to be copied.
            let end = s.feeds.and_then(|h| prefix.map(|c| c.len(h))).filter(|&n| n > s.fed).unwrap_or(s.job.tokens.len());
            let take = (end - s.fed).min(room);
            for k in 0..take {
                let last = s.fed + k + 1 == s.job.tokens.len();
                batch.add(s.job.tokens[s.fed + k], s.pos, &[seq_id as i32], last).expect("batch has room");
                s.pos += 1;
                if last {
                    s.logits_at = Some(batch.n_tokens() - 1);
                }
            }
            s.fed += take;
            room -= take;
        }
        if batch.n_tokens() == 0 {
            return;
        }
        let kind = if batch.n_tokens() as usize == decoding { StepKind::DecodeOnly(decoding) } else { StepKind::WithPrompt };
        self.mark();
        if let Err(e) = self.ctx.decode(batch) {
            // A failed decode leaves the KV state of every sequence in the batch unknown:
            // fail them all and start clean.
            for slot in self.slots.iter_mut() {
                if let Some(s) = slot.take() {
                    s.fail(EngineError::Generate(format!("llama.cpp decode: {e}")));
                }
            }
            self.ctx.clear_kv_cache();
            if let Some(c) = self.prefix.as_mut() {
                c.clear();
            }
            return;
        }
        self.hand_over_filled_prefixes();
        self.mark();
        if self.profile.is_some() {
            // Separates the device's work (and the copy of the logits) from what follows;
            // reading the first logits would wait for it anyway.
            self.ctx.synchronize();
            self.mark();
        }
        for (seq_id, token) in self.sample_all() {
            match token {
                Some(t) => {
                    if let Some(reason) = self.advance_one(seq_id, t) {
                        self.retire(seq_id, Ok(&reason));
                    }
                }
                None => self.retire(seq_id, Err(EngineError::Generate("llama.cpp's backend sampler returned no token".into()))),
            }
        }
        if let Some(p) = self.profile.as_mut() {
            p.finish(kind, batch.n_tokens() as usize);
        }
    }

    fn mark(&mut self) {
        if let Some(p) = self.profile.as_mut() {
            p.mark();
        }
    }

    /// Why a waiting job cannot run, if it cannot.
    fn refusal(&self, job: &Job) -> Option<String> {
        if self.backend_sampling && job.settings.temperature.is_some_and(|t| t > 0.0) {
            return Some("--backend-sampling samples greedily; drop --temperature or --backend-sampling".into());
        }
        crate::engine::check_context(job.tokens.len(), &job.settings, self.ctx_per_seq, " (raise --ctx-per-seq)").err().map(|e| match e {
            EngineError::Unsupported(m) => m,
            other => other.to_string(),
        })
    }

    /// The next token of every sequence that has logits in the last batch. Backend
    /// sampling: what llama.cpp's graph picked (`None` if it picked nothing). Otherwise the
    /// 262,144 logits per sequence are scanned here; on a GPU all sequences in parallel
    /// (with 32 sequences a serial scan was most of a step's time there).
    fn sample_all(&mut self) -> Vec<(usize, Option<LlamaToken>)> {
        if self.backend_sampling {
            return self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.as_ref().and_then(|s| s.logits_at).map(|at| (i, self.ctx.sampled_token_ith(at))))
                .collect();
        }
        let ctx = &self.ctx;
        let mut work: Vec<(usize, &[f32], &mut Sequence)> = self
            .slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| s.as_mut().and_then(|s| s.logits_at.map(|at| (i, ctx.get_logits_ith(at), s))))
            .collect();
        let call_start = self.call_start;
        let pick = |(i, logits, s): &mut (usize, &[f32], &mut Sequence)| {
            if !s.sampled {
                s.sampled = true;
                s.call_start_p = call_start.and_then(|id| probability(logits, id));
            }
            (*i, Some(LlamaToken(sample(logits, &s.job.settings, &mut s.rng) as i32)))
        };
        if self.parallel_sampling { work.par_iter_mut().map(pick).collect() } else { work.iter_mut().map(pick).collect() }
    }

    /// Ends the sequence in `seq_id` (its completion or error to the requester) and frees
    /// its slot and KV cells.
    fn retire(&mut self, seq_id: usize, outcome: Result<&str, EngineError>) {
        if let Some(s) = self.slots[seq_id].take() {
            if let (Some(h), Some(c)) = (s.wait_for, self.prefix.as_mut()) {
                c.release(h, false);
            }
            if let Some(h) = s.feeds {
                self.abandon_prefix(h);
            }
            match outcome {
                Ok(reason) => s.finish(reason),
                Err(e) => s.fail(e),
            }
        }
        let _ = self.ctx.clear_kv_cache_seq(Some(seq_id as u32), None, None);
    }

    /// Appends the sampled `token` to the sequence in `seq_id`; returns the finish reason
    /// when the sequence is done (or its requester has gone).
    fn advance_one(&mut self, seq_id: usize, token: LlamaToken) -> Option<String> {
        let s = self.slots[seq_id].as_mut().expect("sampled sequences are running");
        let ms = s.track.step();
        let vocab = self.model.vocab();
        let ignore_eos = s.job.settings.ignore_eos;
        if vocab.is_eog(token) && !ignore_eos {
            // Keep the eos text out of the answer, as the stop-suffix rule does for mistral.rs.
            return Some("eos".into());
        }
        s.bytes.extend(vocab.token_to_piece(token, true, None));
        let piece = take_utf8_prefix(&mut s.bytes);
        if !piece.is_empty() {
            s.track.push(&piece, ms);
            if s.job.events.send(StreamEvent::Piece(piece)).is_err() {
                return Some("canceled".into());
            }
        }
        if let Some(reason) = s.track.stop_reason(&s.job.settings) {
            return Some(reason.into());
        }
        s.next = Some(token);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    fn job() -> Job {
        Job { tokens: vec![], settings: GenerationSettings::default(), start: Instant::now(), events: channel().0 }
    }

    #[test]
    fn a_burst_of_arrivals_is_gathered_until_they_stop_or_the_slots_are_full() {
        let (tx, rx) = channel();
        for _ in 0..3 {
            tx.send(job()).unwrap();
        }
        let mut waiting = VecDeque::new();
        let started = Instant::now();
        gather_arrivals(&rx, &mut waiting, 8, ARRIVAL_QUIET, ARRIVAL_WINDOW);
        assert_eq!(waiting.len(), 3);
        assert!(started.elapsed() < Duration::from_secs(5), "a quiet channel ends the gathering");
        tx.send(job()).unwrap();
        let mut full = VecDeque::from([job(), job()]);
        gather_arrivals(&rx, &mut full, 2, ARRIVAL_QUIET, ARRIVAL_WINDOW);
        assert_eq!(full.len(), 2, "no wait once the slots are full");
        assert!(rx.try_recv().is_ok(), "the next request stays in the channel");
        tx.send(job()).unwrap();
        let mut none = VecDeque::new();
        gather_arrivals(&rx, &mut none, 8, ARRIVAL_QUIET, Duration::ZERO);
        assert!(none.is_empty(), "a window of nothing waits for nothing");
    }
}
