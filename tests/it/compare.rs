//! `fgbench compare` through the binary: golden JSON and markdown on two scored runs of the
//! demo set, and the refusals (missing results, empty runs, different datasets, styles).

use std::path::{Path, PathBuf};

use crate::cli::{fgbench, repo_file, stderr, stdout};

const RIGHT_CONVERT: &str =
    "<start_function_call>call:convert_units{from_unit:<escape>gal<escape>,to_unit:<escape>l<escape>,value:5}<end_function_call>";

/// A scored run directory (results.jsonl via `fgbench score --out`) from (id, output) pairs.
fn scored_run(dir: &Path, name: &str, outputs: &[(&str, &str)], timing: f64) -> PathBuf {
    let run = dir.join(name);
    std::fs::create_dir_all(&run).unwrap();
    let preds: Vec<String> = outputs
        .iter()
        .enumerate()
        .map(|(i, (id, out))| {
            serde_json::json!({"id": id, "output": out, "prompt_tokens": 300, "completion_tokens": 30,
                "ttft_ms": timing + i as f64, "total_ms": 10.0 * timing + 3.0 * i as f64})
            .to_string()
        })
        .collect();
    std::fs::write(run.join("predictions.jsonl"), preds.join("\n")).unwrap();
    let o = fgbench(&[
        "score",
        "--dataset",
        &repo_file("datasets/demo.jsonl"),
        "--predictions",
        run.join("predictions.jsonl").to_str().unwrap(),
        "--out",
        run.join("results.jsonl").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    run
}

pub fn two_runs(dir: &Path) -> (PathBuf, PathBuf) {
    let wrong = RIGHT_CONVERT.replace("value:5", "value:6");
    let a = scored_run(
        dir,
        "a",
        &[
            ("demo_multiple_0", &wrong),
            ("demo_irrelevance_0", "No tool for that."),
            ("demo_irrelevance_1", "<start_function_call>call:convert_units{}<end_function_call>"),
            ("demo_simple_0", "I will set it."),
        ],
        100.0,
    );
    let b = scored_run(
        dir,
        "b",
        &[
            ("demo_multiple_0", RIGHT_CONVERT),
            ("demo_irrelevance_0", "<start_function_call>call:set_thermostat{}<end_function_call>"),
            ("demo_irrelevance_1", "Sorry, I cannot."),
            ("demo_simple_0", "<start_function_call>call:set_thermostat{room:<escape>living"),
        ],
        120.0,
    );
    (a, b)
}

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/compare").join(name);
    if std::env::var_os("FGBENCH_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing {}", path.display()));
    assert_eq!(actual, expected, "differs from {}", path.display());
}

/// Paths differ between machines; the golden files use the run names.
fn normalise(s: &str, dir: &Path) -> String {
    s.replace(&format!("{}/", dir.display()), "")
}

#[test]
fn compare_json_and_markdown_match_golden_files() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_runs(dir.path());
    let ds = repo_file("datasets/demo.jsonl");
    let json = fgbench(&["compare", a.to_str().unwrap(), b.to_str().unwrap(), "--format", "json", "--dataset", &ds]);
    assert!(json.status.success(), "{}", stderr(&json));
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(v["overall"]["n"], 4);
    assert_eq!(v["overall"]["fixed"], 2);
    assert_eq!(v["overall"]["broken"], 1);
    assert_eq!(v["overall"]["p_value"], 1.0);
    assert_eq!(v["transitions"]["value_error:others"]["valid"], 1);
    assert_eq!(v["transitions"]["valid"]["irrelevance_error:decoder_success"], 1);
    assert_eq!(v["format_b"]["parse_error_rate"], 0.25);
    golden("compare.json", &normalise(&stdout(&json), dir.path()));
    assert_eq!(v["fixed"][0]["expected"][0]["convert_units"]["value"][0], 5.0);
    let md = fgbench(&["compare", a.to_str().unwrap(), b.to_str().unwrap(), "--format", "markdown", "--dataset", &ds]);
    assert!(md.status.success());
    golden("compare.md", &normalise(&stdout(&md), dir.path()));
    let table = fgbench(&["compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(stdout(&table).contains("value_error:others -> valid"), "{}", stdout(&table));
}

#[test]
fn compare_refuses_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = two_runs(dir.path());
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = fgbench(&["compare", a.to_str().unwrap(), empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("has no results.jsonl"), "{}", stderr(&o));

    std::fs::write(empty.join("results.jsonl"), "").unwrap();
    let o = fgbench(&["compare", a.to_str().unwrap(), empty.to_str().unwrap()]);
    assert!(stderr(&o).contains("the run has no results"), "{}", stderr(&o));

    std::fs::write(empty.join("results.jsonl"), "{\"id\": \"x\", trunc").unwrap();
    let o = fgbench(&["compare", a.to_str().unwrap(), empty.to_str().unwrap()]);
    assert!(stderr(&o).contains("results.jsonl:1: malformed result"), "{}", stderr(&o));

    let other = scored_run(dir.path(), "other", &[("demo_multiple_0", RIGHT_CONVERT), ("demo_parallel_0", "x")], 1.0);
    let o = fgbench(&["compare", a.to_str().unwrap(), other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("different datasets") && stderr(&o).contains("--allow-subset"), "{}", stderr(&o));
    let o = fgbench(&["compare", a.to_str().unwrap(), other.to_str().unwrap(), "--allow-subset"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("compared on the 1 shared cases (3 only in A, 1 only in B)"), "{}", stdout(&o));
}

#[test]
fn compare_refuses_prompt_style_mismatch_unless_asked() {
    let fixture = crate::engine::fixture();
    let dir = tempfile::tempdir().unwrap();
    let run = |style: &str| {
        let out = dir.path().join(style);
        let o = fgbench(&[
            "eval",
            "--model",
            fixture.to_str().unwrap(),
            "--engine",
            "mistralrs",
            "--dataset",
            &repo_file("datasets/demo.jsonl"),
            "--out",
            out.to_str().unwrap(),
            "--limit",
            "3",
            "--max-new-tokens",
            "4",
            "--prompt-style",
            style,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        out
    };
    let (off, bfcl) = (run("official"), run("bfcl"));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(bfcl.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["prompt_style"], "bfcl");
    let o = fgbench(&["compare", off.to_str().unwrap(), bfcl.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("different prompt styles (official vs bfcl)"), "{}", stderr(&o));
    let o = fgbench(&["compare", off.to_str().unwrap(), bfcl.to_str().unwrap(), "--allow-style-mismatch", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let style = v["manifests"].as_array().unwrap().iter().find(|r| r["field"] == "prompt style").unwrap().clone();
    assert_eq!(style["unfair"], true);
    assert!(v["categories"]["simple"]["p_value"].is_number());
}
