//! The run manifest: everything needed to reproduce a run and to decide whether two runs
//! can be compared or one resumed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::{EngineInfo, GenerationSettings};
use crate::models::ResolvedModel;
use crate::score::ScoreOptions;

pub const MANIFEST_SCHEMA: &str = "fgbench.manifest/1";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatasetRef {
    pub path: String,
    pub sha256: String,
    pub cases: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_category: Option<usize>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Host {
    pub hostname: String,
    pub os: String,
    pub cpu: String,
    pub cores: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
}

impl Host {
    pub fn detect() -> Host {
        let hostname = std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_string()).unwrap_or_default();
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let cores = crate::engine::available_cores();
        Host { hostname, os: std::env::consts::OS.into(), cpu, cores, gpu: None }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub fgbench_version: String,
    pub git_commit: String,
    pub created: String,
    pub model: ResolvedModel,
    pub engine: EngineInfo,
    pub generation: GenerationSettings,
    /// The prompt rendering (`official`: Google's FunctionGemma chat template).
    pub prompt_style: String,
    pub concurrency: usize,
    /// Runs of every case (`--repeats`).
    #[serde(default = "one")]
    pub repeats: usize,
    pub scoring: ScoreOptions,
    pub dataset: DatasetRef,
    pub host: Host,
    /// `--shard K/N`: this run holds only the cases of shard K.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<super::shard::Shard>,
    /// The shard runs `fgbench merge` joined into this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
}

impl Manifest {
    /// A manifest for a run made now on this host by this build of fgbench.
    pub fn new(
        model: ResolvedModel,
        engine: EngineInfo,
        generation: GenerationSettings,
        prompt_style: &str,
        concurrency: usize,
        dataset: DatasetRef,
    ) -> Manifest {
        Manifest {
            schema: MANIFEST_SCHEMA.into(),
            fgbench_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: env!("FGBENCH_GIT_COMMIT").into(),
            created: now_rfc3339(),
            model,
            engine,
            generation,
            prompt_style: prompt_style.into(),
            concurrency,
            repeats: 1,
            scoring: ScoreOptions::default(),
            dataset,
            host: Host::detect(),
            shard: None,
            merged_from: Vec::new(),
        }
    }

    /// The fields that must agree for predictions to belong to the same run.
    pub fn identity(&self) -> serde_json::Value {
        serde_json::json!({
            "model": self.model.content_hash,
            "adapter": self.model.adapter.as_ref().map(|a| &a.content_hash),
            "engine": [&self.engine.engine, &self.engine.engine_version, &self.engine.dtype, &self.engine.quantization],
            "generation": self.generation,
            "prompt_style": self.prompt_style,
            "dataset": self.dataset.sha256,
            "categories": self.dataset.categories,
            "shard": self.shard,
        })
    }

    /// Differences in identity between a stored manifest and this one, as readable lines.
    pub fn mismatches(&self, stored: &Manifest) -> Vec<String> {
        let (a, b) = (stored.identity(), self.identity());
        let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else { return vec![] };
        a.iter().filter(|(k, v)| b.get(*k) != Some(v)).map(|(k, v)| format!("{k}: stored {v}, now {}", b[k])).collect()
    }

    /// Writes the manifest to `path` atomically.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        crate::fsutil::write_atomic(path, serde_json::to_string_pretty(self).expect("manifest serializes").as_bytes())
    }

    pub fn read(path: &Path) -> Result<Manifest, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        match v.get("schema").and_then(|s| s.as_str()) {
            Some(MANIFEST_SCHEMA) => {}
            other => {
                return Err(format!("{}: unsupported manifest schema {other:?} (this fgbench reads {MANIFEST_SCHEMA})", path.display()));
            }
        }
        serde_json::from_value(v).map_err(|e| format!("{}: {e}", path.display()))
    }
}

fn one() -> usize {
    1
}

/// Seconds since the epoch as an RFC 3339 UTC timestamp (no time-zone database needed).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = crate::civil::civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}
