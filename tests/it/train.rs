//! `fgbench datasets export-train`: golden training prompts, disjointness from every eval set
//! (the demo set and all of BFCL), and a refused leak.

use std::path::PathBuf;

use crate::cli::{fgbench, repo_file, stderr};

#[test]
fn export_train_is_golden_and_disjoint_from_eval_sets() {
    let bfcl = fgbench::dataset::fetch::fetch_bfcl(&fgbench::dataset::fetch::cache_root()).expect("BFCL data (PyPI)").dataset;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("train.jsonl");
    let o = fgbench(&["datasets", "export-train", "--out", out.to_str().unwrap(), "--n", "200", "--seed", "0",
        "--check-against", &repo_file("datasets/demo.jsonl"), "--check-against", bfcl.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("disjoint from") && stderr(&o).contains("(3491 cases)"), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 200);
    let kinds: Vec<String> = lines.iter().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"].as_str().unwrap().to_string()).collect();
    for k in ["single", "parallel", "irrelevance"] {
        assert!(kinds.iter().filter(|x| *x == k).count() >= 20, "{k}");
    }
    // The first examples, byte for byte (prompt rendering and target call syntax).
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/train_first3.jsonl");
    let first3 = lines[..3].join("\n") + "\n";
    if std::env::var_os("FGBENCH_BLESS").is_some() {
        std::fs::write(&golden, &first3).unwrap();
    }
    assert_eq!(first3, std::fs::read_to_string(&golden).unwrap());
    // Same seed, same data.
    let again = dir.path().join("again.jsonl");
    assert!(fgbench(&["datasets", "export-train", "--out", again.to_str().unwrap(), "--n", "200", "--check-against", &repo_file("datasets/demo.jsonl")]).status.success());
    assert_eq!(std::fs::read_to_string(&again).unwrap(), text);
}

#[test]
fn export_train_refuses_a_leak() {
    let dir = tempfile::tempdir().unwrap();
    // An eval set that declares one of the training tools.
    let first = std::fs::read_to_string(repo_file("datasets/demo.jsonl")).unwrap().lines().next().unwrap().replace("set_thermostat", "dim_lighting_scene");
    let leaky = dir.path().join("leaky.jsonl");
    std::fs::write(&leaky, first).unwrap();
    let out = dir.path().join("t.jsonl");
    let o = fgbench(&["datasets", "export-train", "--out", out.to_str().unwrap(), "--check-against", leaky.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("declares training tool `dim_lighting_scene`"), "{}", stderr(&o));
    assert!(!out.exists(), "nothing is written when the data would leak");
}
