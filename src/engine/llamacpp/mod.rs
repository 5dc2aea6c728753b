//! The llama.cpp engine (crate `llama-cpp-2`, llama.cpp vendored by `llama-cpp-sys-2`): the
//! only module that imports it.
//!
//! - Loads GGUF files directly, optionally with a GGUF LoRA adapter.
//! - Continuous batching ([`batcher`]): one engine thread owns the context (the model is
//!   shared, read-only, with the callers, who tokenize on their own threads), so
//!   `--concurrency 32` becomes 32 sequences in one batch, not 32 turns.
//! - Shared prompt prefixes are prefilled once and copied ([`prefix`]), cut where the copy
//!   leaves a prompt's numbers unchanged ([`exact_cut`]).
//! - Prompts get the ids llama.cpp's tokenizer gives with special tokens parsed, so
//!   FunctionGemma's control tokens are single ids ([`prompt_tokens`], which finds them in
//!   one pass); exactly one `<bos>` leads (the rendered prompt has it).
//! - Same stop rules and timing fields as the mistral.rs engine: eos/end-of-generation
//!   tokens, the stop sequences, the length limit, and the optional stop after the calls.

mod batcher;
mod exact_cut;
mod prefix;
mod prompt_tokens;
mod sampling;
mod text;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use serde::{Deserialize, Serialize};

use super::{Completion, Engine, EngineError, EngineInfo, GenerationSettings, KvLayout, StreamEvent, backend_feature};
use batcher::{Job, worker_main};
use prompt_tokens::LlamaTokenizer;
use text::detokenize;

/// The llama.cpp bindings fgbench is built against (Cargo.lock pins them).
pub const LLAMA_CPP_2_VERSION: &str = "llama-cpp-2 0.1.160";
const LLAMA_CPP_SYS_VERSION: &str = "0.1.161";

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
    /// Shared prompt prefixes kept prefilled (one extra KV sequence each); 0 turns the
    /// prefix cache off.
    #[serde(default)]
    pub prefix_cache: usize,
}

/// Prefixes the llama.cpp engine keeps by default: an app's tool block under a few
/// different developer texts (the clock in the developer turn changes it).
pub const DEFAULT_PREFIXES: usize = 4;

impl Default for LlamaOptions {
    fn default() -> Self {
        LlamaOptions {
            max_sequences: 32,
            ctx_per_seq: 8192,
            batch_tokens: None,
            ubatch_tokens: None,
            threads: None,
            gpu_layers: 999,
            lora: None,
            backend_sampling: false,
            kv_layout: KvLayout::default(),
            prefix_cache: DEFAULT_PREFIXES,
        }
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

pub struct LlamaEngine {
    /// Shared with the engine thread: llama.cpp's vocabulary is read-only once loaded, so
    /// callers tokenize on their own threads instead of queueing behind a decode step.
    model: Arc<LlamaModel>,
    tokenizer: LlamaTokenizer,
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
            prefix_cache: Some(opts.prefix_cache),
            remote: None,
            build: Some(build_info()),
            kernels: Some(kernel_features()),
        };
        Ok(LlamaEngine {
            tokenizer: LlamaTokenizer::new(model.clone()),
            model,
            commands: std::sync::Mutex::new(Some(tx)),
            worker: std::sync::Mutex::new(Some(worker)),
            info,
        })
    }

    fn send(&self, job: Job) -> Result<(), EngineError> {
        let guard = self.commands.lock().map_err(|_| EngineError::Generate("engine lock poisoned".into()))?;
        let tx = guard.as_ref().ok_or_else(|| EngineError::Generate("engine is shut down".into()))?;
        tx.send(job).map_err(|_| EngineError::Generate("the llama.cpp thread is gone".into()))
    }
}

/// ggml's version and commit, from the library loaded (a dynamically linked llama.cpp
/// reports its own).
fn build_info() -> String {
    // SAFETY: both return pointers to static NUL-terminated strings.
    let text = |p: *const std::os::raw::c_char| unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned();
    let (version, commit) = (text(unsafe { llama_cpp_sys_2::ggml_version() }), text(unsafe { llama_cpp_sys_2::ggml_commit() }));
    format!("ggml {version} (commit {commit}), llama-cpp-sys-2 {}", LLAMA_CPP_SYS_VERSION)
}

/// The instruction-set flags the CPU kernels were built with, as llama.cpp lists them
/// (`AVX2 = 1 | FMA = 1 | ...`), keeping only those that are on.
fn kernel_features() -> String {
    // SAFETY: returns a pointer to a static NUL-terminated string.
    let info = unsafe { std::ffi::CStr::from_ptr(llama_cpp_sys_2::llama_print_system_info()) }.to_string_lossy().into_owned();
    let on: Vec<&str> = info.split('|').map(str::trim).filter_map(|kv| kv.strip_suffix("= 1").map(str::trim)).collect();
    let on: Vec<&str> = on.into_iter().map(|k| k.rsplit(':').next().unwrap_or(k).trim()).collect();
    on.join(" ")
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
        settings.check()?;
        let ids = self.encode(prompt)?;
        if settings.max_new_tokens == 0 {
            return Ok(Completion::nothing(ids.len()));
        }
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
        Ok(self.tokenizer.tokenize(prompt))
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
}
