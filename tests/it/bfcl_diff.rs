//! Differential test: fgbench's verdicts against BFCL's own checker (run from the bfcl-eval
//! wheel by python/bfcl_reference.py) on every BFCL single-turn case, for the right answer
//! and ~20 mutations of it each. Every verdict must match; where fgbench's strict parser
//! accepts the output, the error type must match too.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use fgbench::codec::bfcl_decode;
use fgbench::dataset::{Dataset, fetch};
use fgbench::score::{AnswerKey, OutputShape, ScoreOptions, check_calls, score_output};

use crate::support::mutate::outputs_for;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn verdicts_match_bfcl_checker() {
    let cache = fetch::cache_root();
    let fetched = fetch::fetch_bfcl(&cache).expect("fetch BFCL data (needs PyPI)");
    let venv = cache.join("venv-bfcl");
    let script = repo().join("python").join("bfcl_reference.py");
    let status = Command::new("python3").arg(&script).arg("ensure-venv").arg(&venv).arg(&fetched.wheel).status().unwrap();
    assert!(status.success(), "creating the BFCL reference venv failed");

    let ds = Dataset::load(&fetched.dataset).unwrap();
    // The answer keys as `fgbench score` reads them (tool descriptions skipped unparsed) must
    // be the ones built from the whole cases; the verdicts below are made with them.
    let mut keys = std::collections::HashMap::new();
    fgbench::dataset::for_each_line_block(&fetched.dataset, |lines| {
        for (n, l) in lines {
            let k = AnswerKey::parse_line(&fetched.dataset, *n, l).unwrap();
            keys.insert(k.id.clone(), k);
        }
        Ok(())
    })
    .unwrap();
    for case in &ds.cases {
        assert_eq!(keys[&case.id], AnswerKey::from(case), "answer key of `{}`", case.id);
    }
    let dir = tempfile::tempdir().unwrap();
    let preds = dir.path().join("outputs.jsonl");
    let mut rows = Vec::new();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&preds).unwrap());
        for case in &ds.cases {
            for (label, output) in outputs_for(case) {
                let n = rows.len();
                writeln!(f, "{}", serde_json::json!({"id": case.id, "n": n, "output": output})).unwrap();
                rows.push((case, label, output));
            }
        }
    }
    let verdicts = dir.path().join("verdicts.jsonl");
    let out = Command::new(venv.join("bin").join("python"))
        .arg(&script)
        .args(["verdicts", "--data"])
        .arg(&fetched.data_dir)
        .arg("--predictions")
        .arg(&preds)
        .arg("--out")
        .arg(&verdicts)
        .output()
        .unwrap();
    assert!(out.status.success(), "BFCL reference failed: {}", String::from_utf8_lossy(&out.stderr));
    eprintln!("BFCL reference: {}", String::from_utf8_lossy(&out.stdout).trim());

    let opts = ScoreOptions::default();
    let reference: Vec<serde_json::Value> =
        std::fs::read_to_string(&verdicts).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(reference.len(), rows.len());
    let mut mismatches = Vec::new();
    let mut per_label: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for ((case, label, output), r) in rows.iter().zip(&reference) {
        let bfcl_valid = r["valid"].as_bool().unwrap();
        let bfcl_type = r["error_type"].as_str();
        let key = &keys[&case.id];
        let ours = score_output(key, output, &opts);
        let ours_type = check_calls(key, &bfcl_decode::decode(output), &opts).error_type;
        let e = per_label.entry(label).or_default();
        e.0 += 1;
        e.1 += usize::from(bfcl_valid);
        let type_must_match = ours.shape != OutputShape::Malformed;
        if ours.check.valid != bfcl_valid
            || (type_must_match && ours_type.as_deref() != bfcl_type)
            || bfcl_type.is_some_and(|t| t.starts_with("bfcl_crash")) && type_must_match
        {
            mismatches.push(format!(
                "{} [{label}]: bfcl {bfcl_valid} {bfcl_type:?}, fgbench {} {:?}\n    output: {output}",
                case.id, ours.check.valid, ours_type
            ));
        }
    }
    for (label, (n, valid)) in &per_label {
        eprintln!("{label:>22}: {n:>5} outputs, {valid:>5} valid per BFCL");
    }
    eprintln!("{} outputs compared, {} mismatches", rows.len(), mismatches.len());
    // The pinned bfcl-eval wheel's single-turn cases, each with its right answer and mutations:
    // the counts README states.
    assert_eq!(ds.cases.len(), 3491);
    assert_eq!(rows.len(), 47_060, "the full BFCL sweep");
    assert!(mismatches.is_empty(), "{} mismatches, first 20:\n{}", mismatches.len(), mismatches[..mismatches.len().min(20)].join("\n"));
}
