//! The real engine path on the tiny random-weight fixture model, through the binary:
//! eval records, resume after a kill, settings checks, model sources (local, hub cache,
//! adapter), and clear errors for bad models.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::cli::{fgbench, repo_file, stderr, stdout};

/// The fixture model, written once per test process.
pub fn fixture() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        remove_fixtures_of_ended_runs();
        let dir = std::env::temp_dir().join(format!("fgbench-fixture-{}", std::process::id()));
        let o = fgbench(&["models", "fixture", "--out", dir.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        dir
    })
}

/// Nothing removes a test run's fixture when the run ends, so each run removes those of
/// runs whose process is gone (Linux: no `/proc/PID`); a live run's fixture is left alone.
fn remove_fixtures_of_ended_runs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("fgbench-fixture-")).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if Path::new("/proc/self").exists() && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn eval(model: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "eval",
        "--model",
        model,
        "--engine",
        "mistralrs",
        "--dataset",
        &*Box::leak(repo_file("datasets/demo.jsonl").into_boxed_str()),
        "--out",
        out.to_str().unwrap(),
        "--max-new-tokens",
        "12",
    ];
    args.extend_from_slice(extra);
    fgbench(&args)
}

#[test]
fn eval_writes_complete_run_records() {
    let run = tempfile::tempdir().unwrap();
    let out = run.path().join("r");
    let o = eval(fixture().to_str().unwrap(), &out, &["--limit", "5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("overall"), "{}", stdout(&o));
    let preds = lines(&out.join("predictions.jsonl"));
    assert_eq!(preds.len(), 5);
    for p in &preds {
        assert!(p["output"].is_string());
        assert!(p["prompt_tokens"].as_u64().unwrap() > 50, "{p}");
        let n = p["completion_tokens"].as_u64().unwrap();
        assert!((1..=12).contains(&n), "{p}");
        assert!(p["ttft_ms"].as_f64().unwrap() <= p["total_ms"].as_f64().unwrap());
    }
    let results = lines(&out.join("results.jsonl"));
    assert_eq!(results.len(), 5);
    assert!(results.iter().all(|r| r["valid"].is_boolean() && r["shape"].is_string()));
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["scored"], 5);
    assert_eq!(summary["timing"]["cases"], 5);
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["schema"], "fgbench.manifest/1");
    assert_eq!(m["engine"]["engine"], "mistralrs");
    assert_eq!(m["engine"]["dtype"], "f32");
    assert_eq!(m["generation"]["max_new_tokens"], 12);
    assert_eq!(m["generation"]["stop_sequences"][1], "<start_function_response>");
    assert_eq!(m["prompt_style"], "official");
    assert_eq!(m["model"]["content_hash"].as_str().unwrap().len(), 64);
    assert_eq!(m["dataset"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(m["dataset"]["limit"], 5);

    // The same output directory again without --resume is refused.
    let again = eval(fixture().to_str().unwrap(), &out, &["--limit", "5"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("already holds predictions; pass --resume"), "{}", stderr(&again));
}

#[test]
fn killed_run_resumes_to_the_same_records() {
    let run = tempfile::tempdir().unwrap();
    let out = run.path().join("r");
    let model = fixture().to_str().unwrap();
    assert!(eval(model, &out, &["--limit", "6"]).status.success());
    let full = std::fs::read_to_string(out.join("predictions.jsonl")).unwrap();
    let first: Vec<&str> = full.lines().collect();
    // Simulate a kill after 3 cases, in the middle of writing the 4th record.
    let cut = format!("{}\n{}\n{}\n{}", first[0], first[1], first[2], &first[3][..first[3].len() / 2]);
    std::fs::write(out.join("predictions.jsonl"), cut).unwrap();
    let o = eval(model, &out, &["--limit", "6", "--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("3 generated (3 resumed)"), "{}", stdout(&o));
    let resumed = lines(&out.join("predictions.jsonl"));
    assert_eq!(resumed.len(), 6);
    let ids: std::collections::HashSet<&str> = resumed.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 6);
    // Greedy decoding: regenerated cases give the same outputs as the uninterrupted run.
    let original: Vec<serde_json::Value> = first.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    for p in &resumed {
        let o = original.iter().find(|q| q["id"] == p["id"]).unwrap();
        assert_eq!(o["output"], p["output"], "case {}", p["id"]);
    }
    // Resuming with other settings is refused and says which.
    let o = fgbench(&[
        "eval",
        "--model",
        model,
        "--engine",
        "mistralrs",
        "--dataset",
        &repo_file("datasets/demo.jsonl"),
        "--out",
        out.to_str().unwrap(),
        "--max-new-tokens",
        "20",
        "--limit",
        "6",
        "--resume",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("different settings") && stderr(&o).contains("generation"), "{}", stderr(&o));
}

#[test]
fn concurrent_eval_completes_every_case_once() {
    let run = tempfile::tempdir().unwrap();
    let out = run.path().join("r");
    let o = eval(
        fixture().to_str().unwrap(),
        &out,
        &["--limit", "8", "--concurrency", "4", "--categories", "simple,irrelevance", "--stop-after-calls"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let preds = lines(&out.join("predictions.jsonl"));
    assert_eq!(preds.len(), 8);
    let ids: std::collections::HashSet<&str> = preds.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 8);
    assert!(ids.iter().all(|id| id.starts_with("demo_simple_")), "{ids:?}");
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["concurrency"], 4);
    assert_eq!(m["generation"]["stop_after_calls"], true);
}

#[test]
fn fixture_tokenizer_has_single_control_tokens() {
    let o = fgbench(&["models", "tokens", "--model", fixture().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    for t in ["<start_function_call>", "<end_function_call>", "<escape>", "<start_function_declaration>"] {
        let line = s.lines().find(|l| l.starts_with(t)).unwrap_or_else(|| panic!("{t} missing in {s}"));
        assert!(line.contains("single token"), "{line}");
    }
}

#[test]
fn bad_models_get_clear_errors() {
    let o = eval("/no/such/model", Path::new("/tmp/unused-run"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("model `/no/such/model`: no such file or directory"), "{}", stderr(&o));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tokenizer.json"), "{}").unwrap();
    let o = eval(dir.path().to_str().unwrap(), &dir.path().join("run"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing config.json"), "{}", stderr(&o));

    let not_gguf = dir.path().join("fake.gguf");
    std::fs::write(&not_gguf, b"definitely not gguf").unwrap();
    let o = fgbench(&["models", "import-gguf", not_gguf.to_str().unwrap(), "--out", dir.path().join("x").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("fake.gguf: not a readable GGUF file"), "{}", stderr(&o));

    // A well-formed GGUF of another architecture.
    let llama = dir.path().join("llama.gguf");
    {
        use candle_core::quantized::gguf_file::{Value, write};
        let mut f = std::fs::File::create(&llama).unwrap();
        let arch = Value::String("llama".into());
        write(&mut f, &[("general.architecture", &arch)], &[]).unwrap();
    }
    let o = fgbench(&["models", "import-gguf", llama.to_str().unwrap(), "--out", dir.path().join("y").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("architecture `llama` is not gemma3"), "{}", stderr(&o));
    let o = eval(llama.to_str().unwrap(), &dir.path().join("run2"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("architecture `llama` is not gemma3"), "{}", stderr(&o));
}

/// A Hugging Face cache tree with the fixture as `acme/tiny-fg` at revision `main`.
fn hub_cache(root: &Path) {
    let repo = root.join("hub/models--acme--tiny-fg");
    let commit = "0123456789abcdef0123456789abcdef01234567";
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), commit).unwrap();
    let snap = repo.join("snapshots").join(commit);
    std::fs::create_dir_all(&snap).unwrap();
    for f in ["config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "model.safetensors"] {
        std::fs::copy(fixture().join(f), snap.join(f)).unwrap();
    }
}

#[test]
fn hub_models_resolve_from_the_cache_offline() {
    let home = tempfile::tempdir().unwrap();
    hub_cache(home.path());
    let out = home.path().join("run");
    let run = |model: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fgbench"))
            .args([
                "eval",
                "--model",
                model,
                "--engine",
                "mistralrs",
                "--dataset",
                &repo_file("datasets/demo.jsonl"),
                "--out",
                out.to_str().unwrap(),
                "--limit",
                "1",
                "--max-new-tokens",
                "4",
            ])
            .env("HF_HOME", home.path())
            .env("HF_HUB_OFFLINE", "1")
            .output()
            .unwrap()
    };
    let o = run("acme/tiny-fg");
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["model"]["source"], "acme/tiny-fg");
    assert!(m["model"]["path"].as_str().unwrap().contains("snapshots/0123456789abcdef"));

    let o = run("acme/not-cached");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`config.json` is not in the cache") && stderr(&o).contains("HF_HUB_OFFLINE"), "{}", stderr(&o));

    // The default engine takes the hub id too: exported to GGUF once, the export recorded.
    let cache = home.path().join("fgbench-cache");
    let l = home.path().join("l");
    let llama = |out: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fgbench"))
            .args([
                "eval",
                "--model",
                "acme/tiny-fg",
                "--engine",
                "llamacpp",
                "--gguf-type",
                "f32",
                "--dataset",
                &repo_file("datasets/demo.jsonl"),
                "--out",
                out.to_str().unwrap(),
                "--limit",
                "2",
                "--max-new-tokens",
                "4",
            ])
            .env("HF_HOME", home.path())
            .env("HF_HUB_OFFLINE", "1")
            .env("FGBENCH_CACHE", &cache)
            .output()
            .unwrap()
    };
    let o = llama(&l);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("exporting") && stderr(&o).contains("(once)"), "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(l.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["model"]["converted"]["to"], "gguf-f32");
    assert!(m["model"]["converted"]["from"].as_str().unwrap().contains("snapshots/0123456789abcdef"));
    assert!(m["model"]["path"].as_str().unwrap().ends_with("-gguf-f32.gguf"));
    assert_eq!(m["engine"]["quantization"], "f32");
    // Once: a second run finds the export in the cache; same weights, same greedy outputs as
    // the fixture's own GGUF.
    let o = llama(&home.path().join("l2"));
    assert!(o.status.success() && !stderr(&o).contains("exporting"), "{}", stderr(&o));
    let own = home.path().join("own");
    let o = fgbench(&[
        "eval",
        "--model",
        fixture().join("model.gguf").to_str().unwrap(),
        "--dataset",
        &repo_file("datasets/demo.jsonl"),
        "--out",
        own.to_str().unwrap(),
        "--limit",
        "2",
        "--max-new-tokens",
        "4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        lines(&l.join("predictions.jsonl")).iter().map(|p| p["output"].clone()).collect::<Vec<_>>(),
        lines(&own.join("predictions.jsonl")).iter().map(|p| p["output"].clone()).collect::<Vec<_>>()
    );
}

#[test]
fn sampling_settings_are_recorded_and_refused_without_a_temperature() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let gguf = fixture().join("model.gguf");
    let args = |out: &Path, extra: &[&str]| {
        let mut v: Vec<String> = [
            "eval",
            "--model",
            gguf.to_str().unwrap(),
            "--dataset",
            &repo_file("datasets/demo.jsonl"),
            "--out",
            out.to_str().unwrap(),
            "--limit",
            "3",
            "--max-new-tokens",
            "6",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run =
        |out: &Path, extra: &[&str]| std::process::Command::new(env!("CARGO_BIN_EXE_fgbench")).args(args(out, extra)).output().unwrap();
    let o = run(&out, &["--temperature", "1.0", "--top-k", "64", "--top-p", "0.95", "--min-p", "0.01", "--seed", "3", "--repeats", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let g = &m["generation"];
    assert_eq!(
        (g["temperature"].as_f64(), g["top_k"].as_u64(), g["top_p"].as_f64(), g["min_p"].as_f64()),
        (Some(1.0), Some(64), Some(0.95), Some(0.01))
    );
    assert_eq!(m["repeats"], 3);
    // Three runs of every case, the later ones with other seeds: pass@1, pass@3, pass^3.
    let preds = lines(&out.join("predictions.jsonl"));
    assert_eq!(preds.len(), 9);
    for r in 0..3 {
        assert_eq!(preds.iter().filter(|p| p["repeat"].as_u64().unwrap_or(0) == r).count(), 3);
    }
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["overall"]["n"], 3, "the table is about each case's first run");
    let rep = &s["repeats"];
    assert_eq!((rep["n"].as_u64(), rep["cases"].as_u64()), (Some(3), Some(3)));
    let (p1, pn, pall) = (rep["pass_at_1"].as_f64().unwrap(), rep["pass_at_n"].as_f64().unwrap(), rep["pass_all_n"].as_f64().unwrap());
    assert!(pall <= p1 && p1 <= pn, "{rep}");
    // Resuming asks nothing again; the same seeds give the same samples.
    let o = run(
        &out,
        &["--temperature", "1.0", "--top-k", "64", "--top-p", "0.95", "--min-p", "0.01", "--seed", "3", "--repeats", "3", "--resume"],
    );
    assert!(stdout(&o).contains("run: 0 generated (9 resumed)"), "{}", stdout(&o));
    let again = dir.path().join("again");
    assert!(
        run(&again, &["--temperature", "1.0", "--top-k", "64", "--top-p", "0.95", "--min-p", "0.01", "--seed", "3", "--repeats", "3"])
            .status
            .success()
    );
    assert_eq!(
        lines(&again.join("predictions.jsonl"))
            .iter()
            .map(|p| format!("{}/{}", p["id"], p["repeat"]))
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        9
    );
    let key = |d: &Path| {
        let mut v: Vec<String> =
            lines(&d.join("predictions.jsonl")).iter().map(|p| format!("{}/{}/{}", p["id"], p["repeat"], p["output"])).collect();
        v.sort();
        v
    };
    assert_eq!(key(&out), key(&again), "seeded sampling is reproducible");
    // Truncation settings without a temperature mean nothing: refused, not ignored.
    let o = run(&dir.path().join("bad"), &["--top-k", "5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("give a --temperature"), "{}", stderr(&o));
    // mistral.rs seeds its sampler engine-wide: repeats (seed + r) are refused before any
    // request, instead of being recorded as failed predictions one by one.
    let fixture = crate::engine::fixture().to_str().unwrap().to_string();
    let mistral = dir.path().join("mistral");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_fgbench"))
        .args(["eval", "--engine", "mistralrs", "--model", &fixture, "--dataset", &repo_file("datasets/demo.jsonl"), "--limit", "2"])
        .args(["--max-new-tokens", "2", "--temperature", "0.7", "--repeats", "2", "--out", mistral.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("repeat 1 (seed + 1)") && stderr(&o).contains("seeds its sampler with 0"), "{}", stderr(&o));
    assert!(!mistral.join("predictions.jsonl").exists() || lines(&mistral.join("predictions.jsonl")).is_empty());
}

/// A PEFT-style adapter for the fixture: rank-2 LoRA on layer 0's q_proj and v_proj.
pub fn adapter(dir: &Path, q_rows: usize) {
    use candle_core::{Device, Tensor};
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("adapter_config.json"),
        r#"{"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj", "v_proj"], "base_model_name_or_path": "fixture"}"#,
    )
    .unwrap();
    let dev = Device::Cpu;
    let t = |rows: usize, cols: usize, v: f32| Tensor::full(v, (rows, cols), &dev).unwrap();
    let mut m = std::collections::HashMap::new();
    m.insert("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight".to_string(), t(2, 64, 0.05));
    m.insert("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight".to_string(), t(q_rows, 2, 0.5));
    m.insert("base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight".to_string(), t(2, 64, 0.05));
    m.insert("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight".to_string(), t(32, 2, 0.5));
    candle_core::safetensors::save(&m, dir.join("adapter_model.safetensors")).unwrap();
}

#[test]
fn adapters_merge_into_the_base_and_are_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let good = tmp.path().join("adapter");
    adapter(&good, 64);
    let out = tmp.path().join("run");
    let run = |adapter: &Path, out: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fgbench"))
            .args([
                "eval",
                "--model",
                fixture().to_str().unwrap(),
                "--engine",
                "mistralrs",
                "--adapter",
                adapter.to_str().unwrap(),
                "--dataset",
                &repo_file("datasets/demo.jsonl"),
                "--out",
                out.to_str().unwrap(),
                "--limit",
                "2",
                "--max-new-tokens",
                "6",
            ])
            .env("FGBENCH_CACHE", &cache)
            .output()
            .unwrap()
    };
    let o = run(&good, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let a = &m["model"]["adapter"];
    assert_eq!(a["content_hash"].as_str().unwrap().len(), 64);
    assert_ne!(a["base_hash"], m["model"]["content_hash"], "the merged model must hash differently from its base");

    // The merged weights are W + (alpha/r) * B A: here every q_proj entry of layer 0 moves by 2 * (2 * 0.5 * 0.05).
    let merged = PathBuf::from(m["model"]["path"].as_str().unwrap());
    let load = |p: &Path| candle_core::safetensors::load(p.join("model.safetensors"), &candle_core::Device::Cpu).unwrap();
    let (base, new) = (load(fixture()), load(&merged));
    let k = "model.layers.0.self_attn.q_proj.weight";
    let diff = (new[k].clone() - base[k].clone()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(diff.iter().all(|d| (d - 0.1).abs() < 1e-5), "{:?}", &diff[..4]);
    let untouched = "model.layers.1.self_attn.q_proj.weight";
    assert_eq!(
        new[untouched].flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        base[untouched].flatten_all().unwrap().to_vec1::<f32>().unwrap()
    );

    let wrong = tmp.path().join("wrong");
    adapter(&wrong, 128);
    let o = run(&wrong, &tmp.path().join("run2"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("an adapter for another base"), "{}", stderr(&o));
}

#[test]
fn control_tokens_in_rendered_prompts_are_single_ids() {
    use fgbench::codec::tokens::CONTROL_TOKENS;
    use fgbench::engine::tokenizer::PromptTokenizer;
    use fgbench::prompt::PromptStyle;
    let tok = PromptTokenizer::from_file(&fixture().join("tokenizer.json")).unwrap();
    let ds = fgbench::dataset::Dataset::load(Path::new(&repo_file("datasets/demo.jsonl"))).unwrap();
    for style in [PromptStyle::Official, PromptStyle::Bfcl] {
        for case in ds.cases.iter().take(12) {
            let prompt = style.render(&case.messages, &case.tools);
            let ids = tok.encode(&prompt).unwrap();
            assert_eq!(ids.iter().filter(|&&i| Some(i) == tok.token_id("<bos>")).count(), 1, "exactly one <bos>");
            for t in CONTROL_TOKENS.iter().chain(&["<start_of_turn>", "<end_of_turn>"]) {
                let id = tok.token_id(t).unwrap_or_else(|| panic!("{t} is not one token"));
                assert_eq!(ids.iter().filter(|&&i| i == id).count(), prompt.matches(t).count(), "{t} in {} ({style:?})", case.id);
            }
            // Decoding gives back the prompt (bos added for the bfcl style, which has none in text).
            let text = tok.decode(&ids).unwrap();
            assert_eq!(text.trim_start_matches("<bos>"), prompt.trim_start_matches("<bos>"));
        }
    }
}

#[test]
fn a_real_kill_leaves_a_run_that_resume_finishes() {
    let run = tempfile::tempdir().unwrap();
    let out = run.path().join("r");
    let args = |resume: bool| {
        let mut v = vec![
            "eval".to_string(),
            "--model".into(),
            fixture().to_str().unwrap().into(),
            "--engine".into(),
            "mistralrs".into(),
            "--dataset".into(),
            repo_file("datasets/demo.jsonl"),
            "--out".into(),
            out.to_str().unwrap().into(),
            "--limit".into(),
            "30".into(),
            "--max-new-tokens".into(),
            "400".into(),
        ];
        if resume {
            v.push("--resume".into());
        }
        v
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fgbench"))
        .args(args(false))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let preds = out.join("predictions.jsonl");
    let start = std::time::Instant::now();
    // Kill (SIGKILL) as soon as a few cases are on disk, before the run can finish.
    loop {
        let n = std::fs::read_to_string(&preds).map(|t| t.lines().count()).unwrap_or(0);
        if n >= 3 || start.elapsed() > std::time::Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = std::fs::read_to_string(&preds).unwrap().lines().count();
    assert!((3..30).contains(&before), "killed after {before} cases");
    let o = fgbench(&args(true).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let after = lines(&preds);
    assert_eq!(after.len(), 30);
    let ids: std::collections::HashSet<&str> = after.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 30, "no case twice, none missing");
    assert!(stdout(&o).contains("resumed)"), "{}", stdout(&o));
}

#[test]
fn bench_measures_every_level_and_writes_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    let o = fgbench(&[
        "bench",
        "--model",
        fixture().to_str().unwrap(),
        "--engine",
        "mistralrs",
        "--dataset",
        &repo_file("datasets/demo.jsonl"),
        "--limit",
        "3",
        "--concurrency",
        "1,2",
        "--warmup",
        "1",
        "--repetitions",
        "2",
        "--max-new-tokens",
        "8",
        "--slo-e2e-ms",
        "60000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("bench.json")).unwrap()).unwrap();
    assert_eq!(v["schema"], "fgbench.bench/1");
    assert_eq!(v["manifest"]["engine"]["engine"], "mistralrs");
    assert!(v["peak_rss_mib"].as_f64().unwrap() > 1.0);
    let levels = v["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 2);
    for (l, conc, requests) in levels.iter().zip([1, 2]).map(|(l, c)| (l, c, [6, 8][c - 1])) {
        assert_eq!(l["concurrency"], conc);
        // At least every prompt twice (6), and at least 4 waves of the level (8 at 2).
        assert_eq!(l["requests"], requests);
        assert_eq!(l["waves"].as_f64().unwrap(), requests as f64 / conc as f64);
        assert!(l["note"].is_null(), "{l}");
        assert!(l["requests_per_s"].as_f64().unwrap() > 0.0);
        for k in ["ttft_ms_p50", "e2e_ms_p50", "e2e_ms_p90", "e2e_ms_p95", "e2e_ms_p99"] {
            let e = &l[k];
            assert!(
                e["ci_low"].as_f64().unwrap() <= e["value"].as_f64().unwrap()
                    && e["value"].as_f64().unwrap() <= e["ci_high"].as_f64().unwrap(),
                "{k}: {e}"
            );
        }
        assert!(l["decode_tok_s"].as_f64().unwrap() > 0.0 && l["prefill_tok_s"].as_f64().unwrap() > 0.0);
        assert_eq!(l["goodput"], 1.0, "every request meets a 60 s SLO");
        if conc == 1 {
            // One request at a time: the engine calls fill the level, the harness the rest.
            let overhead = l["harness_overhead"].as_f64().unwrap();
            assert!((0.0..0.5).contains(&overhead), "{overhead}");
        } else {
            assert!(l["harness_overhead"].is_null());
        }
    }
    let csv = std::fs::read_to_string(out.join("bench.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3);
    assert!(csv.starts_with("concurrency,request_rate,requests,waves,wall_s,requests_per_s"));
    assert!(stdout(&o).contains("peak RSS"), "{}", stdout(&o));
    // Fewer requests than slots: measured, and said.
    let o = fgbench(&[
        "bench",
        "--model",
        fixture().to_str().unwrap(),
        "--engine",
        "mistralrs",
        "--dataset",
        &repo_file("datasets/demo.jsonl"),
        "--limit",
        "2",
        "--concurrency",
        "4",
        "--warmup",
        "0",
        "--requests-per-level",
        "2",
        "--max-new-tokens",
        "4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("note: concurrency 4: only 2 requests: concurrency 4 is never reached"), "{}", stdout(&o));
}

#[test]
fn interleaved_gate_measures_both_models_in_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gate.toml");
    std::fs::write(&cfg, "[accuracy]\nmin_cases = 4\n\n[[performance]]\nmetric = \"e2e_ms_p50\"\nmax_increase = 5.0\n").unwrap();
    let model = fixture().to_str().unwrap();
    let o = fgbench(&[
        "gate",
        "--interleaved",
        "--baseline-model",
        model,
        "--current-model",
        model,
        "--engine",
        "mistralrs",
        "--dataset",
        &repo_file("datasets/demo.jsonl"),
        "--limit",
        "4",
        "--repetitions",
        "2",
        "--max-new-tokens",
        "6",
        "--config",
        cfg.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks[0]["metric"], "accuracy overall");
    assert_eq!(checks[0]["change"], 0.0, "the same greedy model scores the same");
    let e2e = checks.iter().find(|c| c["metric"] == "e2e_ms_p50").unwrap();
    assert_eq!(e2e["detail"], "8 vs 8 cases", "4 cases x 2 repetitions each");
    let o = fgbench(&["gate", "--interleaved", "--baseline-model", model]);
    assert_eq!(o.status.code(), Some(2), "clap refuses a missing --current-model");
}

#[test]
fn random_models_copy_a_config_shape_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rand");
    let o = fgbench(&["models", "random", "--like", fixture().to_str().unwrap(), "--out", out.to_str().unwrap(), "--seed", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let read = |p: &Path| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(p.join("config.json")).unwrap()).unwrap() };
    let (a, b) = (read(fixture()), read(&out));
    for k in [
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "vocab_size",
        "sliding_window",
    ] {
        assert_eq!(a[k], b[k], "{k}");
    }
    // Another seed, other weights; the model loads and generates.
    assert_ne!(std::fs::read(out.join("model.safetensors")).unwrap(), std::fs::read(fixture().join("model.safetensors")).unwrap());
    let o = eval(out.to_str().unwrap(), &dir.path().join("run"), &["--limit", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let half = dir.path().join("half");
    let o = fgbench(&[
        "models",
        "random",
        "--like",
        fixture().join("config.json").to_str().unwrap(),
        "--out",
        half.to_str().unwrap(),
        "--dtype",
        "bf16",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t = candle_core::safetensors::load(half.join("model.safetensors"), &candle_core::Device::Cpu).unwrap();
    assert_eq!(t["model.embed_tokens.weight"].dtype(), candle_core::DType::BF16);
    assert_eq!(read(&half)["torch_dtype"], "bfloat16");
    let o = fgbench(&["models", "random", "--out", dir.path().join("x").to_str().unwrap(), "--dtype", "f64"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("dtype `f64` is not f32, bf16 or f16"), "{}", stderr(&o));
}

#[test]
fn parity_compares_engine_variants_case_by_case() {
    let o = fgbench(&[
        "parity",
        "--model",
        fixture().to_str().unwrap(),
        "--engine",
        "mistralrs",
        "--dataset",
        &repo_file("datasets/demo.jsonl"),
        "--limit",
        "4",
        "--max-new-tokens",
        "8",
        "--variant",
        "base",
        "--variant",
        "concurrency:2",
        "--variant",
        "isq:q8_0",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["reference"], "base");
    let variants = v["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    for var in variants {
        assert_eq!(var["n"], 4);
        assert_eq!(var["cases"].as_array().unwrap().len(), 4);
        let share = var["identical_share"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&share));
        for c in var["cases"].as_array().unwrap() {
            assert_eq!(c["identical"].as_bool().unwrap(), c["first_divergence"].is_null(), "{c}");
        }
    }
    let o =
        fgbench(&["parity", "--model", fixture().to_str().unwrap(), "--engine", "mistralrs", "--variant", "base", "--variant", "speed:9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--variant `speed:9`"), "{}", stderr(&o));
}
