//! The app fine-tune path through the binary: the Mobile Actions format both ways, the exact
//! scorer one flag from BFCL's, training data from an app's own rows (with its leak check),
//! and the before/after command on the fixture model.

use std::path::Path;

use crate::cli::{fgbench, repo_file, stderr, stdout};

fn app(name: &str) -> String {
    repo_file(&format!("datasets/app/{name}"))
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn mobile_actions_rows_import_export_and_import_to_the_same_cases() {
    let dir = tempfile::tempdir().unwrap();
    let (cases, rows, again) = (dir.path().join("cases.jsonl"), dir.path().join("rows.jsonl"), dir.path().join("again.jsonl"));
    let o = fgbench(&["datasets", "import", "mobile-actions", "--from", &app("test.jsonl"), "--out", cases.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let n = lines(Path::new(&app("test.jsonl"))).len();
    assert!(stderr(&o).contains(&format!("imported {n} cases")), "{}", stderr(&o));
    let imported = lines(&cases);
    // Categories from the rows' prefix, kinds from the number of reference calls.
    let kind_of = |cat: &str| {
        imported
            .iter()
            .filter(|c| c["category"] == cat)
            .map(|c| c["kind"].as_str().unwrap().to_string())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(kind_of("app_no_call").into_iter().collect::<Vec<_>>(), ["irrelevance"]);
    assert_eq!(kind_of("app_parallel").into_iter().collect::<Vec<_>>(), ["parallel"]);
    assert_eq!(kind_of("app_single").into_iter().collect::<Vec<_>>(), ["multiple"]);
    // The developer text (date, time, day of week, activation sentence) is kept verbatim.
    let dev = imported[0]["messages"][0]["content"].as_str().unwrap();
    assert!(
        dev.starts_with("Current date and time given in YYYY-MM-DDTHH:MM:SS format: 2026-") && dev.contains("\nDay of week is "),
        "{dev}"
    );
    // Type names as the scorer reads them.
    assert_eq!(imported[0]["tools"][4]["parameters"]["properties"]["target_celsius"]["type"], "float");

    let o = fgbench(&["datasets", "export", "mobile-actions", "--from", cases.to_str().unwrap(), "--out", rows.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let exported = lines(&rows);
    assert_eq!(exported[0]["tools"][0]["function"]["parameters"]["type"], "OBJECT");
    let o = fgbench(&["datasets", "import", "mobile-actions", "--from", rows.to_str().unwrap(), "--out", again.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&again).unwrap(), std::fs::read_to_string(&cases).unwrap());

    // --split keeps one split; a malformed row names its line.
    let o = fgbench(&[
        "datasets",
        "import",
        "mobile-actions",
        "--from",
        &app("test.jsonl"),
        "--split",
        "train",
        "--out",
        cases.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "no train rows in the held-out file: {}", stderr(&o));
    let bad = dir.path().join("bad.jsonl");
    let text = std::fs::read_to_string(app("test.jsonl")).unwrap();
    let first = text.lines().find(|l| l.contains("\"arguments\": {")).expect("a row with a call").to_string();
    std::fs::write(&bad, format!("{first}\n{}\n", first.replace("\"arguments\": {", "\"arguments\": \"{oops\", \"x\": {"))).unwrap();
    let o = fgbench(&["datasets", "import", "mobile-actions", "--from", bad.to_str().unwrap(), "--out", cases.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.jsonl:2:") && stderr(&o).contains("not JSON"), "{}", stderr(&o));
}

/// Predictions that write every reference call, with `edit` applied to the output text.
fn reference_predictions(dir: &Path, edit: impl Fn(&fgbench::dataset::Case, String) -> String) -> String {
    let ds = fgbench::dataset::Dataset::load(Path::new(&app("test.jsonl"))).unwrap();
    let text: String = ds
        .cases
        .iter()
        .map(|c| {
            let calls: String = c.reference_calls().iter().map(fgbench::codec::render_call).collect();
            let output = if calls.is_empty() { "Sorry, I can't.".to_string() } else { calls };
            format!("{}\n", serde_json::json!({"id": c.id, "output": edit(c, output)}))
        })
        .collect();
    let p = dir.join(format!("p{}.jsonl", text.len()));
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

fn overall(o: &std::process::Output) -> (u64, u64) {
    assert!(o.status.success(), "{}", stderr(o));
    let s: serde_json::Value = serde_json::from_str(&stdout(o)).unwrap();
    (s["overall"]["correct"].as_u64().unwrap(), s["overall"]["n"].as_u64().unwrap())
}

#[test]
fn exact_and_bfcl_scorers_are_one_flag_apart_and_differ_where_they_should() {
    let dir = tempfile::tempdir().unwrap();
    let score = |preds: &str, scorer: &str| {
        overall(&fgbench(&["score", "--dataset", &app("test.jsonl"), "--predictions", preds, "--format", "json", "--scorer", scorer]))
    };
    let n = lines(Path::new(&app("test.jsonl"))).len() as u64;
    let right = reference_predictions(dir.path(), |_, o| o);
    assert_eq!(score(&right, "exact"), (n, n));
    assert_eq!(score(&right, "bfcl"), (n, n));
    // Calls in the other order: BFCL matches parallel calls in any order, exact does not.
    let swapped = reference_predictions(dir.path(), |c, o| {
        let calls = c.reference_calls();
        if calls.len() == 2 { calls.iter().rev().map(fgbench::codec::render_call).collect() } else { o }
    });
    let ds = fgbench::dataset::Dataset::load(Path::new(&app("test.jsonl"))).unwrap();
    let count = |n: usize| ds.cases.iter().filter(|c| c.reference_calls().len() == n).count() as u64;
    let (parallel, no_call) = (count(2), count(0));
    assert!(parallel >= 40 && no_call >= 40, "{parallel} two-call rows, {no_call} no-call rows");
    assert_eq!(score(&swapped, "exact"), (n - parallel, n));
    assert_eq!(score(&swapped, "bfcl"), (n, n));
    // A message body with its first letter upper-cased: BFCL standardises it, exact does not.
    let upper = reference_predictions(dir.path(), |_, o| match o.find("body:<escape>") {
        Some(at) => {
            let start = at + "body:<escape>".len();
            let first = o[start..].chars().next().unwrap();
            format!("{}{}{}", &o[..start], first.to_uppercase(), &o[start + first.len_utf8()..])
        }
        None => o,
    });
    let (exact_ok, _) = score(&upper, "exact");
    let (bfcl_ok, _) = score(&upper, "bfcl");
    assert!(exact_ok < bfcl_ok, "exact {exact_ok}, bfcl {bfcl_ok}");
    // A call on a no-call row fails both; a missing call fails both.
    let extra = reference_predictions(dir.path(), |c, o| {
        if c.reference_calls().is_empty() { "<start_function_call>call:start_timer{minutes:5}<end_function_call>".into() } else { o }
    });
    assert_eq!(score(&extra, "exact"), (n - no_call, n));
    assert_eq!(score(&extra, "bfcl"), (n - no_call, n));
}

#[test]
fn export_train_from_app_rows_is_disjoint_and_refuses_a_leak() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("train.jsonl");
    let o = fgbench(&[
        "datasets",
        "export-train",
        "--from",
        &app("train.jsonl"),
        "--check-against",
        &app("test.jsonl"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ex = lines(&out);
    assert!(ex.len() >= 1500, "{}", ex.len());
    for kind in ["no_call", "single", "parallel"] {
        assert!(ex.iter().filter(|e| e["kind"] == kind).count() >= 200, "{kind}");
    }
    assert!(ex[0]["prompt"].as_str().unwrap().starts_with("<bos><start_of_turn>developer\nCurrent date and time"));
    // A call ends where the tool's response starts, as Google's template ends it; a reply ends the turn.
    for e in &ex {
        let ending = if e["kind"] == "no_call" { "<end_of_turn>" } else { "<end_function_call><start_function_response>" };
        assert!(e["completion"].as_str().unwrap().ends_with(ending), "{e}");
    }
    // Checking the training rows against themselves: every id, text and value leaks.
    let o = fgbench(&[
        "datasets",
        "export-train",
        "--from",
        &app("train.jsonl"),
        "--check-against",
        &app("train.jsonl"),
        "--out",
        dir.path().join("x.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("training data leaks into"), "{}", stderr(&o));
    assert!(!dir.path().join("x.jsonl").exists());
    // --from needs a held-out set to check against.
    let o = fgbench(&["datasets", "export-train", "--from", &app("train.jsonl"), "--out", dir.path().join("y.jsonl").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn before_after_evaluates_both_compares_and_reports_with_the_verdict_first() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = dir.path().join("adapter");
    crate::engine::adapter(&adapter, 64);
    let out = dir.path().join("ba");
    let test_rows = app("test.jsonl");
    let before_after = |extra: &[&str]| {
        let mut args = vec![
            "before-after",
            "--model",
            crate::engine::fixture().to_str().unwrap(),
            "--adapter",
            adapter.to_str().unwrap(),
            "--dataset",
            &test_rows,
            "--limit",
            "6",
            "--max-new-tokens",
            "6",
            "--concurrency",
            "1",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        fgbench(&args)
    };
    let o = before_after(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("B is "), "{}", stdout(&o));
    for f in ["before/results.jsonl", "after/results.jsonl", "compare.md", "report/index.html"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let manifest = |side: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join(side).join("manifest.json")).unwrap()).unwrap()
    };
    assert_eq!(manifest("before")["scoring"]["scorer"], "exact");
    assert!(manifest("before")["model"]["adapter"].is_null());
    assert!(manifest("after")["model"]["adapter"]["gguf"].is_string(), "the PEFT adapter was converted for llama.cpp");
    let html = std::fs::read_to_string(out.join("report/index.html")).unwrap();
    let verdict_at = html.find("<div class=\"verdict\">B is ").expect("the verdict");
    assert!(!html[..verdict_at].contains("<table") && !html[..verdict_at].contains("<img"), "the verdict comes first");
    // A second call reuses both finished runs (nothing is generated again), and reads both
    // as every runtime's parser does.
    let o = before_after(&["--runtimes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).matches("run: 0 generated (6 resumed)").count(), 2, "{}", stdout(&o));
    assert!(stdout(&o).contains("after behind each runtime: fgbench "), "{}", stdout(&o));
    let md = std::fs::read_to_string(out.join("deploy-check.md")).unwrap();
    assert!(md.contains("## before") && md.contains("## after") && md.contains("| llama-server"), "{md}");
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("deploy-check-after.json")).unwrap()).unwrap();
    assert_eq!(m["rows"][0]["cells"].as_array().unwrap().len(), 5);

    // Runs judged by different scorers: refused, unless allowed or rescored alike.
    let bfcl = dir.path().join("bfcl");
    let o = fgbench(&[
        "eval",
        "--model",
        crate::engine::fixture().to_str().unwrap(),
        "--dataset",
        &app("test.jsonl"),
        "--limit",
        "6",
        "--max-new-tokens",
        "6",
        "--out",
        bfcl.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = out.join("before");
    let o = fgbench(&["compare", bfcl.to_str().unwrap(), before.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("different scorers (bfcl vs exact)"), "{}", stderr(&o));
    assert!(fgbench(&["compare", bfcl.to_str().unwrap(), before.to_str().unwrap(), "--allow-scorer-mismatch"]).status.success());
    let o = fgbench(&["compare", bfcl.to_str().unwrap(), before.to_str().unwrap(), "--scorer", "exact", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let c: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    // Same model, same greedy outputs, same rules after rescoring: nothing moves.
    assert_eq!((c["overall"]["fixed"].as_u64(), c["overall"]["broken"].as_u64()), (Some(0), Some(0)));
}

#[test]
fn the_shipped_adapter_turns_the_demo_model_into_a_caller() {
    // The real path: the demo model (base Gemma 3 270M, Q4_K_M GGUF) with adapters/app-lora
    // converted to a GGUF LoRA and applied by llama.cpp, on test rows whose sentence
    // templates training never saw.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ba");
    let o = fgbench(&[
        "before-after",
        "--model",
        "demo",
        "--adapter",
        &repo_file("adapters/app-lora"),
        "--dataset",
        &app("test.jsonl"),
        "--limit",
        "8",
        "--max-new-tokens",
        "96",
        "--concurrency",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let results = |side: &str| lines(&out.join(side).join("results.jsonl"));
    let (before, after) = (results("before"), results("after"));
    assert_eq!((before.len(), after.len()), (8, 8));
    let rows = lines(Path::new(&app("test.jsonl")));
    let wants = rows[..8].iter().filter(|r| r["messages"][2]["tool_calls"].is_array()).count();
    let calls = |rs: &[serde_json::Value]| rs.iter().filter(|r| r["shape"] == "calls").count();
    let right = |rs: &[serde_json::Value]| rs.iter().filter(|r| r["valid"] == true).count();
    // The base never calls; with the adapter the rows that want a call get calls, most right.
    assert_eq!(calls(&before), 0, "{before:?}");
    assert!(calls(&after) + 1 >= wants, "{wants} rows want a call: {after:?}");
    assert!(right(&after) >= right(&before) + wants / 2, "{after:?}");
    // The llama.cpp engine records how sure the model was to call at its first token.
    assert!(after.iter().all(|r| r["call_start_p"].as_f64().is_some_and(|p| (0.0..=1.0).contains(&p))), "{after:?}");
}
