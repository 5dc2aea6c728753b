//! PEFT LoRA adapters (adapter_config.json + adapter_model.safetensors, as PEFT and unsloth
//! write them), merged into the base weights: W' = W + (alpha / r) * B A (alpha / sqrt(r)
//! with rsLoRA). The merged model is cached by (base hash, adapter hash), so any engine loads
//! it like a plain checkpoint and greedy outputs equal those of the merged checkpoint.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::{AdapterInfo, ModelError, ResolvedModel, dir_hash, models_cache};

fn bad(path: &Path, m: impl ToString) -> ModelError {
    ModelError::Adapter { path: path.to_path_buf(), message: m.to_string() }
}

#[derive(serde::Deserialize)]
pub(crate) struct AdapterConfig {
    pub r: f64,
    pub lora_alpha: f64,
    #[serde(default)]
    pub use_rslora: bool,
    #[serde(default)]
    base_model_name_or_path: Option<String>,
    #[serde(default)]
    peft_type: Option<String>,
}

/// A PEFT adapter directory's config, checked to be a LoRA with its weights present.
pub(crate) fn read_config(adapter: &Path) -> Result<AdapterConfig, ModelError> {
    let cfg_path = adapter.join("adapter_config.json");
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| bad(adapter, format!("adapter_config.json: {e}")))?;
    let cfg: AdapterConfig = serde_json::from_str(&text).map_err(|e| bad(&cfg_path, e))?;
    if cfg.peft_type.as_deref().is_some_and(|t| t != "LORA") {
        return Err(bad(adapter, format!("peft_type `{}` is not LORA", cfg.peft_type.unwrap_or_default())));
    }
    if !adapter.join("adapter_model.safetensors").is_file() {
        return Err(bad(adapter, "missing adapter_model.safetensors"));
    }
    Ok(cfg)
}

/// The adapter's (A, B) pairs by the Hugging Face name of the weight they modify.
pub(crate) fn lora_pairs(adapter: &Path) -> Result<Vec<(String, Tensor, Tensor)>, ModelError> {
    let path = adapter.join("adapter_model.safetensors");
    let lora = candle_core::safetensors::load(&path, &Device::Cpu).map_err(|e| bad(&path, e))?;
    let mut pairs: HashMap<String, (Option<Tensor>, Option<Tensor>)> = HashMap::new();
    for (k, t) in lora {
        let Some((target, is_a)) = target_of(&k) else { continue };
        let e = pairs.entry(target).or_default();
        if is_a { e.0 = Some(t) } else { e.1 = Some(t) }
    }
    if pairs.is_empty() {
        return Err(bad(adapter, "no lora_A/lora_B tensors in adapter_model.safetensors"));
    }
    let mut out = Vec::new();
    for (target, (a, b)) in pairs {
        let (Some(a), Some(b)) = (a, b) else { return Err(bad(adapter, format!("{target}: lora_A or lora_B missing"))) };
        out.push((target, a, b));
    }
    out.sort_by(|x, y| x.0.cmp(&y.0));
    Ok(out)
}

/// The factor PEFT applies to B A.
pub(crate) fn scale(cfg: &AdapterConfig) -> f64 {
    if cfg.use_rslora { cfg.lora_alpha / cfg.r.sqrt() } else { cfg.lora_alpha / cfg.r }
}

/// Records `adapter` on a GGUF base for llama.cpp, which applies it at load: a GGUF LoRA
/// file as is, a PEFT directory converted to one (once, cached by the adapter's hash).
pub fn attach_gguf_adapter(mut base: ResolvedModel, adapter: &Path) -> Result<ResolvedModel, ModelError> {
    let (converted, hash) = if adapter.is_dir() {
        let hash = dir_hash(adapter)?;
        let out = models_cache().join(format!("lora-{}.gguf", &hash[..16]));
        crate::fsutil::ensure_entry(
            &out,
            || out.is_file(),
            || super::gguf_export::export_lora_gguf(adapter, &out).map(|_| ()),
            |source| ModelError::Io { path: out.clone(), source },
        )?;
        (Some(out), hash)
    } else if adapter.is_file() {
        (None, crate::fsutil::sha256_file(adapter).map_err(|source| ModelError::Io { path: adapter.to_path_buf(), source })?)
    } else {
        return Err(bad(adapter, "no such file or directory"));
    };
    base.adapter =
        Some(AdapterInfo { path: adapter.to_path_buf(), content_hash: hash, base_hash: base.content_hash.clone(), gguf: converted });
    Ok(base)
}

/// Returns the base model with the adapter merged in (made once, then cached).
pub fn apply_adapter(base: ResolvedModel, adapter: &Path) -> Result<ResolvedModel, ModelError> {
    let cfg = read_config(adapter)?;
    let adapter_hash = dir_hash(adapter)?;
    let out = models_cache().join(format!("merged-{}-{}", &base.content_hash[..12], &adapter_hash[..12]));
    let ready = || out.join("model.safetensors").is_file();
    crate::fsutil::ensure_entry(
        &out,
        ready,
        || merge(&base.path, adapter, &cfg, &out),
        |source| ModelError::Io { path: out.clone(), source },
    )?;
    let content_hash = dir_hash(&out)?;
    let _ = cfg.base_model_name_or_path;
    Ok(ResolvedModel {
        converted: base.converted.clone(),
        source: base.source.clone(),
        path: out,
        content_hash,
        adapter: Some(AdapterInfo { path: adapter.to_path_buf(), content_hash: adapter_hash, base_hash: base.content_hash, gguf: None }),
    })
}

/// `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight` -> (`model.layers.0.self_attn.q_proj.weight`, A)
fn target_of(key: &str) -> Option<(String, bool)> {
    let k = key.strip_prefix("base_model.model.").unwrap_or(key);
    let (module, is_a) = if let Some(m) = k.strip_suffix(".lora_A.weight") {
        (m, true)
    } else if let Some(m) = k.strip_suffix(".lora_B.weight") {
        (m, false)
    } else {
        return None;
    };
    // Adapters trained on the multimodal Gemma 3 class name the text model `language_model`.
    let module = module.replace("model.language_model.", "model.");
    Some((format!("{module}.weight"), is_a))
}

fn merge(base_dir: &Path, adapter: &Path, cfg: &AdapterConfig, out: &Path) -> Result<(), ModelError> {
    let dev = Device::Cpu;
    let load = |p: &Path| candle_core::safetensors::load(p, &dev).map_err(|e| bad(p, e));
    let pairs = lora_pairs(adapter)?;
    let scale = scale(cfg);
    let shards = super::safetensors_files(base_dir).map_err(|e| bad(base_dir, e))?;
    let mut merged: HashMap<String, Tensor> = HashMap::new();
    for shard in &shards {
        merged.extend(load(shard)?);
    }
    for (target, a, b) in pairs {
        let Some(w) = merged.get(&target) else {
            return Err(bad(adapter, format!("targets `{target}`, which the base model does not have: an adapter for another base?")));
        };
        let delta =
            b.to_dtype(DType::F32).and_then(|b| b.matmul(&a.to_dtype(DType::F32)?)).and_then(|d| d * scale).map_err(|e| bad(adapter, e))?;
        if delta.dims() != w.dims() {
            return Err(bad(
                adapter,
                format!("{target}: adapter delta {:?} does not fit base weight {:?}: an adapter for another base?", delta.dims(), w.dims()),
            ));
        }
        let new = w.to_dtype(DType::F32).and_then(|w| w + delta).and_then(|t| t.to_dtype(w.dtype())).map_err(|e| bad(adapter, e))?;
        merged.insert(target, new);
    }
    let tmp = crate::fsutil::temp_sibling(out);
    std::fs::create_dir_all(&tmp).map_err(|e| bad(&tmp, e))?;
    for entry in std::fs::read_dir(base_dir).map_err(|e| bad(base_dir, e))?.filter_map(|e| e.ok()) {
        let p = entry.path();
        if p.is_file() && p.extension().is_some_and(|x| x == "json") && p.file_name().is_none_or(|n| n != "model.safetensors.index.json") {
            std::fs::copy(&p, tmp.join(entry.file_name())).map_err(|e| bad(&p, e))?;
        }
    }
    candle_core::safetensors::save(&merged, tmp.join("model.safetensors")).map_err(|e| bad(&tmp, e))?;
    let _ = std::fs::remove_dir_all(out);
    std::fs::rename(&tmp, out).map_err(|e| bad(out, e))
}
