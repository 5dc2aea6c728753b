//! Hugging Face hub models through `hf-hub`: the standard cache (`$HF_HOME/hub`, default
//! `~/.cache/huggingface/hub`), `HF_TOKEN` (or the cached token), `HF_ENDPOINT`, and offline
//! mode (`HF_HUB_OFFLINE=1` or `--offline`: cache only, never the network).

use std::path::PathBuf;

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};

use super::ModelError;

/// Files a Gemma 3 checkpoint needs; weights are found through the index when sharded.
const REQUIRED: [&str; 2] = ["config.json", "tokenizer.json"];
const OPTIONAL: [&str; 2] = ["tokenizer_config.json", "generation_config.json"];

/// `org/name` or `org/name@revision`.
pub fn parse_hub_id(s: &str) -> Option<(String, Option<String>)> {
    let (repo, rev) = match s.split_once('@') {
        Some((r, v)) => (r, Some(v.to_string())),
        None => (s, None),
    };
    let mut parts = repo.split('/');
    let (org, name) = (parts.next()?, parts.next()?);
    let ok = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if parts.next().is_some() || !ok(org) || !ok(name) || rev.as_deref() == Some("") {
        return None;
    }
    Some((repo.to_string(), rev))
}

pub fn offline_from_env() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "TRUE" | "yes"))
}

/// One way of getting a file of the repo: the cache alone, or the API (cache first).
enum Fetcher {
    Cache(hf_hub::CacheRepo, PathBuf),
    Api(hf_hub::api::sync::ApiRepo),
}

impl Fetcher {
    fn get(&self, repo: &str, file: &str) -> Result<PathBuf, ModelError> {
        match self {
            Fetcher::Cache(c, root) => {
                c.get(file).ok_or_else(|| ModelError::NotCached { repo: repo.into(), file: file.into(), cache: root.clone() })
            }
            Fetcher::Api(api) => api.get(file).map_err(|e| {
                let msg = e.to_string();
                if msg.contains("401") || msg.contains("403") {
                    ModelError::Gated { repo: repo.into() }
                } else {
                    ModelError::Hub { repo: repo.into(), message: format!("fetching {file}: {msg}") }
                }
            }),
        }
    }
}

/// Downloads (or finds in the cache) a checkpoint; returns its snapshot directory.
pub fn resolve(repo: &str, revision: Option<&str>, offline: bool) -> Result<PathBuf, ModelError> {
    let cache = Cache::from_env();
    let hub_repo = Repo::with_revision(repo.to_string(), RepoType::Model, revision.unwrap_or("main").to_string());
    let fetcher = if offline || offline_from_env() {
        Fetcher::Cache(cache.repo(hub_repo), cache.path().clone())
    } else {
        let token = std::env::var("HF_TOKEN").ok().or_else(|| cache.token());
        let api = ApiBuilder::from_cache(cache)
            .with_token(token)
            .with_progress(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .build()
            .map_err(|e| ModelError::Hub { repo: repo.into(), message: e.to_string() })?;
        Fetcher::Api(api.repo(hub_repo))
    };
    let mut snapshot = None;
    for f in REQUIRED {
        let p = fetcher.get(repo, f)?;
        snapshot.get_or_insert_with(|| p.parent().map(PathBuf::from).unwrap_or_default());
    }
    for f in OPTIONAL {
        let _ = fetcher.get(repo, f);
    }
    match fetcher.get(repo, "model.safetensors") {
        Ok(_) => {}
        Err(single_err) => {
            let index = fetcher.get(repo, "model.safetensors.index.json").map_err(|_| single_err)?;
            let text = std::fs::read_to_string(&index).map_err(|source| ModelError::Io { path: index.clone(), source })?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| ModelError::Hub { repo: repo.into(), message: format!("bad weight index: {e}") })?;
            let mut shards: Vec<&str> = v["weight_map"].as_object().into_iter().flatten().filter_map(|(_, f)| f.as_str()).collect();
            shards.sort();
            shards.dedup();
            for s in shards {
                fetcher.get(repo, s)?;
            }
        }
    }
    Ok(snapshot.expect("config.json resolved"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_ids() {
        assert_eq!(parse_hub_id("google/functiongemma-270m-it"), Some(("google/functiongemma-270m-it".into(), None)));
        assert_eq!(parse_hub_id("a/b@v1.0"), Some(("a/b".into(), Some("v1.0".into()))));
        assert_eq!(parse_hub_id("./models/x"), None);
        assert_eq!(parse_hub_id("a/b/c"), None);
        assert_eq!(parse_hub_id("a/b@"), None);
        assert_eq!(parse_hub_id("justaname"), None);
    }
}
