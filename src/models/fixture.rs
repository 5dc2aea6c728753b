//! Random-weight Gemma 3 models, written with a fixed seed so every run (and every machine)
//! gets the same weights: the tiny fixture the engine tests run in seconds, and models of any
//! real shape (`fgbench models random --like`), which make speed measurable where real
//! weights cannot go.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::ModelError;
use super::gguf_export::{GgufType, export_gguf};
use super::gguf_import::{SpecialIds, write_side_configs};
use super::tokenizer_build::{Piece, PieceType, write_gemma_tokenizer};
use crate::codec::tokens::{CONTROL_TOKENS, END_TURN, START_TURN};

/// The architecture numbers of a Gemma 3 text model.
#[derive(Clone, Debug)]
pub struct Shape {
    pub hidden: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub sliding_window: usize,
    pub sliding_window_pattern: usize,
    pub max_positions: usize,
}

impl Shape {
    /// Gemma 3 270M (FunctionGemma's shape).
    pub fn gemma3_270m() -> Shape {
        Shape {
            hidden: 640,
            intermediate: 2048,
            layers: 18,
            heads: 4,
            kv_heads: 1,
            head_dim: 256,
            sliding_window: 512,
            sliding_window_pattern: 6,
            max_positions: 32768,
        }
    }

    /// The shape of a Hugging Face Gemma 3 config.json, and its vocabulary size.
    pub fn from_config(config: &serde_json::Value) -> Result<(Shape, usize), String> {
        let c = config.get("text_config").unwrap_or(config);
        let get = |k: &str| c.get(k).and_then(|v| v.as_u64()).map(|v| v as usize).ok_or_else(|| format!("config.json has no `{k}`"));
        let layers = get("num_hidden_layers")?;
        let pattern = c.get("sliding_window_pattern").and_then(|v| v.as_u64()).map(|v| v as usize).unwrap_or(6);
        Ok((
            Shape {
                hidden: get("hidden_size")?,
                intermediate: get("intermediate_size")?,
                layers,
                heads: get("num_attention_heads")?,
                kv_heads: get("num_key_value_heads")?,
                head_dim: get("head_dim")?,
                sliding_window: get("sliding_window")?,
                sliding_window_pattern: pattern,
                max_positions: get("max_position_embeddings").unwrap_or(32768),
            },
            get("vocab_size")?,
        ))
    }

    /// Small enough to load and generate in well under a second on one CPU core.
    pub fn tiny() -> Shape {
        Shape {
            hidden: 64,
            intermediate: 128,
            layers: 2,
            heads: 2,
            kv_heads: 1,
            head_dim: 32,
            sliding_window: 64,
            sliding_window_pattern: 2,
            max_positions: 4096,
        }
    }
}

/// The fixture vocabulary: Gemma's special tokens at Gemma's ids (0-3), turn markers, the
/// FunctionGemma control tokens as added special tokens, 256 byte-fallback pieces, then
/// printable characters and a few multi-character pieces (so merges are exercised).
fn fixture_pieces() -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut push = |text: &str, kind: PieceType, score: f32| pieces.push(Piece { text: text.into(), score, kind });
    for s in ["<pad>", "<eos>", "<bos>"] {
        push(s, PieceType::Control, 0.0);
    }
    push("<unk>", PieceType::Unknown, 0.0);
    push(START_TURN, PieceType::Control, 0.0);
    push(END_TURN, PieceType::Control, 0.0);
    for t in CONTROL_TOKENS {
        push(t, PieceType::Control, 0.0);
    }
    push("\n", PieceType::UserDefined, 0.0);
    for b in 0u8..=255 {
        push(&format!("<0x{b:02X}>"), PieceType::Byte, 0.0);
    }
    let mut rank = 0.0;
    let mut normal = |text: &str| {
        rank -= 1.0;
        pieces.push(Piece { text: text.into(), score: rank, kind: PieceType::Normal });
    };
    normal("▁");
    for c in (b'!'..=b'~').map(|b| b as char) {
        normal(&c.to_string());
    }
    for w in ["ca", "ll", "call", "▁t", "he", "▁the", "in", "▁a", "er", "on", "at", "es", "▁f", "un", "ct", "ion", "▁is"] {
        normal(w);
    }
    pieces
}

/// Writes a random-weight Gemma 3 model with the fixture tokenizer to `out`.
pub fn write_fixture(shape: &Shape, seed: u64, out: &Path) -> Result<(), ModelError> {
    write_random(shape, None, seed, "f32", None, out)
}

/// Writes a random-weight Gemma 3 model of `shape` to `out`. Its tokenizer is `vocabulary`
/// (e.g. the real Gemma 3 one, read from a GGUF: prompts then tokenize as in the real model),
/// else the fixture's, padded with filler pieces to `vocab` entries when given (so the
/// embedding has the real size: a random 270M has all 262,144 rows).
pub fn write_random(
    shape: &Shape,
    vocab: Option<usize>,
    seed: u64,
    dtype: &str,
    vocabulary: Option<super::gguf_export::Vocabulary>,
    out: &Path,
) -> Result<(), ModelError> {
    let err = |e: &dyn std::fmt::Display| ModelError::Write { path: out.to_path_buf(), message: e.to_string() };
    let dtype = match dtype {
        "f32" => candle_core::DType::F32,
        "bf16" => candle_core::DType::BF16,
        "f16" => candle_core::DType::F16,
        other => return Err(ModelError::Usage(format!("dtype `{other}` is not f32, bf16 or f16"))),
    };
    std::fs::create_dir_all(out).map_err(|e| err(&e))?;
    let given = vocabulary.is_some();
    let gguf_vocab = vocabulary.clone();
    let (mut pieces, ids) = match vocabulary {
        Some((p, s)) => {
            let eot = p.iter().position(|x| x.text == END_TURN).map(|i| i as u32);
            (p, SpecialIds { bos: s.bos, eos: s.eos, pad: s.pad, end_of_turn: eot })
        }
        None => (fixture_pieces(), SpecialIds { bos: 2, eos: 1, pad: 0, end_of_turn: Some(5) }),
    };
    let target = if given { pieces.len() } else { vocab.unwrap_or(pieces.len()) };
    let mut score = pieces.iter().map(|p| p.score).fold(0.0f32, f32::min);
    let mut i = 0;
    while pieces.len() < target {
        score -= 1.0;
        pieces.push(Piece { text: format!("▁filler{i}"), score, kind: PieceType::Normal });
        i += 1;
    }
    let vocab = pieces.len();
    write_gemma_tokenizer(&pieces, "<unk>", &out.join("tokenizer.json")).map_err(|e| err(&e))?;
    let eos_ids: Vec<u32> = std::iter::once(ids.eos).chain(ids.end_of_turn).collect();
    let (bos, pad) = (ids.bos, ids.pad);
    write_side_configs(out, &pieces, "<unk>", &ids)?;
    let layer_types: Vec<&str> = (0..shape.layers)
        .map(|i| if (i + 1) % shape.sliding_window_pattern == 0 { "full_attention" } else { "sliding_attention" })
        .collect();
    let config = serde_json::json!({
        "architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text",
        "hidden_size": shape.hidden, "intermediate_size": shape.intermediate,
        "num_hidden_layers": shape.layers, "num_attention_heads": shape.heads,
        "num_key_value_heads": shape.kv_heads, "head_dim": shape.head_dim,
        "query_pre_attn_scalar": shape.head_dim, "rms_norm_eps": 1e-6,
        "rope_theta": 1_000_000.0, "rope_local_base_freq": 10_000.0, "rope_scaling": null,
        "sliding_window": shape.sliding_window, "sliding_window_pattern": shape.sliding_window_pattern,
        "layer_types": layer_types, "max_position_embeddings": shape.max_positions,
        "vocab_size": vocab, "hidden_activation": "gelu_pytorch_tanh",
        "attn_logit_softcapping": null, "final_logit_softcapping": null, "attention_bias": false,
        "tie_word_embeddings": true, "bos_token_id": bos, "eos_token_id": eos_ids, "pad_token_id": pad,
        "torch_dtype": match dtype { candle_core::DType::BF16 => "bfloat16", candle_core::DType::F16 => "float16", _ => "float32" }
    });
    crate::fsutil::write_atomic(&out.join("config.json"), serde_json::to_string_pretty(&config).expect("json").as_bytes())
        .map_err(|e| err(&e))?;

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    let mut add = |name: String, dims: &[usize], scale: f32, rng: &mut ChaCha8Rng| -> Result<(), ModelError> {
        let n: usize = dims.iter().product();
        let data: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
        let t = Tensor::from_vec(data, dims, &Device::Cpu).and_then(|t| t.to_dtype(dtype)).map_err(|e| err(&e))?;
        tensors.insert(name, t);
        Ok(())
    };
    let (h, hd, i) = (shape.hidden, shape.head_dim, shape.intermediate);
    add("model.embed_tokens.weight".into(), &[vocab, h], 0.5, &mut rng)?;
    add("model.norm.weight".into(), &[h], 0.1, &mut rng)?;
    for l in 0..shape.layers {
        let p = format!("model.layers.{l}");
        add(format!("{p}.self_attn.q_proj.weight"), &[shape.heads * hd, h], 0.2, &mut rng)?;
        add(format!("{p}.self_attn.k_proj.weight"), &[shape.kv_heads * hd, h], 0.2, &mut rng)?;
        add(format!("{p}.self_attn.v_proj.weight"), &[shape.kv_heads * hd, h], 0.2, &mut rng)?;
        add(format!("{p}.self_attn.o_proj.weight"), &[h, shape.heads * hd], 0.2, &mut rng)?;
        add(format!("{p}.self_attn.q_norm.weight"), &[hd], 0.1, &mut rng)?;
        add(format!("{p}.self_attn.k_norm.weight"), &[hd], 0.1, &mut rng)?;
        for norm in ["input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"] {
            add(format!("{p}.{norm}.weight"), &[h], 0.1, &mut rng)?;
        }
        add(format!("{p}.mlp.gate_proj.weight"), &[i, h], 0.2, &mut rng)?;
        add(format!("{p}.mlp.up_proj.weight"), &[i, h], 0.2, &mut rng)?;
        add(format!("{p}.mlp.down_proj.weight"), &[h, i], 0.2, &mut rng)?;
    }
    candle_core::safetensors::save(&tensors, out.join("model.safetensors")).map_err(|e| err(&e))?;
    drop(tensors);
    // The same weights as GGUF, for llama.cpp (f16 unless the model is f32).
    let ty = if dtype == candle_core::DType::F32 { GgufType::F32 } else { GgufType::F16 };
    export_gguf(out, &out.join(GGUF_NAME), ty, gguf_vocab, false)?;
    Ok(())
}

/// The GGUF file a random or fixture model directory holds beside its safetensors.
pub const GGUF_NAME: &str = "model.gguf";
