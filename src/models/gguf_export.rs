//! `fgbench models export-gguf`: a Hugging Face Gemma 3 directory -> one GGUF file that
//! llama.cpp loads (the reverse of `gguf_import`). It is how a fine-tuned or merged
//! checkpoint, or a random-weight model, reaches the llama.cpp engine.
//!
//! - tensors are renamed to llama.cpp's gemma3 names and stored as f32 or f16;
//! - Gemma's RMSNorm weights get the `+ 1` llama.cpp expects;
//! - `gemma3.*` metadata comes from config.json;
//! - the vocabulary (`tokenizer.ggml.*`, SentencePiece-style pieces, scores and types) is
//!   either read from a GGUF (`--tokenizer-from`, exact) or recovered from tokenizer.json:
//!   each merged piece's score is minus the rank of the first merge that makes it, which
//!   reproduces the BPE merge order under llama.cpp's score-ordered merging.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};

use super::ModelError;
use super::fixture::Shape;
use super::gguf_import::{GLOBAL_TENSORS, LAYER_TENSORS};
use super::tokenizer_build::{Piece, PieceType};

/// A source file that cannot be exported.
fn bad(path: &Path, message: impl ToString) -> ModelError {
    ModelError::Unusable { path: path.to_path_buf(), message: message.to_string() }
}

/// llama.cpp's gemma3 name of a Hugging Face tensor.
pub fn gguf_name(hf: &str) -> Option<String> {
    let hf = hf.strip_prefix("language_model.").unwrap_or(hf);
    if let Some((g, _)) = GLOBAL_TENSORS.iter().find(|(_, h)| *h == hf) {
        return Some(g.to_string());
    }
    let (layer, tail) = hf.strip_prefix("model.layers.")?.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (g, _) = LAYER_TENSORS.iter().find(|(_, h)| *h == tail)?;
    Some(format!("blk.{layer}.{g}"))
}

/// Weight type of the exported tensors (norms stay f32, as llama.cpp's converter keeps them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GgufType {
    F32,
    F16,
}

/// The vocabulary of a GGUF file (its `tokenizer.ggml.*` metadata).
pub fn pieces_from_gguf(gguf: &Path) -> Result<Vocabulary, ModelError> {
    let g = |m: String| ModelError::Gguf { path: gguf.to_path_buf(), message: m };
    let mut f = std::fs::File::open(gguf).map_err(|e| g(e.to_string()))?;
    let c = Content::read(&mut f).map_err(|e| g(format!("not a readable GGUF file: {e}")))?;
    let arr = |key: &str| match c.metadata.get(key) {
        Some(Value::Array(a)) => Ok(a),
        _ => Err(g(format!("metadata `{key}` missing"))),
    };
    let (tokens, scores, types) = (arr("tokenizer.ggml.tokens")?, arr("tokenizer.ggml.scores")?, arr("tokenizer.ggml.token_type")?);
    let mut pieces = Vec::with_capacity(tokens.len());
    for (i, token) in tokens.iter().enumerate() {
        pieces.push(Piece {
            text: token.to_string().map_err(|e| g(e.to_string()))?.clone(),
            score: scores.get(i).and_then(|s| s.to_f32().ok()).unwrap_or(0.0),
            kind: PieceType::from_gguf(types.get(i).and_then(|t| t.to_i32().ok()).unwrap_or(1)),
        });
    }
    let id = |k: &str| c.metadata.get(k).and_then(|v| v.to_u32().ok());
    let special = SpecialTokens {
        bos: id("tokenizer.ggml.bos_token_id").unwrap_or(2),
        eos: id("tokenizer.ggml.eos_token_id").unwrap_or(1),
        unk: id("tokenizer.ggml.unknown_token_id").unwrap_or(3),
        pad: id("tokenizer.ggml.padding_token_id").unwrap_or(0),
    };
    Ok((pieces, special))
}

#[derive(Clone, Copy, Debug)]
pub struct SpecialTokens {
    pub bos: u32,
    pub eos: u32,
    pub unk: u32,
    pub pad: u32,
}

/// The vocabulary recovered from a Hugging Face tokenizer.json (a SentencePiece BPE).
pub fn pieces_from_tokenizer_json(path: &Path) -> Result<Vocabulary, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| bad(path, e))?;
    let j: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(path, format!("not JSON: {e}")))?;
    let vocab = j["model"]["vocab"].as_object().ok_or_else(|| bad(path, "no model.vocab (not a BPE tokenizer)"))?;
    let n = vocab.values().filter_map(|v| v.as_u64()).max().map(|m| m as usize + 1).unwrap_or(0);
    let mut pieces: Vec<Piece> = (0..n).map(|i| Piece { text: format!("<unused_{i}>"), score: 0.0, kind: PieceType::Unused }).collect();
    for (text, id) in vocab {
        let id = id.as_u64().ok_or_else(|| bad(path, "vocab id is not a number"))? as usize;
        let kind = if text.len() == 6 && text.starts_with("<0x") && text.ends_with('>') { PieceType::Byte } else { PieceType::Normal };
        pieces[id] = Piece { text: text.clone(), score: 0.0, kind };
    }
    let index: HashMap<&str, usize> = vocab.iter().filter_map(|(t, id)| Some((t.as_str(), id.as_u64()? as usize))).collect();
    let mut scored = vec![false; n];
    for (rank, m) in j["model"]["merges"].as_array().map(|a| a.as_slice()).unwrap_or(&[]).iter().enumerate() {
        let (l, r) = match m {
            serde_json::Value::String(s) => match s.split_once(' ') {
                Some((l, r)) => (l.to_string(), r.to_string()),
                None => continue,
            },
            serde_json::Value::Array(a) if a.len() == 2 => {
                (a[0].as_str().unwrap_or("").to_string(), a[1].as_str().unwrap_or("").to_string())
            }
            _ => continue,
        };
        if let Some(&id) = index.get(format!("{l}{r}").as_str())
            && !scored[id]
        {
            scored[id] = true;
            pieces[id].score = -(rank as f32) - 1.0;
        }
    }
    let unk_text = j["model"]["unk_token"].as_str().unwrap_or("<unk>").to_string();
    for t in j["added_tokens"].as_array().map(|a| a.as_slice()).unwrap_or(&[]) {
        let (Some(id), Some(content)) = (t["id"].as_u64(), t["content"].as_str()) else { continue };
        let id = id as usize;
        if id >= pieces.len() {
            pieces.resize_with(id + 1, || Piece { text: String::new(), score: 0.0, kind: PieceType::Unused });
        }
        let kind = if content == unk_text {
            PieceType::Unknown
        } else if t["special"].as_bool().unwrap_or(false) {
            PieceType::Control
        } else {
            PieceType::UserDefined
        };
        pieces[id] = Piece { text: content.to_string(), score: 0.0, kind };
    }
    let find = |s: &str, default: u32| pieces.iter().position(|p| p.text == s).map(|i| i as u32).unwrap_or(default);
    let special = SpecialTokens { bos: find("<bos>", 2), eos: find("<eos>", 1), unk: find(&unk_text, 3), pad: find("<pad>", 0) };
    Ok((pieces, special))
}

/// The `tokenizer.ggml.*` metadata of a Gemma vocabulary.
fn tokenizer_metadata(pieces: &[Piece], s: SpecialTokens) -> Vec<(String, Value)> {
    let kind_id = |k: PieceType| match k {
        PieceType::Normal => 1,
        PieceType::Unknown => 2,
        PieceType::Control => 3,
        PieceType::UserDefined => 4,
        PieceType::Unused => 5,
        PieceType::Byte => 6,
    };
    vec![
        ("tokenizer.ggml.model".into(), Value::String("llama".into())),
        ("tokenizer.ggml.pre".into(), Value::String("default".into())),
        ("tokenizer.ggml.tokens".into(), Value::Array(pieces.iter().map(|p| Value::String(p.text.clone())).collect())),
        ("tokenizer.ggml.scores".into(), Value::Array(pieces.iter().map(|p| Value::F32(p.score)).collect())),
        ("tokenizer.ggml.token_type".into(), Value::Array(pieces.iter().map(|p| Value::I32(kind_id(p.kind))).collect())),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(s.bos)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(s.eos)),
        ("tokenizer.ggml.unknown_token_id".into(), Value::U32(s.unk)),
        ("tokenizer.ggml.padding_token_id".into(), Value::U32(s.pad)),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(true)),
        ("tokenizer.ggml.add_eos_token".into(), Value::Bool(false)),
        ("tokenizer.ggml.add_space_prefix".into(), Value::Bool(false)),
    ]
}

/// What an export wrote.
pub struct Exported {
    pub path: PathBuf,
    pub tensors: usize,
    pub vocab: usize,
}

/// The vocabulary a GGUF export carries.
pub type Vocabulary = (Vec<Piece>, SpecialTokens);

/// Writes `out` (atomically) from the Hugging Face directory `dir`. `vocabulary`: pieces to
/// store (e.g. from [`pieces_from_gguf`]; else recovered from tokenizer.json). `vocab_only`
/// writes the metadata without tensors (a tokenizer file llama.cpp can load).
pub fn export_gguf(dir: &Path, out: &Path, ty: GgufType, vocabulary: Option<Vocabulary>, vocab_only: bool) -> Result<Exported, ModelError> {
    let cfg_path = dir.join("config.json");
    let cfg_text = std::fs::read_to_string(&cfg_path).map_err(|e| bad(&cfg_path, e))?;
    let cfg: serde_json::Value = serde_json::from_str(&cfg_text).map_err(|e| bad(&cfg_path, format!("not JSON: {e}")))?;
    let (shape, _vocab_size) = Shape::from_config(&cfg).map_err(|e| bad(&cfg_path, e))?;
    let c = cfg.get("text_config").unwrap_or(&cfg);
    let f = |k: &str, d: f64| c.get(k).and_then(|v| v.as_f64()).unwrap_or(d) as f32;
    let (pieces, special) = match vocabulary {
        Some(v) => v,
        None => pieces_from_tokenizer_json(&dir.join("tokenizer.json"))?,
    };
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    let mut md: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String("gemma3".into())),
        ("general.name".into(), Value::String(name)),
        ("general.file_type".into(), Value::U32(if ty == GgufType::F16 { 1 } else { 0 })),
        ("general.quantization_version".into(), Value::U32(2)),
        ("gemma3.context_length".into(), Value::U32(shape.max_positions as u32)),
        ("gemma3.embedding_length".into(), Value::U32(shape.hidden as u32)),
        ("gemma3.block_count".into(), Value::U32(shape.layers as u32)),
        ("gemma3.feed_forward_length".into(), Value::U32(shape.intermediate as u32)),
        ("gemma3.attention.head_count".into(), Value::U32(shape.heads as u32)),
        ("gemma3.attention.head_count_kv".into(), Value::U32(shape.kv_heads as u32)),
        ("gemma3.attention.key_length".into(), Value::U32(shape.head_dim as u32)),
        ("gemma3.attention.value_length".into(), Value::U32(shape.head_dim as u32)),
        ("gemma3.attention.layer_norm_rms_epsilon".into(), Value::F32(f("rms_norm_eps", 1e-6))),
        ("gemma3.rope.freq_base".into(), Value::F32(f("rope_theta", 1_000_000.0))),
        ("gemma3.attention.sliding_window".into(), Value::U32(shape.sliding_window as u32)),
    ];
    md.extend(tokenizer_metadata(&pieces, special));

    let mut qtensors: Vec<(String, QTensor)> = Vec::new();
    if !vocab_only {
        let files = super::safetensors_files(dir).map_err(|e| bad(dir, e))?;
        if files.is_empty() {
            return Err(bad(dir, "no *.safetensors weights"));
        }
        for file in &files {
            let tensors = candle_core::safetensors::load(file, &Device::Cpu).map_err(|e| bad(file, e))?;
            let mut names: Vec<&String> = tensors.keys().collect();
            names.sort();
            for hf in names {
                if hf == "lm_head.weight" {
                    continue; // tied to the embedding in Gemma 3
                }
                let g = gguf_name(hf).ok_or_else(|| bad(file, format!("unexpected tensor `{hf}` for Gemma 3")))?;
                let mut t: Tensor = tensors[hf].to_dtype(DType::F32).map_err(|e| bad(file, e))?;
                let is_norm = g.ends_with("norm.weight");
                if is_norm {
                    t = (t + 1.0).map_err(|e| bad(file, e))?;
                }
                let dt = if is_norm || ty == GgufType::F32 { GgmlDType::F32 } else { GgmlDType::F16 };
                let q = QTensor::quantize(&t, dt).map_err(|e| bad(file, format!("{hf}: {e}")))?;
                qtensors.push((g, q));
            }
        }
    }
    write_atomically(out, &md, &qtensors)?;
    Ok(Exported { path: out.to_path_buf(), tensors: qtensors.len(), vocab: pieces.len() })
}

/// A PEFT LoRA adapter directory -> a llama.cpp LoRA GGUF (`general.type = adapter`): each
/// pair as `blk.N.<tensor>.weight.lora_a` / `.lora_b`, and `adapter.lora.alpha` chosen so that
/// llama.cpp's alpha / r equals PEFT's scale (alpha / r, or alpha / sqrt(r) with rsLoRA).
pub fn export_lora_gguf(adapter: &Path, out: &Path) -> Result<Exported, ModelError> {
    let cfg = super::lora::read_config(adapter)?;
    let pairs = super::lora::lora_pairs(adapter)?;
    let mut qtensors: Vec<(String, QTensor)> = Vec::new();
    let mut rank = None;
    for (target, a, b) in &pairs {
        let g = gguf_name(target).ok_or_else(|| ModelError::Adapter {
            path: adapter.to_path_buf(),
            message: format!("targets `{target}`, which llama.cpp's gemma3 has no tensor for"),
        })?;
        let q = |t: &Tensor| {
            t.to_dtype(DType::F32).and_then(|t| QTensor::quantize(&t, GgmlDType::F32)).map_err(|e| bad(adapter, format!("{target}: {e}")))
        };
        rank = Some(a.dims()[0]);
        qtensors.push((format!("{g}.lora_a"), q(a)?));
        qtensors.push((format!("{g}.lora_b"), q(b)?));
    }
    let r = rank.unwrap_or(1) as f64;
    let alpha = super::lora::scale(&cfg) * r;
    let md: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String("gemma3".into())),
        ("general.type".into(), Value::String("adapter".into())),
        ("adapter.type".into(), Value::String("lora".into())),
        ("adapter.lora.alpha".into(), Value::F32(alpha as f32)),
    ];
    write_atomically(out, &md, &qtensors)?;
    Ok(Exported { path: out.to_path_buf(), tensors: qtensors.len(), vocab: 0 })
}

/// Writes a GGUF at `out` atomically (fsutil's temporary file, synced, renamed).
fn write_atomically(out: &Path, md: &[(String, Value)], qtensors: &[(String, QTensor)]) -> Result<(), ModelError> {
    let md_refs: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let t_refs: Vec<(&str, &QTensor)> = qtensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    crate::fsutil::write_atomic_with(out, |w| candle_core::quantized::gguf_file::write(w, &md_refs, &t_refs).map_err(std::io::Error::other))
        .map_err(|e| ModelError::Write { path: out.to_path_buf(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_invert_the_importer() {
        for hf in [
            "model.embed_tokens.weight",
            "model.norm.weight",
            "model.layers.3.self_attn.q_norm.weight",
            "model.layers.17.mlp.down_proj.weight",
        ] {
            let g = gguf_name(hf).unwrap();
            assert_eq!(super::super::gguf_import::hf_name(&g).as_deref(), Some(hf), "{g}");
        }
        assert_eq!(gguf_name("model.layers.0.self_attn.rotary.weight"), None);
    }
}
