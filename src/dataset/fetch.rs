//! Obtaining BFCL's data: pip-download the pinned `bfcl-eval` wheel into the cache, unpack its
//! data folder, import it. Each step is skipped when its output is already there.

use std::path::{Path, PathBuf};

use super::bfcl;

/// The bfcl-eval release whose data and checker fgbench is verified against.
pub const BFCL_EVAL_VERSION: &str = "2026.3.23";

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Pip(#[from] crate::pip::PipError),
    #[error("cannot unpack {path}: {message}")]
    Unzip { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Import(#[from] bfcl::ImportError),
}

/// fgbench's cache root: `$FGBENCH_CACHE`, else `$HOME/.cache/fgbench`.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("FGBENCH_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("fgbench")
}

/// What `fetch_bfcl` produced.
pub struct Fetched {
    pub wheel: PathBuf,
    pub data_dir: PathBuf,
    pub dataset: PathBuf,
    pub cases: usize,
    pub already_there: bool,
}

/// Ensures `<cache>/datasets/bfcl_v4.jsonl` exists: download, unpack, import as needed.
pub fn fetch_bfcl(cache: &Path) -> Result<Fetched, FetchError> {
    let wheels = cache.join("wheels");
    let unpacked = cache.join(format!("bfcl-eval-{BFCL_EVAL_VERSION}"));
    let dataset = cache.join("datasets").join("bfcl_v4.jsonl");
    let prefix = format!("bfcl_eval-{BFCL_EVAL_VERSION}-");
    let wheel = crate::pip::find_wheel(&wheels, &prefix);
    if let (Some(wheel), true) = (&wheel, dataset.is_file()) {
        let cases = std::fs::read_to_string(&dataset).map(|t| t.lines().count()).unwrap_or(0);
        let data_dir = unpacked.join("bfcl_eval").join("data");
        return Ok(Fetched { wheel: wheel.clone(), data_dir, dataset, cases, already_there: true });
    }
    // One fetch at a time; whoever waited finds the dataset made.
    let _lock = crate::fsutil::lock_entry(&dataset).map_err(|source| FetchError::Io { path: dataset.clone(), source })?;
    if let (Some(wheel), true) = (crate::pip::find_wheel(&wheels, &prefix), dataset.is_file()) {
        let cases = std::fs::read_to_string(&dataset).map(|t| t.lines().count()).unwrap_or(0);
        let data_dir = unpacked.join("bfcl_eval").join("data");
        return Ok(Fetched { wheel, data_dir, dataset, cases, already_there: true });
    }
    let wheel = match wheel {
        Some(w) => w,
        None => crate::pip::ensure_wheel(&wheels, "bfcl-eval", BFCL_EVAL_VERSION)?,
    };
    if !unpacked.join("bfcl_eval").join("data").is_dir() {
        unzip(&wheel, &unpacked)?;
    }
    let cases = bfcl::import(&unpacked, &[])?;
    super::write_cases(&dataset, &cases).map_err(|source| FetchError::Io { path: dataset.clone(), source })?;
    let data_dir = unpacked.join("bfcl_eval").join("data");
    Ok(Fetched { wheel, data_dir, dataset, cases: cases.len(), already_there: false })
}

/// Unpacks the wheel's `bfcl_eval/data/` folder (all BFCL needs for import) into `dest`.
fn unzip(wheel: &Path, dest: &Path) -> Result<(), FetchError> {
    let bad = |message: String| FetchError::Unzip { path: wheel.to_path_buf(), message };
    let file = std::fs::File::open(wheel).map_err(|source| FetchError::Io { path: wheel.into(), source })?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    let tmp = crate::fsutil::temp_sibling(dest);
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
        let Some(rel) = entry.enclosed_name() else { continue };
        if !rel.starts_with("bfcl_eval/data") || entry.is_dir() {
            continue;
        }
        let out = tmp.join(&rel);
        let io = |source| FetchError::Io { path: out.clone(), source };
        std::fs::create_dir_all(out.parent().unwrap_or(&tmp)).map_err(io)?;
        let mut f = std::fs::File::create(&out).map_err(io)?;
        std::io::copy(&mut entry, &mut f).map_err(io)?;
    }
    let _ = std::fs::remove_dir_all(dest);
    std::fs::rename(&tmp, dest).map_err(|source| FetchError::Io { path: dest.into(), source })
}
