//! Reading a run directory for comparison: results.jsonl (required) and manifest.json.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::dataset::Dataset;
use crate::records::ResultRecord;
use crate::run::{MANIFEST, Manifest, RESULTS};
use crate::score::{ScoreOptions, Scorer};

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("{0} has no results.jsonl: is it a run directory (fgbench eval --out, or fgbench score --out RUN/results.jsonl)?")]
    NoResults(PathBuf),
    #[error("{0}: the run has no results")]
    Empty(PathBuf),
    #[error("{path}:{line}: malformed result: {message}")]
    Malformed { path: PathBuf, line: usize, message: String },
    #[error("{0}")]
    Manifest(String),
    #[error("the runs used different datasets ({a} vs {b}); pass --allow-subset to compare the cases they share")]
    DifferentDatasets { a: String, b: String },
    #[error("the runs share no case ids")]
    NoSharedCases,
    #[error(
        "the runs used different prompt styles ({a} vs {b}); pass --allow-style-mismatch to compare them anyway (a format-sensitivity comparison)"
    )]
    StyleMismatch { a: String, b: String },
    #[error("the runs used different engine settings ({0}); pass --allow-settings-mismatch to gate them anyway")]
    SettingsMismatch(String),
    #[error(
        "the runs were measured with different machine or batching settings ({0}), so their timings do not compare; gate speed with `gate --interleaved` (both measured now, alike), use a config without [[performance]] rules for accuracy alone, or pass --allow-settings-mismatch"
    )]
    SpeedSettingsMismatch(String),
    #[error("the runs used different engines ({a} vs {b}); pass --allow-engine-mismatch to compare them anyway")]
    EngineMismatch { a: String, b: String },
    #[error(
        "the runs were scored by different scorers ({a} vs {b}); pass --scorer NAME (and --parser NAME) to rescore both alike, or --allow-scorer-mismatch"
    )]
    ScorerMismatch { a: String, b: String },
    #[error("{dir}: rescoring with --scorer needs the dataset: pass --dataset (the manifest names {path}, which is not there)")]
    NoDatasetToRescore { dir: PathBuf, path: String },
}

/// A run's records.
pub struct Run {
    pub dir: PathBuf,
    /// One result per case: its first run.
    pub results: Vec<ResultRecord>,
    /// Every run of every case, when the run has `--repeats`; empty otherwise.
    pub repeats: Vec<ResultRecord>,
    pub manifest: Option<Manifest>,
}

impl Run {
    pub fn load(dir: &Path) -> Result<Run, CompareError> {
        let path = dir.join(RESULTS);
        let file = std::fs::File::open(&path).map_err(|_| CompareError::NoResults(dir.to_path_buf()))?;
        let mut results = Vec::new();
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| CompareError::Malformed { path: path.clone(), line: i + 1, message: e.to_string() })?;
            if line.trim().is_empty() {
                continue;
            }
            let r: ResultRecord = serde_json::from_str(&line).map_err(|e| CompareError::Malformed {
                path: path.clone(),
                line: i + 1,
                message: e.to_string(),
            })?;
            results.push(r);
        }
        if results.is_empty() {
            return Err(CompareError::Empty(dir.to_path_buf()));
        }
        let repeats = if results.iter().any(|r| r.repeat > 0) { std::mem::take(&mut results) } else { Vec::new() };
        if !repeats.is_empty() {
            results = repeats.iter().filter(|r| r.repeat == 0).cloned().collect();
        }
        let manifest_path = dir.join(MANIFEST);
        let manifest = if manifest_path.exists() { Some(Manifest::read(&manifest_path).map_err(CompareError::Manifest)?) } else { None };
        Ok(Run { dir: dir.to_path_buf(), results, repeats, manifest })
    }

    /// The rules the results were judged by (BFCL's when the run has no manifest).
    pub fn scorer(&self) -> Scorer {
        self.manifest.as_ref().map(|m| m.scoring.scorer).unwrap_or_default()
    }

    /// The rules and the parser the results were judged by, as one label.
    pub fn judged_by(&self) -> String {
        self.manifest.as_ref().map(|m| m.scoring.label()).unwrap_or_else(|| Scorer::default().name().into())
    }

    /// Judges the run's outputs again with other rules (results are a pure function of the
    /// outputs and the cases); the manifest then records the new rules.
    pub fn rescore(&mut self, dataset: &Dataset, opts: &ScoreOptions) {
        let by_id: std::collections::HashMap<&str, crate::score::AnswerKey> =
            dataset.cases.iter().map(|c| (c.id.as_str(), c.into())).collect();
        for r in self.results.iter_mut().chain(self.repeats.iter_mut()) {
            if let Some(case) = by_id.get(r.id.as_str()) {
                *r = crate::run::rejudge(case, r, opts);
            }
        }
        if let Some(m) = &mut self.manifest {
            m.scoring = opts.clone();
        }
    }

    /// The model (and adapter), with the prompt style when it is not the official one.
    pub fn label(&self) -> String {
        let Some(m) = &self.manifest else { return self.dir.display().to_string() };
        let mut label = match &m.model.adapter {
            Some(a) => format!("{} + adapter {}", m.model.source, a.path.display()),
            None => m.model.source.clone(),
        };
        if m.prompt_style != "official" {
            label.push_str(&format!(" [{} prompts]", m.prompt_style));
        }
        label
    }
}
