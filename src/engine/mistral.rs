//! The mistral.rs engine (crate `mistralrs` 0.8.1): the only module that imports it.
//!
//! - Gemma 3 text checkpoints (`Gemma3ForCausalLM`) load through mistral.rs' Gemma 3
//!   multimodal pipeline, which accepts a text-only config (0.8.1 has no other Gemma 3 path).
//! - Prompts go in as token ids (`RequestMessage::CompletionTokens`), tokenized by fgbench
//!   with the checkpoint's tokenizer: no chat template, exactly one `<bos>`.
//! - Requests stream, so the time to the first token and to the last `<end_function_call>`
//!   are clocked at this boundary (monotonic clock, from handing the request to the engine).
//!   Completion tokens are the streamed chunks (one per decoding step); prompt tokens are
//!   the ids sent.
//! - mistral.rs leaves special tokens out of completion text unless a tool matcher is
//!   attached; an inert one (one dummy tool, `ToolChoice::None`, which never buffers or
//!   rewrites) keeps FunctionGemma's control tokens in the raw output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use mistralrs::{
    Constraint, Function, IsqType, ModelDType, MultimodalLoaderType, MultimodalModelBuilder, NormalRequest, Request, RequestMessage,
    Response, SamplingParams, StopTokens, TokenSource, Tool, ToolChoice, ToolType,
};
use serde::{Deserialize, Serialize};

use super::tokenizer::PromptTokenizer;
use super::{CALLS_DONE, Completion, Engine, EngineError, EngineInfo, GenerationSettings, Tracker, backend_feature};

pub const MISTRALRS_VERSION: &str = "0.8.1";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    Auto,
    F32,
    Bf16,
    F16,
}

/// In-situ quantization types offered (mistral.rs quantizes the weights while loading).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Isq {
    #[value(name = "q4_0")]
    Q4_0,
    #[value(name = "q8_0")]
    Q8_0,
    Q4k,
    Q5k,
    Q6k,
    Q8k,
}

impl Isq {
    fn to_mistral(self) -> IsqType {
        match self {
            Isq::Q4_0 => IsqType::Q4_0,
            Isq::Q8_0 => IsqType::Q8_0,
            Isq::Q4k => IsqType::Q4K,
            Isq::Q5k => IsqType::Q5K,
            Isq::Q6k => IsqType::Q6K,
            Isq::Q8k => IsqType::Q8K,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MistralOptions {
    pub dtype: Dtype,
    pub isq: Option<Isq>,
    /// Sequences the scheduler runs at once.
    pub max_sequences: usize,
    /// Prefix-cache capacity in sequences (`None`: mistral.rs' default).
    pub prefix_cache: Option<usize>,
    /// CPU threads (informational here; the rayon pool is sized by the CLI).
    pub threads: Option<usize>,
}

impl Default for MistralOptions {
    fn default() -> Self {
        // f32 is the only dtype mistral.rs 0.8.1 runs on CPU ("unsupported dtype BF16 for op matmul").
        let dtype = if backend_feature().starts_with("cpu") { Dtype::F32 } else { Dtype::Auto };
        MistralOptions { dtype, isq: None, max_sequences: 32, prefix_cache: None, threads: None }
    }
}

pub struct MistralEngine {
    rt: tokio::runtime::Runtime,
    model: mistralrs::Model,
    tokenizer: PromptTokenizer,
    info: EngineInfo,
    next_id: AtomicUsize,
    /// Prompt plus new tokens may not exceed this (config.json's max_position_embeddings).
    context: Option<usize>,
}

fn load_err(dir: &Path, message: impl ToString) -> EngineError {
    EngineError::Load { path: dir.display().to_string(), message: message.to_string() }
}

/// The files a Hugging Face model directory must have for this engine.
pub fn check_model_dir(dir: &Path) -> Result<(), EngineError> {
    if !dir.is_dir() {
        return Err(load_err(dir, "not a directory"));
    }
    for f in ["config.json", "tokenizer.json"] {
        if !dir.join(f).is_file() {
            return Err(load_err(dir, format!("missing {f}")));
        }
    }
    let has_weights = std::fs::read_dir(dir)
        .map_err(|e| load_err(dir, e))?
        .filter_map(|e| e.ok())
        .any(|e| e.path().extension().is_some_and(|x| x == "safetensors"));
    if !has_weights {
        return Err(load_err(dir, "no *.safetensors weights"));
    }
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).map_err(|e| load_err(dir, e))?)
        .map_err(|e| load_err(dir, format!("config.json is not valid JSON: {e}")))?;
    let arch = config.get("architectures").and_then(|a| a.get(0)).and_then(|a| a.as_str()).unwrap_or("");
    let model_type = config.get("model_type").and_then(|a| a.as_str()).unwrap_or("");
    if !(arch.starts_with("Gemma3") || model_type.starts_with("gemma3")) {
        return Err(load_err(
            dir,
            format!(
                "architecture `{arch}` (model_type `{model_type}`) is not Gemma 3; fgbench runs FunctionGemma-family (Gemma 3) checkpoints"
            ),
        ));
    }
    Ok(())
}

impl MistralEngine {
    /// Loads a Gemma 3 model from a local Hugging Face directory.
    pub fn load(dir: &Path, opts: &MistralOptions) -> Result<MistralEngine, EngineError> {
        check_model_dir(dir)?;
        let tokenizer = PromptTokenizer::from_file(&dir.join("tokenizer.json"))?;
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| load_err(dir, e))?;
        let start = Instant::now();
        let mut builder = MultimodalModelBuilder::new(dir.to_string_lossy())
            .with_loader_type(MultimodalLoaderType::Gemma3)
            .with_token_source(TokenSource::None)
            .with_dtype(match opts.dtype {
                Dtype::Auto => ModelDType::Auto,
                Dtype::F32 => ModelDType::F32,
                Dtype::Bf16 => ModelDType::BF16,
                Dtype::F16 => ModelDType::F16,
            })
            .with_max_num_seqs(opts.max_sequences.max(1))
            .with_prefix_cache_n(opts.prefix_cache);
        if let Some(isq) = opts.isq {
            builder = builder.with_isq(isq.to_mistral());
        }
        let model = rt.block_on(builder.build()).map_err(|e| load_err(dir, format!("mistral.rs could not load it: {e:#}")))?;
        let load_ms = start.elapsed().as_secs_f64() * 1000.0;
        let info = EngineInfo {
            engine: "mistralrs".into(),
            engine_version: MISTRALRS_VERSION.into(),
            dtype: format!("{:?}", opts.dtype).to_lowercase(),
            quantization: opts.isq.map(|q| format!("isq:{q:?}").to_lowercase()),
            device: if backend_feature().starts_with("cpu") { "cpu".into() } else { backend_feature().into() },
            backend_feature: backend_feature().into(),
            threads: opts.threads,
            max_sequences: opts.max_sequences,
            load_ms,
            backend_sampling: false,
            kv_layout: None,
            batch_tokens: None,
            ubatch_tokens: None,
            prefix_cache: opts.prefix_cache,
            build: Some(MISTRALRS_VERSION.into()),
            kernels: Some(super::rust_target_features()),
            remote: None,
        };
        // The model's own context (config.json), which no sequence may run past.
        let context = std::fs::read_to_string(dir.join("config.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|c| c.get("max_position_embeddings").and_then(|v| v.as_u64()))
            .map(|n| n as usize);
        Ok(MistralEngine { rt, model, tokenizer, info, next_id: AtomicUsize::new(0), context })
    }

    pub fn tokenizer(&self) -> &PromptTokenizer {
        &self.tokenizer
    }

    fn inert_tool() -> Tool {
        Tool {
            tp: ToolType::Function,
            function: Function { description: None, name: "fgbench_inert".into(), parameters: Some(HashMap::new()) },
        }
    }

    fn sampling(settings: &GenerationSettings) -> Result<SamplingParams, EngineError> {
        if settings.ignore_eos {
            return Err(EngineError::Unsupported("--ignore-eos: mistral.rs 0.8.1 always stops at eos; use --engine llamacpp".into()));
        }
        let mut p = match settings.temperature {
            None => SamplingParams::deterministic(),
            Some(t) => {
                if settings.seed.is_some_and(|s| s != 0) {
                    return Err(EngineError::Unsupported(
                        "mistral.rs 0.8.1 seeds its sampler with 0 engine-wide; use --seed 0 or greedy decoding".into(),
                    ));
                }
                let mut p = SamplingParams::neutral();
                p.temperature = Some(t);
                p.top_k = settings.top_k;
                p.top_p = settings.top_p;
                p.min_p = settings.min_p;
                p
            }
        };
        p.max_len = Some(settings.max_new_tokens);
        p.stop_toks = Some(StopTokens::Seqs(settings.stop_sequences.clone()));
        Ok(p)
    }
}

impl Engine for MistralEngine {
    fn check_settings(&self, settings: &GenerationSettings) -> Result<(), EngineError> {
        settings.check()?;
        Self::sampling(settings).map(|_| ())
    }

    fn info(&self) -> EngineInfo {
        self.info.clone()
    }

    fn encode(&self, prompt: &str) -> Result<Vec<u32>, EngineError> {
        self.tokenizer.encode(prompt)
    }

    fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        self.tokenizer.decode(ids)
    }

    fn generate_streaming(
        &self,
        prompt: &str,
        settings: &GenerationSettings,
        on_piece: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Completion, EngineError> {
        settings.check()?;
        let ids = self.tokenizer.encode(prompt)?;
        if settings.max_new_tokens == 0 {
            return Ok(Completion::nothing(ids.len()));
        }
        if let Some(context) = self.context {
            super::check_context(ids.len(), settings, context, "")?;
        }
        let prompt_tokens = ids.len() as u64;
        let sampling = Self::sampling(settings)?;
        let sender = self.model.inner().get_sender(None).map_err(|e| EngineError::Generate(e.to_string()))?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.rt.block_on(async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel(256);
            let request = Request::Normal(Box::new(NormalRequest {
                messages: RequestMessage::CompletionTokens(ids),
                sampling_params: sampling,
                response: tx,
                return_logprobs: false,
                is_streaming: true,
                id,
                constraint: Constraint::None,
                suffix: None,
                tools: Some(vec![Self::inert_tool()]),
                tool_choice: Some(ToolChoice::None),
                logits_processors: None,
                return_raw_logits: false,
                web_search_options: None,
                model_id: None,
                truncate_sequence: false,
            }));
            let mut track = Tracker::new(Instant::now());
            sender.send(request).await.map_err(|e| EngineError::Generate(format!("engine is gone: {e}")))?;
            let mut finish_reason = String::from("unknown");
            while let Some(resp) = rx.recv().await {
                match resp {
                    Response::CompletionChunk(chunk) => {
                        for choice in chunk.choices {
                            let ms = track.step();
                            track.push(&choice.text, ms);
                            if !on_piece(&choice.text) {
                                // Dropping the receiver makes mistral.rs cancel the sequence.
                                return Err(EngineError::Canceled);
                            }
                            if let Some(r) = choice.finish_reason {
                                finish_reason = r;
                            }
                        }
                        if finish_reason != "unknown" {
                            break;
                        }
                        if settings.stop_after_calls && track.calls_finished() {
                            // Dropping the receiver makes mistral.rs cancel the sequence.
                            finish_reason = CALLS_DONE.into();
                            break;
                        }
                    }
                    Response::CompletionDone(done) => {
                        if let Some(c) = done.choices.first() {
                            finish_reason = c.finish_reason.clone();
                        }
                        break;
                    }
                    Response::InternalError(e) | Response::ValidationError(e) => return Err(EngineError::Generate(e.to_string())),
                    Response::CompletionModelError(e, _) | Response::ModelError(e, _) => return Err(EngineError::Generate(e)),
                    _ => {}
                }
            }
            Ok(track.finish(&finish_reason, settings, prompt_tokens, None))
        })
    }
}

impl Drop for MistralEngine {
    fn drop(&mut self) {
        // Ask the engine thread to stop before the runtime goes away, so exit is orderly.
        if let Ok(sender) = self.model.inner().get_sender(None) {
            let _ = sender.try_send(Request::Terminate);
        }
    }
}

/// Paths mistral.rs reads in a model directory (used for hashing what was loaded).
pub fn model_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json" || x == "safetensors"))
        .collect();
    files.sort();
    files
}
