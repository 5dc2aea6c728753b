//! `fgbench eval`: render -> generate -> parse -> score, with records appended per case so a
//! killed run resumes where it stopped.

pub mod manifest;
pub mod merge;
pub mod shard;
pub mod timing;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use crate::dataset::Case;
use crate::engine::{Engine, EngineError, GenerationSettings, Request};
use crate::prompt::PromptStyle;
use crate::records::{Failure, Prediction, RESULT_SCHEMA, ResultRecord};
use crate::score::{AnswerKey, ScoreOptions, Scored, score_output};
use crate::summary::{Summary, summarize};
pub use manifest::{MANIFEST_SCHEMA, Manifest};
pub use timing::RunTiming;

pub const PREDICTIONS: &str = "predictions.jsonl";
pub const RESULTS: &str = "results.jsonl";
pub const SUMMARY: &str = "summary.json";
pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("run directory {0} already holds predictions; pass --resume to finish it, or choose another --out")]
    NotEmpty(PathBuf),
    #[error("cannot resume {path}: the run was made with different settings:\n  {}", diffs.join("\n  "))]
    Mismatch { path: PathBuf, diffs: Vec<String> },
    #[error("cannot resume: {0}")]
    BadManifest(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("case `{id}`: {source}")]
    Engine { id: String, source: EngineError },
    #[error("{path}:{line}: corrupt prediction record: {message}")]
    Corrupt { path: PathBuf, line: usize, message: String },
    /// The engine cannot run a repeat's settings (mistral.rs takes no per-request seed).
    #[error("repeat {repeat} (seed + {repeat}): {source}")]
    Settings { repeat: u32, source: EngineError },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io { path: path.to_path_buf(), source }
}

/// Reads the predictions already in a run directory. A last line cut off by a kill (no
/// trailing newline, not valid JSON) is dropped from the file; any other bad line is an error.
pub fn load_existing(path: &Path) -> Result<Vec<Prediction>, RunError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let bytes = std::fs::read(path).map_err(io(path))?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map(|i| i + 1).unwrap_or(0);
    let mut preds = Vec::new();
    for (i, line) in bytes[..complete].lines().enumerate() {
        let line = line.map_err(io(path))?;
        if line.trim().is_empty() {
            continue;
        }
        let p: Prediction =
            serde_json::from_str(&line).map_err(|e| RunError::Corrupt { path: path.to_path_buf(), line: i + 1, message: e.to_string() })?;
        preds.push(p);
    }
    if complete < bytes.len() {
        let tail = &bytes[complete..];
        match serde_json::from_slice::<Prediction>(tail) {
            Ok(p) => {
                // A whole record that only lacks its newline: keep it.
                preds.push(p);
                let mut f = std::fs::OpenOptions::new().append(true).open(path).map_err(io(path))?;
                f.write_all(b"\n").map_err(io(path))?;
            }
            Err(_) => {
                eprintln!("fgbench: dropping a record cut off at the end of {}", path.display());
                let f = std::fs::OpenOptions::new().write(true).open(path).map_err(io(path))?;
                f.set_len(complete as u64).map_err(io(path))?;
            }
        }
    }
    Ok(preds)
}

/// Prepares `out` for a run: a fresh directory, or (with `resume`) one whose manifest
/// matches. Returns the predictions already made.
pub fn prepare(out: &Path, manifest: &Manifest, resume: bool) -> Result<Vec<Prediction>, RunError> {
    std::fs::create_dir_all(out).map_err(io(out))?;
    let preds_path = out.join(PREDICTIONS);
    let manifest_path = out.join(MANIFEST);
    let has_preds = preds_path.metadata().map(|m| m.len() > 0).unwrap_or(false);
    if has_preds && !resume {
        return Err(RunError::NotEmpty(out.to_path_buf()));
    }
    let existing = if resume && manifest_path.exists() {
        let stored = Manifest::read(&manifest_path).map_err(RunError::BadManifest)?;
        let diffs = manifest.mismatches(&stored);
        if !diffs.is_empty() {
            return Err(RunError::Mismatch { path: out.to_path_buf(), diffs });
        }
        load_existing(&preds_path)?
    } else {
        if has_preds {
            return Err(RunError::BadManifest(format!("{} has predictions but no manifest.json", out.display())));
        }
        Vec::new()
    };
    manifest.write(&manifest_path).map_err(io(&manifest_path))?;
    Ok(existing)
}

/// Progress display: a bar with cases/s and running accuracy on a terminal, nothing when piped.
struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    fn new(total: usize, done: usize) -> Progress {
        let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            let b = indicatif::ProgressBar::new(total as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} cases  {per_sec}  eta {eta}  {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.set_position(done as u64);
        Progress { bar }
    }
}

/// What one eval invocation did.
pub struct EvalOutcome {
    pub summary: Summary,
    pub timing: RunTiming,
    pub generated: usize,
    pub resumed: usize,
    /// The cases the engine failed this time, by id (recorded with the reason; `--resume`
    /// redoes them).
    pub failures: Vec<(String, Failure)>,
}

impl EvalOutcome {
    /// Whether every failure was a setting the engine cannot run (bad input), not the
    /// engine's or the server's trouble.
    pub fn failed_unsupported(&self) -> bool {
        self.failures.iter().all(|(_, f)| f.kind == "unsupported")
    }
}

/// The latest prediction of every (case, repeat): a case that failed and was run again by
/// `--resume` has both records in the file, and the later one counts.
pub fn latest(preds: Vec<Prediction>) -> Vec<Prediction> {
    use std::collections::hash_map::Entry;
    let mut at: HashMap<(String, u32), usize> = HashMap::new();
    let mut out: Vec<Prediction> = Vec::with_capacity(preds.len());
    for p in preds {
        match at.entry((p.id.clone(), p.repeat)) {
            Entry::Occupied(i) => out[*i.get()] = p,
            Entry::Vacant(slot) => {
                slot.insert(out.len());
                out.push(p);
            }
        }
    }
    out
}

/// Generates every case not yet predicted, appending each prediction as it completes, then
/// scores all predictions and writes results.jsonl and summary.json.
/// How an eval runs, besides the engine and the cases.
pub struct EvalSettings {
    pub generation: GenerationSettings,
    pub style: PromptStyle,
    pub concurrency: usize,
    pub scoring: ScoreOptions,
    /// Runs of every case; run `r > 0` samples with seed + r (`--repeats`).
    pub repeats: usize,
    /// The dataset's leakage report, when it has one: the summary splits seen and unseen skeletons.
    pub leakage: Option<crate::dataset::leakage::LeakageReport>,
}

impl EvalSettings {
    /// The generation settings of repeat `r`: the run's own for the first, then the seed
    /// moved on by `r`, so every repeat samples differently and reproducibly.
    fn for_repeat(&self, r: u32) -> GenerationSettings {
        let mut g = self.generation.clone();
        if r > 0 {
            g.seed = Some(g.seed.unwrap_or(0).wrapping_add(u64::from(r)));
        }
        g
    }
}

pub fn run_eval(
    engine: &dyn Engine,
    cases: &[Case],
    out: &Path,
    existing: Vec<Prediction>,
    run: &EvalSettings,
) -> Result<EvalOutcome, RunError> {
    let (concurrency, opts, style) = (run.concurrency, &run.scoring, run.style);
    // Failed cases are run again; their old records give way to the new ones.
    let existing: Vec<Prediction> = latest(existing).into_iter().filter(|p| p.failure.is_none()).collect();
    let done: HashSet<(String, u32)> = existing.iter().map(|p| (p.id.clone(), p.repeat)).collect();
    let repeats = run.repeats.max(1) as u32;
    // Repeats after the first differ only in the seed: checking the first two checks them all.
    for r in 0..repeats.min(2) {
        engine.check_settings(&run.for_repeat(r)).map_err(|source| RunError::Settings { repeat: r, source })?;
    }
    let todo: Vec<(&Case, u32)> =
        (0..repeats).flat_map(|r| cases.iter().map(move |c| (c, r))).filter(|(c, r)| !done.contains(&(c.id.clone(), *r))).collect();
    let by_id: HashMap<&str, AnswerKey> = cases.iter().map(|c| (c.id.as_str(), AnswerKey::from(c))).collect();
    let preds_path = out.join(PREDICTIONS);
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&preds_path).map_err(io(&preds_path))?;
    file.seek(std::io::SeekFrom::End(0)).map_err(io(&preds_path))?;

    let progress = Progress::new(cases.len() * repeats as usize, done.len());
    // Time spent on harness work (rendering, scoring, writing records), summed over threads.
    let harness_ns = AtomicUsize::new(0);
    let workers = concurrency.max(1).min(todo.len().max(1));
    let start = Instant::now();
    let mut new_preds: Vec<Prediction> = Vec::with_capacity(todo.len());
    // Every prediction is scored once: these records are what results.jsonl gets.
    let mut results: Vec<ResultRecord> =
        existing.iter().filter_map(|p| by_id.get(p.id.as_str()).map(|c| result_record(c, p, opts))).collect();
    let mut correct = results.iter().filter(|r| r.valid).count();
    let mut failure: Option<RunError> = None;
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel::<Result<Prediction, RunError>>();
        let (todo, harness_ns) = (&todo, &harness_ns);
        s.spawn(move || {
            crate::pool::for_each_index(todo.len(), workers, |_, i| {
                let (case, repeat) = todo[i];
                let t0 = Instant::now();
                let prompt = style.render(&case.messages, &case.tools);
                harness_ns.fetch_add(t0.elapsed().as_nanos() as usize, Ordering::Relaxed);
                let request = Request { prompt: &prompt, conversation: Some((&case.messages, &case.tools)) };
                let msg = match engine.generate_request(&request, &run.for_repeat(repeat), &mut |_| true) {
                    Ok(c) => Ok(Prediction { id: case.id.clone(), repeat, output: c.text, timings: c.timings, failure: None }),
                    // A case the engine could not answer is recorded as failed, with the
                    // reason, and the run goes on; a cancel stops it.
                    Err(EngineError::Canceled) => Err(RunError::Engine { id: case.id.clone(), source: EngineError::Canceled }),
                    Err(e) => Ok(failed_prediction(&case.id, repeat, e)),
                };
                // Stop handing out work after a failure (or when the writer stopped).
                let ok = msg.is_ok();
                tx.send(msg).is_ok() && ok
            });
        });
        for msg in rx {
            let t0 = Instant::now();
            match msg {
                Ok(p) => {
                    let line = serde_json::to_string(&p).expect("prediction serializes");
                    if let Err(e) = writeln!(file, "{line}").and_then(|_| file.flush()) {
                        // Nothing more can be kept: stop (the workers' sends then fail).
                        failure.get_or_insert(RunError::Io { path: preds_path.clone(), source: e });
                        break;
                    }
                    let record = result_record(&by_id[p.id.as_str()], &p, opts);
                    correct += usize::from(record.valid);
                    results.push(record);
                    progress.bar.inc(1);
                    let n = progress.bar.position().max(1);
                    progress.bar.set_message(format!("accuracy {:.1}%", 100.0 * correct as f64 / n as f64));
                    new_preds.push(p);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
            harness_ns.fetch_add(t0.elapsed().as_nanos() as usize, Ordering::Relaxed);
        }
    });
    progress.bar.finish_and_clear();
    let wall_s = start.elapsed().as_secs_f64();
    if let Some(e) = failure {
        return Err(e);
    }
    let harness_s = harness_ns.load(Ordering::Relaxed) as f64 / 1e9;
    let load_s = engine.info().load_ms / 1000.0;
    let timing = timing::run_timing(&new_preds, workers, wall_s, load_s, harness_s);
    let summary = write_results(cases, &results, out, Some(&timing), run.leakage.as_ref(), opts)?;
    let made = new_preds.len();
    let failures: Vec<(String, Failure)> = new_preds.into_iter().filter_map(|p| Some((p.id, p.failure?))).collect();
    Ok(EvalOutcome { summary, timing, generated: made - failures.len(), resumed: existing.len(), failures })
}

fn failed_prediction(id: &str, repeat: u32, e: EngineError) -> Prediction {
    let kind = e.kind().to_string();
    let output = match &e {
        EngineError::ServerParser { raw, .. } => raw.clone(),
        _ => String::new(),
    };
    Prediction { id: id.to_string(), repeat, output, timings: Default::default(), failure: Some(Failure { kind, message: e.to_string() }) }
}

/// Writes a run's results.jsonl and summary.json atomically.
pub fn write_results(
    cases: &[Case],
    results: &[ResultRecord],
    out: &Path,
    timing: Option<&RunTiming>,
    leakage: Option<&crate::dataset::leakage::LeakageReport>,
    scoring: &ScoreOptions,
) -> Result<Summary, RunError> {
    let results_path = out.join(RESULTS);
    crate::fsutil::write_jsonl(&results_path, results).map_err(io(&results_path))?;
    let mut summary = summarize(cases, results);
    if scoring.scorer == crate::score::Scorer::Exact {
        summary.normalized = Some(crate::summary::normalized_tier(cases, results));
    }
    if let Some(l) = leakage {
        summary.by_skeleton = crate::summary::by_skeleton(results, l);
    }
    let mut doc = serde_json::to_value(&summary).expect("summary serializes");
    if let Some(t) = timing {
        doc["timing"] = serde_json::to_value(t).expect("timing serializes");
    }
    let summary_path = out.join(SUMMARY);
    crate::fsutil::write_atomic(&summary_path, serde_json::to_string_pretty(&doc).expect("json").as_bytes()).map_err(io(&summary_path))?;
    Ok(summary)
}

/// One scored prediction.
pub fn result_record(case: &AnswerKey, p: &Prediction, opts: &ScoreOptions) -> ResultRecord {
    record_of(p.clone(), case.category.clone(), score_output(case, &p.output, opts))
}

/// A recorded result judged again under `opts` (a verdict is a pure function of the output
/// and the case); a case the engine never answered stays failed under any rules.
pub fn rejudge(case: &AnswerKey, r: &ResultRecord, opts: &ScoreOptions) -> ResultRecord {
    let p = Prediction {
        id: r.id.clone(),
        repeat: r.repeat,
        output: r.output.clone(),
        timings: r.timings.clone(),
        failure: Failure::of_result(r),
    };
    let scored = score_output(case, &p.output, opts);
    record_of(p, case.category.clone(), scored)
}

/// The record of a prediction and its verdict; a failed prediction (the engine gave no
/// answer) is wrong whatever its output, under its failure's kind.
pub fn record_of(p: Prediction, category: String, mut s: Scored) -> ResultRecord {
    if let Some(f) = p.failure {
        s.check.valid = false;
        s.check.error_type = Some(f.kind);
        s.check.error = Some(f.message);
    }
    ResultRecord {
        schema: RESULT_SCHEMA.into(),
        id: p.id,
        repeat: p.repeat,
        category,
        valid: s.check.valid,
        error_type: s.check.error_type,
        error: s.check.error,
        parse_error: s.parse_error,
        shape: s.shape,
        calls: s.calls,
        output: p.output,
        timings: p.timings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::mock::MockEngine;

    fn settings(concurrency: usize) -> EvalSettings {
        EvalSettings {
            generation: GenerationSettings::default(),
            style: PromptStyle::Official,
            concurrency,
            scoring: ScoreOptions::default(),
            repeats: 1,
            leakage: None,
        }
    }

    fn render_prompt(messages: &[crate::dataset::Message], tools: &[serde_json::Value]) -> String {
        PromptStyle::Official.render(messages, tools)
    }

    fn demo_cases() -> Vec<Case> {
        crate::dataset::Dataset::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/demo.jsonl"))).unwrap().cases
    }

    #[test]
    fn mock_run_records_every_case_and_scores_them() {
        let cases: Vec<Case> = demo_cases().into_iter().filter(|c| c.category == "irrelevance").collect();
        // Abstains on every even-numbered case: right on irrelevance; calls on the odd ones.
        let engine = MockEngine::new(|prompt| {
            Ok(if prompt.len() % 2 == 0 { "No tool fits.".into() } else { "<start_function_call>call:x{}<end_function_call>".into() })
        });
        let dir = tempfile::tempdir().unwrap();
        let out = run_eval(&engine, &cases, dir.path(), Vec::new(), &settings(3)).unwrap();
        assert_eq!(out.generated, cases.len());
        let preds = load_existing(&dir.path().join(PREDICTIONS)).unwrap();
        assert_eq!(preds.len(), cases.len());
        let expected_right = cases.iter().filter(|c| render_prompt(&c.messages, &c.tools).len().is_multiple_of(2)).count();
        assert_eq!(out.summary.overall.correct, expected_right);
        assert_eq!(engine.calls.load(Ordering::SeqCst), cases.len());
        // Resuming with every case done calls the engine no more.
        let again = run_eval(&engine, &cases, dir.path(), preds, &settings(2)).unwrap();
        assert_eq!(again.generated, 0);
        assert_eq!(engine.calls.load(Ordering::SeqCst), cases.len());
    }

    #[test]
    fn a_failed_case_is_recorded_with_its_reason_and_resume_runs_only_it_again() {
        let cases: Vec<Case> = demo_cases().into_iter().take(4).collect();
        let bad = cases[2].id.clone();
        let bad_prompt = render_prompt(&cases[2].messages, &cases[2].tools);
        let engine = MockEngine::new(move |p| {
            if p == bad_prompt {
                Err(EngineError::Http { endpoint: "http://x".into(), status: Some(503), message: "down".into() })
            } else {
                Ok(String::new())
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let out = run_eval(&engine, &cases, dir.path(), Vec::new(), &settings(1)).unwrap();
        assert_eq!((out.generated, out.failures.len()), (3, 1));
        let kept = load_existing(&dir.path().join(PREDICTIONS)).unwrap();
        assert_eq!(kept.len(), 4, "every case has a record");
        let failed: Vec<&Prediction> = kept.iter().filter(|p| p.failure.is_some()).collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].id, bad);
        assert_eq!(failed[0].failure.as_ref().unwrap().kind, "server_unavailable");
        let results = std::fs::read_to_string(dir.path().join(RESULTS)).unwrap();
        assert!(results.contains("\"error_type\":\"server_unavailable\""), "{results}");
        assert_eq!(out.summary.scored, 4, "the failed case counts, as wrong");

        // Resumed with an engine that answers: only the failed case runs, its new record wins.
        let healed = MockEngine::new(|_| Ok("No tool fits.".into()));
        let again = run_eval(&healed, &cases, dir.path(), kept, &settings(2)).unwrap();
        assert_eq!((again.generated, again.failures.len(), again.resumed), (1, 0, 3));
        assert_eq!(healed.calls.load(Ordering::SeqCst), 1);
        let all = latest(load_existing(&dir.path().join(PREDICTIONS)).unwrap());
        assert_eq!(all.len(), 4);
        assert!(all.iter().all(|p| p.failure.is_none()));
        assert_eq!(all.iter().find(|p| p.id == bad).unwrap().output, "No tool fits.");
    }

    #[test]
    fn cut_off_last_record_is_dropped_whole_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(PREDICTIONS);
        std::fs::write(&p, "{\"id\":\"a\",\"output\":\"x\"}\n{\"id\":\"b\",\"outp").unwrap();
        assert_eq!(load_existing(&p).unwrap().len(), 1);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"id\":\"a\",\"output\":\"x\"}\n");
        std::fs::write(&p, "{\"id\":\"a\",\"output\":\"x\"}\n{\"id\":\"b\",\"output\":\"y\"}").unwrap();
        assert_eq!(load_existing(&p).unwrap().len(), 2);
        std::fs::write(&p, "{\"id\":\"a\",\"output\":\"x\"}\nnot json\n{\"id\":\"b\",\"output\":\"y\"}\n").unwrap();
        assert!(matches!(load_existing(&p), Err(RunError::Corrupt { line: 2, .. })));
    }
}
