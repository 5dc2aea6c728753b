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
    std::fs::write(other.join("results.jsonl"), std::fs::read_to_string(other.join("results.jsonl")).unwrap().replace("case_", "other_")).unwrap();
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
    assert_eq!(std::fs::read_to_string(base.join("results.jsonl")).unwrap(), std::fs::read_to_string(better.join("results.jsonl")).unwrap());
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
    assert!(stderr(&o).contains("different engine settings (max new tokens 128 vs 64"), "{}", stderr(&o));
    assert_eq!(gate(&baseline, &current, &cfg, &["--allow-settings-mismatch"]).status.code(), Some(0));
    m["prompt_style"] = "bfcl".into();
    std::fs::write(current.join("manifest.json"), m.to_string()).unwrap();
    let o = gate(&baseline, &current, &cfg, &["--allow-settings-mismatch"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("different prompt styles"), "{}", stderr(&o));
}
