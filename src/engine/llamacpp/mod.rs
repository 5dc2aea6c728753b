//! The llama.cpp engine (crate `llama-cpp-2`, llama.cpp vendored by `llama-cpp-sys-2`): the
//! only module that imports it.
//!
//! - Loads GGUF files directly, optionally with a GGUF LoRA adapter.
//! - Continuous batching: one engine thread owns the context (the model is shared, read-only,
//!   with the callers, who tokenize on their own threads) and runs a loop over sequence slots. Each step puts into one llama.cpp batch the next token of every
//!   running sequence plus prompt chunks of newly admitted ones, decodes once, samples, and
//!   retires finished sequences (clearing their KV). Requests wait in a channel until a slot
//!   is free, so `--concurrency 32` becomes 32 sequences in one batch, not 32 turns.
//! - The prompt text is tokenized by llama.cpp with special-token parsing, so FunctionGemma's
//!   control tokens are single ids; exactly one `<bos>` leads (the rendered prompt has it).
//! - Same stop rules and timing fields as the mistral.rs engine: eos/end-of-generation
//!   tokens, the stop sequences, the length limit, and the optional stop after the calls.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::step_profile::{StepKind, StepProfile};
use super::{CALLS_DONE, CallClock, Completion, Engine, EngineError, EngineInfo, GenerationSettings, KvLayout, StreamEvent, available_cores, backend_feature};
use crate::records::Timings;

/// The llama.cpp release vendored by llama-cpp-sys-2 0.1.161 (its `LLAMA_BUILD_NUMBER`).
pub const LLAMA_CPP_2_VERSION: &str = "llama-cpp-2 0.1.160";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LlamaOptions {
    /// Sequences decoded together in one batch (slots).
    pub max_sequences: usize,
    /// Context (KV) tokens per sequence (the cache holds slots x this).
    pub ctx_per_seq: usize,
    /// Tokens per llama.cpp batch (prompt chunks are split to fit); default in [`Sizing`].
    #[serde(default)]
    pub batch_tokens: Option<usize>,
    /// Tokens per llama.cpp micro-batch, one graph evaluation each; default in [`Sizing`].
    #[serde(default)]
    pub ubatch_tokens: Option<usize>,
    /// CPU threads; default in [`Sizing`].
    pub threads: Option<usize>,
    /// Layers offloaded to a GPU (ignored by CPU builds; default: all).
    pub gpu_layers: u32,
    /// A GGUF LoRA adapter applied at scale 1.
    pub lora: Option<PathBuf>,
    /// Greedy sampling inside llama.cpp's compute graph (its experimental backend samplers),
    /// so only token ids, not 262,144 logits per sequence, come back from a GPU each step.
    /// Greedy requests only.
    #[serde(default)]
    pub backend_sampling: bool,
    #[serde(default)]
    pub kv_layout: KvLayout,
}

impl Default for LlamaOptions {
    fn default() -> Self {
        LlamaOptions { max_sequences: 32, ctx_per_seq: 8192, batch_tokens: None, ubatch_tokens: None, threads: None, gpu_layers: 999, lora: None, backend_sampling: false, kv_layout: KvLayout::default() }
    }
}

/// Batch sizes and CPU threads, as given or by default for where the layers run. On a GPU,
/// with a KV stream per sequence, llama.cpp runs a batch as micro-batches of equal tokens per
/// sequence, one graph evaluation each: micro-batches as large as the batch, and a batch of
/// 4,096, mean fewer of them while prompts are in (an H200 at 32 in flight: 65-67 requests/s
/// with llama.cpp's 2,048 / 512, 78-82 with 4,096 / 4,096; docs/performance.md). On a CPU,
/// llama.cpp's 2,048 / 512. Threads: every core (2, 4, 8 or 16 on the H200 were within noise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizing {
    pub batch_tokens: usize,
    pub ubatch_tokens: usize,
    pub threads: usize,
}

impl Sizing {
    pub fn resolve(opts: &LlamaOptions, on_gpu: bool, cores: usize) -> Sizing {
        let batch_tokens = opts.batch_tokens.unwrap_or(if on_gpu { 4096 } else { 2048 }).max(opts.max_sequences.max(1));
        let ubatch_tokens = opts.ubatch_tokens.unwrap_or(if on_gpu { batch_tokens } else { 512 }).clamp(1, batch_tokens);
        let threads = opts.threads.unwrap_or(cores).max(1);
        Sizing { batch_tokens, ubatch_tokens, threads }
    }
}

/// llama.cpp's backend may be initialised once per process.
fn backend() -> Result<&'static LlamaBackend, EngineError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let mut b = LlamaBackend::init().map_err(|e| e.to_string())?;
            if std::env::var_os("FGBENCH_LLAMA_LOG").is_none() {
                b.void_logs();
            }
            Ok(b)
        })
        .as_ref()
        .map_err(|e| EngineError::Generate(format!("llama.cpp backend: {e}")))
}

fn load_err(path: &Path, message: impl ToString) -> EngineError {
    EngineError::Load { path: path.display().to_string(), message: message.to_string() }
}

/// A request as the engine thread sees it.
struct Job {
    tokens: Vec<LlamaToken>,
    settings: GenerationSettings,
    start: Instant,
    events: Sender<StreamEvent>,
}

pub struct LlamaEngine {
    /// Shared with the engine thread: llama.cpp's vocabulary is read-only once loaded, so
    /// callers tokenize on their own threads instead of queueing behind a decode step.
    model: Arc<LlamaModel>,
    commands: std::sync::Mutex<Option<Sender<Job>>>,
    worker: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    info: EngineInfo,
}

impl LlamaEngine {
    /// Loads a GGUF file and starts the batching thread.
    pub fn load(gguf: &Path, opts: &LlamaOptions) -> Result<LlamaEngine, EngineError> {
        if !gguf.is_file() {
            return Err(load_err(gguf, "no such GGUF file"));
        }
        if let Some(lora) = &opts.lora
            && !lora.is_file()
        {
            return Err(load_err(lora, "no such GGUF LoRA file"));
        }
        backend()?;
        let (tx, rx) = channel::<Job>();
        let (ready_tx, ready_rx) = channel::<Result<Loaded, EngineError>>();
        let path = gguf.to_path_buf();
        let o = opts.clone();
        let worker = std::thread::Builder::new()
            .name("llama.cpp".into())
            .spawn(move || worker_main(&path, &o, rx, ready_tx))
            .map_err(|e| load_err(gguf, e))?;
        let Loaded { model, load_ms, file_type, device, sizing } = match ready_rx.recv() {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(load_err(gguf, "the llama.cpp thread died while loading")),
        };
        let info = EngineInfo {
            engine: "llamacpp".into(),
            engine_version: LLAMA_CPP_2_VERSION.into(),
            dtype: "gguf".into(),
            quantization: file_type.map(file_type_name),
            device: device.unwrap_or_else(|| "cpu".into()),
            backend_feature: backend_feature().into(),
            threads: Some(sizing.threads),
            batch_tokens: Some(sizing.batch_tokens),
            ubatch_tokens: Some(sizing.ubatch_tokens),
            max_sequences: opts.max_sequences,
            load_ms,
            backend_sampling: opts.backend_sampling,
            kv_layout: Some(opts.kv_layout),
        };
        Ok(LlamaEngine { model, commands: std::sync::Mutex::new(Some(tx)), worker: std::sync::Mutex::new(Some(worker)), info })
    }

    fn send(&self, job: Job) -> Result<(), EngineError> {
        let guard = self.commands.lock().map_err(|_| EngineError::Generate("engine lock poisoned".into()))?;
        let tx = guard.as_ref().ok_or_else(|| EngineError::Generate("engine is shut down".into()))?;
        tx.send(job).map_err(|_| EngineError::Generate("the llama.cpp thread is gone".into()))
    }
}

/// The GPU the model's layers go to, if any: what llama.cpp found at run time (a
/// dynamically linked llama.cpp may bring its own GPU backend), e.g. `CUDA0 (NVIDIA H200)`.
fn offload_device(opts: &LlamaOptions) -> Option<String> {
    if opts.gpu_layers == 0 {
        return None;
    }
    llama_cpp_2::list_llama_ggml_backend_devices()
        .into_iter()
        .find(|d| matches!(d.device_type, llama_cpp_2::LlamaBackendDeviceType::Gpu | llama_cpp_2::LlamaBackendDeviceType::IntegratedGpu))
        .map(|d| format!("{} ({})", d.name, d.description))
}

/// What the engine thread reports once the model is loaded.
struct Loaded {
    model: Arc<LlamaModel>,
    load_ms: f64,
    /// The GGUF's `general.file_type`, as llama.cpp read it.
    file_type: Option<u32>,
    /// The GPU the layers went to ([`offload_device`]).
    device: Option<String>,
    sizing: Sizing,
}

/// The name of a GGUF `general.file_type` (llama.cpp's llama_ftype numbering), e.g. `q4_k_m`.
fn file_type_name(ft: u32) -> String {
    let name = match ft {
        0 => "f32",
        1 => "f16",
        2 => "q4_0",
        3 => "q4_1",
        7 => "q8_0",
        8 => "q5_0",
        9 => "q5_1",
        10 => "q2_k",
        11 => "q3_k_s",
        12 => "q3_k_m",
        13 => "q3_k_l",
        14 => "q4_k_s",
        15 => "q4_k_m",
        16 => "q5_k_s",
        17 => "q5_k_m",
        18 => "q6_k",
        32 => "bf16",
        _ => return format!("ftype{ft}"),
    };
    name.into()
}

impl Engine for LlamaEngine {
    fn info(&self) -> EngineInfo {
        self.info.clone()
    }

    fn generate_streaming(
        &self,
        prompt: &str,
        settings: &GenerationSettings,
        on_piece: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Completion, EngineError> {
        let start = Instant::now();
        let ids = self.encode(prompt)?;
        let (tx, rx) = channel();
        let job = Job { tokens: ids.into_iter().map(|i| LlamaToken(i as i32)).collect(), settings: settings.clone(), start, events: tx };
        self.send(job)?;
        for event in rx {
            match event {
                StreamEvent::Piece(p) => {
                    if !on_piece(&p) {
                        // Dropping the receiver makes the engine thread retire the sequence.
                        return Err(EngineError::Canceled);
                    }
                }
                StreamEvent::Done(result) => return result,
            }
        }
        Err(EngineError::Generate("the llama.cpp thread dropped the request".into()))
    }

    fn encode(&self, prompt: &str) -> Result<Vec<u32>, EngineError> {
        Ok(tokenize(&self.model, prompt))
    }

    fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        Ok(detokenize(&self.model, ids))
    }
}

impl Drop for LlamaEngine {
    fn drop(&mut self) {
        // Closing the channel ends the loop; joining frees the model before exit.
        if let Ok(mut g) = self.commands.lock() {
            g.take();
        }
        if let Ok(mut w) = self.worker.lock()
            && let Some(h) = w.take()
        {
            let _ = h.join();
        }
    }
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
    generated: u64,
    bytes: Vec<u8>,
    clock: CallClock,
    ttft_ms: Option<f64>,
    rng: rand_chacha::ChaCha8Rng,
}

impl Sequence {
    fn new(job: Job) -> Sequence {
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(job.settings.seed.unwrap_or(0));
        Sequence { job, fed: 0, pos: 0, next: None, logits_at: None, generated: 0, bytes: Vec::new(), clock: CallClock::default(), ttft_ms: None, rng }
    }

    fn ms(&self) -> f64 {
        self.job.start.elapsed().as_secs_f64() * 1000.0
    }

    /// Sends a finished completion; the slot is freed by the caller.
    fn finish(mut self, finish_reason: &str) {
        let total_ms = self.ms();
        // Bytes of an unfinished UTF-8 character at the very end are shown lossily.
        let tail = String::from_utf8_lossy(&self.bytes).into_owned();
        if !tail.is_empty() {
            self.clock.push(&tail, total_ms);
        }
        let text = self.clock.final_text(finish_reason, &self.job.settings);
        let completion = Completion {
            text,
            finish_reason: finish_reason.into(),
            timings: Timings {
                prompt_tokens: Some(self.job.tokens.len() as u64),
                completion_tokens: Some(self.generated),
                ttft_ms: self.ttft_ms,
                last_call_ms: self.clock.last_call_ms,
                total_ms: Some(total_ms),
            },
        };
        let _ = self.job.events.send(StreamEvent::Done(Ok(completion)));
    }

    fn fail(self, e: EngineError) {
        let _ = self.job.events.send(StreamEvent::Done(Err(e)));
    }
}

fn worker_main(path: &Path, opts: &LlamaOptions, rx: Receiver<Job>, ready: Sender<Result<Loaded, EngineError>>) {
    let start = Instant::now();
    let loaded = (|| {
        let backend = backend()?;
        let params = LlamaModelParams::default().with_n_gpu_layers(opts.gpu_layers);
        let mut model = LlamaModel::load_from_file(backend, path, &params).map_err(|e| load_err(path, format!("llama.cpp could not load it: {e}")))?;
        let adapter = match &opts.lora {
            Some(l) => Some(model.lora_adapter_init(l).map_err(|e| load_err(l, format!("not a llama.cpp LoRA adapter for this model: {e}")))?),
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
    let device = offload_device(opts);
    let sizing = Sizing::resolve(opts, device.is_some(), available_cores());
    let threads = sizing.threads as i32;
    let n_ctx = (slots * opts.ctx_per_seq.max(64)) as u32;
    let params = LlamaContextParams::default()
        .with_n_ctx(std::num::NonZeroU32::new(n_ctx))
        .with_n_batch(sizing.batch_tokens as u32)
        .with_n_ubatch(sizing.ubatch_tokens as u32)
        .with_n_seq_max(slots as u32)
        .with_kv_unified(opts.kv_layout == KvLayout::Unified)
        // Sliding-window layers keep only their window (llama.cpp's default keeps the full
        // context for every layer): 15 of Gemma 3's 18 layers are sliding, so this cuts the
        // KV memory of 32 slots several-fold. Sequences only grow, so nothing needs the rest.
        .with_swa_full(false)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let backend_ref = backend().expect("initialised above");
    let created = if opts.backend_sampling {
        let samplers = (0..slots).map(|i| (i as i32, llama_cpp_2::sampling::LlamaSampler::chain_simple([llama_cpp_2::sampling::LlamaSampler::greedy()])));
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
}

impl Batcher<'_> {
    fn run(&mut self, rx: Receiver<Job>) {
        let mut waiting: std::collections::VecDeque<Job> = std::collections::VecDeque::new();
        let mut batch = LlamaBatch::new(self.batch_tokens, self.slots.len() as i32);
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
            self.admit(&mut waiting);
            if self.slots.iter().all(Option::is_none) {
                continue;
            }
            self.step(&mut batch);
        }
        if let Some(p) = &self.profile {
            eprint!("{}", p.render());
        }
    }

    /// Moves waiting jobs into free slots; a prompt that cannot fit is refused at once.
    fn admit(&mut self, waiting: &mut std::collections::VecDeque<Job>) {
        for i in 0..self.slots.len() {
            if self.slots[i].is_some() {
                continue;
            }
            let Some(job) = waiting.pop_front() else { break };
            match self.refusal(&job) {
                Some(e) => {
                    let _ = job.events.send(StreamEvent::Done(Err(EngineError::Unsupported(e))));
                }
                None => self.slots[i] = Some(Sequence::new(job)),
            }
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
        batch.clear();
        let decoding = self.slots.iter().flatten().filter(|s| s.next.is_some()).count();
        let mut room = self.batch_tokens.saturating_sub(decoding);
        for (seq_id, slot) in self.slots.iter_mut().enumerate() {
            let Some(s) = slot else { continue };
            s.logits_at = None;
            if let Some(tok) = s.next {
                batch.add(tok, s.pos, &[seq_id as i32], true).expect("batch sized for one token per slot");
                s.logits_at = Some(batch.n_tokens() - 1);
                s.pos += 1;
                continue;
            }
            let take = (s.job.tokens.len() - s.fed).min(room);
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
            return;
        }
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
        let needed = job.tokens.len() + job.settings.max_new_tokens;
        (needed > self.ctx_per_seq).then(|| {
            format!(
                "prompt of {} tokens + {} new tokens exceeds the context of {} tokens per sequence (raise --ctx-per-seq)",
                job.tokens.len(),
                job.settings.max_new_tokens,
                self.ctx_per_seq
            )
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
        let pick = |(i, logits, s): &mut (usize, &[f32], &mut Sequence)| (*i, Some(LlamaToken(sample(logits, s.job.settings.temperature, &mut s.rng) as i32)));
        if self.parallel_sampling {
            work.par_iter_mut().map(pick).collect()
        } else {
            work.iter_mut().map(pick).collect()
        }
    }

    /// Ends the sequence in `seq_id` (its completion or error to the requester) and frees
    /// its slot and KV cells.
    fn retire(&mut self, seq_id: usize, outcome: Result<&str, EngineError>) {
        if let Some(s) = self.slots[seq_id].take() {
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
        let ms = s.ms();
        s.ttft_ms.get_or_insert(ms);
        s.generated += 1;
        let vocab = self.model.vocab();
        let ignore_eos = s.job.settings.ignore_eos;
        if vocab.is_eog(token) && !ignore_eos {
            // Keep the eos text out of the answer, as the stop-suffix rule does for mistral.rs.
            return Some("eos".into());
        }
        s.bytes.extend(vocab.token_to_piece(token, true, None));
        let piece = take_utf8_prefix(&mut s.bytes);
        if !piece.is_empty() {
            s.clock.push(&piece, ms);
            if s.job.events.send(StreamEvent::Piece(piece)).is_err() {
                return Some("canceled".into());
            }
        }
        let text = s.clock.text();
        if !ignore_eos && s.job.settings.stop_sequences.iter().any(|stop| text.ends_with(stop.as_str())) {
            return Some("stop".into());
        }
        if s.job.settings.stop_after_calls && s.clock.calls_finished() {
            return Some(CALLS_DONE.into());
        }
        if s.generated as usize >= s.job.settings.max_new_tokens {
            return Some("length".into());
        }
        s.next = Some(token);
        None
    }
}

/// Token ids of a prompt, llama.cpp parsing the special tokens, with exactly one `<bos>` first.
fn tokenize(model: &LlamaModel, text: &str) -> Vec<u32> {
    let vocab = model.vocab();
    let mut ids: Vec<u32> = vocab.tokenize(text.as_bytes(), false, true).into_iter().map(|t| t.0 as u32).collect();
    let bos = vocab.bos().0 as u32;
    while ids.len() > 1 && ids[0] == bos && ids[1] == bos {
        ids.remove(0);
    }
    if ids.first() != Some(&bos) {
        ids.insert(0, bos);
    }
    ids
}

fn detokenize(model: &LlamaModel, ids: &[u32]) -> String {
    let vocab = model.vocab();
    let bytes: Vec<u8> = ids.iter().flat_map(|&i| vocab.token_to_piece(LlamaToken(i as i32), true, None)).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The longest valid UTF-8 prefix of `bytes`, removed from it (a token may end inside a
/// multi-byte character; the rest comes with the next token).
fn take_utf8_prefix(bytes: &mut Vec<u8>) -> String {
    let valid = match std::str::from_utf8(bytes) {
        Ok(s) => s.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        // Invalid bytes that no continuation can repair: pass them on lossily.
        Err(_) => bytes.len(),
    };
    let head: Vec<u8> = bytes.drain(..valid).collect();
    String::from_utf8_lossy(&head).into_owned()
}

/// Greedy (`None`) picks the highest logit (the lowest id on ties, like llama.cpp's greedy
/// sampler); a temperature samples from the softmax with the sequence's seeded generator.
fn sample(logits: &[f32], temperature: Option<f64>, rng: &mut rand_chacha::ChaCha8Rng) -> usize {
    let argmax = || argmax(logits);
    match temperature {
        None => argmax(),
        Some(t) if t <= 0.0 => argmax(),
        Some(t) => {
            let max = logits[argmax()];
            let weights: Vec<f64> = logits.iter().map(|&l| (((l - max) as f64) / t).exp()).collect();
            let total: f64 = weights.iter().sum();
            let mut r = rng.random::<f64>() * total;
            for (i, w) in weights.iter().enumerate() {
                r -= w;
                if r <= 0.0 {
                    return i;
                }
            }
            logits.len() - 1
        }
    }
}

/// Index of the largest value, the first one on ties. The maximum is found over 16 lanes
/// (which the compiler vectorizes), then its first position: ~10x faster than a scan that
/// tracks the index, which matters at 262,144 logits per token.
fn argmax(values: &[f32]) -> usize {
    const LANES: usize = 16;
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..LANES {
            lanes[k] = if c[k] > lanes[k] { c[k] } else { lanes[k] };
        }
    }
    let max = lanes.iter().chain(rest).fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a });
    values.iter().position(|&v| v == max).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizing_defaults_follow_the_device_and_given_values_win() {
        let opts = LlamaOptions { max_sequences: 32, ..LlamaOptions::default() };
        assert_eq!(Sizing::resolve(&opts, false, 2), Sizing { batch_tokens: 2048, ubatch_tokens: 512, threads: 2 });
        assert_eq!(Sizing::resolve(&opts, true, 16), Sizing { batch_tokens: 4096, ubatch_tokens: 4096, threads: 16 });
        let given = LlamaOptions { batch_tokens: Some(1024), ubatch_tokens: Some(4096), threads: Some(8), ..opts.clone() };
        // A micro-batch never exceeds its batch.
        assert_eq!(Sizing::resolve(&given, true, 16), Sizing { batch_tokens: 1024, ubatch_tokens: 1024, threads: 8 });
        // A batch always holds the next token of every slot.
        let tiny = LlamaOptions { batch_tokens: Some(8), ..opts };
        assert_eq!(Sizing::resolve(&tiny, false, 2).batch_tokens, 32);
    }

    #[test]
    fn utf8_prefix_waits_for_the_rest_of_a_character() {
        let mut b = "a€".as_bytes()[..2].to_vec(); // 'a' + first byte of '€'
        assert_eq!(take_utf8_prefix(&mut b), "a");
        assert_eq!(b.len(), 1);
        b.extend(&"€".as_bytes()[1..]);
        assert_eq!(take_utf8_prefix(&mut b), "€");
        assert!(b.is_empty());
    }

    #[test]
    fn greedy_takes_the_first_maximum_and_sampling_follows_the_seed() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        assert_eq!(sample(&[0.1, 3.0, 3.0, -1.0], None, &mut rng), 1);
        let draw = |seed| {
            let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            (0..20).map(|_| sample(&[1.0, 1.0, 1.0, 1.0], Some(1.0), &mut r)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        // The vectorized argmax agrees with a plain scan, remainder lanes included.
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for n in [1, 15, 16, 17, 1000, 262_144] {
            let v: Vec<f32> = (0..n).map(|_| r.random_range(-10.0..10.0)).collect();
            let plain = (0..n).fold(0, |b, i| if v[i] > v[b] { i } else { b });
            assert_eq!(argmax(&v), plain, "n={n}");
        }
        assert_eq!(argmax(&[1.0, 5.0, 2.0, 5.0]), 1);
        // A very low temperature is greedy in effect.
        assert_eq!(sample(&[0.0, 5.0, 1.0], Some(1e-3), &mut rng), 1);
    }
}
