//! Scoring a run as a deployment reads it, through the binary: `score --parser`,
//! `compare --parser` (rescoring recorded outputs) and `deploy-check`'s matrix and parser
//! loss, on scored runs of the demo set.

use std::path::Path;

use crate::cli::{fgbench, repo_file, stderr, stdout};

/// A run of the demo set's recorded predictions, scored by `fgbench score` (optionally as a
/// runtime's parser reads them).
fn demo_run(dir: &Path, name: &str, parser: Option<&str>) -> (String, String) {
    let run = dir.join(name);
    std::fs::create_dir_all(&run).unwrap();
    let mut args = vec![
        "score".to_string(),
        "--dataset".into(),
        repo_file("datasets/demo.jsonl"),
        "--predictions".into(),
        repo_file("datasets/demo.predictions.jsonl"),
        "--out".into(),
        run.join("results.jsonl").display().to_string(),
        "--format".into(),
        "json".into(),
    ];
    if let Some(p) = parser {
        args.extend(["--parser".into(), p.into()]);
    }
    let o = fgbench(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    (run.display().to_string(), stdout(&o))
}

fn accuracy(summary_json: &str) -> f64 {
    let v: serde_json::Value = serde_json::from_str(summary_json).unwrap();
    v["overall"]["accuracy"].as_f64().unwrap_or_else(|| panic!("no overall accuracy in {summary_json}"))
}

#[test]
fn score_parser_reads_outputs_as_the_runtime_does() {
    let dir = tempfile::tempdir().unwrap();
    let (_, ours) = demo_run(dir.path(), "fgbench", None);
    let (_, vllm) = demo_run(dir.path(), "vllm", Some("vllm"));
    let (_, none) = demo_run(dir.path(), "llama", Some("llama-server"));
    // vLLM drops every bare number and boolean, so the demo's numeric answers fail; a
    // runtime without a parser returns no calls, so only the no-call cases pass.
    assert!(accuracy(&vllm) < accuracy(&ours) - 0.2, "vllm {vllm} vs fgbench {ours}");
    assert!(accuracy(&none) < accuracy(&vllm), "llama-server {none} vs vllm {vllm}");
    let bad = fgbench(&[
        "score",
        "--dataset",
        &repo_file("datasets/demo.jsonl"),
        "--predictions",
        &repo_file("datasets/demo.predictions.jsonl"),
        "--parser",
        "tgi",
    ]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("vllm"), "the error lists the parsers: {}", stderr(&bad));
}

#[test]
fn compare_parser_rescores_both_runs_alike() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = demo_run(dir.path(), "a", None);
    let (b, _) = demo_run(dir.path(), "b", None);
    let ds = repo_file("datasets/demo.jsonl");
    let o = fgbench(&["compare", &a, &b, "--dataset", &ds, "--parser", "mlx", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let c: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    // Both read by mlx-lm: the same outputs, so no change.
    assert_eq!(c["overall"]["delta"].as_f64(), Some(0.0));
    let plain = fgbench(&["compare", &a, &b, "--dataset", &ds, "--format", "json"]);
    let plain: serde_json::Value = serde_json::from_str(&stdout(&plain)).unwrap();
    let (mlx, ours) = (c["overall"]["a"]["accuracy"].as_f64().unwrap(), plain["overall"]["a"]["accuracy"].as_f64().unwrap());
    assert!(mlx < ours, "mlx-lm cuts nested objects short: {mlx} vs {ours}");
}

#[test]
fn deploy_check_lists_the_loss_per_runtime_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    let (run, _) = demo_run(dir.path(), "run", None);
    let out = dir.path().join("deploy.json");
    let o = fgbench(&["deploy-check", "--run", &run, "--dataset", &repo_file("datasets/demo.jsonl"), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for parser in ["fgbench", "vllm", "ollama", "mlx", "llama-server"] {
        assert!(text.contains(parser), "{parser} missing from\n{text}");
    }
    assert!(text.contains("dropped argument"), "{text}");
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(m["schema"], "fgbench.deploy-check/1");
    let cells = m["rows"][0]["cells"].as_array().unwrap();
    let cell = |name: &str| cells.iter().find(|c| c["parser"] == name).unwrap();
    let reference = cell("fgbench");
    assert_eq!(reference["vs_reference"]["delta"].as_f64(), Some(0.0));
    assert!(reference["loss"].as_object().unwrap().is_empty());
    // Every case fgbench reads right and vLLM wrong is counted once, by kind, with examples.
    let vllm = cell("vllm");
    let lost: u64 = vllm["loss"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(lost, vllm["vs_reference"]["broken"].as_u64().unwrap());
    assert!(lost > 0);
    let example = &vllm["examples"][0];
    assert!(example["output"].as_str().unwrap().contains("<start_function_call>"));
    assert_ne!(example["fgbench_calls"], example["runtime_calls"]);
    // The markdown form is a table a CI page shows.
    let md = fgbench(&[
        "deploy-check",
        "--run",
        &run,
        "--dataset",
        &repo_file("datasets/demo.jsonl"),
        "--parsers",
        "vllm",
        "--format",
        "markdown",
    ]);
    assert!(md.status.success(), "{}", stderr(&md));
    assert!(stdout(&md).contains("| rendering | parser |"), "{}", stdout(&md));
    assert!(!stdout(&md).contains("| ollama"), "only the asked parsers: {}", stdout(&md));
}

#[test]
fn deploy_check_names_a_missing_run_and_runs_on_other_cases() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let o = fgbench(&["deploy-check", "--run", missing.to_str().unwrap(), "--dataset", &repo_file("datasets/demo.jsonl")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("nope"), "{}", stderr(&o));
    let (run, _) = demo_run(dir.path(), "full", None);
    let small = dir.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    let first_line = std::fs::read_to_string(Path::new(&run).join("results.jsonl")).unwrap().lines().next().unwrap().to_string();
    std::fs::write(small.join("results.jsonl"), first_line + "\n").unwrap();
    let o = fgbench(&["deploy-check", "--run", &run, "--run", small.to_str().unwrap(), "--dataset", &repo_file("datasets/demo.jsonl")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("different cases"), "{}", stderr(&o));
}
