//! Inference engines behind one trait. Each engine crate is imported only in its own module
//! (`mistral.rs`, `llamacpp.rs`); everything else sees [`Engine`].

#[cfg(feature = "llamacpp")]
pub mod llamacpp;
pub mod mistral;
pub mod mock;
pub mod openai;
pub mod spec;
pub mod step_profile;
pub mod tokenizer;

use serde::{Deserialize, Serialize};

use crate::codec::tokens::{END_CALL, EOS, START_CALL, STOP_SEQUENCES};
use crate::records::Timings;

/// How to generate: FunctionGemma's documented setting is greedy with 128 new tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationSettings {
    pub max_new_tokens: usize,
    /// `None` is greedy decoding.
    pub temperature: Option<f64>,
    /// With a temperature: keep the k most likely tokens (FunctionGemma's authors: 64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<usize>,
    /// With a temperature: keep the most likely tokens up to this total probability (0.95).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// With a temperature: drop tokens less likely than this share of the most likely one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f64>,
    /// Sampling seed (only meaningful with a temperature).
    pub seed: Option<u64>,
    /// Generation stops when the text produces one of these (besides the tokenizer's eos).
    pub stop_sequences: Vec<String>,
    /// Also stop as soon as the text after the last `<end_function_call>` can no longer
    /// become another call (saves the decode steps of whatever the model writes next).
    #[serde(default)]
    pub stop_after_calls: bool,
    /// Generate exactly `max_new_tokens`, ignoring eos and stop sequences (speed
    /// measurements on random-weight models, which stop anywhere). llama.cpp engine only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_eos: bool,
}

impl Default for GenerationSettings {
    fn default() -> Self {
        GenerationSettings {
            max_new_tokens: 128,
            temperature: None,
            top_k: None,
            top_p: None,
            min_p: None,
            seed: None,
            stop_sequences: STOP_SEQUENCES.iter().map(|s| s.to_string()).collect(),
            stop_after_calls: false,
            ignore_eos: false,
        }
    }
}

/// One finished generation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The completion text, without the stop sequence or eos that ended it.
    pub text: String,
    /// `stop`, `eos`, `length` or `canceled` (the engine's own word).
    pub finish_reason: String,
    pub timings: Timings,
}

impl Completion {
    /// The answer to a request for no new tokens: nothing is generated.
    pub fn nothing(prompt_tokens: usize) -> Completion {
        let timings =
            Timings { prompt_tokens: Some(prompt_tokens as u64), completion_tokens: Some(0), total_ms: Some(0.0), ..Timings::default() };
        Completion { text: String::new(), finish_reason: "length".into(), timings }
    }
}

impl GenerationSettings {
    /// Settings that cannot mean anything: a truncation without a temperature (greedy
    /// decoding ignores it), or values out of range.
    pub fn check(&self) -> Result<(), EngineError> {
        let sampling = self.top_k.is_some() || self.top_p.is_some() || self.min_p.is_some();
        if sampling && self.temperature.is_none() {
            return Err(EngineError::Unsupported(
                "--top-k, --top-p and --min-p shape sampling: give a --temperature too (greedy decoding ignores them)".into(),
            ));
        }
        if self.temperature.is_some_and(|t| !t.is_finite() || t < 0.0) {
            return Err(EngineError::Unsupported("temperature must be a finite number >= 0".into()));
        }
        if self.top_k == Some(0) {
            return Err(EngineError::Unsupported("top_k must be at least 1".into()));
        }
        for (name, v) in [("top_p", self.top_p), ("min_p", self.min_p)] {
            if v.is_some_and(|v| !(0.0..=1.0).contains(&v) || v.is_nan()) {
                return Err(EngineError::Unsupported(format!("{name} must lie in [0, 1]")));
            }
        }
        Ok(())
    }
}

/// Refuses a request whose prompt and new tokens do not fit the context a sequence has
/// (a huge max_new_tokens would run a sequence past it and fail the whole batch).
pub fn check_context(prompt_tokens: usize, settings: &GenerationSettings, context: usize, raise: &str) -> Result<(), EngineError> {
    let needed = prompt_tokens.saturating_add(settings.max_new_tokens);
    if needed > context {
        return Err(EngineError::Unsupported(format!(
            "prompt of {prompt_tokens} tokens + {} new tokens exceeds the context of {context} tokens per sequence{raise}",
            settings.max_new_tokens
        )));
    }
    Ok(())
}

/// What an engine is and how it runs, for run manifests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineInfo {
    pub engine: String,
    pub engine_version: String,
    pub dtype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<String>,
    pub device: String,
    pub backend_feature: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    pub max_sequences: usize,
    /// Load time of the model in milliseconds.
    pub load_ms: f64,
    /// Tokens are sampled inside the engine's compute graph (llama.cpp backend samplers).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub backend_sampling: bool,
    /// How the KV cache is laid out across sequences (llama.cpp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_layout: Option<KvLayout>,
    /// Tokens per decode call and per micro-batch (llama.cpp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_tokens: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ubatch_tokens: Option<usize>,
    /// The engine library actually loaded, as it reports itself (llama.cpp: ggml's version
    /// and commit, which under `cuda-dl` come from the shared library found at run time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// The instruction sets the CPU kernels were built for (greedy outputs depend on them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernels: Option<String>,
    /// Prompt prefixes the engine keeps prefilled for reuse (0: off); `None` where the
    /// engine has no such setting recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_cache: Option<usize>,
    /// A served deployment: its endpoints, mode and what it said about itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<openai::RemoteInfo>,
}

/// llama.cpp's KV cache across the sequences of a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum KvLayout {
    /// One cache for all sequences: a batch is cut into ubatches by size alone, but every
    /// token attends over all sequences' cells (masked).
    Unified,
    /// One KV stream per sequence (llama-batched-bench's default): attention sees only its
    /// own cells, but a ubatch must hold consecutive sequence ids with equal token counts,
    /// so a step with prompt chunks in it runs as several ubatches. The default: on CPU
    /// 9% more cases/s at 8 in flight, 26% at 32 (docs/performance.md).
    #[default]
    PerSequence,
}

/// The SIMD instruction sets this binary's Rust code (candle's CPU kernels, for mistral.rs)
/// was compiled for.
pub fn rust_target_features() -> String {
    let features = [
        ("SSE4.2", cfg!(target_feature = "sse4.2")),
        ("AVX", cfg!(target_feature = "avx")),
        ("AVX2", cfg!(target_feature = "avx2")),
        ("FMA", cfg!(target_feature = "fma")),
        ("F16C", cfg!(target_feature = "f16c")),
        ("AVX512F", cfg!(target_feature = "avx512f")),
        ("NEON", cfg!(target_feature = "neon")),
    ];
    let on: Vec<&str> = features.iter().filter(|f| f.1).map(|f| f.0).collect();
    if on.is_empty() { format!("{} baseline", std::env::consts::ARCH) } else { on.join(" ") }
}

/// `--prefix-cache`: reuse the KV of shared prompt prefixes. `on` (the engine's default
/// capacity), `off`, or a capacity (llama.cpp: prefixes kept; mistral.rs: sequences).
/// Serialized as the flag's word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum PrefixCacheSetting {
    #[default]
    On,
    Off,
    Capacity(usize),
}

impl PrefixCacheSetting {
    /// The capacity, with the engine's default for `on`.
    pub fn capacity(self, default: usize) -> usize {
        match self {
            PrefixCacheSetting::On => default,
            PrefixCacheSetting::Off => 0,
            PrefixCacheSetting::Capacity(n) => n,
        }
    }
}

impl From<PrefixCacheSetting> for String {
    fn from(p: PrefixCacheSetting) -> String {
        p.to_string()
    }
}

impl TryFrom<String> for PrefixCacheSetting {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl std::fmt::Display for PrefixCacheSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrefixCacheSetting::On => f.write_str("on"),
            PrefixCacheSetting::Off => f.write_str("off"),
            PrefixCacheSetting::Capacity(n) => write!(f, "{n}"),
        }
    }
}

impl std::str::FromStr for PrefixCacheSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "on" => Ok(PrefixCacheSetting::On),
            "off" => Ok(PrefixCacheSetting::Off),
            n => n.parse().map(PrefixCacheSetting::Capacity).map_err(|_| format!("`{n}`: expected on, off or a number")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("model {path}: {message}")]
    Load { path: String, message: String },
    #[error("tokenizer {path}: {message}")]
    Tokenizer { path: String, message: String },
    #[error("generation failed: {0}")]
    Generate(String),
    #[error("unsupported setting: {0}")]
    Unsupported(String),
    #[error("canceled")]
    Canceled,
    /// A served deployment failed the request (after any retries), or refused it.
    #[error("{endpoint}: {message}")]
    Http { endpoint: String, status: Option<u16>, message: String },
    /// A served deployment answered, but its chat template or tool parser produced something
    /// that is not a call (the server's fault, not the model's). `raw` is what it sent.
    #[error("{endpoint}: the server's chat template or tool parser: {message}")]
    ServerParser { endpoint: String, message: String, raw: String },
}

impl EngineError {
    /// The kind recorded with a failed case.
    pub fn kind(&self) -> &'static str {
        match self {
            EngineError::ServerParser { .. } => "server_parser",
            // The server refused this request (bad model name, auth, a prompt too long for
            // it): retrying will not help; anything else is the server being unavailable.
            EngineError::Http { status: Some(s), .. } if (400..500).contains(s) && *s != 429 => "server_refused",
            EngineError::Http { .. } => "server_unavailable",
            EngineError::Canceled => "canceled",
            // A setting or prompt the engine cannot run (past the context): bad input.
            EngineError::Unsupported(_) => "unsupported",
            _ => "engine_failure",
        }
    }
}

/// What a generation is asked: the rendered prompt, and the conversation it was rendered from
/// where there is one (a served chat endpoint takes the conversation, not the prompt).
pub struct Request<'a> {
    pub prompt: &'a str,
    pub conversation: Option<(&'a [crate::dataset::Message], &'a [serde_json::Value])>,
}

/// What a streaming generation reports: text pieces as they are decoded, then the result.
#[derive(Debug)]
pub enum StreamEvent {
    Piece(String),
    Done(Result<Completion, EngineError>),
}

/// An inference engine: prompt text in, completion text and timings out. Implementations
/// must be callable from several threads at once (that is how concurrency reaches the
/// engine's batching).
pub trait Engine: Send + Sync {
    fn info(&self) -> EngineInfo;

    /// Refuses settings this engine cannot run, before any request is sent (a run checks
    /// the settings of each of its repeats, which differ in the seed).
    fn check_settings(&self, settings: &GenerationSettings) -> Result<(), EngineError> {
        settings.check()
    }

    /// Generates a completion, calling `on_piece` with each decoded piece of text; when it
    /// returns false the generation is canceled (its work freed) and `Canceled` returned.
    /// Engines that cannot stream deliver the whole text as one piece.
    fn generate_streaming(
        &self,
        prompt: &str,
        settings: &GenerationSettings,
        on_piece: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Completion, EngineError>;

    /// Generates the answer to a request; engines that take the conversation itself override
    /// it, the others complete the rendered prompt.
    fn generate_request(
        &self,
        request: &Request<'_>,
        settings: &GenerationSettings,
        on_piece: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Completion, EngineError> {
        self.generate_streaming(request.prompt, settings, on_piece)
    }

    /// [`Engine::generate_streaming`] without watching the pieces.
    fn generate(&self, prompt: &str, settings: &GenerationSettings) -> Result<Completion, EngineError> {
        self.generate_streaming(prompt, settings, &mut |_| true)
    }

    /// The token ids the engine feeds for a rendered prompt.
    fn encode(&self, prompt: &str) -> Result<Vec<u32>, EngineError>;
    /// Text of token ids (special tokens written out).
    fn decode(&self, ids: &[u32]) -> Result<String, EngineError>;
}

/// The engines this binary was built with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// mistral.rs: loads Hugging Face directories (GGUF files are imported first).
    Mistralrs,
    /// llama.cpp: loads GGUF files; continuous batching.
    Llamacpp,
    /// A served deployment behind an OpenAI-compatible API (--endpoint).
    Openai,
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Mistralrs => "mistralrs",
            EngineKind::Llamacpp => "llamacpp",
            EngineKind::Openai => "openai",
        }
    }

    /// The default engine: llama.cpp where it is built in (3-4x faster on CPU, and it
    /// batches), else mistral.rs.
    pub fn default_kind() -> EngineKind {
        if cfg!(feature = "llamacpp") { EngineKind::Llamacpp } else { EngineKind::Mistralrs }
    }
}

/// The backend this binary was built for.
pub fn backend_feature() -> &'static str {
    if cfg!(any(feature = "cuda", feature = "cuda-dl")) {
        "cuda"
    } else if cfg!(feature = "metal") {
        "metal"
    } else if cfg!(feature = "mkl") {
        "cpu+mkl"
    } else if cfg!(feature = "accelerate") {
        "cpu+accelerate"
    } else {
        "cpu"
    }
}

/// The finish reason of a generation ended by `stop_after_calls`.
pub const CALLS_DONE: &str = "calls_done";

/// Cores the engines may use (their default thread count).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Removes the stop marker that ended a generation (a stop sequence or eos) from the end of
/// the text: it ends the turn, it is not part of the answer.
pub fn strip_stop_suffix(text: &str, settings: &GenerationSettings) -> String {
    let mut t = text;
    for s in settings.stop_sequences.iter().map(String::as_str).chain([EOS]) {
        if let Some(stripped) = t.strip_suffix(s) {
            t = stripped;
            break;
        }
    }
    t.to_string()
}

/// What both engines track while a completion streams, and the completion it becomes: the
/// clock from the request's hand-over, the first token's time, the decoding steps, the text
/// (with the time of its last `<end_function_call>`), and the stop rules on that text.
pub struct Tracker {
    start: std::time::Instant,
    clock: CallClock,
    ttft_ms: Option<f64>,
    steps: u64,
}

impl Tracker {
    pub fn new(start: std::time::Instant) -> Tracker {
        Tracker { start, clock: CallClock::default(), ttft_ms: None, steps: 0 }
    }

    pub fn ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }

    /// A decoding step finished (the first one is the time to first token); its time.
    pub fn step(&mut self) -> f64 {
        let ms = self.ms();
        self.ttft_ms.get_or_insert(ms);
        self.steps += 1;
        ms
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Text the last step decoded.
    pub fn push(&mut self, piece: &str, ms: f64) {
        self.clock.push(piece, ms);
    }

    /// The reason to stop now, if any, by the rules that look at the text (stop sequences
    /// unless `ignore_eos`, the stop after the calls) and the length limit.
    pub fn stop_reason(&self, settings: &GenerationSettings) -> Option<&'static str> {
        let text = self.clock.text();
        if !settings.ignore_eos && settings.stop_sequences.iter().any(|stop| text.ends_with(stop.as_str())) {
            return Some("stop");
        }
        if settings.stop_after_calls && self.clock.calls_finished() {
            return Some(CALLS_DONE);
        }
        (self.steps as usize >= settings.max_new_tokens).then_some("length")
    }

    pub fn calls_finished(&self) -> bool {
        self.clock.calls_finished()
    }

    /// The completion: the text without the marker that ended it, and its timings.
    pub fn finish(self, finish_reason: &str, settings: &GenerationSettings, prompt_tokens: u64, cached_tokens: Option<u64>) -> Completion {
        let total_ms = self.ms();
        Completion {
            text: self.clock.final_text(finish_reason, settings),
            finish_reason: finish_reason.into(),
            timings: Timings {
                prompt_tokens: Some(prompt_tokens),
                completion_tokens: Some(self.steps),
                ttft_ms: self.ttft_ms,
                last_call_ms: self.clock.last_call_ms,
                total_ms: Some(total_ms),
                cached_tokens,
                call_start_p: None,
            },
        }
    }
}

/// Tracks streamed text to time the last `<end_function_call>`.
#[derive(Default)]
pub struct CallClock {
    text: String,
    calls_seen: usize,
    pub last_call_ms: Option<f64>,
}

impl CallClock {
    pub fn push(&mut self, delta: &str, elapsed_ms: f64) {
        // Only the new text, and a marker's length before it, can hold new markers: a scan
        // of the whole text per token would be quadratic in the answer's length.
        let mut from = self.text.len().saturating_sub(END_CALL.len() - 1);
        while !self.text.is_char_boundary(from) {
            from -= 1;
        }
        let before = self.text[from..].matches(END_CALL).count();
        self.text.push_str(delta);
        let new_calls = self.text[from..].matches(END_CALL).count() - before;
        if new_calls > 0 {
            self.calls_seen += new_calls;
            self.last_call_ms = Some(elapsed_ms);
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The recorded answer: the streamed text without the stop marker that ended it, and,
    /// when generation stopped after the calls, without what the model had begun after the
    /// last one (the turn ends at that call).
    pub fn final_text(&self, finish_reason: &str, settings: &GenerationSettings) -> String {
        let mut text = strip_stop_suffix(&self.text, settings);
        if finish_reason == CALLS_DONE
            && let Some(end) = text.rfind(END_CALL)
        {
            text.truncate(end + END_CALL.len());
        }
        text
    }

    /// True once the model has made at least one call and what it wrote after the last one
    /// cannot be the beginning of another call block.
    pub fn calls_finished(&self) -> bool {
        if self.calls_seen == 0 {
            return false;
        }
        let Some(end) = self.text.rfind(END_CALL) else { return false };
        let tail = self.text[end + END_CALL.len()..].trim_start();
        !tail.is_empty() && !START_CALL.starts_with(tail) && !tail.starts_with(START_CALL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_marker_split_across_pieces_is_timed_when_it_completes() {
        let mut c = CallClock::default();
        let text = format!("{START_CALL}call:f{{}}{END_CALL}é{START_CALL}call:g{{}}{END_CALL}");
        let mut ms = 0.0;
        // Three bytes at a time, on character boundaries.
        let mut rest = text.as_str();
        let mut completed_at = Vec::new();
        while !rest.is_empty() {
            let mut n = rest.len().min(3);
            while !rest.is_char_boundary(n) {
                n += 1;
            }
            ms += 1.0;
            let before = c.calls_seen;
            c.push(&rest[..n], ms);
            if c.calls_seen > before {
                completed_at.push((c.text().len(), c.last_call_ms));
            }
            rest = &rest[n..];
        }
        assert_eq!(c.calls_seen, 2);
        assert_eq!(c.text(), text);
        let first_end = text.find(END_CALL).unwrap() + END_CALL.len();
        assert_eq!(completed_at.len(), 2);
        assert!(completed_at[0].0 >= first_end && completed_at[0].0 < first_end + 3, "{completed_at:?}");
        assert_eq!(completed_at[1].0, text.len());
    }

    #[test]
    fn failure_kinds_tell_a_refusal_from_an_unavailable_server() {
        let http = |status| EngineError::Http { endpoint: "http://x".into(), status, message: String::new() };
        assert_eq!(http(Some(404)).kind(), "server_refused");
        assert_eq!(http(Some(401)).kind(), "server_refused");
        assert_eq!(http(Some(429)).kind(), "server_unavailable", "rate limited: try again later");
        assert_eq!(http(Some(503)).kind(), "server_unavailable");
        assert_eq!(http(None).kind(), "server_unavailable");
        assert_eq!(EngineError::Unsupported("too long".into()).kind(), "unsupported");
        assert!(
            ["server_refused", "server_unavailable", "unsupported", "engine_failure", "server_parser", "canceled"]
                .iter()
                .all(|k| crate::records::FAILURE_KINDS.contains(k))
        );
    }

    fn clock(text: &str) -> CallClock {
        let mut c = CallClock::default();
        c.push(text, 1.0);
        c
    }

    #[test]
    fn calls_finished_only_when_no_further_call_can_follow() {
        assert!(!clock("hello").calls_finished());
        assert!(!clock("<start_function_call>call:f{}<end_function_call>").calls_finished(), "nothing after it yet");
        assert!(!clock("<start_function_call>call:f{}<end_function_call><start_fun").calls_finished(), "a second call may be starting");
        assert!(!clock("<start_function_call>call:f{}<end_function_call><start_function_call>call:g").calls_finished());
        assert!(clock("<start_function_call>call:f{}<end_function_call>Done.").calls_finished());
        assert!(clock("<start_function_call>call:f{}<end_function_call>\n<end_of").calls_finished());
        assert_eq!(clock("<start_function_call>call:f{}<end_function_call>").last_call_ms, Some(1.0));
    }
}
