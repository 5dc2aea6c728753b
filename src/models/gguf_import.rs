//! `fgbench models import-gguf`: a Gemma 3 GGUF file -> a Hugging Face model directory that
//! mistral.rs loads (mistral.rs 0.8.1 has no GGUF loader for Gemma 3).
//!
//! - tensors are dequantized to f32 and renamed to Hugging Face names;
//! - llama.cpp stores Gemma's RMSNorm weights as `w + 1`, Hugging Face as `w`: 1 is subtracted
//!   from every `*norm.weight`;
//! - config.json comes from the GGUF metadata (`gemma3.*`), tokenizer.json from the GGUF
//!   vocabulary (`tokenizer.ggml.*`), plus tokenizer_config.json and generation_config.json.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::{DType, Device, Tensor};

use super::ModelError;
use super::tokenizer_build::{Piece, PieceType, write_gemma_tokenizer};

fn bad(path: &Path, message: impl ToString) -> ModelError {
    ModelError::Gguf { path: path.to_path_buf(), message: message.to_string() }
}

/// llama.cpp's gemma3 tensor names and the Hugging Face names they stand for: whole names,
/// then the per-layer tails (`blk.N.` / `model.layers.N.`). Import and export both use it.
pub(crate) const GLOBAL_TENSORS: [(&str, &str); 2] =
    [("token_embd.weight", "model.embed_tokens.weight"), ("output_norm.weight", "model.norm.weight")];
pub(crate) const LAYER_TENSORS: [(&str, &str); 13] = [
    ("attn_q.weight", "self_attn.q_proj.weight"),
    ("attn_k.weight", "self_attn.k_proj.weight"),
    ("attn_v.weight", "self_attn.v_proj.weight"),
    ("attn_output.weight", "self_attn.o_proj.weight"),
    ("attn_q_norm.weight", "self_attn.q_norm.weight"),
    ("attn_k_norm.weight", "self_attn.k_norm.weight"),
    ("attn_norm.weight", "input_layernorm.weight"),
    ("post_attention_norm.weight", "post_attention_layernorm.weight"),
    ("ffn_norm.weight", "pre_feedforward_layernorm.weight"),
    ("post_ffw_norm.weight", "post_feedforward_layernorm.weight"),
    ("ffn_gate.weight", "mlp.gate_proj.weight"),
    ("ffn_up.weight", "mlp.up_proj.weight"),
    ("ffn_down.weight", "mlp.down_proj.weight"),
];

/// The Hugging Face name of a GGUF tensor of the gemma3 architecture.
pub(crate) fn hf_name(gguf: &str) -> Option<String> {
    if let Some((_, hf)) = GLOBAL_TENSORS.iter().find(|(g, _)| *g == gguf) {
        return Some(hf.to_string());
    }
    let (layer, tail) = gguf.strip_prefix("blk.")?.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (_, hf) = LAYER_TENSORS.iter().find(|(g, _)| *g == tail)?;
    Some(format!("model.layers.{layer}.{hf}"))
}

fn md<'a>(content: &'a Content, key: &str, path: &Path) -> Result<&'a Value, ModelError> {
    content.metadata.get(key).ok_or_else(|| bad(path, format!("metadata `{key}` missing")))
}

fn md_u32(content: &Content, key: &str, path: &Path) -> Result<u32, ModelError> {
    md(content, key, path)?.to_u32().map_err(|e| bad(path, format!("`{key}`: {e}")))
}

fn md_f32(content: &Content, key: &str, path: &Path) -> Result<f32, ModelError> {
    md(content, key, path)?.to_f32().map_err(|e| bad(path, format!("`{key}`: {e}")))
}

/// What an import wrote.
pub struct Imported {
    pub dir: PathBuf,
    pub tensors: usize,
    pub vocab: usize,
}

/// Converts `gguf` into a Hugging Face directory at `out` (written to a temporary sibling and
/// renamed into place, so an interrupted import leaves nothing half-written).
pub fn import_gguf(gguf: &Path, out: &Path) -> Result<Imported, ModelError> {
    let mut file = std::fs::File::open(gguf).map_err(|e| bad(gguf, e))?;
    let content = Content::read(&mut file).map_err(|e| bad(gguf, format!("not a readable GGUF file: {e}")))?;
    let arch = md(&content, "general.architecture", gguf)?.to_string().map_err(|e| bad(gguf, e))?.clone();
    if arch != "gemma3" {
        return Err(bad(gguf, format!("architecture `{arch}` is not gemma3 (FunctionGemma is Gemma 3)")));
    }
    let tmp = crate::fsutil::temp_sibling(out);
    std::fs::create_dir_all(&tmp).map_err(|e| bad(&tmp, e))?;

    let config = config_json(&content, gguf)?;
    write_json(&tmp.join("config.json"), &config)?;
    let vocab = write_tokenizer(&content, gguf, &tmp)?;

    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    for name in content.tensor_infos.keys() {
        let Some(hf) = hf_name(name) else {
            return Err(bad(gguf, format!("unexpected tensor `{name}` for gemma3")));
        };
        let q = content.tensor(&mut file, name, &Device::Cpu).map_err(|e| bad(gguf, format!("{name}: {e}")))?;
        let mut t = q.dequantize(&Device::Cpu).map_err(|e| bad(gguf, format!("{name}: {e}")))?;
        if name.ends_with("norm.weight") {
            t = (t - 1.0).map_err(|e| bad(gguf, e))?;
        }
        let t = t.to_dtype(DType::F32).map_err(|e| bad(gguf, e))?;
        tensors.insert(hf, t);
    }
    let n = tensors.len();
    candle_core::safetensors::save(&tensors, tmp.join("model.safetensors")).map_err(|e| bad(&tmp, e))?;
    let _ = std::fs::remove_dir_all(out);
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| bad(parent, e))?;
    }
    std::fs::rename(&tmp, out).map_err(|e| bad(out, e))?;
    Ok(Imported { dir: out.to_path_buf(), tensors: n, vocab })
}

fn write_json(path: &Path, v: &serde_json::Value) -> Result<(), ModelError> {
    let text = serde_json::to_string_pretty(v).expect("json");
    crate::fsutil::write_atomic(path, text.as_bytes()).map_err(|e| bad(path, e))
}

/// Gemma 3 text config from `gemma3.*` metadata; values llama.cpp does not store (local rope
/// base, sliding-window pattern) are Gemma 3's fixed ones.
fn config_json(c: &Content, p: &Path) -> Result<serde_json::Value, ModelError> {
    let layers = md_u32(c, "gemma3.block_count", p)? as usize;
    let head_dim = md_u32(c, "gemma3.attention.key_length", p)?;
    let pattern = 6;
    let layer_types: Vec<&str> = (0..layers).map(|i| if (i + 1) % pattern == 0 { "full_attention" } else { "sliding_attention" }).collect();
    let vocab = match c.metadata.get("tokenizer.ggml.tokens") {
        Some(Value::Array(a)) => a.len(),
        _ => return Err(bad(p, "metadata `tokenizer.ggml.tokens` missing")),
    };
    let bos = md_u32(c, "tokenizer.ggml.bos_token_id", p)?;
    let eos = md_u32(c, "tokenizer.ggml.eos_token_id", p)?;
    let pad = md_u32(c, "tokenizer.ggml.padding_token_id", p).unwrap_or(0);
    Ok(serde_json::json!({
        "architectures": ["Gemma3ForCausalLM"],
        "model_type": "gemma3_text",
        "hidden_size": md_u32(c, "gemma3.embedding_length", p)?,
        "intermediate_size": md_u32(c, "gemma3.feed_forward_length", p)?,
        "num_hidden_layers": layers,
        "num_attention_heads": md_u32(c, "gemma3.attention.head_count", p)?,
        "num_key_value_heads": md_u32(c, "gemma3.attention.head_count_kv", p)?,
        "head_dim": head_dim,
        "query_pre_attn_scalar": head_dim,
        "rms_norm_eps": md_f32(c, "gemma3.attention.layer_norm_rms_epsilon", p)?,
        "rope_theta": md_f32(c, "gemma3.rope.freq_base", p)?,
        "rope_local_base_freq": 10000.0,
        "rope_scaling": null,
        "sliding_window": md_u32(c, "gemma3.attention.sliding_window", p)?,
        "sliding_window_pattern": pattern,
        "layer_types": layer_types,
        "max_position_embeddings": md_u32(c, "gemma3.context_length", p)?,
        "vocab_size": vocab,
        "hidden_activation": "gelu_pytorch_tanh",
        "attn_logit_softcapping": null,
        "final_logit_softcapping": null,
        "attention_bias": false,
        "tie_word_embeddings": true,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "pad_token_id": pad,
        "torch_dtype": "float32"
    }))
}

fn write_tokenizer(c: &Content, p: &Path, dir: &Path) -> Result<usize, ModelError> {
    let arr = |key: &str| match c.metadata.get(key) {
        Some(Value::Array(a)) => Ok(a),
        _ => Err(bad(p, format!("metadata `{key}` missing"))),
    };
    let tokens = arr("tokenizer.ggml.tokens")?;
    let scores = arr("tokenizer.ggml.scores")?;
    let types = arr("tokenizer.ggml.token_type")?;
    if tokens.len() != scores.len() || tokens.len() != types.len() {
        return Err(bad(p, "tokenizer arrays differ in length"));
    }
    let mut pieces = Vec::with_capacity(tokens.len());
    for i in 0..tokens.len() {
        pieces.push(Piece {
            text: tokens[i].to_string().map_err(|e| bad(p, e))?.clone(),
            score: scores[i].to_f32().map_err(|e| bad(p, e))?,
            kind: PieceType::from_gguf(types[i].to_i32().map_err(|e| bad(p, e))?),
        });
    }
    let text = |i: u32| pieces.get(i as usize).map(|x| x.text.clone()).unwrap_or_default();
    let unk = text(md_u32(c, "tokenizer.ggml.unknown_token_id", p)?);
    write_gemma_tokenizer(&pieces, &unk, &dir.join("tokenizer.json")).map_err(|e| bad(p, format!("tokenizer: {e}")))?;
    let ids = SpecialIds {
        bos: md_u32(c, "tokenizer.ggml.bos_token_id", p)?,
        eos: md_u32(c, "tokenizer.ggml.eos_token_id", p)?,
        pad: md_u32(c, "tokenizer.ggml.padding_token_id", p).unwrap_or(0),
        end_of_turn: pieces.iter().position(|x| x.text == crate::codec::tokens::END_TURN).map(|i| i as u32),
    };
    write_side_configs(dir, &pieces, &unk, &ids)?;
    Ok(pieces.len())
}

/// The ids of the tokens generation and tokenization treat specially.
pub struct SpecialIds {
    pub bos: u32,
    pub eos: u32,
    pub pad: u32,
    pub end_of_turn: Option<u32>,
}

/// tokenizer_config.json and generation_config.json, shared with the fixture generator.
pub fn write_side_configs(dir: &Path, pieces: &[Piece], unk: &str, ids: &SpecialIds) -> Result<(), ModelError> {
    let text = |i: u32| pieces.get(i as usize).map(|x| x.text.clone()).unwrap_or_default();
    let (bos, eos, pad) = (text(ids.bos), text(ids.eos), text(ids.pad));
    let eos_ids: Vec<u32> = std::iter::once(ids.eos).chain(ids.end_of_turn).collect();
    // A chat template is required by mistral.rs' loader; fgbench never uses it (prompts are
    // rendered by the codec and sent as token ids).
    let template = "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n{{ m['content'] | trim }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}";
    write_json(
        &dir.join("tokenizer_config.json"),
        &serde_json::json!({
            "bos_token": bos, "eos_token": eos, "pad_token": pad, "unk_token": unk,
            "add_bos_token": false, "add_eos_token": false,
            "model_max_length": 32768, "chat_template": template,
            "tokenizer_class": "GemmaTokenizerFast"
        }),
    )?;
    write_json(
        &dir.join("generation_config.json"),
        &serde_json::json!({"bos_token_id": ids.bos, "eos_token_id": eos_ids, "pad_token_id": ids.pad, "do_sample": false}),
    )
}
