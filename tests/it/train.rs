//! `fgbench datasets export-train`: golden training prompts, disjointness from every eval set
//! (the demo set and all of BFCL), and a refused leak.

use std::path::PathBuf;

use crate::cli::{fgbench, repo_file, stderr};

#[test]
fn export_train_is_golden_and_disjoint_from_eval_sets() {
    let bfcl = fgbench::dataset::fetch::fetch_bfcl(&fgbench::dataset::fetch::cache_root()).expect("BFCL data (PyPI)").dataset;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("train.jsonl");
    let o = fgbench(&[
        "datasets",
        "export-train",
        "--out",
        out.to_str().unwrap(),
        "--n",
        "200",
        "--seed",
        "0",
        "--check-against",
        &repo_file("datasets/demo.jsonl"),
        "--check-against",
        bfcl.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("disjoint from") && stderr(&o).contains("(3491 cases)"), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 200);
    let kinds: Vec<String> =
        lines.iter().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"].as_str().unwrap().to_string()).collect();
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
    assert!(
        fgbench(&[
            "datasets",
            "export-train",
            "--out",
            again.to_str().unwrap(),
            "--n",
            "200",
            "--check-against",
            &repo_file("datasets/demo.jsonl")
        ])
        .status
        .success()
    );
    assert_eq!(std::fs::read_to_string(&again).unwrap(), text);
}

#[test]
fn export_train_refuses_a_leak() {
    let dir = tempfile::tempdir().unwrap();
    // An eval set that declares one of the training tools.
    let first = std::fs::read_to_string(repo_file("datasets/demo.jsonl"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .replace("set_thermostat", "dim_lighting_scene");
    let leaky = dir.path().join("leaky.jsonl");
    std::fs::write(&leaky, first).unwrap();
    let out = dir.path().join("t.jsonl");
    let o = fgbench(&["datasets", "export-train", "--out", out.to_str().unwrap(), "--check-against", leaky.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("declares training tool `dim_lighting_scene`"), "{}", stderr(&o));
    assert!(!out.exists(), "nothing is written when the data would leak");
}

/// The fine-tuning venv (python/setup-train-venv.sh: torch, transformers, peft from PyPI),
/// made once per machine; a lock keeps two test processes from building it at once.
fn train_python() -> std::path::PathBuf {
    let cache = fgbench::dataset::fetch::cache_root();
    let _lock = fgbench::fsutil::lock_entry(&cache.join("venv-train")).unwrap();
    let o = std::process::Command::new("bash").arg(repo_file("python/setup-train-venv.sh")).output().expect("run setup-train-venv.sh");
    assert!(o.status.success(), "setup-train-venv.sh: {}", String::from_utf8_lossy(&o.stderr));
    PathBuf::from(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

#[test]
fn finetune_trains_a_few_steps_on_the_fixture_and_its_adapter_runs() {
    let python = train_python();
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.jsonl");
    let o = fgbench(&[
        "datasets",
        "export-train",
        "--from",
        &repo_file("datasets/app/train.jsonl"),
        "--check-against",
        &repo_file("datasets/app/test.jsonl"),
        "--out",
        train.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("run");
    let fixture = crate::engine::fixture();
    let o = std::process::Command::new(&python)
        .arg(repo_file("python/finetune.py"))
        .args([
            "--model",
            fixture.to_str().unwrap(),
            "--train",
            train.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--steps",
            "3",
            "--batch",
            "4",
            "--lr",
            "1e-2",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "finetune.py: {}", String::from_utf8_lossy(&o.stderr));
    let log: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("train_log.json")).unwrap()).unwrap();
    assert_eq!(log["steps"].as_array().unwrap().len(), 3);
    assert_eq!(log["targets"].as_array().unwrap().len(), 7, "LoRA on all seven projections");
    assert_eq!(log["train_sha256"].as_str().unwrap(), fgbench::fsutil::sha256_file(&train).unwrap());
    assert!(log["steps"][0]["loss"].as_f64().unwrap().is_finite());
    // The adapter is saved in f16 and loads through both of fgbench's adapter paths.
    let tensors = candle_core::safetensors::load(out.join("adapter/adapter_model.safetensors"), &candle_core::Device::Cpu).unwrap();
    assert!(tensors.values().all(|t| t.dtype() == candle_core::DType::F16));
    for engine in ["llamacpp", "mistralrs"] {
        let run = dir.path().join(format!("eval-{engine}"));
        let o = fgbench(&[
            "eval",
            "--engine",
            engine,
            "--model",
            fixture.to_str().unwrap(),
            "--adapter",
            out.join("adapter").to_str().unwrap(),
            "--dataset",
            &repo_file("datasets/app/test.jsonl"),
            "--limit",
            "2",
            "--max-new-tokens",
            "4",
            "--scorer",
            "exact",
            "--out",
            run.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{engine}: {}", stderr(&o));
    }
}
