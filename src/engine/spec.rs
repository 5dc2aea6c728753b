//! The one engine factory: what to load, as plain data ([`EngineSpec`], from the CLI's
//! flags, a serve `load` request or a parity variant), and [`load`], which makes the engine.

use serde::{Deserialize, Serialize};

use super::mistral::{Dtype, Isq, MistralEngine, MistralOptions};
use super::openai::OpenAiEngine;
pub use super::openai::RemoteSpec;
use super::{Engine, EngineError, EngineKind, KvLayout, PrefixCacheSetting};
use crate::models::ResolvedModel;

/// How to load an engine (the generation settings travel per request).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineSpec {
    pub engine: EngineKind,
    pub dtype: Option<Dtype>,
    pub isq: Option<Isq>,
    pub threads: Option<usize>,
    pub max_seqs: Option<usize>,
    /// `None` is on.
    pub prefix_cache: Option<PrefixCacheSetting>,
    pub ctx_per_seq: usize,
    pub batch_tokens: Option<usize>,
    pub ubatch_tokens: Option<usize>,
    pub gpu_layers: u32,
    pub backend_sampling: bool,
    pub kv_layout: KvLayout,
    pub remote: RemoteSpec,
}

impl EngineSpec {
    pub fn prefix_setting(&self) -> PrefixCacheSetting {
        self.prefix_cache.unwrap_or_default()
    }
}

/// Loads the engine `spec` names for a model resolved for it, sized for `concurrency`
/// requests in flight.
pub fn load(spec: &EngineSpec, model: &ResolvedModel, concurrency: usize) -> Result<Box<dyn Engine>, EngineError> {
    if spec.engine != EngineKind::Openai && !spec.remote.endpoints.is_empty() {
        return Err(EngineError::Unsupported("--endpoint names a served deployment: add --engine openai".into()));
    }
    match spec.engine {
        EngineKind::Mistralrs => load_mistral(spec, model),
        EngineKind::Llamacpp => load_llama(spec, model, concurrency),
        EngineKind::Openai => load_remote(spec, concurrency),
    }
}

fn load_remote(spec: &EngineSpec, concurrency: usize) -> Result<Box<dyn Engine>, EngineError> {
    Ok(Box::new(OpenAiEngine::connect(spec.remote.clone(), spec.max_seqs.unwrap_or(concurrency.max(1)))?))
}

#[cfg(feature = "llamacpp")]
fn load_llama(spec: &EngineSpec, model: &ResolvedModel, concurrency: usize) -> Result<Box<dyn Engine>, EngineError> {
    use super::llamacpp::{DEFAULT_PREFIXES, LlamaEngine, LlamaOptions};
    if spec.dtype.is_some() || spec.isq.is_some() {
        return Err(EngineError::Unsupported(
            "--dtype and --isq are mistral.rs settings; llama.cpp runs the GGUF's own weight types".into(),
        ));
    }
    let max_sequences = spec.max_seqs.unwrap_or(concurrency.max(1));
    if let Some(b) = spec.batch_tokens.filter(|b| *b < max_sequences) {
        return Err(EngineError::Unsupported(format!("--batch-tokens {b} cannot hold the next token of {max_sequences} sequences")));
    }
    let opts = LlamaOptions {
        // Slots beyond the requests in flight would only hold KV memory.
        max_sequences,
        ctx_per_seq: spec.ctx_per_seq,
        batch_tokens: spec.batch_tokens,
        ubatch_tokens: spec.ubatch_tokens,
        threads: spec.threads,
        gpu_layers: spec.gpu_layers,
        lora: model.adapter.as_ref().map(|a| a.gguf.clone().unwrap_or_else(|| a.path.clone())),
        backend_sampling: spec.backend_sampling,
        kv_layout: spec.kv_layout,
        prefix_cache: spec.prefix_setting().capacity(DEFAULT_PREFIXES),
    };
    Ok(Box::new(LlamaEngine::load(&model.path, &opts)?))
}

#[cfg(not(feature = "llamacpp"))]
fn load_llama(_spec: &EngineSpec, _model: &ResolvedModel, _concurrency: usize) -> Result<Box<dyn Engine>, EngineError> {
    Err(EngineError::Unsupported("this fgbench was built without the llama.cpp engine (cargo feature `llamacpp`)".into()))
}

fn load_mistral(spec: &EngineSpec, model: &ResolvedModel) -> Result<Box<dyn Engine>, EngineError> {
    if let Some(n) = spec.threads {
        // The kernels parallelise on rayon's global pool; size it before anything runs.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
    }
    let defaults = MistralOptions::default();
    let opts = MistralOptions {
        dtype: spec.dtype.unwrap_or(defaults.dtype),
        isq: spec.isq,
        max_sequences: spec.max_seqs.unwrap_or(32),
        prefix_cache: match spec.prefix_setting() {
            PrefixCacheSetting::On => None,
            other => Some(other.capacity(0)),
        },
        threads: Some(spec.threads.unwrap_or_else(super::available_cores)),
    };
    Ok(Box::new(MistralEngine::load(&model.path, &opts)?))
}
