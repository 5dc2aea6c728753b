//! The llama.cpp engine on the fixture model's GGUF (the same weights as its safetensors),
//! through the binary: eval records and manifest, continuous batching under concurrency,
//! tokenization and greedy output against mistral.rs, GGUF export, and clear errors.

use std::path::Path;

use crate::cli::{fgbench, repo_file, stderr, stdout};
use crate::engine::fixture;

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn eval(engine: &str, model: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let ds = repo_file("datasets/demo.jsonl");
    let mut args = vec!["eval", "--engine", engine, "--model", model, "--dataset", &ds, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    if !extra.contains(&"--max-new-tokens") {
        args.extend_from_slice(&["--max-new-tokens", "12"]);
    }
    fgbench(&args)
}

fn gguf() -> String {
    fixture().join("model.gguf").to_str().unwrap().to_string()
}

#[test]
fn llama_engine_evaluates_a_gguf_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let o = eval("llamacpp", &gguf(), &out, &["--limit", "5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let preds = lines(&out.join("predictions.jsonl"));
    assert_eq!(preds.len(), 5);
    for p in &preds {
        assert!(p["prompt_tokens"].as_u64().unwrap() > 50, "{p}");
        assert!((1..=12).contains(&p["completion_tokens"].as_u64().unwrap()), "{p}");
        assert!(p["ttft_ms"].as_f64().unwrap() <= p["total_ms"].as_f64().unwrap());
    }
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["engine"]["engine"], "llamacpp");
    assert!(m["engine"]["engine_version"].as_str().unwrap().contains("llama-cpp-2"));
    assert_eq!(m["engine"]["quantization"], "f32");
    assert_eq!(m["model"]["path"], gguf());
    assert_eq!(m["model"]["content_hash"].as_str().unwrap().len(), 64);
}

#[test]
fn batched_sequences_each_finish_once_and_greedy_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("c1");
    assert!(eval("llamacpp", &gguf(), &one, &["--limit", "12"]).status.success());
    let a = lines(&one.join("predictions.jsonl"));
    // Both KV layouts: a stream per sequence (ubatches cut at gaps in the sequence ids, here
    // with prompts of different lengths in flight) and one unified cache.
    for layout in ["per-sequence", "unified"] {
        let eight = dir.path().join(format!("c8-{layout}"));
        let o = eval("llamacpp", &gguf(), &eight, &["--limit", "12", "--concurrency", "8", "--max-seqs", "8", "--kv-layout", layout]);
        assert!(o.status.success(), "{}", stderr(&o));
        let b = lines(&eight.join("predictions.jsonl"));
        assert_eq!(b.len(), 12);
        let mut ids: Vec<&str> = b.iter().map(|p| p["id"].as_str().unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 12, "{layout}: every case exactly once");
        // On the fixture's f32 weights batching changes no greedy output: every answer is
        // its own case's, whole (an answer mixed up with another case's would differ).
        for p in &b {
            let q = a.iter().find(|q| q["id"] == p["id"]).unwrap();
            assert_eq!(p["prompt_tokens"], q["prompt_tokens"], "{}", p["id"]);
            assert_eq!(p["output"], q["output"], "{layout} {}", p["id"]);
        }
        let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(eight.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(m["engine"]["kv_layout"], layout);
    }
    // Greedy at one slot is deterministic run to run.
    let again = dir.path().join("again");
    assert!(eval("llamacpp", &gguf(), &again, &["--limit", "12"]).status.success());
    for (p, q) in a.iter().zip(lines(&again.join("predictions.jsonl"))) {
        assert_eq!(p["output"], q["output"]);
    }
}

#[test]
fn batch_sizes_are_settable_recorded_and_the_steps_profiled() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("small");
    let ds = repo_file("datasets/demo.jsonl");
    // Micro-batches of 32 tokens: every prompt (50+ tokens) runs as several graph evaluations,
    // and batches of 96 split the prompts of four sequences over several steps.
    let args = [
        "eval",
        "--engine",
        "llamacpp",
        "--model",
        &gguf(),
        "--dataset",
        &ds,
        "--out",
        out.to_str().unwrap(),
        "--limit",
        "4",
        "--max-new-tokens",
        "6",
        "--concurrency",
        "4",
        "--batch-tokens",
        "96",
        "--ubatch-tokens",
        "32",
    ];
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_fgbench")).args(args).env("FGBENCH_STEP_PROFILE", "1").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(lines(&out.join("predictions.jsonl")).len(), 4);
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["engine"]["batch_tokens"], 96);
    assert_eq!(m["engine"]["ubatch_tokens"], 32);
    let err = stderr(&o);
    let prompt_steps = err.lines().find(|l| l.starts_with("step profile: with prompt tokens:")).unwrap_or_else(|| panic!("{err}"));
    // No step carries more than its batch.
    let per_step: f64 = prompt_steps
        .split(", ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{prompt_steps}"));
    assert!(per_step <= 96.0 && per_step > 4.0, "{prompt_steps}");
    assert!(err.contains("step profile: decode-only, "), "{err}");
    // Without the variable, no profile.
    let plain = eval("llamacpp", &gguf(), &dir.path().join("plain"), &["--limit", "1", "--max-new-tokens", "2"]);
    assert!(plain.status.success() && !stderr(&plain).contains("step profile"), "{}", stderr(&plain));
    // A batch must hold the next token of every sequence in flight.
    let o = eval("llamacpp", &gguf(), &dir.path().join("tiny"), &["--limit", "4", "--concurrency", "4", "--batch-tokens", "2"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--batch-tokens 2 cannot hold the next token of 4 sequences"), "{}", stderr(&o));
}

#[test]
fn both_engines_tokenize_alike_and_agree_on_the_same_weights() {
    // The fixture directory holds the same f32 weights as safetensors (mistral.rs) and GGUF
    // (llama.cpp); the GGUF's vocabulary was recovered from tokenizer.json.
    let dir = tempfile::tempdir().unwrap();
    let (m, l) = (dir.path().join("m"), dir.path().join("l"));
    let o = eval("mistralrs", fixture().to_str().unwrap(), &m, &["--limit", "8", "--max-new-tokens", "8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = eval("llamacpp", fixture().to_str().unwrap(), &l, &["--limit", "8", "--max-new-tokens", "8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (a, b) = (lines(&m.join("predictions.jsonl")), lines(&l.join("predictions.jsonl")));
    assert_eq!(a.len(), 8);
    let mut same = 0;
    for (p, q) in a.iter().zip(&b) {
        assert_eq!(p["id"], q["id"]);
        // The same prompt tokens: the exported vocabulary tokenizes as tokenizer.json does.
        assert_eq!(p["prompt_tokens"], q["prompt_tokens"], "{}", p["id"]);
        // mistral.rs trims leading whitespace off the first streamed piece (its quirk).
        same += (p["output"].as_str().unwrap().trim_start() == q["output"].as_str().unwrap().trim_start()) as usize;
    }
    assert_eq!(same, 8, "greedy f32 outputs of the two engines agree on every case\n{a:?}\n{b:?}");
    // The parity command runs the same comparison case by case.
    let o = fgbench(&[
        "parity",
        "--model",
        fixture().to_str().unwrap(),
        "--dataset",
        &repo_file("datasets/demo.jsonl"),
        "--limit",
        "3",
        "--max-new-tokens",
        "4",
        "--variant",
        "engine:mistralrs",
        "--variant",
        "engine:llamacpp+concurrency:2+kv-layout:unified",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["reference"], "engine:mistralrs");
    assert_eq!(v["variants"][0]["label"], "engine:llamacpp+concurrency:2+kv-layout:unified");
    assert_eq!(v["variants"][0]["n"], 3);
}

#[test]
fn export_gguf_writes_what_llama_cpp_loads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fixture-f16.gguf");
    let o = fgbench(&["models", "export-gguf", fixture().to_str().unwrap(), "--out", out.to_str().unwrap(), "--type", "f16"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let f32_size = std::fs::metadata(fixture().join("model.gguf")).unwrap().len();
    let f16_size = std::fs::metadata(&out).unwrap().len();
    assert!(f16_size < f32_size * 6 / 10, "{f16_size} vs {f32_size}");
    let run = dir.path().join("r");
    let o = eval("llamacpp", out.to_str().unwrap(), &run, &["--limit", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["engine"]["quantization"], "f16");
    // A vocabulary-only export has no tensors and is much smaller.
    let vocab = dir.path().join("vocab.gguf");
    let o = fgbench(&["models", "export-gguf", fixture().to_str().unwrap(), "--out", vocab.to_str().unwrap(), "--vocab-only"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::metadata(&vocab).unwrap().len() < 100_000);
    // Nothing to export from a directory without weights; nothing half-written is left.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::copy(fixture().join("config.json"), empty.join("config.json")).unwrap();
    std::fs::copy(fixture().join("tokenizer.json"), empty.join("tokenizer.json")).unwrap();
    let bad = dir.path().join("bad.gguf");
    let o = fgbench(&["models", "export-gguf", empty.to_str().unwrap(), "--out", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no *.safetensors weights"), "{}", stderr(&o));
    assert!(!bad.exists());
}

#[test]
fn llama_engine_errors_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    // A Hugging Face directory without a GGUF: exported once, and the export recorded.
    let hf = dir.path().join("hf");
    std::fs::create_dir(&hf).unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(fixture().join(f), hf.join(f)).unwrap();
    }
    let a = dir.path().join("a");
    let o = eval("llamacpp", hf.to_str().unwrap(), &a, &["--limit", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(a.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["model"]["converted"]["from"], hf.to_str().unwrap());
    assert_eq!(m["model"]["converted"]["to"], "gguf-f16");
    // A directory that is not a PEFT adapter.
    let o = eval("llamacpp", &gguf(), &dir.path().join("b"), &["--limit", "1", "--adapter", hf.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("adapter_config.json"), "{}", stderr(&o));
    // mistral.rs-only settings are refused rather than ignored.
    let o = eval("llamacpp", &gguf(), &dir.path().join("c"), &["--limit", "1", "--isq", "q8_0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("mistral.rs settings"), "{}", stderr(&o));
    // A file that is not a GGUF.
    let fake = dir.path().join("fake.gguf");
    std::fs::write(&fake, b"not a model").unwrap();
    let o = eval("llamacpp", fake.to_str().unwrap(), &dir.path().join("d"), &["--limit", "1"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("fake.gguf"), "{}", stderr(&o));
    // A prompt that cannot fit the context: recorded as failed for that reason, named in the
    // message, and the run exits as for bad input (2).
    let e = dir.path().join("e");
    let o = eval("llamacpp", &gguf(), &e, &["--limit", "1", "--ctx-per-seq", "64"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("`demo_simple_0`") && stderr(&o).contains("exceeds the context"), "{}{}", stdout(&o), stderr(&o));
    let failed = lines(&e.join("predictions.jsonl"));
    assert_eq!(failed[0]["failure"]["kind"], "unsupported", "{}", failed[0]);
}

#[test]
fn mixed_engine_runs_are_not_compared() {
    let dir = tempfile::tempdir().unwrap();
    let (m, l) = (dir.path().join("m"), dir.path().join("l"));
    for (engine, model, out) in [("mistralrs", fixture().to_str().unwrap().to_string(), &m), ("llamacpp", gguf(), &l)] {
        let o = eval(engine, &model, out, &["--limit", "2", "--max-new-tokens", "2"]);
        assert!(o.status.success(), "{engine}: {}", stderr(&o));
    }
    let o = fgbench(&["compare", m.to_str().unwrap(), l.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("engine"), "{}", stderr(&o));
}

#[test]
fn peft_adapters_are_converted_to_gguf_lora_and_applied() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("adapter");
    crate::engine::adapter(&good, 64);
    let run = |adapter: &Path, out: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fgbench"))
            .args([
                "eval",
                "--engine",
                "llamacpp",
                "--model",
                &gguf(),
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
            .env("FGBENCH_CACHE", tmp.path().join("cache"))
            .output()
            .unwrap()
    };
    let out = tmp.path().join("run");
    let o = run(&good, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    // The fixture writes newlines whatever its weights: that the adapter changes outputs is
    // shown on the demo model with the shipped app adapter (app::the_shipped_adapter_...).
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let a = &m["model"]["adapter"];
    assert_eq!(a["path"], good.to_str().unwrap());
    assert_eq!(a["content_hash"].as_str().unwrap().len(), 64);
    let lora = std::path::PathBuf::from(a["gguf"].as_str().unwrap());
    // The GGUF LoRA: llama.cpp's names, and alpha such that alpha / r is PEFT's scale (4 / 2).
    let mut f = std::fs::File::open(&lora).unwrap();
    let c = candle_core::quantized::gguf_file::Content::read(&mut f).unwrap();
    assert_eq!(c.metadata["general.type"].to_string().unwrap(), "adapter");
    assert_eq!(c.metadata["adapter.lora.alpha"].to_f32().unwrap(), 4.0);
    let mut names: Vec<&String> = c.tensor_infos.keys().collect();
    names.sort();
    assert_eq!(
        names,
        ["blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b", "blk.0.attn_v.weight.lora_a", "blk.0.attn_v.weight.lora_b"]
    );
    assert_eq!(c.tensor_infos["blk.0.attn_q.weight.lora_b"].shape.dims(), [64, 2]);
    // An adapter for another shape is refused by llama.cpp, naming the file.
    let wrong = tmp.path().join("wrong");
    crate::engine::adapter(&wrong, 128);
    let o = run(&wrong, &tmp.path().join("run2"));
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("not a llama.cpp LoRA adapter for this model"), "{}", stderr(&o));
}

#[test]
fn a_merged_checkpoint_exported_to_gguf_runs_on_llama_cpp() {
    // mistral.rs merges the PEFT adapter into a checkpoint; export-gguf makes it llama.cpp's.
    let tmp = tempfile::tempdir().unwrap();
    let adapter = tmp.path().join("adapter");
    crate::engine::adapter(&adapter, 64);
    let cache = tmp.path().join("cache");
    let run =
        |args: &[&str]| std::process::Command::new(env!("CARGO_BIN_EXE_fgbench")).args(args).env("FGBENCH_CACHE", &cache).output().unwrap();
    let ds = repo_file("datasets/demo.jsonl");
    let m = tmp.path().join("m");
    let o = run(&[
        "eval",
        "--engine",
        "mistralrs",
        "--model",
        fixture().to_str().unwrap(),
        "--adapter",
        adapter.to_str().unwrap(),
        "--dataset",
        &ds,
        "--out",
        m.to_str().unwrap(),
        "--limit",
        "2",
        "--max-new-tokens",
        "4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(m.join("manifest.json")).unwrap()).unwrap();
    let merged = manifest["model"]["path"].as_str().unwrap().to_string();
    let gguf_out = tmp.path().join("merged.gguf");
    let o = run(&["models", "export-gguf", &merged, "--out", gguf_out.to_str().unwrap(), "--type", "f32"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let l = tmp.path().join("l");
    let o = run(&[
        "eval",
        "--engine",
        "llamacpp",
        "--model",
        gguf_out.to_str().unwrap(),
        "--dataset",
        &ds,
        "--out",
        l.to_str().unwrap(),
        "--limit",
        "2",
        "--max-new-tokens",
        "4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lm: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(l.join("manifest.json")).unwrap()).unwrap();
    let base_hash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string({
            let b = tmp.path().join("b");
            assert!(
                run(&[
                    "eval",
                    "--engine",
                    "llamacpp",
                    "--model",
                    &gguf(),
                    "--dataset",
                    &ds,
                    "--out",
                    b.to_str().unwrap(),
                    "--limit",
                    "1",
                    "--max-new-tokens",
                    "1"
                ])
                .status
                .success()
            );
            b.join("manifest.json")
        })
        .unwrap(),
    )
    .unwrap();
    assert_ne!(lm["model"]["content_hash"], base_hash["model"]["content_hash"], "the merged GGUF is not the base");
    // The same greedy outputs three ways: mistral.rs on the merged checkpoint, llama.cpp on it
    // exported to GGUF, and llama.cpp on the base with the adapter applied at load.
    let a = tmp.path().join("a");
    let o = run(&[
        "eval",
        "--engine",
        "llamacpp",
        "--model",
        &gguf(),
        "--adapter",
        adapter.to_str().unwrap(),
        "--dataset",
        &ds,
        "--out",
        a.to_str().unwrap(),
        "--limit",
        "2",
        "--max-new-tokens",
        "4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for ((p, q), r) in
        lines(&m.join("predictions.jsonl")).iter().zip(lines(&l.join("predictions.jsonl"))).zip(lines(&a.join("predictions.jsonl")))
    {
        assert_eq!(p["prompt_tokens"], q["prompt_tokens"]);
        let text = |v: &serde_json::Value| v["output"].as_str().unwrap().trim_start().to_string();
        assert_eq!(text(p), text(&q), "{}: mistral.rs merged vs llama.cpp merged", p["id"]);
        assert_eq!(text(&q), text(&r), "{}: llama.cpp merged vs base + adapter", p["id"]);
    }
}

#[test]
fn backend_sampling_gives_the_same_greedy_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    assert!(eval("llamacpp", &gguf(), &a, &["--limit", "6", "--concurrency", "3"]).status.success());
    let o = eval("llamacpp", &gguf(), &b, &["--limit", "6", "--concurrency", "3", "--backend-sampling"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (x, y) = (lines(&a.join("predictions.jsonl")), lines(&b.join("predictions.jsonl")));
    for p in &x {
        let q = y.iter().find(|q| q["id"] == p["id"]).unwrap();
        assert_eq!(p["output"], q["output"], "{}", p["id"]);
        assert_eq!(p["completion_tokens"], q["completion_tokens"]);
    }
    // It samples greedily only, and says so rather than ignoring a temperature.
    let o = eval("llamacpp", &gguf(), &dir.path().join("c"), &["--limit", "1", "--backend-sampling", "--temperature", "0.7"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("samples greedily"), "{}", stderr(&o));
}

#[test]
fn bench_replays_prompts_without_prefix_reuse_unless_asked() {
    // A level sends the same prompts again and again: reuse would skip every repeat's
    // prefill, so bench turns it off unless the run measures it.
    let dir = tempfile::tempdir().unwrap();
    let bench = |out: &Path, extra: &[&str]| {
        let mut args = vec!["bench", "--engine", "llamacpp", "--model", fixture().to_str().unwrap(), "--dataset"];
        let ds = repo_file("datasets/demo.jsonl");
        args.push(&ds);
        args.extend([
            "--concurrency",
            "2",
            "--requests-per-level",
            "4",
            "--warmup",
            "0",
            "--max-new-tokens",
            "2",
            "--out",
            out.to_str().unwrap(),
        ]);
        args.extend(extra);
        let o = fgbench(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("bench.json")).unwrap()).unwrap();
        doc["manifest"]["engine"]["prefix_cache"].clone()
    };
    assert_eq!(bench(&dir.path().join("a"), &["--prompt-tokens", "64"]), 0);
    assert_eq!(bench(&dir.path().join("b"), &["--shared-prefix-tokens", "64", "--limit", "2"]), 4);
    assert_eq!(bench(&dir.path().join("c"), &["--prompt-tokens", "64", "--prefix-cache", "2"]), 2);
}

#[test]
fn a_tool_block_is_kept_by_its_first_request_and_copied_by_the_rest_with_the_same_outputs() {
    // Rows of the app set in two blocks (developer turn and tools), interleaved: the first
    // request of a block prefills it and hands it to a holder, every later one copies it,
    // whether it arrives after the first finished or while it is prefilling. Prefilled whole
    // or in two parts at the holder's cut, a prompt's numbers are the same: so are the outputs.
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<serde_json::Value> = lines(Path::new(&repo_file("datasets/app/test.jsonl")));
    let dev = |r: &serde_json::Value| r["messages"][0]["content"].as_str().unwrap().to_string();
    let blocks: Vec<String> = rows.iter().map(dev).fold(vec![], |mut v, d| {
        if !v.contains(&d) {
            v.push(d);
        }
        v
    });
    let pick = |b: &str| rows.iter().filter(|r| dev(r) == b).take(3).cloned().collect::<Vec<_>>();
    let (a, b) = (pick(&blocks[0]), pick(&blocks[1]));
    let mixed: Vec<&serde_json::Value> = a.iter().zip(&b).flat_map(|(x, y)| [x, y]).collect();
    let ds = dir.path().join("two-blocks.jsonl");
    std::fs::write(&ds, mixed.iter().map(|r| format!("{r}\n")).collect::<String>()).unwrap();
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let (model, ds, out_dir) = (gguf(), ds.to_str().unwrap(), out.to_str().unwrap());
        let mut args = vec!["eval", "--model", &model, "--dataset", ds, "--out", out_dir, "--scorer", "exact", "--max-new-tokens", "4"];
        args.extend(extra);
        let o = fgbench(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let preds = lines(&out.join("predictions.jsonl"));
        let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
        (preds, summary["timing"]["prefix_cache"].clone())
    };
    for conc in ["1", "6"] {
        let (preds, stats) = run(&format!("on-{conc}"), &["--concurrency", conc]);
        assert_eq!(stats["hits"], 4, "concurrency {conc}: {stats}");
        for block in [&a, &b] {
            let mut cached: Vec<u64> =
                block.iter().map(|r| preds.iter().find(|p| p["id"] == r["id"]).unwrap()["cached_tokens"].as_u64().unwrap()).collect();
            // In flight together, which request of a block comes first is up to the threads.
            cached.sort();
            assert_eq!(cached[0], 0, "the first request of a block prefills it: {cached:?}");
            assert!(cached[1] > 1000, "the others copy the block: {cached:?}");
            assert_eq!(cached[1], cached[2]);
        }
    }
    let (off, stats) = run("off", &["--prefix-cache", "off"]);
    assert!(stats.is_null() || stats["hits"] == 0, "{stats}");
    let (on, _) = run("on-again", &[]);
    for (x, y) in off.iter().zip(&on) {
        assert_eq!(x["output"], y["output"], "{}", x["id"]);
        assert_eq!(x["prompt_tokens"], y["prompt_tokens"]);
    }
}
