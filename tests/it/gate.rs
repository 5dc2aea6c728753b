//! `fgbench gate` through the binary on synthetic run records: pass, accuracy regression,
//! a drop too small to be significant, latency regression, improvement, too few cases,
//! bad inputs, and --update-baseline.

use std::path::{Path, PathBuf};

use crate::cli::{fgbench, stderr, stdout};

/// A run directory whose case `i` is valid when `valid(i)`, with e2e latency `ms(i)`.
fn run(dir: &Path, name: &str, n: usize, valid: impl Fn(usize) -> bool, ms: impl Fn(usize) -> f64) -> PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    let lines: Vec<String> = (0..n)
        .map(|i| {
            serde_json::json!({"schema": "fgbench.result/1", "id": format!("case_{i}"), "category": if i % 2 == 0 { "simple" } else { "multiple" },
                "valid": valid(i), "error_type": if valid(i) { serde_json::Value::Null } else { "value_error:string".into() },
                "shape": "calls", "calls": [], "output": "x", "prompt_tokens": 300, "completion_tokens": 20,
                "ttft_ms": ms(i) / 10.0, "total_ms": ms(i)})
            .to_string()
        })
        .collect();
    std::fs::write(d.join("results.jsonl"), lines.join("\n") + "\n").unwrap();
    d
}

/// Deterministic jitter in [0, 1).
fn jitter(i: usize) -> f64 {
    ((i * 7919) % 101) as f64 / 101.0
}

fn config(dir: &Path, text: &str) -> String {
    let p = dir.join("gate.toml");
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

const CFG: &str = "[accuracy]\nalpha = 0.05\nmax_drop = 0.02\nmin_cases = 30\n\n[[performance]]\nmetric = \"e2e_ms_p95\"\nmax_increase = 0.10\n\n[[performance]]\nmetric = \"decode_tok_s_mean\"\nmax_decrease = 0.05\n";

fn gate(b: &Path, c: &Path, cfg: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["gate", "--baseline", b.to_str().unwrap(), "--current", c.to_str().unwrap(), "--config", cfg];
    args.extend_from_slice(extra);
    fgbench(&args)
}

#[test]
fn gate_decisions_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), CFG);
    let base = run(dir.path(), "base", 200, |i| i % 5 != 0, |i| 1000.0 + 100.0 * jitter(i));

    // Same accuracy, same latency distribution (other jitter): pass.
    let same = run(dir.path(), "same", 200, |i| i % 5 != 0, |i| 1000.0 + 100.0 * jitter(i + 13));
    let o = gate(&base, &same, &cfg, &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("gate: pass"));

    // 40 cases broken, none fixed: a large, significant drop: regression.
    let worse = run(dir.path(), "worse", 200, |i| i % 5 != 0 && i >= 50, |i| 1000.0 + 100.0 * jitter(i + 13));
    let o = gate(&base, &worse, &cfg, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let line = stdout(&o).lines().find(|l| l.starts_with("accuracy overall")).unwrap().to_string();
    assert!(line.contains("FAIL"), "{line}");

    // 3 cases broken: 1.5 points, McNemar p = 0.25: not a regression.
    let slightly = run(dir.path(), "slightly", 200, |i| i % 5 != 0 && !(i == 1 || i == 2 || i == 3), |i| 1000.0 + 100.0 * jitter(i + 13));
    let o = gate(&base, &slightly, &cfg, &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["checks"][0]["decision"], "pass");

    // Every case 30% slower: the whole interval of the p95 ratio is past 1.10: regression.
    let slow = run(dir.path(), "slow", 200, |i| i % 5 != 0, |i| 1.3 * (1000.0 + 100.0 * jitter(i + 13)));
    let o = gate(&base, &slow, &cfg, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).lines().any(|l| l.starts_with("e2e_ms_p95") && l.contains("FAIL")), "{}", stdout(&o));

    // Better and faster: pass.
    let better = run(dir.path(), "better", 200, |_| true, |i| 0.8 * (1000.0 + 100.0 * jitter(i)));
    let o = gate(&base, &better, &cfg, &["--markdown"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).starts_with("### fgbench gate: **pass**"), "{}", stdout(&o));

    // Too few cases to tell: inconclusive, not a failure.
    let (b10, c10) = (run(dir.path(), "b10", 10, |_| true, |_| 1000.0), run(dir.path(), "c10", 10, |_| false, |_| 1000.0));
    let o = gate(&b10, &c10, &cfg, &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["checks"][0]["decision"], "inconclusive");
}

#[test]
fn gate_bad_inputs_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), CFG);
    let base = run(dir.path(), "base", 40, |_| true, |_| 1000.0);
    let trunc = dir.path().join("trunc");
    std::fs::create_dir_all(&trunc).unwrap();
    std::fs::write(trunc.join("results.jsonl"), "{\"schema\": \"fgbench.result/1\", \"id\": \"case_0\", \"vali").unwrap();
    let o = gate(&base, &trunc, &cfg, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("results.jsonl:1: malformed result"), "{}", stderr(&o));

    let other = run(dir.path(), "other", 40, |_| true, |_| 1000.0);
    std::fs::write(other.join("results.jsonl"), std::fs::read_to_string(other.join("results.jsonl")).unwrap().replace("case_", "other_"))
        .unwrap();
    let o = gate(&base, &other, &cfg, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("share no case ids"), "{}", stderr(&o));

    let bad_cfg = config(dir.path(), "[[performance]]\nmetric = \"speed\"\nmax_increase = 0.1\n");
    let o = gate(&base, &base, &bad_cfg, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown metric `speed`"), "{}", stderr(&o));
}

#[test]
fn update_baseline_only_on_pass() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), CFG);
    let base = run(dir.path(), "base", 100, |i| i % 3 != 0, |_| 1000.0);
    let worse = run(dir.path(), "worse", 100, |i| i % 3 != 0 && i > 40, |_| 1000.0);
    let before = std::fs::read_to_string(base.join("results.jsonl")).unwrap();
    let o = gate(&base, &worse, &cfg, &["--update-baseline"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(base.join("results.jsonl")).unwrap(), before, "a failing run must not become the baseline");
    let better = run(dir.path(), "better", 100, |_| true, |_| 1000.0);
    let o = gate(&base, &better, &cfg, &["--update-baseline"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(base.join("results.jsonl")).unwrap(),
        std::fs::read_to_string(better.join("results.jsonl")).unwrap()
    );
}

#[test]
fn gate_refuses_runs_with_other_settings_or_styles() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), CFG);
    let baseline = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ci/baseline/demo");
    let current = dir.path().join("cur");
    std::fs::create_dir_all(&current).unwrap();
    std::fs::copy(baseline.join("results.jsonl"), current.join("results.jsonl")).unwrap();
    let manifest = std::fs::read_to_string(baseline.join("manifest.json")).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    m["generation"]["max_new_tokens"] = 64.into();
    std::fs::write(current.join("manifest.json"), m.to_string()).unwrap();
    let o = gate(&baseline, &current, &cfg, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("different engine settings (generation") && stderr(&o).contains("\"max_new_tokens\":64"), "{}", stderr(&o));
    assert_eq!(gate(&baseline, &current, &cfg, &["--allow-settings-mismatch"]).status.code(), Some(0));
    // Engine settings that change speed or outputs are refused too (where both record them).
    let recorded = dir.path().join("recorded");
    std::fs::create_dir_all(&recorded).unwrap();
    std::fs::copy(baseline.join("results.jsonl"), recorded.join("results.jsonl")).unwrap();
    let mut with: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    for (k, v) in [("kv_layout", serde_json::json!("per-sequence")), ("ubatch_tokens", 512.into()), ("kernels", "AVX2 FMA".into())] {
        with["engine"][k] = v;
    }
    std::fs::write(recorded.join("manifest.json"), with.to_string()).unwrap();
    for (field, value) in [
        ("kv_layout", serde_json::json!("unified")),
        ("ubatch_tokens", 4096.into()),
        ("max_sequences", 7.into()),
        ("threads", 1.into()),
        ("kernels", "AVX512F".into()),
    ] {
        let mut m2 = with.clone();
        m2["engine"][field] = value;
        std::fs::write(current.join("manifest.json"), m2.to_string()).unwrap();
        let o = gate(&recorded, &current, &cfg, &[]);
        assert_eq!(o.status.code(), Some(2), "{field}: {}", stderr(&o));
    }
    // Without speed checks, machine and batching differences are listed, not refused.
    let accuracy_only = config(&dir.path().join("cur"), "[accuracy]\nalpha = 0.05\nmax_drop = 0.02\nmin_cases = 30\n");
    let mut m2 = with.clone();
    m2["engine"]["max_sequences"] = 7.into();
    std::fs::write(current.join("manifest.json"), m2.to_string()).unwrap();
    let o = gate(&recorded, &current, &accuracy_only, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("settings that differ from the baseline: sequence slots 32 vs 7"), "{}", stdout(&o));
    let o = gate(&recorded, &current, &cfg, &[]);
    assert!(stderr(&o).contains("gate speed with `gate --interleaved`"), "{}", stderr(&o));
    // A setting one manifest does not record is unknown, not a difference.
    std::fs::write(current.join("manifest.json"), with.to_string()).unwrap();
    assert_eq!(gate(&baseline, &current, &cfg, &[]).status.code(), Some(0));
    m["prompt_style"] = "bfcl".into();
    std::fs::write(current.join("manifest.json"), m.to_string()).unwrap();
    let o = gate(&baseline, &current, &cfg, &["--allow-settings-mismatch"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("different prompt styles"), "{}", stderr(&o));
}

#[test]
fn gate_writes_junit_bmf_and_the_github_summary_and_exits_3_on_a_runtime_failure() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), CFG);
    let base = run(dir.path(), "base", 200, |i| i % 5 != 0, |i| 1000.0 + 100.0 * jitter(i));
    let worse = run(dir.path(), "worse", 200, |i| i % 5 != 0 && i >= 50, |i| 1000.0 + 100.0 * jitter(i + 13));
    let junit = dir.path().join("gate.xml");
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_fgbench"))
        .args([
            "gate",
            "--baseline",
            base.to_str().unwrap(),
            "--current",
            worse.to_str().unwrap(),
            "--config",
            &cfg,
            "--junit",
            junit.to_str().unwrap(),
            "--format",
            "bmf",
        ])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite name=\"fgbench gate\" tests=\"3\" failures=\"1\""), "{xml}");
    assert!(xml.contains("<testcase classname=\"fgbench.gate\" name=\"accuracy overall\"><failure"), "{xml}");
    let bmf: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let acc = &bmf["accuracy/overall"]["accuracy_pct"];
    assert!((acc["value"].as_f64().unwrap() - 60.0).abs() < 1e-9, "{bmf}");
    assert!(acc["lower_value"].as_f64().unwrap() < 60.0 && acc["upper_value"].as_f64().unwrap() > 60.0, "{bmf}");
    let p95 = &bmf["latency"]["e2e_ms_p95"];
    assert!(
        p95["lower_value"].as_f64().unwrap() <= p95["value"].as_f64().unwrap()
            && p95["value"].as_f64().unwrap() <= p95["upper_value"].as_f64().unwrap(),
        "{bmf}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("earlier step\n") && md.contains("### fgbench gate: **FAIL**"), "appended: {md}");

    // A file it cannot write is a runtime failure: 3, not a regression's 1.
    let o = gate(&base, &base, &cfg, &["--junit", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}

#[test]
fn a_check_that_cannot_be_computed_is_inconclusive_and_can_fail_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    // Runs without timings: the latency checks cannot be computed.
    let strip = |d: &Path| {
        let text: String = std::fs::read_to_string(d.join("results.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                for k in ["ttft_ms", "total_ms"] {
                    v.as_object_mut().unwrap().remove(k);
                }
                v.to_string() + "\n"
            })
            .collect();
        std::fs::write(d.join("results.jsonl"), text).unwrap();
    };
    let base = run(dir.path(), "base", 100, |_| true, |_| 1000.0);
    let cur = run(dir.path(), "cur", 100, |_| true, |_| 1000.0);
    strip(&base);
    strip(&cur);
    let lenient = config(dir.path(), CFG);
    let o = gate(&base, &cur, &lenient, &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let p95 = v["checks"].as_array().unwrap().iter().find(|c| c["metric"] == "e2e_ms_p95").expect("reported, not dropped");
    assert_eq!(p95["decision"], "inconclusive");
    assert!(p95["detail"].as_str().unwrap().contains("too few timings"), "{p95}");
    let strict_path = dir.path().join("strict.toml");
    std::fs::write(&strict_path, format!("fail_on_inconclusive = true\n{CFG}")).unwrap();
    let o = gate(&base, &cur, strict_path.to_str().unwrap(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
}

#[test]
fn the_ci_gate_script_passes_the_demo_model_and_fails_a_planted_regression() {
    // ci/gate.sh as ci/github-workflow.example.yml calls it, against the stored baseline
    // (recorded elsewhere, with other slots and concurrency: listed, not refused).
    let fetch = fgbench(&["models", "fetch-demo"]);
    assert!(fetch.status.success(), "{}", stderr(&fetch));
    let dir = tempfile::tempdir().unwrap();
    let script = |baseline: &Path, out: &Path| {
        std::process::Command::new("bash")
            .arg(crate::cli::repo_file("ci/gate.sh"))
            .arg("demo")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("FGBENCH", env!("CARGO_BIN_EXE_fgbench"))
            .env("BASELINE", baseline)
            .env("OUT", out)
            .output()
            .unwrap()
    };
    let baseline = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ci/baseline/demo");
    let out = dir.path().join("pass");
    let o = script(&baseline, &out);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let verdict = std::fs::read_to_string(out.join("gate.md")).unwrap();
    assert!(verdict.contains("fgbench gate: **pass**") && verdict.contains("Settings that differ from the baseline"), "{verdict}");
    assert!(std::fs::read_to_string(out.join("gate.xml")).unwrap().contains("failures=\"0\""));
    assert!(out.join("report/index.html").exists() && out.join("compare.md").exists());

    // The same baseline claiming every case right: the demo model's real run is a regression.
    let planted = dir.path().join("planted");
    std::fs::create_dir_all(&planted).unwrap();
    std::fs::copy(baseline.join("manifest.json"), planted.join("manifest.json")).unwrap();
    let all_right: Vec<String> = std::fs::read_to_string(baseline.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut r: serde_json::Value = serde_json::from_str(l).unwrap();
            (r["valid"], r["error_type"]) = (true.into(), serde_json::Value::Null);
            r.to_string()
        })
        .collect();
    std::fs::write(planted.join("results.jsonl"), all_right.join("\n") + "\n").unwrap();
    let o = script(&planted, &dir.path().join("fail"));
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("fgbench gate: **FAIL**"), "{}", stdout(&o));
}
