//! `--prompt-style bfcl` reproduces BFCL's FunctionGemma prompt byte for byte: every case of
//! every imported BFCL category, rendered by fgbench and by BFCL's own `_format_prompt` (from
//! the wheel, with the language hint BFCL adds when it loads a case), must be identical.

use std::process::Command;

use fgbench::dataset::bfcl::CATEGORIES;
use fgbench::dataset::{Dataset, fetch};
use fgbench::prompt::PromptStyle;

#[test]
fn bfcl_style_matches_bfcl_format_prompt() {
    let cache = fetch::cache_root();
    let fetched = fetch::fetch_bfcl(&cache).expect("fetch BFCL data (needs PyPI)");
    let venv = cache.join("venv-bfcl");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/bfcl_reference.py");
    assert!(Command::new("python3").arg(&script).arg("ensure-venv").arg(&venv).arg(&fetched.wheel).status().unwrap().success());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("prompts.jsonl");
    let o = Command::new(venv.join("bin/python"))
        .arg(&script)
        .args(["prompts", "--data"])
        .arg(&fetched.data_dir)
        .args(["--categories", &CATEGORIES.join(",")])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ds = Dataset::load(&fetched.dataset).unwrap();
    let mut compared = 0;
    let mut diffs = Vec::new();
    for line in std::fs::read_to_string(&out).unwrap().lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        let case = ds.get(r["id"].as_str().unwrap()).unwrap();
        let ours = PromptStyle::Bfcl.render(&case.messages, &case.tools);
        let theirs = r["prompt"].as_str().unwrap();
        if ours != theirs {
            let at = ours.bytes().zip(theirs.bytes()).position(|(a, b)| a != b).unwrap_or(ours.len().min(theirs.len()));
            let lo = at.saturating_sub(60);
            diffs.push(format!(
                "{}: first difference at byte {at}\n  bfcl:    {:?}\n  fgbench: {:?}",
                case.id,
                &theirs.get(lo..(at + 60).min(theirs.len())).unwrap_or(""),
                &ours.get(lo..(at + 60).min(ours.len())).unwrap_or("")
            ));
        }
        compared += 1;
    }
    eprintln!("{compared} BFCL prompts compared, {} differ", diffs.len());
    assert_eq!(compared, ds.cases.len());
    assert!(diffs.is_empty(), "{} prompts differ, first 5:\n{}", diffs.len(), diffs[..diffs.len().min(5)].join("\n"));
}
