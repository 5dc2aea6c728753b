//! `fgbench merge`: shards of one run, made on several machines, back into one run whose
//! summary is that of a single run over the same cases.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::{MANIFEST, Manifest, PREDICTIONS, RunError, latest, load_existing, result_record, write_results};
use crate::dataset::{Case, Dataset};
use crate::records::Prediction;
use crate::summary::Summary;

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("{path}: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("{path} is not a shard of the same run as {first}:\n  {}", diffs.join("\n  "))]
    Mismatch { path: PathBuf, first: PathBuf, diffs: Vec<String> },
    #[error("the shards do not cover the run: {0}")]
    Coverage(String),
    #[error("{0}")]
    Dataset(String),
}

/// What a merge produced.
pub struct Merged {
    pub summary: Summary,
    pub cases: usize,
    pub failed: usize,
}

/// Merges shard runs into `out`. Every shard must share the manifest's identity but the
/// shard (model, engine settings, generation, prompt style, dataset, scorer, repeats), the
/// shards must be 1..N of one N, each once, and together hold every case exactly once.
pub fn merge(runs: &[PathBuf], out: &Path) -> Result<Merged, MergeError> {
    let manifests: Vec<Manifest> = runs
        .iter()
        .map(|r| Manifest::read(&r.join(MANIFEST)).map_err(|message| MergeError::Manifest { path: r.clone(), message }))
        .collect::<Result<_, _>>()?;
    let first = &manifests[0];
    let same = |m: &Manifest| {
        let mut diffs = m.mismatches(first);
        for (name, a, b) in [
            ("scoring", serde_json::to_value(&m.scoring).ok(), serde_json::to_value(&first.scoring).ok()),
            ("repeats", Some(m.repeats.into()), Some(first.repeats.into())),
            ("limit", serde_json::to_value(m.dataset.limit).ok(), serde_json::to_value(first.dataset.limit).ok()),
            ("per_category", serde_json::to_value(m.dataset.per_category).ok(), serde_json::to_value(first.dataset.per_category).ok()),
        ] {
            if a != b {
                diffs.push(format!("{name}: {} vs {}", a.unwrap_or_default(), b.unwrap_or_default()));
            }
        }
        diffs.retain(|d| !d.starts_with("shard:"));
        diffs
    };
    for (m, path) in manifests.iter().zip(runs).skip(1) {
        let diffs = same(m);
        if !diffs.is_empty() {
            return Err(MergeError::Mismatch { path: path.clone(), first: runs[0].clone(), diffs });
        }
    }
    // The shards: 1..N of one N, each once.
    let count =
        first.shard.map(|s| s.count).ok_or_else(|| MergeError::Coverage(format!("{} is not a shard (no --shard)", runs[0].display())))?;
    let mut seen = BTreeSet::new();
    for (m, path) in manifests.iter().zip(runs) {
        match m.shard {
            Some(s) if s.count == count => {
                if !seen.insert(s.index) {
                    return Err(MergeError::Coverage(format!("shard {s} is given twice (again in {})", path.display())));
                }
            }
            other => {
                return Err(MergeError::Coverage(format!(
                    "{} is shard {} but {} is one of {count}",
                    path.display(),
                    other.map(|s| s.to_string()).unwrap_or("none".into()),
                    runs[0].display()
                )));
            }
        }
    }
    if seen.len() != count {
        let missing: Vec<String> = (1..=count).filter(|k| !seen.contains(k)).map(|k| format!("{k}/{count}")).collect();
        return Err(MergeError::Coverage(format!("shard(s) {} missing", missing.join(", "))));
    }
    // The cases the whole run covers, from the dataset the shards were made from.
    let ds_path = PathBuf::from(&first.dataset.path);
    let ds = Dataset::load(&ds_path).map_err(|e| MergeError::Dataset(format!("the shards' dataset: {e}")))?;
    let hash = crate::fsutil::sha256_file(&ds_path).map_err(|e| MergeError::Dataset(format!("{}: {e}", ds_path.display())))?;
    if hash != first.dataset.sha256 {
        return Err(MergeError::Dataset(format!(
            "{} changed since the shards ran (sha256 {hash}, recorded {})",
            ds_path.display(),
            first.dataset.sha256
        )));
    }
    let cases: Vec<Case> = crate::dataset::select(&ds, &first.dataset.categories, first.dataset.limit, first.dataset.per_category)
        .map_err(MergeError::Dataset)?;
    // Every (case, repeat) from exactly one shard.
    let mut from: HashMap<(String, u32), PathBuf> = HashMap::new();
    let mut preds: Vec<Prediction> = Vec::new();
    for run in runs {
        for p in latest(load_existing(&run.join(PREDICTIONS))?) {
            if let Some(other) = from.insert((p.id.clone(), p.repeat), run.clone()) {
                return Err(MergeError::Coverage(format!("case `{}` is in {} and in {}", p.id, other.display(), run.display())));
            }
            preds.push(p);
        }
    }
    // Each case by id, with its place in the dataset.
    let by_id: HashMap<&str, (usize, &Case)> = cases.iter().enumerate().map(|(i, c)| (c.id.as_str(), (i, c))).collect();
    if let Some(p) = preds.iter().find(|p| !by_id.contains_key(p.id.as_str())) {
        return Err(MergeError::Coverage(format!(
            "case `{}` ({}) is not one of the run's cases",
            p.id,
            from[&(p.id.clone(), p.repeat)].display()
        )));
    }
    let from = &from;
    let missing: Vec<&str> = (0..first.repeats.max(1) as u32)
        .flat_map(|r| cases.iter().filter(move |c| !from.contains_key(&(c.id.clone(), r))).map(|c| c.id.as_str()))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Coverage(format!(
            "{} case(s) have no prediction in any shard (first: `{}`); finish the shard that holds them with --resume",
            missing.len(),
            missing[0]
        )));
    }
    // In dataset order, as a single run writes them.
    preds.sort_by_key(|p| (p.repeat, by_id[p.id.as_str()].0));
    std::fs::create_dir_all(out).map_err(|source| RunError::Io { path: out.to_path_buf(), source })?;
    let preds_path = out.join(PREDICTIONS);
    crate::fsutil::write_jsonl(&preds_path, &preds).map_err(|source| RunError::Io { path: preds_path, source })?;
    let keys: Vec<crate::score::AnswerKey> = cases.iter().map(Into::into).collect();
    let results: Vec<_> = preds.iter().map(|p| result_record(&keys[by_id[p.id.as_str()].0], p, &first.scoring)).collect();
    let leakage = crate::dataset::leakage::beside(Path::new(&first.dataset.path)).map_err(MergeError::Dataset)?;
    let summary = write_results(&cases, &results, out, None, leakage.as_ref(), &first.scoring)?;
    let mut manifest = first.clone();
    manifest.shard = None;
    manifest.dataset.cases = cases.len();
    manifest.merged_from = runs.iter().map(|r| r.display().to_string()).collect();
    let manifest_path = out.join(MANIFEST);
    manifest.write(&manifest_path).map_err(|source| RunError::Io { path: manifest_path, source })?;
    let failed = preds.iter().filter(|p| p.failure.is_some()).count();
    Ok(Merged { summary, cases: cases.len(), failed })
}
